"""Bad files and bad records become errors with a clear message; good records are still read."""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from indexer.models import ReadResult
from indexer.readers import read_file

WriteFile = Callable[[str, str | bytes], Path]
MakeAbstract = Callable[[str], str]


def _messages(result: ReadResult) -> list[str]:
    return [f"{e.location}: {e.reason}" if e.location else e.reason for e in result.errors]


def _file_error(result: ReadResult) -> str:
    (error,) = result.errors
    assert error.location is None
    assert error.source == result.source
    assert result.records == []
    return error.reason


# --- whole files -----------------------------------------------------------------------------


def test_a_missing_file_cannot_be_read(tmp_path: Path) -> None:
    result = read_file(tmp_path / "nowhere.jsonl")

    assert _file_error(result) == "cannot read file: No such file or directory"
    assert result.format == "jsonl"


def test_a_directory_cannot_be_read(tmp_path: Path) -> None:
    assert _file_error(read_file(tmp_path)) == "cannot read file: Is a directory"


def _refusing_open(refused: Path) -> Callable[..., Any]:
    real_open = Path.open

    def open_(self: Path, *args: Any, **kwargs: Any) -> Any:
        if self == refused:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(self))
        return real_open(self, *args, **kwargs)

    return open_


def test_a_file_without_read_permission_cannot_be_read(
    write_file: WriteFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_file("secret.csv", "title,abstract\nA,a\n")
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):
            # root reads anything; make the OS refusal happen anyway.
            monkeypatch.setattr(Path, "open", _refusing_open(path))
        assert _file_error(read_file(path)) == "cannot read file: Permission denied"
    finally:
        path.chmod(0o644)


def test_a_binary_file_is_reported_with_the_offset_of_its_first_nul(
    write_file: WriteFile,
) -> None:
    path = write_file("model.bin", b"PK\x03\x04\x00\x00garbage")

    assert _file_error(read_file(path)) == "binary file, not text (NUL byte at offset 4)"


def test_a_latin1_line_is_an_error_of_its_own(write_file: WriteFile) -> None:
    path = write_file("latin1.csv", "title,abstract\nCafé,a\nTea,b\n".encode("latin-1"))

    result = read_file(path)

    assert _messages(result) == ["line 2: not valid UTF-8 (byte 3)"]
    assert [r.title for r in result.records] == ["Tea"]


def test_a_utf8_bom_is_accepted(write_file: WriteFile) -> None:
    path = write_file("bom.csv", b"\xef\xbb\xbf" + "title,abstract\nCafé,a\n".encode())

    result = read_file(path)

    assert result.errors == []
    assert [(r.title, r.abstract) for r in result.records] == [("Café", "a")]


@pytest.mark.parametrize("content", ["", "  \n\t\r\n  "])
def test_an_empty_or_blank_file_is_reported_as_empty(write_file: WriteFile, content: str) -> None:
    assert _file_error(read_file(write_file("empty.txt", content))) == "empty file"


def test_a_text_file_without_any_pair_says_no_papers_were_found(write_file: WriteFile) -> None:
    reason = _file_error(read_file(write_file("notes.txt", "shopping\n\nmilk\n\neggs\n")))

    assert reason.startswith("no papers found")


# --- daily records ---------------------------------------------------------------------------


def test_daily_title_without_abstract_and_abstract_without_title_are_errors(
    write_file: WriteFile, make_abstract: MakeAbstract
) -> None:
    long_title = "An Orphaned Title That Goes On and On About Many Things In Great Detail Indeed"
    lines = [
        "Subscribe",
        "Mar 13",
        "Good One",
        make_abstract("one"),
        long_title,
        "Good Two",
        make_abstract("two"),
        make_abstract("stray"),
        "Good Three",
        make_abstract("three"),
        "Trailing Title",
    ]
    path = write_file("dump.txt", "\n\n".join(lines))

    result = read_file(path)

    assert [r.title for r in result.records] == ["Good One", "Good Two", "Good Three"]
    assert _messages(result) == [
        "line 9: title without an abstract: "
        "'An Orphaned Title That Goes On and On About Many Things In…'",
        "line 15: abstract without a title",
        "line 21: title without an abstract: 'Trailing Title'",
    ]
    assert str(result.errors[1]) == f"{path}: line 15: abstract without a title"


# --- JSON Lines records ----------------------------------------------------------------------


def test_bad_jsonl_lines_are_errors_and_good_lines_are_still_read(write_file: WriteFile) -> None:
    lines = [
        json.dumps({"id": "ok-1", "title": "Good", "abstract": "Fine."}),
        '{"title": "Broken", "abstract": ',
        json.dumps(["not", "an", "object"]),
        json.dumps({"abstract": "No title here."}),
        json.dumps({"title": "No abstract", "abstract": "   "}),
        json.dumps({"id": 1}),
        json.dumps({"title": "Good too", "summary": "Also fine."}),
    ]
    path = write_file("papers.jsonl", "\n".join(lines) + "\n")

    result = read_file(path)

    assert [r.title for r in result.records] == [
        "Good",
        "No title here.",
        "No abstract",
        "Good too",
    ]
    assert _messages(result) == [
        "line 2: invalid JSON: Expecting value (column 33)",
        "line 3: expected a JSON object, got list",
    ]
    assert [f"{w.location}: {w.reason}" for w in result.warnings] == [
        "line 4: no title; titled by the start of its abstract",
        "line 6: empty record (no title and no abstract)",
    ]


