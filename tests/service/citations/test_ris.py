"""RIS written for the awkward corpus, read line by line as RIS importers read it."""

from __future__ import annotations

import re

from indexer import IndexVersion
from service.citations.formats import citation_file
from tests.service.citations.corpus import (
    KELP_DOI,
    KELP_ID,
    KELP_TITLE,
    OLD_ARXIV_ID,
    PLAIN_ID,
    UNBALANCED_ID,
)

TAG_LINE = re.compile(r"^(?P<tag>[A-Z][A-Z0-9])  - (?P<value>.*)$")


def ris_records(text: str) -> list[list[tuple[str, str]]]:
    """Each record's (tag, value) lines; every non-blank line must be a tag line."""
    records: list[list[tuple[str, str]]] = []
    current: list[tuple[str, str]] = []
    for line in text.split("\r\n"):
        if not line:
            continue
        match = TAG_LINE.match(line)
        assert match, f"not a RIS tag line: {line!r}"
        current.append((match["tag"], match["value"]))
        if match["tag"] == "ER":
            records.append(current)
            current = []
    assert not current, "a record without ER"
    return records


def test_each_record_starts_with_ty_has_one_au_per_author_and_ends_with_er(
    citations_index: IndexVersion,
) -> None:
    ids = [KELP_ID, UNBALANCED_ID, OLD_ARXIV_ID, PLAIN_ID]
    text = citation_file([citations_index.papers[p] for p in ids], "ris").content
    records = ris_records(text)
    assert len(records) == len(ids)
    for record, paper_id in zip(records, ids, strict=True):
        assert record[0][0] == "TY" and record[-1] == ("ER", "")
        authors = [value for tag, value in record if tag == "AU"]
        assert len(authors) == len(citations_index.papers[paper_id].authors)
        assert [value for tag, value in record if tag == "TI"] == [
            citations_index.papers[paper_id].title
        ]


def test_an_arxiv_paper_has_its_doi_url_date_and_arxiv_id(citations_index: IndexVersion) -> None:
    (record,) = ris_records(citation_file([citations_index.papers[KELP_ID]], "ris").content)
    fields = dict(record)
    assert fields["TY"] == "JOUR"
    assert fields["TI"] == KELP_TITLE  # RIS needs no escaping
    assert [v for t, v in record if t == "AU"] == [
        "Ruiz, Ana",
        "van der Berg, Jan",
        "King, Martin Luther, Jr.",
    ]
    assert fields["PY"] == "2024" and fields["DA"] == "2024/03/05/"
    assert fields["DO"] == KELP_DOI
    assert fields["UR"] == "https://arxiv.org/abs/2403.01234"
    assert fields["N1"] == "arXiv:2403.01234"
    assert fields["AB"].startswith("We measure how giant kelp forests")
