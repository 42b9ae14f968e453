"""The JSON Lines reader, BEIR corpora and JSON arrays."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from indexer.readers import read_file

WriteFile = Callable[[str, str | bytes], Path]


def _jsonl(*objects: dict[str, Any]) -> str:
    return "".join(json.dumps(obj) + "\n" for obj in objects)


def test_jsonl_reader_maps_fields_and_keeps_the_rest_in_metadata(write_file: WriteFile) -> None:
    path = write_file(
        "papers.jsonl",
        _jsonl(
            {
                "id": " p-1 ",
                "title": "  Sparse   Attention ",
                "abstract": "We make attention sparse.\nIt is fast.",
                "authors": ["Ada Lovelace", "Alan Turing"],
                "url": "https://example.org/p1",
                "published": "2024-03-13T09:00:00Z",
                "venue": "ACL",
                "tags": ["nlp", "attention"],
                "empty": "",
            }
        ),
    )

    result = read_file(path)

    assert result.format == "jsonl"
    assert result.errors == [] and result.warnings == []
    (record,) = result.records
    assert record.id == "p-1"
    assert record.title == "Sparse Attention"
    assert record.abstract == "We make attention sparse. It is fast."
    assert record.authors == ["Ada Lovelace", "Alan Turing"]
    assert record.url == "https://example.org/p1"
    assert record.published == "2024-03-13"
    assert record.metadata == {"venue": "ACL", "tags": ["nlp", "attention"]}
    assert record.location == "line 1"
    assert record.source == str(path)


def test_aliases_summary_text_paper_id_arxiv_id_and_date_are_accepted(
    write_file: WriteFile,
) -> None:
    path = write_file(
        "aliases.jsonl",
        _jsonl(
            {"paper_id": 7, "title": "A", "summary": "Summary A.", "date": "Mar 13, 2024"},
            {"arxiv_id": "2303.12345", "title": "B", "text": "Text B.", "date": "2023-05"},
            {"id": "", "title": "C", "abstract": "Abstract C.", "date": 2021},
        ),
    )

    records = read_file(path).records

    assert [(r.id, r.abstract, r.published) for r in records] == [
        ("7", "Summary A.", "2024-03-13"),
        ("2303.12345", "Text B.", "2023-05-01"),
        (None, "Abstract C.", "2021-01-01"),
    ]


def test_author_strings_are_split_on_semicolons_commas_and_and(write_file: WriteFile) -> None:
    path = write_file(
        "authors.jsonl",
        _jsonl(
            {"title": "A", "abstract": "x", "authors": "Smith, J.; Doe, A. and Roe, B."},
            {"title": "B", "abstract": "x", "authors": "Ada Lovelace, Alan Turing, and Grace"},
            {"title": "C", "abstract": "x", "authors": "Ada Lovelace and Alan Turing"},
        ),
    )

    records = read_file(path).records

    assert [r.authors for r in records] == [
        ["Smith, J.", "Doe, A.", "Roe, B."],
        ["Ada Lovelace", "Alan Turing", "Grace"],
        ["Ada Lovelace", "Alan Turing"],
    ]


def test_blank_lines_and_crlf_are_skipped_and_line_numbers_stay_physical(
    write_file: WriteFile,
) -> None:
    first = json.dumps({"title": "A", "abstract": "a"})
    second = json.dumps({"title": "B", "abstract": "b"})
    path = write_file("gaps.jsonl", f"\r\n{first}\r\n\r\n   \r\n{second}")

    records = read_file(path).records

    assert [(r.title, r.location) for r in records] == [("A", "line 2"), ("B", "line 5")]


def test_beir_corpus_is_read_with_nested_metadata_merged(write_file: WriteFile) -> None:
    path = write_file(
        "corpus.jsonl",
        _jsonl(
            {
                "_id": "4983",
                "title": "Microstructural development of human brain",
                "text": "Alterations of the architecture of cerebral white matter.",
                "metadata": {"authors": ["A. Author", "B. Author"], "year": 2001},
            }
        ),
    )

    result = read_file(path)

    assert result.format == "beir"
    (record,) = result.records
    assert record.id == "4983"
    assert record.abstract == "Alterations of the architecture of cerebral white matter."
    assert record.authors == ["A. Author", "B. Author"]
    assert record.metadata == {"year": 2001}


def test_json_array_file_is_read_with_record_locations(write_file: WriteFile) -> None:
    papers = [{"title": "A", "abstract": "a"}, {"title": "B", "abstract": "b"}]
    path = write_file("papers.json", json.dumps(papers, indent=2))

    result = read_file(path)

    assert result.format == "jsonl"
    assert [(r.title, r.location) for r in result.records] == [
        ("A", "record 1"),
        ("B", "record 2"),
    ]


def test_a_single_pretty_printed_object_is_one_record(write_file: WriteFile) -> None:
    path = write_file("one.json", json.dumps({"title": "A", "abstract": "a"}, indent=2))

    result = read_file(path)

    assert [(r.title, r.location) for r in result.records] == [("A", "record 1")]
    assert result.errors == []


def test_field_names_match_case_insensitively(write_file: WriteFile) -> None:
    path = write_file("case.jsonl", _jsonl({"Title": "A", "ABSTRACT": "a", "Authors": "X; Y"}))

    (record,) = read_file(path).records

    assert (record.title, record.abstract, record.authors) == ("A", "a", ["X", "Y"])


def test_jsonl_reading_100k_records_takes_seconds_not_minutes(write_file: WriteFile) -> None:
    line = json.dumps({"id": "x", "title": "T", "abstract": "A sentence. " * 40, "year": 2020})
    path = write_file("big.jsonl", (line + "\n") * 100_000)

    result = read_file(path)

    assert len(result.records) == 100_000


def test_a_json_array_is_read_one_object_at_a_time_and_an_oversized_one_is_fatal(
    write_file: WriteFile,
) -> None:
    from indexer.errors import InputStreamError
    from indexer.readers import ReadOptions, open_records

    small = {"title": "Small", "abstract": "s"}
    big = {"title": "Big", "abstract": "word " * 60_000}  # well over the limit plus 2 blocks
    path = write_file("papers.json", json.dumps([small, small, big, small], indent=1))

    titles: list[str] = []
    options = ReadOptions(max_record_bytes=10_000)
    with pytest.raises(InputStreamError) as raised, open_records(path, options) as stream:
        titles.extend(record.title for record in stream)

    assert titles == ["Small", "Small"]
    assert str(raised.value).startswith(f"{path}: record 3 (byte ")
    assert str(raised.value).endswith("a record of over 10000 bytes; is this a text corpus?")
