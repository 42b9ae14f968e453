"""Input format detection, by extension and then by content."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from indexer.errors import InputError
from indexer.readers import FORMATS, detect_format, read_file

WriteFile = Callable[[str, str | bytes], Path]

JSONL = json.dumps({"title": "A", "abstract": "a"}) + "\n"
BEIR = json.dumps({"_id": "1", "title": "A", "text": "a"}) + "\n"
CSV = "title,abstract\nA,a\n"
ARXIV = json.dumps({"id": "0704.0001", "title": "A", "abstract": "a", "versions": []}) + "\n"
OPENALEX = json.dumps({"id": "https://openalex.org/W1", "title": "A"}) + "\n"


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("papers.jsonl", JSONL, "jsonl"),
        ("papers.ndjson", JSONL, "jsonl"),
        ("corpus.jsonl", BEIR, "beir"),
        ("papers.JSONL", BEIR, "beir"),
        ("papers.json", "[]", "jsonl"),
        ("arxiv-metadata-oai-snapshot.json", ARXIV, "arxiv"),
        ("works.jsonl", OPENALEX, "openalex"),
        ("papers.csv", CSV, "csv"),
        ("papers.tsv", "title\tabstract\n", "csv"),
        ("papers.txt", JSONL, "daily"),
        ("papers.md", CSV, "daily"),
    ],
)
def test_format_is_detected_by_extension_first(name: str, text: str, expected: str) -> None:
    assert detect_format(Path(name), text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("\n  " + JSONL, "jsonl"),
        (BEIR, "beir"),
        ("\ufeff" + BEIR, "beir"),
        (ARXIV, "arxiv"),
        (OPENALEX, "openalex"),
        ('[{"title": "A"}]', "jsonl"),
        (CSV, "csv"),
        ("ID;Title;Summary\n1;A;a\n", "csv"),
        ("title\ttext\n", "csv"),
        ("new\n\nSubscribe\n\nA Title\n\nAn abstract.\n", "daily"),
        ("name,value\n1,2\n", "daily"),
    ],
)
def test_format_of_files_without_a_known_extension_is_detected_by_content(
    text: str, expected: str
) -> None:
    assert detect_format(Path("papers"), text) == expected
    assert detect_format(Path("papers.dat"), text) == expected


def test_read_file_uses_the_detected_format(write_file: WriteFile) -> None:
    assert read_file(write_file("export", CSV)).format == "csv"
    assert read_file(write_file("corpus", BEIR)).format == "beir"


def test_a_forced_format_overrides_detection(write_file: WriteFile) -> None:
    path = write_file("papers.txt", JSONL)

    result = read_file(path, format="jsonl")

    assert result.format == "jsonl"
    assert [r.title for r in result.records] == ["A"]


def test_an_unknown_forced_format_raises_input_error_naming_the_allowed_ones(
    write_file: WriteFile,
) -> None:
    path = write_file("papers.txt", JSONL)

    with pytest.raises(InputError) as raised:
        read_file(path, format="xml")

    message = str(raised.value)
    assert "'xml'" in message
    assert all(name in message for name in FORMATS)
