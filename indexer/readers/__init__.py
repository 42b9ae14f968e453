"""Input readers: turn a file of papers into a stream of PaperRecords, with one error per bad
record.

``open_records`` streams one input (a file, or ``-`` for standard input; plain, ``.gz`` or
``.zst``) in constant memory; ``read_file`` collects such a stream into a ReadResult. Neither
raises for bad content: a file that cannot be used at all gives one error whose location is
None; only a stream that breaks off part-way (a record over the size limit, a truncated
compressed file) raises InputStreamError. Formats: ``daily`` (a daily-papers page dump),
``jsonl`` (JSON Lines or a JSON document), ``csv`` (CSV/TSV with a header), ``beir`` (a BEIR
``corpus.jsonl``), ``arxiv`` (the arXiv metadata snapshot) and ``openalex`` (OpenAlex works).
"""

from __future__ import annotations

from pathlib import Path

from indexer.errors import InputError
from indexer.models import ReadResult
from indexer.readers._text import record_from_mapping
from indexer.readers.arxiv import arxiv_record, looks_like_arxiv
from indexer.readers.csv_reader import names_paper_columns
from indexer.readers.filters import RecordFilter, parse_where
from indexer.readers.jsonl import Mapper, first_object
from indexer.readers.openalex import looks_like_openalex, openalex_record
from indexer.readers.stream import ReadOptions, RecordStream, collect, open_records

FORMATS = ("daily", "jsonl", "csv", "beir", "arxiv", "openalex")

_BY_EXTENSION = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "daily",
    ".md": "daily",
}
# The arXiv snapshot is JSON Lines named .json: the first object tells the flavour.
_JSONL_EXTENSIONS = (".jsonl", ".ndjson", ".json")
_MAPPERS: dict[str, Mapper] = {"arxiv": arxiv_record, "openalex": openalex_record}


def detect_format(path: Path, text: str) -> str:
    """The format of a file: by its extension first, then by what its text starts with; the
    JSON Lines flavour by the first object's keys."""
    suffix = Path(path).suffix.lower()
    if suffix in _JSONL_EXTENSIONS:
        return _json_flavour(text)
    if suffix in _BY_EXTENSION:
        return _BY_EXTENSION[suffix]
    start = text.lstrip("\ufeff \t\r\n")
    if start.startswith("{"):
        return _json_flavour(start)
    if start.startswith("["):
        return "jsonl"
    if names_paper_columns(start.split("\n", 1)[0]):
        return "csv"
    return "daily"


def _json_flavour(text: str) -> str:
    first = first_object(text.lstrip("\ufeff"))
    if first is None:
        return "jsonl"
    if looks_like_openalex(first):
        return "openalex"
    if "_id" in first and "text" in first:
        return "beir"
    if looks_like_arxiv(first):
        return "arxiv"
    return "jsonl"


def json_mapper(format: str) -> Mapper:
    """How one JSON object of ``format`` becomes a record."""
    return _MAPPERS.get(format, record_from_mapping)


def check_format(format: str | None) -> None:
    """InputError naming the known formats unless ``format`` is one of them (or None)."""
    if format is not None and format not in FORMATS:
        raise InputError(f"unknown input format {format!r}: expected one of {', '.join(FORMATS)}")


def read_file(path: Path | str, format: str | None = None) -> ReadResult:
    """Read one input through, detecting its format unless one is given.

    Raises InputError for an unknown ``format`` and InputStreamError for a stream that breaks
    off; every other problem is in the result's ``errors`` (and ``warnings``).
    """
    check_format(format)
    return collect(open_records(path, ReadOptions(format=format)))


__all__ = [
    "FORMATS",
    "ReadOptions",
    "RecordFilter",
    "RecordStream",
    "check_format",
    "detect_format",
    "open_records",
    "parse_where",
    "read_file",
]
