"""The streaming reader API: counts, bounded error lists, standard input, constant memory."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from indexer.errors import InputError, InputStreamError
from indexer.readers import ReadOptions, open_records, read_file
from indexer.readers._tally import MAX_KEPT

WriteFile = Callable[[str, str | bytes], Path]
REPO_ROOT = Path(__file__).resolve().parents[3]
MEMORY_CAP = 1_000_000_000  # bytes of address space for the reading subprocess


def _jsonl(*objects: dict[str, object]) -> str:
    return "".join(json.dumps(obj) + "\n" for obj in objects)


def test_a_stream_yields_records_and_counts_what_it_left_out(write_file: WriteFile) -> None:
    untitled = "An abstract that came without any title, long enough to be cut short."
    path = write_file(
        "mixed.jsonl",
        _jsonl(
            {"title": "Full", "abstract": "Text."},
            {"title": "Title only"},
            {"id": "nothing-else"},
            {"abstract": untitled},
        )
        + "not json\n",
    )

    with open_records(path) as stream:
        titles = [record.title for record in stream]

    assert titles == ["Full", "Title only", untitled[:59].rstrip() + "…"]
    assert (stream.source, stream.format) == (str(path), "jsonl")
    counts = (stream.n_records, stream.n_title_only, stream.n_empty, stream.n_untitled)
    assert counts == (3, 1, 1, 1) and stream.n_filtered == 0
    assert [(e.location, e.reason) for e in stream.errors] == [
        ("line 5", "invalid JSON: Expecting value (column 1)")
    ]
    assert [(w.location, w.reason) for w in stream.warnings] == [
        ("line 3", "empty record (no title and no abstract)"),
        ("line 4", "no title; titled by the start of its abstract"),
    ]
    assert (stream.n_errors, stream.n_warnings) == (1, 2)
    assert stream.bytes_read == stream.total_bytes == path.stat().st_size


def test_title_only_records_are_skipped_with_a_warning_each_when_asked(
    write_file: WriteFile,
) -> None:
    path = write_file("titles.jsonl", _jsonl({"title": "A"}, {"title": "B", "abstract": "b"}))

    with open_records(path, ReadOptions(title_only=False)) as stream:
        titles = [record.title for record in stream]

    assert titles == ["B"]
    assert stream.n_title_only == 1 and stream.n_records == 1
    assert [(w.location, w.reason) for w in stream.warnings] == [
        ("line 1", "title only (no abstract); skipped")
    ]


def test_error_lists_keep_the_first_thousand_and_the_counts_stay_exact(
    write_file: WriteFile,
) -> None:
    bad = "not json\n" * (MAX_KEPT + 500)
    path = write_file("bad.jsonl", bad + _jsonl({"title": "Last", "abstract": "Good."}))

    with open_records(path) as stream:
        titles = [record.title for record in stream]

    assert titles == ["Last"]
    assert len(stream.errors) == MAX_KEPT and stream.n_errors == MAX_KEPT + 500
    assert stream.errors[-1].location == f"line {MAX_KEPT}"


def test_an_unknown_forced_format_is_refused_before_reading(write_file: WriteFile) -> None:
    with pytest.raises(InputError, match="'xml'"):
        open_records(write_file("a.jsonl", "{}\n"), ReadOptions(format="xml"))


def test_a_record_over_the_limit_names_the_file_line_and_byte_offset(
    write_file: WriteFile,
) -> None:
    first = _jsonl({"title": "Short", "abstract": "Fine."})
    path = write_file("data.jsonl", first + "x" * 5000 + "\n")

    with pytest.raises(InputStreamError) as raised:
        read_file_with_limit(path, 4096)

    assert str(raised.value) == (
        f"{path}: line 2 (byte {len(first)}): a record of over 4096 bytes; is this a text corpus?"
    )


def read_file_with_limit(path: Path, limit: int) -> list[str]:
    with open_records(path, ReadOptions(max_record_bytes=limit)) as stream:
        return [record.title for record in stream]


def test_a_100_mb_line_is_fatal_after_the_good_records_before_it(tmp_path: Path) -> None:
    path = tmp_path / "huge.jsonl"
    good = _jsonl({"title": "Before", "abstract": "Fine."})
    with path.open("wb") as out:
        out.write(good.encode())
        block = b"y" * (1024 * 1024)
        for _ in range(100):
            out.write(block)
        out.write(b"\n")

    read: list[str] = []
    with pytest.raises(InputStreamError) as raised, open_records(path) as stream:
        read.extend(record.title for record in stream)

    assert read == ["Before"]
    assert str(raised.value) == (
        f"{path}: line 2 (byte {len(good)}): a record of over 8 MiB; is this a text corpus?"
    )
    # It stopped at the limit rather than reading the whole line.
    assert stream.bytes_read < 10 * 1024 * 1024


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def _read_stdin_in_subprocess(*, chunk: bytes, cap_bytes: int) -> subprocess.CompletedProcess[str]:
    """``read_file("-")`` in a memory-capped child fed ``chunk`` endlessly (at most
    ``cap_bytes``) through a pipe, until it stops reading."""
    code = "from indexer.readers import read_file; print(read_file('-'))"
    child = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=_limit_memory,
    )
    assert child.stdin is not None
    written = 0
    try:
        while written < cap_bytes:
            child.stdin.write(chunk)
            written += len(chunk)
        child.stdin.close()
    except BrokenPipeError:
        pass
    stdout, stderr = child.communicate(timeout=120)
    return subprocess.CompletedProcess(
        child.args, child.returncode, stdout.decode(), stderr.decode()
    )


def test_an_endless_line_on_stdin_fails_in_bounded_memory() -> None:
    # 2 GB offered through a pipe to a reader capped at 1 GB of address space: only a reader
    # that holds at most about one record can get to the error.
    result = _read_stdin_in_subprocess(chunk=b"z" * (1024 * 1024), cap_bytes=2 * 1024**3)

    assert result.returncode == 1
    assert result.stderr.strip().endswith(
        "InputStreamError: <stdin>: line 1 (byte 0): a record of over 8 MiB; is this a text corpus?"
    )


def test_zero_bytes_on_stdin_are_a_binary_file_error_at_once() -> None:
    result = _read_stdin_in_subprocess(chunk=bytes(1024 * 1024), cap_bytes=2 * 1024**3)

    assert result.returncode == 0, result.stderr
    assert "source='<stdin>'" in result.stdout
    assert "binary file, not text (NUL byte at offset 0)" in result.stdout


def test_stdin_is_read_with_its_format_detected_from_the_first_bytes() -> None:
    lines = _jsonl({"_id": "d1", "title": "A", "text": "a"}, {"_id": "d2", "title": "B"})
    code = (
        "from indexer.readers import open_records\n"
        "with open_records('-') as s:\n"
        "    print([r.id for r in s], s.source, s.format, s.n_title_only, s.total_bytes)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        input=lines,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['d1', 'd2'] <stdin> beir 1 None"


def test_read_file_still_collects_a_whole_file(write_file: WriteFile) -> None:
    path = write_file("a.csv", "title,abstract\nA,a\nB,\n")

    result = read_file(path)

    assert (result.source, result.format) == (str(path), "csv")
    assert [(r.title, r.abstract) for r in result.records] == [("A", "a"), ("B", "")]
