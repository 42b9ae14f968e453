"""Settings grouped by concern, under the environment names users already set.

A group is a ``BaseSettings`` of one concern (the index, the embedder, the LLM, ...) whose
``flat_prefix`` joins its field names to the flat names the settings always had: the
embedding group's ``model`` is ``embed_model``, read from ``ABSTRACTQA_EMBED_MODEL``. A
``GroupedSettings`` holds one instance of each group: ``settings.embedding.model``.

Constructed with flat keywords (``Settings(embed_model=..., index_dir=...)``) or with groups
(``Settings(embedding={"model": ...})``), each group reads the environment for what was not
given, so a keyword never hides the environment variables of its group's other settings.
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "ABSTRACTQA_"


class SettingsGroup(BaseSettings):
    """One concern's settings; subclasses set ``flat_prefix`` and ``model_config``'s
    ``env_prefix`` with ``group_config``."""

    flat_prefix: ClassVar[str] = ""


def group_config(flat_prefix: str) -> SettingsConfigDict:
    """The env prefix that gives a group's fields their flat environment names."""
    return SettingsConfigDict(env_prefix=ENV_PREFIX + flat_prefix.upper(), extra="ignore")


class GroupedSettings(BaseModel):
    """Settings made of groups; every field is a ``SettingsGroup``."""

    model_config = ConfigDict(extra="ignore", frozen=False)

    def __init__(self, **values: Any) -> None:
        # Built here rather than only in the validator so that a group's ValidationError
        # reaches the caller as it is (invalid_settings names its variable from it).
        super().__init__(**_grouped(type(self), values))

    def updated(self, **values: Any) -> Self:
        """A copy with settings changed by their flat names (``updated(index_dir=...)``)."""
        changes: dict[str, Any] = {}
        unknown = set(values)
        for name, group in _groups(type(self)).items():
            own = {
                field: values[group.flat_prefix + field]
                for field in group.model_fields
                if group.flat_prefix + field in values
            }
            unknown -= {group.flat_prefix + field for field in own}
            if own:
                changes[name] = getattr(self, name).model_copy(update=own)
        if unknown:
            raise TypeError(f"no such settings: {', '.join(sorted(unknown))}")
        return self.model_copy(update=changes)

    @model_validator(mode="before")
    @classmethod
    def _group_flat_values(cls, data: Any) -> Any:
        return _grouped(cls, data) if isinstance(data, dict) else data


def _groups(cls: type[GroupedSettings]) -> dict[str, type[SettingsGroup]]:
    groups = {}
    for name, info in cls.model_fields.items():
        kind = info.annotation
        if not (isinstance(kind, type) and issubclass(kind, SettingsGroup)):
            raise TypeError(f"{cls.__name__}.{name} is not a SettingsGroup")
        groups[name] = kind
    return groups


def _grouped(cls: type[GroupedSettings], values: dict[str, Any]) -> dict[str, Any]:
    """``values`` (flat names, groups as dicts or instances) as one instance per group."""
    out: dict[str, Any] = {}
    for name, group in _groups(cls).items():
        given = values.get(name)
        if isinstance(given, group):
            out[name] = given
            continue
        own: dict[str, Any] = dict(given) if isinstance(given, dict) else {}
        for field in group.model_fields:
            flat = group.flat_prefix + field
            if flat in values:
                own.setdefault(field, values[flat])
        out[name] = group(**own)
    return out


def flat_env_name(error_title: str, loc: tuple[Any, ...], groups: list[type[SettingsGroup]]) -> str:
    """The environment variable of a validation error's setting, from the group it names."""
    field = str(loc[-1]) if loc else "settings"
    group = next((g for g in groups if g.__name__ == error_title), None)
    prefix = group.flat_prefix if group is not None else ""
    return ENV_PREFIX + (prefix + field).upper()


def all_groups(cls: type[GroupedSettings]) -> list[type[SettingsGroup]]:
    return list(_groups(cls).values())


__all__ = [
    "ENV_PREFIX",
    "GroupedSettings",
    "SettingsGroup",
    "all_groups",
    "flat_env_name",
    "group_config",
]
