"""Prompt templates, one per file in this package, rendered with a check for missing variables.

Templates are package data (found from an installed wheel too) and use llama-index's
``PromptTemplate`` ``{variable}`` syntax.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any


class PromptError(Exception):
    """A template is missing, or a variable it needs was not given."""


@cache
def load(name: str) -> str:
    """The text of ``prompts/<name>.txt``."""
    try:
        return resources.files(__name__).joinpath(f"{name}.txt").read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PromptError(f"no prompt template named {name!r} in the prompts package") from None


def variables(name: str) -> set[str]:
    from llama_index.core.prompts.utils import get_template_vars

    return set(get_template_vars(load(name)))


def render(name: str, **values: object) -> str:
    """Fill template ``name``; every variable it names must be given (extra ones are refused too,
    so a renamed variable cannot go unnoticed)."""
    from llama_index.core.prompts import PromptTemplate

    needed = variables(name)
    missing = sorted(needed - values.keys())
    extra = sorted(values.keys() - needed)
    if missing or extra:
        problems = [
            f"missing {', '.join(missing)}" if missing else "",
            f"unexpected {', '.join(extra)}" if extra else "",
        ]
        raise PromptError(f"prompt {name!r}: " + "; ".join(p for p in problems if p))
    template: Any = PromptTemplate(load(name))
    return str(template.format(**{k: str(v) for k, v in values.items()}))
