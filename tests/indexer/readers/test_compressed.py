"""gzip and zstd input: detected by magic bytes, inner format from the name, truncation fatal."""

from __future__ import annotations

import gzip
import hashlib
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import zstandard

from indexer.errors import InputStreamError
from indexer.readers import open_records, read_file

WriteFile = Callable[[str, str | bytes], Path]
REPO_ROOT = Path(__file__).resolve().parents[3]

PAPERS = [{"id": f"p{i}", "title": f"Paper {i}", "abstract": f"Abstract {i}."} for i in range(50)]
JSONL = "".join(json.dumps(p) + "\n" for p in PAPERS).encode()
CSV = ("title,abstract\n" + "".join(f"CSV {i},Text {i}.\n" for i in range(3))).encode()


def _zstd(data: bytes) -> bytes:
    return zstandard.ZstdCompressor(write_checksum=True).compress(data)


@pytest.mark.parametrize(
    ("name", "compress"),
    [("papers.jsonl.gz", gzip.compress), ("papers.jsonl.zst", _zstd)],
)
def test_a_compressed_file_reads_as_its_inner_format(
    write_file: WriteFile, name: str, compress: Callable[[bytes], bytes]
) -> None:
    path = write_file(name, compress(JSONL))

    with open_records(path) as stream:
        ids = [record.id for record in stream]

    assert ids == [p["id"] for p in PAPERS]
    assert stream.format == "jsonl" and stream.errors == []
    # Progress counts the compressed bytes, against the compressed size.
    assert stream.bytes_read == stream.total_bytes == path.stat().st_size
    assert stream.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_inner_format_comes_from_the_name_without_the_compression_suffix(
    write_file: WriteFile,
) -> None:
    path = write_file("export.txt.gz", gzip.compress(b"Header\n\nA Title\n\n" + b"x. " * 100))

    assert read_file(path).format == "daily"
    assert read_file(write_file("papers.csv.zst", _zstd(CSV))).format == "csv"


def test_compression_is_recognised_by_magic_bytes_without_an_extension(
    write_file: WriteFile,
) -> None:
    gz = read_file(write_file("download", gzip.compress(CSV)))
    zst = read_file(write_file("download2", _zstd(JSONL)))

    assert gz.format == "csv" and [r.title for r in gz.records] == ["CSV 0", "CSV 1", "CSV 2"]
    assert zst.format == "jsonl" and len(zst.records) == len(PAPERS)


def test_a_gz_name_without_gzip_bytes_is_a_file_error(write_file: WriteFile) -> None:
    result = read_file(write_file("papers.jsonl.gz", JSONL))

    assert [(e.location, e.reason) for e in result.errors] == [
        (None, "not a gzip file (its first bytes are not gzip's)")
    ]
    assert result.records == []


def test_several_zstd_frames_and_gzip_members_are_read_through(write_file: WriteFile) -> None:
    half = len(JSONL) // 2
    cut = JSONL.rindex(b"\n", 0, half) + 1
    zst = write_file("multi.jsonl.zst", _zstd(JSONL[:cut]) + _zstd(JSONL[cut:]))
    gz = write_file("multi.jsonl.gz", gzip.compress(JSONL[:cut]) + gzip.compress(JSONL[cut:]))

    assert len(read_file(zst).records) == len(PAPERS)
    assert len(read_file(gz).records) == len(PAPERS)


def _big_jsonl() -> bytes:
    # Incompressible enough that cutting the file loses whole lines, not just the end.
    rows = [
        {"title": f"Paper {i}", "abstract": hashlib.sha256(str(i).encode()).hexdigest() * 8}
        for i in range(3000)
    ]
    return "".join(json.dumps(row) + "\n" for row in rows).encode()


def test_a_truncated_gzip_names_the_line_and_byte_offset(write_file: WriteFile) -> None:
    data = gzip.compress(_big_jsonl())
    path = write_file("cut.jsonl.gz", data[: len(data) // 2])

    titles: list[str] = []
    with pytest.raises(InputStreamError) as raised, open_records(path) as stream:
        titles.extend(record.title for record in stream)

    message = str(raised.value)
    line = len(titles) + 1
    offset = sum(len(json.dumps(r).encode()) + 1 for r in _rows(titles))
    assert message.startswith(
        f"{path}: line {line} (byte {offset}), {len(data) // 2} compressed bytes read of "
        f"{len(data) // 2}: gzip stream is truncated or damaged: "
    )
    assert 0 < len(titles) < 3000


def _rows(titles: list[str]) -> list[dict[str, str]]:
    return [
        {"title": t, "abstract": hashlib.sha256(t.split()[1].encode()).hexdigest() * 8}
        for t in titles
    ]


def test_a_truncated_zstd_file_is_fatal_even_where_the_cut_falls_between_blocks(
    write_file: WriteFile,
) -> None:
    data = _zstd(_big_jsonl())
    for cut in (len(data) // 2, len(data) - 2):
        path = write_file(f"cut{cut}.jsonl.zst", data[:cut])
        with pytest.raises(InputStreamError) as raised:
            read_file(path)
        message = str(raised.value)
        assert message.startswith(f"{path}: line ")
        assert f"compressed bytes read of {cut}: zstd stream is truncated or damaged" in message


def test_a_gzip_cut_inside_its_first_block_is_fatal_at_line_1(
    write_file: WriteFile,
) -> None:
    data = gzip.compress(JSONL)
    path = write_file("small.jsonl.gz", data[:40])

    with pytest.raises(InputStreamError, match=r"small\.jsonl\.gz: line 1 \(byte 0\), 40 "):
        read_file(path)


def test_gzip_on_stdin_is_recognised_when_its_first_bytes_arrive_one_at_a_time() -> None:
    code = (
        "from indexer.readers import open_records\n"
        "with open_records('-') as s:\n"
        "    print(len(list(s)), s.source, s.format, s.bytes_read)\n"
    )
    data = gzip.compress(JSONL)
    child = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert child.stdin is not None
    for byte in data[:3]:
        # Separate writes with pauses: the reader's first reads get one byte each.
        child.stdin.write(bytes([byte]))
        child.stdin.flush()
        time.sleep(0.2)
    stdout, stderr = child.communicate(data[3:], timeout=60)

    assert child.returncode == 0, stderr.decode()
    assert stdout.decode().split() == [str(len(PAPERS)), "<stdin>", "jsonl", str(len(data))]
