"""Formatting shared by the tables of docs/benchmarks.md (``doc_tables`` and its siblings)."""

from __future__ import annotations

from typing import Any

Document = dict[str, Any]


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def f3(value: float) -> str:
    return f"{value:.3f}"


def f1(value: float) -> str:
    return f"{value:,.1f}"


def met(ok: bool) -> str:
    return "yes" if ok else "**no**"


def hours(value: float) -> str:
    return f"{value * 60:,.0f} min" if value < 1 else f"{value:,.1f} h"


def size(n: int) -> str:
    return f"{n // 1_000_000} M" if n >= 1_000_000 else f"{n // 1000} k"


def duration(seconds: float) -> str:
    return f"{seconds:,.0f} s" if seconds < 120 else hours(seconds / 3600)
