"""OpenAlex works (JSON lines), with abstracts rebuilt from the inverted index."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from indexer.readers import read_file
from indexer.readers.openalex import rebuild_abstract

WriteFile = Callable[[str, str | bytes], Path]

WORK: dict[str, Any] = {
    "id": "https://openalex.org/W2741809807",
    "doi": "https://doi.org/10.7717/peerj.4375",
    "title": "The state of OA: a large-scale analysis",
    "display_name": "The state of OA: a large-scale analysis",
    "publication_year": 2018,
    "publication_date": "2018-02-13",
    "authorships": [
        {
            "author_position": "first",
            "author": {"id": "https://openalex.org/A1", "display_name": "Heather Piwowar"},
        },
        {
            "author_position": "last",
            "author": {"id": "https://openalex.org/A2", "display_name": "Stefanie Haustein"},
        },
    ],
    "primary_location": {
        "landing_page_url": "https://doi.org/10.7717/peerj.4375",
        "source": {"display_name": "PeerJ"},
    },
    "concepts": [
        {"display_name": "Open access", "score": 0.9},
        {"display_name": "Citation", "score": 0.4},
    ],
    "topics": [{"display_name": "scientific publishing"}],
    # "the open access of the open web": repeated words at several positions.
    "abstract_inverted_index": {
        "the": [0, 3],
        "open": [1, 5],
        "access": [2],
        "of": [4],
        "web": [7],
        "web.": [],
    },
}


def test_openalex_works_become_records_with_rebuilt_abstracts(write_file: WriteFile) -> None:
    untitled = {
        "id": "https://openalex.org/W1",
        "display_name": "Only a display name",
        "publication_year": 1999,
    }
    path = write_file("works.jsonl", json.dumps(WORK) + "\n" + json.dumps(untitled) + "\n")

    result = read_file(path)

    assert result.format == "openalex" and result.errors == [] and result.warnings == []
    work, other = result.records
    assert work.id == "openalex:W2741809807"
    assert work.title == "The state of OA: a large-scale analysis"
    assert work.abstract == "the open access the of open web"
    assert work.authors == ["Heather Piwowar", "Stefanie Haustein"]
    assert work.published == "2018-02-13"
    assert work.url == "https://doi.org/10.7717/peerj.4375"
    assert work.metadata == {
        "doi": "10.7717/peerj.4375",
        "publication_year": 2018,
        "venue": "PeerJ",
        "concepts": ["Open access", "Citation"],
        "topics": ["scientific publishing"],
    }
    # display_name stands in for the title; no abstract: a title-only record.
    assert (other.id, other.title, other.abstract, other.published) == (
        "openalex:W1",
        "Only a display name",
        "",
        "1999-01-01",
    )


def test_an_inverted_index_puts_repeated_words_at_each_position_and_skips_gaps() -> None:
    index = {"to": [0, 4], "be": [1, 5], "or": [2], "not": [3], "question": [9], "bad": ["x"]}

    assert rebuild_abstract(index) == "to be or not to be question"
    assert rebuild_abstract(None) == ""


def test_the_openalex_format_can_be_forced(write_file: WriteFile) -> None:
    work = {"id": "W42", "title": "Plain", "abstract_inverted_index": {"Hello.": [0]}}
    path = write_file("export.jsonl", json.dumps(work) + "\n")

    (record,) = read_file(path, format="openalex").records

    assert (record.id, record.abstract) == ("openalex:W42", "Hello.")
