"""Ingest filters (``--where``): which records of an input are indexed.

``FIELD=PATTERN[,PATTERN...]`` keeps records whose field matches one of the glob patterns
(case-sensitive; a list field such as ``categories`` matches when any element does). FIELD is
a record field (``title``, ``abstract``, ``id``, ``url``, ``published``, ``authors``) or a
metadata key. ``year>=N``, ``year<=N`` and ``year=N`` compare the year of ``published``; a
record without a date never matches them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from indexer.errors import InputError
from indexer.models import PaperRecord

RECORD_FIELDS = ("title", "abstract", "id", "url", "published", "authors")
_YEAR = re.compile(r"year\s*(>=|<=|=)\s*(\S*)")
_FIELD = re.compile(r"([^\s=<>!]+)\s*=\s*(.*)")


@dataclass(frozen=True)
class RecordFilter:
    """One ``--where`` expression; ``matches`` says whether a record passes it."""

    expression: str
    field: str
    patterns: tuple[str, ...] = ()
    year_op: str | None = None  # ">=", "<=" or "=" for year filters
    year: int = 0

    def matches(self, record: PaperRecord) -> bool:
        if self.year_op is not None:
            return self._year_matches(record.published)
        return any(
            fnmatchcase(value, pattern)
            for value in _values(record, self.field)
            for pattern in self.patterns
        )

    def _year_matches(self, published: str | None) -> bool:
        if not published:
            return False
        year = int(published[:4])
        if self.year_op == ">=":
            return year >= self.year
        if self.year_op == "<=":
            return year <= self.year
        return year == self.year


def parse_where(expression: str) -> RecordFilter:
    """A filter from its text; InputError naming the expression when it is not one."""
    text = expression.strip()
    if match := _YEAR.fullmatch(text):
        op, value = match.groups()
        if not value.isdigit():
            raise InputError(f"bad --where {expression!r}: year{op} needs a year such as 2020")
        return RecordFilter(expression, "year", year_op=op, year=int(value))
    match = _FIELD.fullmatch(text)
    if match is None:
        raise InputError(
            f"bad --where {expression!r}: expected FIELD=PATTERN[,PATTERN...], "
            "year>=N, year<=N or year=N"
        )
    field, value = match.groups()
    patterns = tuple(p.strip() for p in value.split(","))
    if not value.strip() or not all(patterns):
        raise InputError(f"bad --where {expression!r}: an empty pattern")
    return RecordFilter(expression, field, patterns)


def _values(record: PaperRecord, field: str) -> list[str]:
    value: Any = getattr(record, field) if field in RECORD_FIELDS else record.metadata.get(field)
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [str(item) for item in value if item is not None]
    return [str(value)]
