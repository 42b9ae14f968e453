"""The daily-papers page dump: a few header lines, then title line / abstract line pairs.

Pairs are found by what the lines look like, never by their position: an abstract is a long
prose line and its title is the short line right before it, so blank lines, CRLF endings and
extra header lines do not matter.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from indexer.models import PaperRecord, ReadResult
from indexer.readers._tally import Tally
from indexer.readers._text import clean_text, preview

ABSTRACT_MIN_CHARS = 200
SHORT_ABSTRACT_MIN_CHARS = 120
SHORT_ABSTRACT_MIN_SENTENCES = 2

# A sentence ends at . ! or ? (maybe before closing quotes or brackets) followed by a space.
_SENTENCE_END = re.compile(r"[.!?][\"')\]]*(?=\s|$)")
_LISTING_DATE = re.compile(
    r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.? \d{1,2}(?:, \d{4})?",
    re.IGNORECASE,
)


def is_abstract_line(line: str) -> bool:
    """Whether a (cleaned) line is long prose: 200+ characters, or 2+ sentences in 120+."""
    if len(line) >= ABSTRACT_MIN_CHARS:
        return True
    return (
        len(line) >= SHORT_ABSTRACT_MIN_CHARS
        and len(_SENTENCE_END.findall(line)) >= SHORT_ABSTRACT_MIN_SENTENCES
    )


def daily_records(lines: Iterable[tuple[int, str | None]], tally: Tally) -> Iterator[PaperRecord]:
    """Papers of a daily-papers dump; stray titles and abstracts become errors. A line given
    as None was lost (bad bytes): nothing before it pairs with anything after it.

    Only the latest short line can still become a title, so nothing else is held.
    """
    pending: tuple[int, str] | None = None  # the latest short line since the last pair
    listing_date: str | None = None
    started = False
    for number, raw in lines:
        line = clean_text(raw) if raw is not None else None
        if line == "":
            continue
        if line is None or not is_abstract_line(line):
            if pending is not None:
                if started:
                    _report_orphan_title(pending, tally)
                elif _LISTING_DATE.fullmatch(pending[1]):
                    # Before the first pair, short lines are the page header.
                    listing_date = pending[1]
            pending = (number, line) if line is not None else None
            continue
        if pending is None:
            tally.error(f"line {number}", "abstract without a title")
            continue
        (title_number, title), pending = pending, None
        started = True
        yield PaperRecord(
            title=title,
            abstract=line,
            source=tally.source,
            location=f"line {title_number}",
            metadata={"listing_date": listing_date} if listing_date else {},
        )
    if started and pending is not None:
        _report_orphan_title(pending, tally)
    elif not started and not tally.n_errors:
        tally.error(
            None,
            "no papers found: expected a title line followed by an abstract line "
            f"(prose of {ABSTRACT_MIN_CHARS}+ characters)",
        )


def read_daily(text: str, source: str) -> ReadResult:
    """Papers of a daily-papers dump given as text (see ``daily_records``)."""
    from indexer.readers.stream import read_text

    return read_text(text, source, "daily")


def _report_orphan_title(line: tuple[int, str], tally: Tally) -> None:
    number, title = line
    tally.error(f"line {number}", f"title without an abstract: '{preview(title)}'")
