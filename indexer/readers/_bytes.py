"""The bytes of one input, streamed: a file or standard input, plain, gzip or zstd.

``ByteSource`` opens the input, recognises compression by the file's magic bytes (an extension
that promises compression the bytes do not have is a file error), reads a bounded prefix for
format detection, and then hands out physical lines without ever holding more than
``max_line_bytes`` (plus one block) of a line in memory.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol, cast

from indexer.errors import InputStreamError
from indexer.readers._zstd import ZSTD_MAGIC, FrameWalker

STDIN = "-"
STDIN_NAME = "<stdin>"
PREFIX_BYTES = 64 * 1024  # what format detection looks at
BLOCK_BYTES = 64 * 1024
GZIP_MAGIC = b"\x1f\x8b"
_COMPRESSION_SUFFIXES = {".gz": "gzip", ".gzip": "gzip", ".zst": "zstd", ".zstd": "zstd"}


class UnreadableInput(Exception):
    """A problem with a whole file before any record; the message is the reason reported."""


@dataclass(frozen=True)
class RawLine:
    """A physical line without its line break; ``offset`` is its first byte in the
    (decompressed) stream."""

    number: int
    offset: int
    data: bytes


def display_name(path: str | Path) -> str:
    return STDIN_NAME if str(path) == STDIN else str(path)


def inner_name(path: str | Path) -> Path:
    """The file name without a compression suffix: ``papers.jsonl.gz`` -> ``papers.jsonl``."""
    path = Path(path)
    return path.with_suffix("") if path.suffix.lower() in _COMPRESSION_SUFFIXES else path


def size_text(n: int) -> str:
    return f"{n // (1024 * 1024)} MiB" if n % (1024 * 1024) == 0 else f"{n} bytes"


class _Readable(Protocol):
    def read(self, n: int = -1, /) -> bytes: ...


class _Counting:
    """The compressed (or plain) file, counting the bytes read; feeds a FrameWalker for zstd."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.count = 0
        self.hash = hashlib.sha256()
        self.walker: FrameWalker | None = None
        self.head = self._read_head()

    def _read_head(self) -> bytes:
        # Read, not peek(): a pipe may hand over fewer bytes than the magic numbers have.
        head = b""
        try:
            while len(head) < len(ZSTD_MAGIC) and (chunk := self.raw.read(4 - len(head))):
                head += chunk
        except OSError as exc:
            raise UnreadableInput(f"cannot read file: {exc.strerror or exc}") from exc
        self._unread = head
        return head

    def read(self, n: int = -1) -> bytes:
        if self._unread:
            data = self._unread if n < 0 else self._unread[:n]
            self._unread = self._unread[len(data) :]
        else:
            data = self.raw.read(n)
        self.count += len(data)
        self.hash.update(data)
        if self.walker is not None:
            self.walker.feed(data)
        return data

    def readable(self) -> bool:
        return True


