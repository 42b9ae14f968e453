"""The CSV/TSV reader."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path

import pytest

from indexer.readers import read_file

WriteFile = Callable[[str, str | bytes], Path]


def _csv(rows: list[list[str]], delimiter: str = ",") -> str:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return out.getvalue()


def test_csv_reader_maps_columns_and_keeps_extra_columns_in_metadata(
    write_file: WriteFile,
) -> None:
    path = write_file(
        "papers.csv",
        _csv(
            [
                ["id", "title", "abstract", "authors", "url", "published", "venue", "notes"],
                [
                    "p1",
                    "Sparse Attention",
                    "We sparsify.",
                    "A; B",
                    "http://x",
                    "13 Mar 2024",
                    "ACL",
                    "",
                ],
            ]
        ),
    )

    result = read_file(path)

    assert result.format == "csv"
    assert result.errors == []
    (record,) = result.records
    assert (record.id, record.title, record.abstract) == ("p1", "Sparse Attention", "We sparsify.")
    assert record.authors == ["A", "B"]
    assert record.url == "http://x"
    assert record.published == "2024-03-13"
    assert record.metadata == {"venue": "ACL"}
    assert record.location == "row 1 (line 2)"


@pytest.mark.parametrize(("delimiter", "name"), [(";", "p.csv"), ("\t", "p.tsv"), ("\t", "p.csv")])
def test_delimiter_is_sniffed_among_comma_semicolon_and_tab(
    write_file: WriteFile, delimiter: str, name: str
) -> None:
    rows = [["title", "abstract", "authors"], ["A, with comma", "One; two, three.", "X and Y"]]
    path = write_file(name, _csv(rows, delimiter=delimiter))

    (record,) = read_file(path).records

    assert (record.title, record.abstract, record.authors) == (
        "A, with comma",
        "One; two, three.",
        ["X", "Y"],
    )


def test_quoted_multiline_fields_are_one_row_and_line_numbers_follow_them(
    write_file: WriteFile,
) -> None:
    rows = [
        ["title", "abstract"],
        ["First", "Line one.\nLine two,\nline three."],
        ["Second", "Short."],
    ]
    path = write_file("multi.csv", _csv(rows))

    records = read_file(path).records

    assert [(r.title, r.abstract, r.location) for r in records] == [
        ("First", "Line one. Line two, line three.", "row 1 (line 2)"),
        ("Second", "Short.", "row 2 (line 5)"),
    ]


def test_column_names_are_case_insensitive_with_the_jsonl_aliases(write_file: WriteFile) -> None:
    path = write_file("alias.csv", "Paper_ID,TITLE,Summary,Date\n42,A,Sum.,2020\n")

    (record,) = read_file(path).records

    assert (record.id, record.title, record.abstract, record.published) == (
        "42",
        "A",
        "Sum.",
        "2020-01-01",
    )


def test_blank_lines_between_rows_are_skipped(write_file: WriteFile) -> None:
    path = write_file("blank.csv", "\n\ntitle,abstract\n\nA,a\n\n\nB,b")

    records = read_file(path).records

    assert [(r.title, r.location) for r in records] == [
        ("A", "row 1 (line 5)"),
        ("B", "row 2 (line 8)"),
    ]


def test_a_row_with_too_many_fields_is_an_error(write_file: WriteFile) -> None:
    path = write_file("extra.csv", "title,abstract\nA,an abstract, unquoted\nB,b,\n")

    result = read_file(path)

    assert [r.title for r in result.records] == ["B"]
    assert [str(e) for e in result.errors] == [
        f"{path}: row 1 (line 2): 3 fields but the header has 2 (unquoted delimiter?)"
    ]
