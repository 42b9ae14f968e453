"""Input readers: turn a file of papers into PaperRecords plus one error per bad record.

``read_file`` never raises for bad content; a file it cannot use at all gives one error whose
location is None. Formats: ``daily`` (a daily-papers page dump), ``jsonl`` (JSON Lines or a
JSON array), ``csv`` (CSV/TSV with a header) and ``beir`` (a BEIR ``corpus.jsonl``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from indexer.errors import InputError
from indexer.models import PaperRecord, ReadResult, RecordError
from indexer.readers._text import UnreadableInput, load_text
from indexer.readers.csv_reader import names_paper_columns, read_csv
from indexer.readers.daily import read_daily
from indexer.readers.jsonl import first_object, read_jsonl

FORMATS = ("daily", "jsonl", "csv", "beir")

_BY_EXTENSION = {
    ".json": "jsonl",
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "daily",
    ".md": "daily",
}
_JSONL_EXTENSIONS = (".jsonl", ".ndjson")


def _read_beir(text: str, source: str) -> ReadResult:
    return read_jsonl(text, source, format="beir")


_READERS: dict[str, Callable[[str, str], ReadResult]] = {
    "daily": read_daily,
    "jsonl": read_jsonl,
    "csv": read_csv,
    "beir": _read_beir,
}


def detect_format(path: Path, text: str) -> str:
    """The format of a file: by its extension first, then by what its text starts with."""
    suffix = Path(path).suffix.lower()
    if suffix in _JSONL_EXTENSIONS:
        return _jsonl_or_beir(text)
    if suffix in _BY_EXTENSION:
        return _BY_EXTENSION[suffix]
    start = text.lstrip("\ufeff \t\r\n")
    if start.startswith("{"):
        return _jsonl_or_beir(start)
    if start.startswith("["):
        return "jsonl"
    if names_paper_columns(start.split("\n", 1)[0]):
        return "csv"
    return "daily"


def _jsonl_or_beir(text: str) -> str:
    first = first_object(text)
    return "beir" if first is not None and "_id" in first and "text" in first else "jsonl"


def read_file(path: Path, format: str | None = None) -> ReadResult:
    """Read one input file, detecting its format unless one is given.

    Raises InputError only for an unknown ``format``; every problem with the file or its
    records is reported in the result's ``errors`` (and unreadable dates in ``warnings``).
    """
    path = Path(path)
    if format is not None and format not in FORMATS:
        raise InputError(f"unknown input format {format!r}: expected one of {', '.join(FORMATS)}")
    source = str(path)
    try:
        text = load_text(path)
    except UnreadableInput as exc:
        chosen = format or detect_format(path, "")
        return ReadResult(
            source=source, format=chosen, errors=[RecordError(source, None, str(exc))]
        )
    return _READERS[format or detect_format(path, text)](text, source)


@dataclass(frozen=True)
class ReadOptions:
    format: str | None = None
    where: tuple[Any, ...] = ()
    title_only: bool = True
    max_record_bytes: int = 8 * 1024 * 1024


class RecordStream:
    """Records of one input (interim: read whole through ``read_file``)."""

    def __init__(self, path: Path | str, options: ReadOptions) -> None:
        self._result = read_file(Path(path), options.format)
        self.source = self._result.source
        self.format = self._result.format
        self.errors = self._result.errors
        self.warnings = self._result.warnings
        self.n_errors = len(self.errors)
        self.n_warnings = len(self.warnings)
        self.n_records = len(self._result.records)
        self.n_filtered = self.n_title_only = self.n_empty = 0
        self.bytes_read = self.total_bytes = (
            Path(path).stat().st_size if Path(path).is_file() else 0
        )

    def __iter__(self) -> Iterator[PaperRecord]:
        return iter(self._result.records)

    def __enter__(self) -> RecordStream:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def open_records(path: Path | str, options: ReadOptions | None = None) -> RecordStream:
    return RecordStream(path, options or ReadOptions())


__all__ = ["FORMATS", "ReadOptions", "RecordStream", "detect_format", "open_records", "read_file"]
