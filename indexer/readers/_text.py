"""Loading an input file as text, and the field clean-up every reader shares."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

from indexer.models import PaperRecord, ReadResult, RecordError

_BOM = b"\xef\xbb\xbf"
_LINE_BREAK = re.compile(r"\r\n?|\n")
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


class UnreadableInput(Exception):
    """A problem with a whole file; the message is the reason reported to the user."""


def load_text(path: Path) -> str:
    """The file's text, without a UTF-8 BOM; raises UnreadableInput saying why it is unusable."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UnreadableInput(f"cannot read file: {exc.strerror or exc}") from exc
    nul = data.find(b"\x00")
    if nul >= 0:
        raise UnreadableInput(f"binary file, not text (NUL byte at offset {nul})")
    skip = len(_BOM) if data.startswith(_BOM) else 0
    try:
        text = data[skip:].decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = exc.start + skip
        raise UnreadableInput(f"not UTF-8 text (invalid byte at offset {offset})") from exc
    if not text.strip():
        raise UnreadableInput("empty file")
    return text


def split_lines(text: str) -> list[str]:
    """Physical lines; unlike str.splitlines, U+2028 or a form feed in a line does not split it."""
    lines = _LINE_BREAK.split(text) if "\r" in text else text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


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


def record_from_mapping(
    fields: Mapping[str, Any], source: str, location: str, result: ReadResult
) -> PaperRecord | None:
    """A record from named fields (a JSON object or a CSV row), or None after adding an error.

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
    missing = [name for name, text in (("title", title), ("abstract", abstract)) if not text]
    if missing:
        reason = " and ".join(f"no {name}" for name in missing)
        result.errors.append(RecordError(source, location, reason))
        return None

    raw_date = take("published")
    try:
        published = normalise_date(raw_date)
    except ValueError:
        published = None
        reason = f"unparseable published date {clean_text(str(raw_date))!r}; date dropped"
        result.warnings.append(RecordError(source, location, reason))

    paper_id = _scalar_id(take("id"))
    authors = parse_authors(take("authors"))
    url = clean_text(take("url")) or None
    # Only after every take(): the fields no role claimed are the metadata.
    metadata = {k: v for k, v in fields.items() if k not in used and not _is_empty(v)}
    return PaperRecord(
        title=title,
        abstract=abstract,
        source=source,
        location=location,
        id=paper_id,
        authors=authors,
        url=url,
        published=published,
        metadata=metadata,
    )
