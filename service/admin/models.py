"""Request and response models of the admin endpoints (``/v1/admin/*``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

MAX_PAPERS_PER_REQUEST = 1000


class PaperIn(BaseModel):
    """One paper, with the fields of a JSON Lines input record."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(..., min_length=1, max_length=2000, description="The paper's title.")
    abstract: str = Field(
        ...,
        min_length=1,
        max_length=100_000,
        description="The abstract; answers cite its sentences.",
    )
    id: str | None = Field(
        None,
        min_length=1,
        max_length=300,
        description="The paper's id; default: an arXiv id found in url or metadata, else a "
        "slug of the title. A paper with the same id or title is updated in place.",
    )
    authors: list[str] | str | None = Field(
        None, description="Names, as a list or one string separated by ';' or ','."
    )
    url: str | None = Field(None, max_length=2000, description="Where the paper can be read.")
    published: str | None = Field(
        None,
        max_length=40,
        description="Publication date: YYYY-MM-DD, YYYY-MM, YYYY or e.g. '12 Jan 2024'.",
    )
    metadata: dict[str, Any] = Field(
        default_factory=dict, description="Any other fields, kept and usable in search filters."
    )


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, dict) else value


PapersIn = Annotated[
    list[PaperIn],
    BeforeValidator(_as_list, json_schema_input_type=PaperIn | list[PaperIn]),
    Field(min_length=1, max_length=MAX_PAPERS_PER_REQUEST),
]


class ReloadResponse(BaseModel):
    status: Literal["reloaded", "already_current"] = Field(
        ..., description="already_current: the served version is the index's current one."
    )
    old_version: str | None = Field(..., description="The version served before (null: none).")
    new_version: str = Field(..., description="The version served now.")
    papers: int = Field(..., description="Papers in the version served now.")
    took_ms: float = Field(..., description="Time the reload took, in milliseconds.")


class PapersChanged(BaseModel):
    """What an add or remove did, by paper id, and the version served afterwards."""

    added: list[str] = Field(default_factory=list, description="Ids of papers new to the index.")
    updated: list[str] = Field(
        default_factory=list, description="Ids of papers whose content changed (re-embedded)."
    )
    unchanged: list[str] = Field(
        default_factory=list, description="Already indexed with the same content: not re-embedded."
    )
    removed: list[str] = Field(default_factory=list, description="Ids of papers removed.")
    merged: list[str] = Field(
        default_factory=list, description="Papers of the request merged as duplicates, and why."
    )
    old_version: str | None = Field(..., description="The version served before the request.")
    version: str = Field(..., description="The version served now; the change is visible in it.")
    papers: int = Field(..., description="Papers in the version served now.")
    took_ms: float = Field(
        ..., description="Time the change took, reload included, in milliseconds."
    )
