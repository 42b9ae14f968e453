"""Reading one input as a stream of records, in constant memory whatever its size.

``open_records`` opens a file (or ``-``, standard input), plain or compressed, detects its
format from a bounded prefix, and yields PaperRecords one at a time. Bad records are counted
errors; a record without title and abstract is a warning ("empty record"); a record with a
title and no abstract is accepted (``title_only``) or skipped with a warning; one with an
abstract and no title is titled by the abstract's first 60 characters, with a warning;
records that fail a ``--where`` filter are counted, not reported. Only a stream that cannot be
read on (a record over ``max_record_bytes``, a truncated compressed file) raises
InputStreamError.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from indexer.models import PaperRecord, ReadResult, RecordError
from indexer.readers._bytes import ByteSource, UnreadableInput, display_name, inner_name
from indexer.readers._tally import Tally
from indexer.readers._text import preview, text_lines, text_lines_with_gaps
from indexer.readers.filters import RecordFilter

MAX_RECORD_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class ReadOptions:
    format: str | None = None  # forced format, else detected
    where: tuple[RecordFilter, ...] = ()  # ANDed
    title_only: bool = True  # accept records with a title and no abstract
    max_record_bytes: int = MAX_RECORD_BYTES


class RecordStream:
    """The records of one input; a context manager and an iterator of PaperRecord.

    ``errors``/``warnings`` keep the first 1,000 of each; ``n_errors``/``n_warnings`` are
    exact. ``bytes_read``/``total_bytes`` are of the file as stored (compressed bytes for a
    compressed file; ``total_bytes`` is None for standard input and pipes).
    """

    def __init__(self, path: str | Path, options: ReadOptions, raw: BinaryIO | None = None) -> None:
        from indexer.readers import detect_format

        self.source = display_name(path)
        self.options = options
        self.n_records = self.n_filtered = self.n_title_only = self.n_empty = 0
        self.n_untitled = 0  # records titled by the start of their abstract
        self._tally = Tally(self.source)
        self._bytes: ByteSource | None = None
        self._records: Iterator[PaperRecord] = iter(())
        try:
            self._bytes = ByteSource(path, options.max_record_bytes, raw)
        except UnreadableInput as exc:
            self.format = options.format or detect_format(inner_name(path), "")
            self._tally.error(None, str(exc))
            return
        prefix = self._bytes.prefix
        start = prefix.decode("utf-8", errors="replace").lstrip("\ufeff")
        self.format = options.format or detect_format(inner_name(path), start)
        problem = _unusable(prefix, self._bytes.at_end and self._bytes.prefix_error is None)
        if problem:
            self._tally.error(None, problem)
            return
        self._records = self._accepted(self._read(start))

    # --- what was found ---------------------------------------------------------------------

    @property
    def errors(self) -> list[RecordError]:
        return self._tally.errors

    @property
    def warnings(self) -> list[RecordError]:
        return self._tally.warnings

    @property
    def n_errors(self) -> int:
        return self._tally.n_errors

    @property
    def n_warnings(self) -> int:
        return self._tally.n_warnings

    @property
    def bytes_read(self) -> int:
        return self._bytes.bytes_read if self._bytes else 0

    @property
    def total_bytes(self) -> int | None:
        return self._bytes.total_bytes if self._bytes else None

    @property
    def sha256(self) -> str | None:
        """sha256 of the bytes read; the file's hash once the stream has been read through."""
        return self._bytes.sha256 if self._bytes else None

    # --- iteration --------------------------------------------------------------------------

    def __iter__(self) -> Iterator[PaperRecord]:
        return self

    def __next__(self) -> PaperRecord:
        return next(self._records)

    def __enter__(self) -> RecordStream:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._bytes is not None:
            self._bytes.close()

    def _read(self, start: str) -> Iterator[PaperRecord]:
        from indexer.readers import json_mapper
        from indexer.readers.csv_reader import csv_records
        from indexer.readers.daily import daily_records
        from indexer.readers.jsonl import document_records, is_document, jsonl_records

        assert self._bytes is not None
        if self.format == "daily":
            return daily_records(
                text_lines_with_gaps(self._bytes.lines(), self._tally), self._tally
            )
        lines = text_lines(self._bytes.lines(), self._tally)
        if self.format == "csv":
            header = next((line for line in start.split("\n") if line.strip()), "")
            return csv_records(lines, self._tally, header.removesuffix("\r"))
        mapper = json_mapper(self.format)
        if is_document(start):
            return document_records(self._bytes.json_items(), self._tally, mapper)
        return jsonl_records(lines, self._tally, mapper)

    def _accepted(self, records: Iterator[PaperRecord]) -> Iterator[PaperRecord]:
        tally, options = self._tally, self.options
        for record in records:
            if not record.title:
                if not record.abstract:
                    self.n_empty += 1
                    tally.warning(record.location, "empty record (no title and no abstract)")
                    continue
                # Papers are cited and deduplicated by title: the abstract's start stands in.
                record.title = preview(record.abstract)
                self.n_untitled += 1
                tally.warning(record.location, "no title; titled by the start of its abstract")
            if not all(where.matches(record) for where in options.where):
                self.n_filtered += 1
                continue
            if not record.abstract:
                self.n_title_only += 1
                if not options.title_only:
                    tally.warning(record.location, "title only (no abstract); skipped")
                    continue
            self.n_records += 1
            yield record


def open_records(path: str | Path, options: ReadOptions | None = None) -> RecordStream:
    """The records of ``path`` (``-``: standard input); see RecordStream. InputError for an
    unknown forced format."""
    from indexer.readers import check_format

    options = options or ReadOptions()
    check_format(options.format)
    return RecordStream(path, options)


def collect(stream: RecordStream) -> ReadResult:
    """Read ``stream`` through into a ReadResult (errors and warnings as kept)."""
    with stream:
        records = list(stream)
    return ReadResult(stream.source, stream.format, records, stream.errors, stream.warnings)


def read_text(text: str, source: str, format: str) -> ReadResult:
    """Read text held in memory as ``format`` (for callers that have a string, not a file)."""
    data = io.BytesIO(text.encode("utf-8"))
    return collect(RecordStream(source, ReadOptions(format=format), raw=data))


def _unusable(prefix: bytes, whole: bool) -> str | None:
    """Why a file is not text at all, judged from its first bytes (None if it may be)."""
    first_line = prefix.split(b"\n", 1)[0]
    nul = first_line.find(b"\x00")
    if nul >= 0:
        # A text corpus never starts with a NUL; one on a later line is that line's error.
        return f"binary file, not text (NUL byte at offset {nul})"
    if whole and not prefix.removeprefix(b"\xef\xbb\xbf").strip():
        return "empty file"
    return None
