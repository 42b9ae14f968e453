"""Paper ids, content hashes and deduplication."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import pytest

from indexer.identity import (
    content_hash,
    deduplicate,
    find_arxiv_id,
    make_paper_id,
    normalise_title,
)
from indexer.models import PaperRecord


def _record(title: str = "A Paper", **fields: Any) -> PaperRecord:
    fields.setdefault("abstract", "An abstract.")
    fields.setdefault("source", "papers.jsonl")
    fields.setdefault("location", "line 1")
    return PaperRecord(title=title, **fields)


# --- titles ----------------------------------------------------------------------------------


def test_normalised_titles_ignore_case_punctuation_width_and_spacing() -> None:
    assert normalise_title("  Attention Is All You Need!  ") == "attention is all you need"
    assert normalise_title("ＢＥＲＴ:\tPre-training  of Deep…") == "bert pretraining of deep"
    assert normalise_title("Straße") == normalise_title("STRASSE")
    assert normalise_title("C++ «Templates»") == "c++ templates"


# --- arXiv ids -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "metadata", "expected"),
    [
        ("https://arxiv.org/abs/2303.12345", {}, "arxiv:2303.12345"),
        ("http://arxiv.org/pdf/2303.12345v3.pdf", {}, "arxiv:2303.12345"),
        ("https://export.arxiv.org/abs/0704.0001v1", {}, "arxiv:0704.0001"),
        ("https://arxiv.org/abs/hep-th/9901001v2", {}, "arxiv:hep-th/9901001"),
        (None, {"note": "see arXiv:2401.00001v2 for details"}, "arxiv:2401.00001"),
        (None, {"doi": "10.48550/arXiv.2303.12345"}, "arxiv:2303.12345"),
        (None, {"arxiv_id": "2303.12345v1"}, "arxiv:2303.12345"),
        (None, {"refs": ["hep-th/9901001"]}, "arxiv:hep-th/9901001"),
        (None, {"links": {"pdf": "https://arxiv.org/pdf/1706.03762"}}, "arxiv:1706.03762"),
        ("https://example.org/paper", {}, None),
        (None, {"score": "2303.12345"}, None),
        (None, {"path": "data/9901001"}, None),
    ],
)
def test_arxiv_ids_are_found_in_url_and_metadata_without_version(
    url: str | None, metadata: dict[str, Any], expected: str | None
) -> None:
    assert find_arxiv_id(_record(url=url, metadata=metadata)) == expected


def test_arxiv_ids_in_the_abstract_text_are_ignored() -> None:
    record = _record(abstract="We build on arXiv:2303.12345 and https://arxiv.org/abs/2101.00001.")

    assert find_arxiv_id(record) is None


# --- paper ids -------------------------------------------------------------------------------


def test_paper_id_is_the_records_own_id_first() -> None:
    record = _record(id=" my-id ", url="https://arxiv.org/abs/2303.12345")

    assert make_paper_id(record) == "my-id"


def test_paper_id_falls_back_to_the_arxiv_id() -> None:
    assert make_paper_id(_record(url="https://arxiv.org/abs/2303.12345v2")) == "arxiv:2303.12345"


def test_paper_id_otherwise_is_a_title_slug_with_a_hash_of_the_normalised_title() -> None:
    title = "Composable Sparse Fine-Tuning for Cross-Lingual Transfer"
    digest = hashlib.sha256(normalise_title(title).encode()).hexdigest()[:8]

    paper_id = make_paper_id(_record(title))

    assert paper_id == f"composable-sparse-fine-tuning-for-cross-lingual-transfer-{digest}"
    assert make_paper_id(_record("composable sparse fine-tuning, for cross-lingual transfer"))[
        -8:
    ] == (digest)


def test_title_slugs_are_ascii_and_cut_at_a_word_boundary_within_60_chars() -> None:
    title = (
        "Über Generative Pretrained Autoregressive Transformer Graph Neural Networks "
        "applied to the Analysis and Discovery of Novel Proteins"
    )

    slug, digest = make_paper_id(_record(title)).rsplit("-", 1)

    assert slug == "uber-generative-pretrained-autoregressive-transformer-graph"
    assert len(slug) <= 60
    assert re.fullmatch(r"[0-9a-f]{8}", digest)


def test_a_title_without_ascii_words_still_gets_an_id() -> None:
    assert re.fullmatch(r"paper-[0-9a-f]{8}", make_paper_id(_record("注意力机制")))


# --- content hashes --------------------------------------------------------------------------


def test_content_hash_is_stable_and_ignores_where_the_record_came_from() -> None:
    one = _record(metadata={"a": 1, "b": [1, 2]}, source="x.jsonl", location="line 1")
    two = _record(metadata={"b": [1, 2], "a": 1}, source="y.csv", location="row 9 (line 10)")

    assert content_hash(one) == content_hash(two)
    assert re.fullmatch(r"[0-9a-f]{64}", content_hash(one))


def test_content_hash_changes_with_the_content() -> None:
    base = content_hash(_record())

    assert content_hash(_record(abstract="Another abstract.")) != base
    assert content_hash(_record(authors=["Ada"])) != base
    assert content_hash(_record(published="2024-01-01")) != base
    assert content_hash(_record(metadata={"venue": "ACL"})) != base


# --- deduplication ---------------------------------------------------------------------------


def test_duplicates_by_title_are_merged_filling_empty_fields_from_later_ones() -> None:
    first = _record("Sparse Attention", location="line 1", metadata={"venue": "ACL"})
    other = _record("Another Paper", location="line 2")
    later = _record(
        "sparse   attention!",
        abstract="A different abstract.",
        location="line 3",
        authors=["Ada"],
        url="https://example.org",
        published="2024-01-01",
        metadata={"venue": "EMNLP", "pages": "1-9"},
    )

    result = deduplicate([first, other, later])

    assert [paper_id for paper_id, _ in result.papers] == [
        make_paper_id(first),
        make_paper_id(other),
    ]
    merged = result.papers[0][1]
    assert merged.abstract == "An abstract."
    assert merged.authors == ["Ada"]
    assert merged.url == "https://example.org"
    assert merged.published == "2024-01-01"
    assert merged.metadata == {"venue": "ACL", "pages": "1-9"}
    assert first.metadata == {"venue": "ACL"}, "input records are not modified"
    (note,) = result.merged
    assert note.location == "line 3"
    assert "line 1" in note.reason and make_paper_id(first) in note.reason


def test_duplicates_by_paper_id_are_merged_even_with_different_titles() -> None:
    records = [
        _record("Title One", url="https://arxiv.org/abs/2303.12345", location="line 1"),
        _record("Title One (v2)", metadata={"arxiv": "2303.12345v2"}, location="line 7"),
    ]

    result = deduplicate(records)

    assert [paper_id for paper_id, _ in result.papers] == ["arxiv:2303.12345"]
    assert "same paper id" in result.merged[0].reason


def test_records_with_their_own_distinct_ids_stay_apart_despite_a_shared_title() -> None:
    records = [
        _record("Information Networks", id="119", abstract="One.", location="line 1"),
        _record("information networks", id="122", abstract="Two.", location="line 2"),
        _record("Different Title", id="122", location="line 3"),
    ]

    result = deduplicate(records)

    assert [paper_id for paper_id, _ in result.papers] == ["119", "122"]
    assert [note.location for note in result.merged] == ["line 3"]


def test_a_record_without_an_id_joins_an_explicit_id_paper_of_the_same_title() -> None:
    records = [
        _record("Shared Title", id="a", location="line 1"),
        _record("shared title", location="line 2"),
    ]

    result = deduplicate(records)

    assert [paper_id for paper_id, _ in result.papers] == ["a"]
    assert [note.location for note in result.merged] == ["line 2"]


def test_a_known_title_keeps_its_existing_id_unless_the_record_has_its_own() -> None:
    known = {normalise_title("Sparse Attention"): "old-id"}
    records = [
        _record("Sparse Attention", location="line 1"),
        _record("Other Paper", id="explicit", location="line 2"),
        _record("Known Elsewhere", id="own-id", location="line 3"),
    ]
    known[normalise_title("Known Elsewhere")] = "index-id"

    result = deduplicate(records, known_titles=known)

    assert [paper_id for paper_id, _ in result.papers] == ["old-id", "explicit", "own-id"]
    assert result.merged == []


def test_records_without_duplicates_keep_their_first_seen_order() -> None:
    titles = [f"Paper {n}" for n in range(10)]

    result = deduplicate(_record(title, location=f"line {n}") for n, title in enumerate(titles))

    assert [record.title for _, record in result.papers] == titles
    assert result.merged == []
