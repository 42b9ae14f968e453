"""Pseudo-relevance feedback (indexer/feedback.py): the weighted BM25 path it scores through,
RM3 expansion on a hand-made corpus indexed with the real model, and Rocchio's unit vectors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from indexer.builder import Indexer
from indexer.config import IndexerSettings
from indexer.embedders import Embedder
from indexer.feedback import Feedback, rm3_query, rocchio
from indexer.index import IndexVersion, open_index
from indexer.lexical import LexicalIndex, tokenize
from indexer.models import PaperRecord
from indexer.retrieval import Retriever


def _lexical(index: IndexVersion) -> LexicalIndex:
    return LexicalIndex(index.segments, [s.postings for s in index.segments])


def test_weighted_scoring_with_weights_of_one_equals_plain_bm25(
    corpus_index: IndexVersion,
) -> None:
    lexical = _lexical(corpus_index)
    query = "multilingual named entity recognition for African languages"
    terms = dict.fromkeys(tokenize([query])[0], 1.0)
    assert len(terms) == len(tokenize([query])[0]), "the query repeats no term"

    plain, weighted = lexical.score(query), lexical.score_weighted(terms)

    assert any(s is not None and s.max() > 0 for s in plain)
    for a, b in zip(plain, weighted, strict=True):
        assert (a is None) == (b is None)
        if a is not None and b is not None:
            np.testing.assert_allclose(a, b, rtol=1e-6)
    plain_hits = corpus_index.bm25.search(query, 20)
    weighted_hits = corpus_index.bm25.search_weighted(terms, 20)
    assert plain_hits.paper_ids == weighted_hits.paper_ids
    assert plain_hits.locations == weighted_hits.locations
    np.testing.assert_allclose(plain_hits.scores, weighted_hits.scores, rtol=1e-6)


def test_a_repeated_query_term_scores_as_a_term_of_weight_two(corpus_index: IndexVersion) -> None:
    lexical = _lexical(corpus_index)
    (term,) = tokenize(["translation"])[0]

    twice, weighted = lexical.score("translation translation"), lexical.score_weighted({term: 2.0})

    for a, b in zip(twice, weighted, strict=True):
        if a is not None and b is not None:
            np.testing.assert_allclose(a, b, rtol=1e-6)


HIVE = [
    (
        "bee-dance",
        "Honey bee dance language",
        "Honey bees dance. The waggle dance of the honey "
        "bee encodes the direction and distance of forage.",
    ),
    (
        "bee-comms",
        "Dance communication in honey bee colonies",
        "A honey bee forager dances "
        "the waggle run. Nestmates decode direction and distance from the waggle.",
    ),
    (
        "waggle",
        "Decoding waggle runs of Apis mellifera foragers",
        "Foragers perform waggle "
        "runs. Run angle gives direction and run duration gives distance to forage.",
    ),
    ("honey-price", "Honey prices in European markets", "Retail prices of honey rose in 2020."),
    ("ballet", "Classical ballet training", "A dance school trains young dancers in ballet."),
    ("soil", "Soil moisture sensors", "Capacitive sensors measure water content in soil."),
]


@pytest.fixture(scope="module")
def hive_index(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> IndexVersion:
    index_dir = tmp_path_factory.mktemp("hive") / "index"
    records = [
        PaperRecord(title=t, abstract=a, source="hand-made", location=str(i), id=pid)
        for i, (pid, t, a) in enumerate(HIVE)
    ]
    Indexer(IndexerSettings(index_dir=index_dir), embedder=embedder).add_records(records)
    return open_index(index_dir)


def test_rm3_adds_a_term_of_the_feedback_papers_to_the_query() -> None:
    feedback = tokenize([f"{t}. {a}" for _, t, a in HIVE[:2]])
    (waggle,) = tokenize(["waggle"])[0]
    query = tokenize(["honey bee dance"])[0]

    expanded = rm3_query(query, feedback, [3.0, 1.0], n_terms=5, query_weight=0.5)

    assert waggle in expanded and waggle not in query
    assert sum(expanded.values()) == pytest.approx(1.0)
    assert sum(expanded[t] for t in query) >= 0.5, "the query keeps at least its own share"


def test_rm3_moves_a_relevant_paper_without_the_query_words_up(
    hive_index: IndexVersion, embedder: Embedder
) -> None:
    query = "honey bee dance"
    plain = Retriever(hive_index, embedder).search(query, 5, "bm25")
    expanded = Retriever(
        hive_index, embedder, feedback=Feedback(rm3_docs=2, rm3_terms=10, rm3_query_weight=0.5)
    ).search(query, 5, "bm25")

    assert "waggle" not in [h.paper.paper_id for h in plain], "it shares no word with the query"
    ranked = [h.paper.paper_id for h in expanded]
    assert ranked[:2] == [h.paper.paper_id for h in plain][:2]
    assert "waggle" in ranked, "found through the feedback papers' terms (waggle, forage)"


def test_rocchio_moves_the_query_toward_the_feedback_and_keeps_unit_length() -> None:
    rng = np.random.default_rng(7)
    query = rng.normal(size=384).astype(np.float32)
    query /= np.linalg.norm(query)
    docs = rng.normal(size=(5, 384)).astype(np.float32)
    docs /= np.linalg.norm(docs, axis=1, keepdims=True)
    centroid = docs.mean(axis=0)

    for beta in (0.0, 0.3, 0.5, 1.0):
        moved = rocchio(query, docs, beta)
        assert np.linalg.norm(moved) == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_allclose(rocchio(query, docs, 0.0), query, atol=1e-6)
    assert float(rocchio(query, docs, 0.5) @ centroid) > float(query @ centroid)


def test_dense_search_with_rocchio_returns_unit_scored_papers_of_the_index(
    hive_index: IndexVersion, embedder: Embedder
) -> None:
    retriever = Retriever(hive_index, embedder, feedback=Feedback(rocchio_docs=2, rocchio_beta=0.5))

    hits = retriever.search("how do bees tell each other where food is", 3, "dense")

    assert len(hits) == 3 and {h.paper.paper_id for h in hits} <= {p for p, _, _ in HIVE}
    assert all(h.dense_score is not None and -1.0 <= h.dense_score <= 1.0 + 1e-5 for h in hits)


def test_feedback_settings_are_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ABSTRACTQA_RM3_DOCS", "7")
    monkeypatch.setenv("ABSTRACTQA_ROCCHIO_BETA", "0.25")

    feedback = Feedback.from_settings(IndexerSettings(index_dir=tmp_path))

    assert (feedback.rm3_docs, feedback.rocchio_beta) == (7, 0.25)
    assert feedback.label().startswith("rm3 7d/")