def test_an_unparseable_date_drops_the_date_with_a_warning_and_keeps_the_paper(
    write_file: WriteFile,
) -> None:
    lines = [
        json.dumps({"title": "A", "abstract": "a", "published": "sometime in spring"}),
        json.dumps({"title": "B", "abstract": "b", "date": "2024-02-30"}),
    ]
    path = write_file("dates.jsonl", "\n".join(lines))

    result = read_file(path)

    assert [(r.title, r.published) for r in result.records] == [("A", None), ("B", None)]
    assert result.errors == []
    assert [f"{w.location}: {w.reason}" for w in result.warnings] == [
        "line 1: unparseable published date 'sometime in spring'; date dropped",
        "line 2: unparseable published date '2024-02-30'; date dropped",
    ]


def test_an_invalid_json_array_is_read_up_to_the_broken_record(write_file: WriteFile) -> None:
    path = write_file("papers.json", '[{"title": "A", "abstract": "a"},\n  {"title": ]')

    result = read_file(path)

    assert [r.title for r in result.records] == ["A"]
    assert _messages(result) == [
        "record 2: invalid JSON, the rest is not read: "
        "parse error: unallowed token at this point in JSON text"
    ]


def test_non_object_items_of_a_json_array_are_errors(write_file: WriteFile) -> None:
    path = write_file("papers.json", json.dumps([{"title": "A", "abstract": "a"}, "oops", 3]))

    result = read_file(path)

    assert [r.title for r in result.records] == ["A"]
    assert _messages(result) == [
        "record 2: expected a JSON object, got string",
        "record 3: expected a JSON object, got number",
    ]


# --- CSV records -----------------------------------------------------------------------------


def test_a_csv_header_without_an_abstract_column_is_one_file_error(write_file: WriteFile) -> None:
    path = write_file("papers.csv", "id,title,venue\n1,A,ACL\n")

    reason = _file_error(read_file(path))

    assert reason == "header has no 'abstract' column (columns: id, title, venue)"


def test_bad_csv_rows_are_errors_and_good_rows_are_still_read(write_file: WriteFile) -> None:
    text = (
        "title,abstract,published\n"
        "Good,Fine.,2024-01-02\n"
        ',"No title,\nover two lines.",\n'
        "No abstract,,\n"
        "Bad date,Still fine.,yesterday\n"
    )
    path = write_file("papers.csv", text)

    result = read_file(path)

    assert [(r.title, r.published) for r in result.records] == [
        ("Good", "2024-01-02"),
        ("No title, over two lines.", None),
        ("No abstract", None),
        ("Bad date", None),
    ]
    assert result.errors == []
    assert [f"{w.location}: {w.reason}" for w in result.warnings] == [
        "row 2 (line 3): no title; titled by the start of its abstract",
        "row 4 (line 6): unparseable published date 'yesterday'; date dropped",
    ]


# --- bad bytes on one line (issue 14 item 3) -------------------------------------------------


def test_invalid_utf8_on_one_jsonl_line_rejects_that_line_only(write_file: WriteFile) -> None:
    lines = [
        json.dumps({"title": f"Paper {i}", "abstract": f"Text {i}."}).encode() for i in range(9)
    ]
    lines[6] = b'{"title": "Caf\xe9", "abstract": "Latin-1 slipped in."}'
    path = write_file("papers.jsonl", b"\n".join(lines) + b"\n")

    result = read_file(path)

    assert _messages(result) == ["line 7: not valid UTF-8 (byte 14)"]
    assert [r.title for r in result.records] == [f"Paper {i}" for i in range(9) if i != 6]


def test_a_nul_byte_on_one_line_rejects_that_line_only(write_file: WriteFile) -> None:
    good = json.dumps({"title": "Good", "abstract": "Fine."}).encode()
    path = write_file("papers.jsonl", good + b"\n" + b'{"title": "\x00"}\n' + good + b"\n")

    result = read_file(path)

    assert _messages(result) == ["line 2: NUL byte, not text (byte 11)"]
    assert [r.location for r in result.records] == ["line 1", "line 3"]


def test_a_bad_byte_in_a_daily_dump_loses_that_line_only(
    write_file: WriteFile, make_abstract: MakeAbstract
) -> None:
    text = "\n".join(["Mar 13", "First", make_abstract("one"), "Second", make_abstract("two")])
    data = text.encode().replace(b"First", b"Fir\xffst")
    path = write_file("dump.txt", data)

    result = read_file(path)

    assert _messages(result) == [
        "line 2: not valid UTF-8 (byte 3)",
        "line 3: abstract without a title",
    ]
    assert [r.title for r in result.records] == ["Second"]
