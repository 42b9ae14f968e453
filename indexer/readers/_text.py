"""Decoding input lines, and the field clean-up every reader shares."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import date, datetime
from typing import Any

from indexer.models import PaperRecord
from indexer.readers._bytes import RawLine
from indexer.readers._tally import Tally

_BOM = b"\xef\xbb\xbf"
PREVIEW_CHARS = 60
_AND = re.compile(r"\s+and\s+")
_ISO_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ]\S.*)?")
_YEAR_MONTH = re.compile(r"(\d{4})-(\d{1,2})")
_YEAR = re.compile(r"\d{4}")
_DATE_FORMATS = (
    "%d %b %Y",
    "%d %B %Y",
    "%b %d, %Y",
    "%B %d, %Y",
    "%b %d %Y",
    "%B %d %Y",
    "%d %b, %Y",
    "%d %B, %Y",
    "%Y/%m/%d",
)

# Column or key names (casefolded) of each PaperRecord field, in order of preference.
ROLE_ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("id", "_id", "paper_id", "arxiv_id"),
    "title": ("title",),
    "abstract": ("abstract", "summary", "text"),
    "authors": ("authors", "author"),
    "url": ("url",),
    "published": ("published", "date"),
}


def text_lines(lines: Iterable[RawLine], tally: Tally) -> Iterator[tuple[int, str]]:
    """``(line number, text)`` of each line that is UTF-8 without NUL bytes (a trailing CR
    dropped); any other line is an error of its own and the reading goes on."""
    for number, text in text_lines_with_gaps(lines, tally):
        if text is not None:
            yield number, text


def text_lines_with_gaps(
    lines: Iterable[RawLine], tally: Tally
) -> Iterator[tuple[int, str | None]]:
    """As ``text_lines``, but a rejected line is yielded as None, for readers to whom the
    position of a lost line matters."""
    for line in lines:
        data = line.data.removeprefix(_BOM) if line.number == 1 else line.data
        nul = data.find(b"\x00")
        if nul >= 0:
            tally.error(f"line {line.number}", f"NUL byte, not text (byte {nul})")
            yield line.number, None
            continue
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            tally.error(f"line {line.number}", f"not valid UTF-8 (byte {exc.start})")
            yield line.number, None
            continue
        yield line.number, text.removesuffix("\r")


def clean_text(value: Any) -> str:
    """A title or abstract with runs of whitespace collapsed; a list of paragraphs is joined."""
    if isinstance(value, str):
        text = value
    elif isinstance(value, int | float):
        text = str(value)
    elif isinstance(value, list):
        text = " ".join(clean_text(item) for item in value)
    else:
        return ""
    # str.split() splits on the same Unicode whitespace as \s, several times faster than re.
    return " ".join(text.split())


def preview(text: str, chars: int = PREVIEW_CHARS) -> str:
    """``text`` cut to ``chars`` characters, with an ellipsis where it was cut."""
    if len(text) <= chars:
        return text
    return text[: chars - 1].rstrip() + "…"


def parse_authors(value: Any) -> list[str]:
    """Author names from a list, or from a string separated by ';' (else ',') and ' and '."""
    if value is None:
        return []
    if isinstance(value, str):
        separator = ";" if ";" in value else ","
        parts = [
            part
            for chunk in value.split(separator)
            for part in (_AND.split(chunk) if "and" in chunk else [chunk])
        ]
    elif isinstance(value, list):
        parts = [_author_name(item) for item in value]
    else:
        parts = [_author_name(value)]
    names = (clean_text(part) for part in parts)
    return [name for name in names if name]


def _author_name(value: Any) -> str:
    # Semantic Scholar and similar dumps give authors as objects with a "name".
    if isinstance(value, Mapping):
        return clean_text(value.get("name"))
    return clean_text(value)


def normalise_date(value: Any) -> str | None:
    """An ISO ``YYYY-MM-DD`` date, or None when there is none; ValueError when unreadable."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise ValueError(f"not a date: {value!r}")
    text = clean_text(value)
    if not text:
        return None
    if match := _ISO_DATE.fullmatch(text):
        return date(int(match[1]), int(match[2]), int(match[3])).isoformat()
    if match := _YEAR_MONTH.fullmatch(text):
        return date(int(match[1]), int(match[2]), 1).isoformat()
    if _YEAR.fullmatch(text):
        return date(int(text), 1, 1).isoformat()
    loose = re.sub(r"\s*,\s*", ", ", text.replace(".", ""))
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(loose, fmt).date().isoformat()
        except ValueError:
            continue
    raise ValueError(f"not a date: {text!r}")


def checked_date(value: Any, location: str, tally: Tally) -> str | None:
    """``normalise_date``, but an unreadable date is dropped with a warning."""
    try:
        return normalise_date(value)
    except ValueError:
        reason = f"unparseable published date {clean_text(str(value))!r}; date dropped"
        tally.warning(location, reason)
        return None


def _is_empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    return isinstance(value, list | dict) and not value


def _merge_nested_metadata(fields: Mapping[str, Any]) -> dict[str, Any]:
    # BEIR puts authors, dates and the like in a "metadata" object; top-level keys win.
    merged = dict(fields)
    key = next((k for k in fields if k.strip().casefold() == "metadata"), None)
    if key is None or not isinstance(fields[key], Mapping):
        return merged
    nested = merged.pop(key)
    present = {k.strip().casefold() for k in merged}
    for name, value in nested.items():
        if str(name).strip().casefold() not in present:
            merged[str(name)] = value
    return merged


def _scalar_id(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    text = str(value).strip()
    return text or None


def record_from_mapping(fields: Mapping[str, Any], location: str, tally: Tally) -> PaperRecord:
    """A record from named fields (a JSON object or a CSV row); its title or abstract may be
    empty (the record stream decides what that means).

    Field names match case-insensitively with ROLE_ALIASES; every other non-empty field goes
    to metadata. An unreadable date is dropped with a warning, keeping the paper.
    """
    fields = _merge_nested_metadata(fields)
    by_name: dict[str, str] = {}
    for key in fields:
        by_name.setdefault(key.strip().casefold(), key)
    used: set[str] = set()

    def take(role: str) -> Any:
        for alias in ROLE_ALIASES[role]:
            key = by_name.get(alias)
            if key is None or _is_empty(fields[key]):
                continue
            if role == "id" and _scalar_id(fields[key]) is None:
                continue
            used.add(key)
            return fields[key]
        return None

    title = clean_text(take("title"))
    abstract = clean_text(take("abstract"))
    published = checked_date(take("published"), location, tally)

    paper_id = _scalar_id(take("id"))
    authors = parse_authors(take("authors"))
    url = clean_text(take("url")) or None
    # Only after every take(): the fields no role claimed are the metadata.
    metadata = {k: v for k, v in fields.items() if k not in used and not _is_empty(v)}
    return PaperRecord(
        title=title,
        abstract=abstract,
        source=tally.source,
        location=location,
        id=paper_id,
        authors=authors,
        url=url,
        published=published,
        metadata=metadata,
    )
