"""The arXiv metadata snapshot format (JSON lines as arXiv publishes the snapshot)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from indexer.identity import deduplicate
from indexer.models import PaperRecord
from indexer.readers import read_file

WriteFile = Callable[[str, str | bytes], Path]

# Two entries in the snapshot's layout: a new-style id and an old-style one.
NEW_STYLE: dict[str, Any] = {
    "id": "0704.0001",
    "submitter": "Pavel Nadolsky",
    "authors": "C. Bal\\'azs, E. L. Berger, P. M. Nadolsky, C.-P. Yuan",
    "title": "Calculation of prompt diphoton production cross sections at Tevatron and\n  LHC energies",
    "comments": "37 pages, 15 figures; published version",
    "journal-ref": "Phys.Rev.D76:013009,2007",
    "doi": "10.1103/PhysRevD.76.013009",
    "report-no": "ANL-HEP-PR-07-12",
    "categories": "hep-ph hep-ex",
    "license": None,
    "abstract": "  A fully differential calculation in perturbative quantum chromodynamics is\n"
    "presented for the production of massive photon pairs at hadron colliders.\n",
    "versions": [
        {"version": "v1", "created": "Mon, 2 Apr 2007 19:18:42 GMT"},
        {"version": "v2", "created": "Tue, 24 Jul 2007 20:10:27 GMT"},
    ],
    "update_date": "2008-11-13",
    "authors_parsed": [
        ["Balázs", "C.", ""],
        ["Berger", "E. L.", ""],
        ["Nadolsky", "P. M.", ""],
        ["Yuan", "C. -P.", "Jr"],
    ],
}
OLD_STYLE: dict[str, Any] = {
    "id": "math/0601001",
    "submitter": "Some One",
    "authors": "A. Author and B. Writer",
    "title": "A theorem",
    "comments": None,
    "journal-ref": None,
    "doi": None,
    "report-no": None,
    "categories": "math.AG",
    "license": None,
    "abstract": "  We prove a theorem.\n",
    "versions": [{"version": "v1", "created": "Sat, 31 Dec 2005 21:00:00 GMT"}],
    "update_date": "2007-05-23",
    "authors_parsed": [],
}


def _snapshot(write_file: WriteFile, *entries: dict[str, Any]) -> Path:
    return write_file(
        "arxiv-metadata-oai-snapshot.json", "".join(json.dumps(e) + "\n" for e in entries)
    )


def test_arxiv_snapshot_lines_become_records_with_arxiv_ids(write_file: WriteFile) -> None:
    result = read_file(_snapshot(write_file, NEW_STYLE, OLD_STYLE))

    assert result.format == "arxiv" and result.errors == [] and result.warnings == []
    new, old = result.records
    assert new.id == "arxiv:0704.0001"
    assert new.url == "https://arxiv.org/abs/0704.0001"
    assert new.title == (
        "Calculation of prompt diphoton production cross sections at Tevatron and LHC energies"
    )
    assert new.abstract.startswith("A fully differential calculation in perturbative quantum")
    assert "\n" not in new.abstract and "  " not in new.abstract
    assert new.published == "2007-04-02"
    assert new.authors == ["C. Balázs", "E. L. Berger", "P. M. Nadolsky", "C. -P. Yuan Jr"]
    assert new.metadata == {
        "categories": ["hep-ph", "hep-ex"],
        "doi": "10.1103/PhysRevD.76.013009",
        "journal_ref": "Phys.Rev.D76:013009,2007",
        "update_date": "2008-11-13",
    }
    assert old.id == "arxiv:math/0601001"
    assert old.url == "https://arxiv.org/abs/math/0601001"
    assert old.authors == ["A. Author", "B. Writer"]  # no authors_parsed: the string is split
    assert old.published == "2005-12-31"
    assert old.metadata == {"categories": ["math.AG"], "update_date": "2007-05-23"}


def test_an_arxiv_paper_merges_with_the_same_paper_found_by_its_url_elsewhere(
    write_file: WriteFile,
) -> None:
    (record,) = read_file(_snapshot(write_file, OLD_STYLE)).records
    elsewhere = PaperRecord(
        title="A theorem (preprint)",
        abstract="",
        source="other.jsonl",
        location="line 1",
        url="https://arxiv.org/abs/math/0601001v2",
    )

    dedup = deduplicate([record, elsewhere])

    assert [paper_id for paper_id, _ in dedup.papers] == ["arxiv:math/0601001"]


def test_the_arxiv_format_can_be_forced_and_a_bad_version_date_is_a_warning(
    write_file: WriteFile,
) -> None:
    entry = OLD_STYLE | {"versions": [{"version": "v1", "created": "last year"}]}
    path = write_file("dump.jsonl", json.dumps(entry) + "\n")

    result = read_file(path, format="arxiv")

    assert result.records[0].published is None
    assert [w.reason for w in result.warnings] == [
        "unparseable version date 'last year'; date dropped"
    ]