class ByteSource:
    """One input opened for streaming; close it (or use ``with``) when done."""

    def __init__(self, path: str | Path, max_line_bytes: int, raw: BinaryIO | None = None) -> None:
        """``raw``: read this stream instead of opening ``path`` (which then only names it)."""
        self.path = str(path)
        self.name = display_name(path)
        self.max_line_bytes = max_line_bytes
        self.total_bytes: int | None = None
        self.compression: str | None = None
        self._own = raw is None
        raw = raw if raw is not None else self._open()
        try:
            self._file = _Counting(raw)
            self._stream: _Readable = self._decompressor(self._file.head)
            self.prefix = self._read_prefix()
        except BaseException:
            if self._own and self.path != STDIN:
                raw.close()
            raise

    @property
    def bytes_read(self) -> int:
        return self._file.count

    @property
    def sha256(self) -> str:
        return self._file.hash.hexdigest()

    def close(self) -> None:
        if self._own and self.path != STDIN:
            self._file.raw.close()

    def _open(self) -> BinaryIO:
        if self.path == STDIN:
            return sys.stdin.buffer
        try:
            raw = Path(self.path).open("rb")  # noqa: SIM115 - closed by close()
            stat = os.fstat(raw.fileno())
        except OSError as exc:
            raise UnreadableInput(f"cannot read file: {exc.strerror or exc}") from exc
        # /dev/zero, pipes and the like have no size worth reporting.
        if os.path.isfile(self.path):
            self.total_bytes = stat.st_size
        return raw

    def _decompressor(self, head: bytes) -> _Readable:
        claimed = _COMPRESSION_SUFFIXES.get(Path(self.path).suffix.lower())
        if head.startswith(GZIP_MAGIC):
            self.compression = "gzip"
            return gzip.GzipFile(fileobj=cast(BinaryIO, self._file), mode="rb")
        if head.startswith(ZSTD_MAGIC):
            import zstandard

            self.compression = "zstd"
            self._file.walker = FrameWalker()
            return zstandard.ZstdDecompressor().stream_reader(
                cast(BinaryIO, self._file), read_size=BLOCK_BYTES, read_across_frames=True
            )
        if claimed is not None and self._own and self.path != STDIN:
            raise UnreadableInput(f"not a {claimed} file (its first bytes are not {claimed}'s)")
        return self._file

    def _read(self, n: int) -> bytes:
        try:
            data = self._stream.read(n)
        except (EOFError, OSError, zlib.error, ValueError) as exc:
            raise self._broken(str(exc)) from exc
        except Exception as exc:  # zstandard.ZstdError, imported lazily
            if type(exc).__module__.startswith("zstandard"):
                raise self._broken(str(exc)) from exc
            raise
        if not data and self._file.walker is not None and not self._file.walker.complete:
            raise self._broken("the last zstd frame is incomplete")
        return data

    def _broken(self, reason: str) -> _Broken:
        return _Broken(f"{self.compression or 'the'} stream is truncated or damaged: {reason}")

    def _read_prefix(self) -> bytes:
        parts: list[bytes] = []
        size = 0
        self.prefix_error: _Broken | None = None
        while size < PREFIX_BYTES:
            try:
                block = self._read(PREFIX_BYTES - size)
            except _Broken as exc:
                # Reported at its line once the lines before it have been read.
                self.prefix_error = exc
                break
            if not block:
                break
            parts.append(block)
            size += len(block)
        self.at_end = size < PREFIX_BYTES
        return b"".join(parts)

    def _blocks(self) -> Iterator[bytes]:
        if self.prefix:
            yield self.prefix
        if self.prefix_error is not None:
            raise self.prefix_error
        if self.at_end:
            return
        while block := self._read(BLOCK_BYTES):
            yield block

    def lines(self) -> Iterator[RawLine]:
        """Physical lines, split at ``\\n``; a line longer than ``max_line_bytes`` or a broken
        compressed stream raises InputStreamError naming the line and its byte offset."""
        pending: list[bytes] = []
        pending_size = 0
        number, line_start, offset = 0, 0, 0
        blocks = self._blocks()
        while True:
            try:
                block = next(blocks, None)
            except _Broken as exc:
                raise self._fatal(number + 1, line_start, str(exc)) from exc
            if block is None:
                break
            start = 0
            while (end := block.find(b"\n", start)) >= 0:
                data = block[start:end]
                if pending:
                    data = b"".join([*pending, data])
                    pending, pending_size = [], 0
                number += 1
                if len(data) > self.max_line_bytes:
                    raise self._too_long(number, line_start)
                yield RawLine(number, line_start, data)
                line_start = offset + end + 1
                start = end + 1
            if start < len(block):
                pending.append(block[start:])
                pending_size += len(block) - start
                if pending_size > self.max_line_bytes:
                    raise self._too_long(number + 1, line_start)
            offset += len(block)
        if pending:
            yield RawLine(number + 1, line_start, b"".join(pending))

    def json_items(self) -> Iterator[Any]:
        """The values of a JSON document, parsed incrementally: an array's items, else each
        top-level value. A value over ``max_line_bytes`` raises InputStreamError."""
        import ijson

        reader = _DocumentReader(self)
        start = self.prefix.lstrip(b"\xef\xbb\xbf \t\r\n")
        prefix, several = ("item", False) if start.startswith(b"[") else ("", True)
        for item in ijson.items(reader, prefix, use_float=True, multiple_values=several):
            yield item
            reader.mark()

    def _too_long(self, number: int, offset: int) -> InputStreamError:
        return self._fatal(
            number,
            offset,
            f"a record of over {size_text(self.max_line_bytes)}; is this a text corpus?",
        )

    def _fatal(self, number: int, offset: int, reason: str) -> InputStreamError:
        where = f"{self.name}: line {number} (byte {offset})"
        if self.compression is not None:
            where += f", {self.bytes_read} compressed bytes read"
            if self.total_bytes is not None:
                where += f" of {self.total_bytes}"
        return InputStreamError(f"{where}: {reason}")


class _DocumentReader:
    """``read`` for ijson over the source's blocks, failing once one value has taken more than
    ``max_line_bytes`` (the bytes since the previous value ended, give or take a block)."""

    def __init__(self, source: ByteSource) -> None:
        self._source = source
        self._blocks = source._blocks()
        self._served = 0
        self._mark = 0
        self._record = 1

    def mark(self) -> None:
        self._mark = self._served
        self._record += 1

    def read(self, n: int) -> bytes:
        if n == 0:
            return b""  # ijson's probe of the stream's type
        source = self._source
        if self._served - self._mark > source.max_line_bytes + BLOCK_BYTES:
            where = f"{source.name}: record {self._record} (byte {self._mark})"
            raise InputStreamError(
                f"{where}: a record of over {size_text(source.max_line_bytes)}; "
                "is this a text corpus?"
            )
        try:
            block = next(self._blocks, b"")
        except _Broken as exc:
            where = f"{source.name}: record {self._record} (byte {self._served})"
            raise InputStreamError(f"{where}: {exc}") from exc
        if self._served == 0:
            block = block.removeprefix(b"\xef\xbb\xbf")
        self._served += len(block)
        return block


class _Broken(Exception):
    """The compressed stream failed; turned into InputStreamError with the line it hit."""
