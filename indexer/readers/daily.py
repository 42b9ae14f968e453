"""The daily-papers page dump: a few header lines, then title line / abstract line pairs.

Pairs are found by what the lines look like, never by their position: an abstract is a long
prose line and its title is the short line right before it, so blank lines, CRLF endings and
extra header lines do not matter.
"""

from __future__ import annotations

import re

from indexer.models import PaperRecord, ReadResult, RecordError
from indexer.readers._text import clean_text, split_lines

ABSTRACT_MIN_CHARS = 200
SHORT_ABSTRACT_MIN_CHARS = 120
SHORT_ABSTRACT_MIN_SENTENCES = 2

# A sentence ends at . ! or ? (maybe before closing quotes or brackets) followed by a space.
_SENTENCE_END = re.compile(r"[.!?][\"')\]]*(?=\s|$)")
_LISTING_DATE = re.compile(
    r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.? \d{1,2}(?:, \d{4})?",
    re.IGNORECASE,
)
_PREVIEW_CHARS = 60


def is_abstract_line(line: str) -> bool:
    """Whether a (cleaned) line is long prose: 200+ characters, or 2+ sentences in 120+."""
    if len(line) >= ABSTRACT_MIN_CHARS:
        return True
    return (
        len(line) >= SHORT_ABSTRACT_MIN_CHARS
        and len(_SENTENCE_END.findall(line)) >= SHORT_ABSTRACT_MIN_SENTENCES
    )


def read_daily(text: str, source: str) -> ReadResult:
    """Papers of a daily-papers dump; stray titles and abstracts become errors."""
    result = ReadResult(source=source, format="daily")
    pending: list[tuple[int, str]] = []  # short lines since the last pair
    metadata: dict[str, str] = {}
    started = False
    for number, raw in enumerate(split_lines(text), start=1):
        line = clean_text(raw)
        if not line:
            continue
        if not is_abstract_line(line):
            pending.append((number, line))
            continue
        if not pending:
            result.errors.append(RecordError(source, f"line {number}", "abstract without a title"))
            continue
        *others, (title_number, title) = pending
        pending = []
        if started:
            _report_orphan_titles(others, result)
        else:
            # Before the first pair, short lines are the page header.
            listing_date = _find_listing_date(others)
            if listing_date:
                metadata["listing_date"] = listing_date
            started = True
        result.records.append(
            PaperRecord(
                title=title,
                abstract=line,
                source=source,
                location=f"line {title_number}",
                metadata=dict(metadata),
            )
        )
    if started:
        _report_orphan_titles(pending, result)
    elif not result.errors:
        result.errors.append(
            RecordError(
                source,
                None,
                "no papers found: expected a title line followed by an abstract line "
                f"(prose of {ABSTRACT_MIN_CHARS}+ characters)",
            )
        )
    return result


def _report_orphan_titles(lines: list[tuple[int, str]], result: ReadResult) -> None:
    for number, title in lines:
        reason = f"title without an abstract: '{_preview(title)}'"
        result.errors.append(RecordError(result.source, f"line {number}", reason))


def _preview(title: str) -> str:
    if len(title) <= _PREVIEW_CHARS:
        return title
    return title[: _PREVIEW_CHARS - 1].rstrip() + "…"


def _find_listing_date(header: list[tuple[int, str]]) -> str | None:
    dates = [line for _, line in header if _LISTING_DATE.fullmatch(line)]
    return dates[-1] if dates else None
