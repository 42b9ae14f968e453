"""Score regularisation: papers re-scored from their neighbours among the best fused papers,
on hand-built scores and similarities, and through the real Retriever on the bundled corpus."""

from __future__ import annotations

import numpy as np
import pytest

from indexer.config import IndexerSettings
from indexer.embedders import Embedder
from indexer.index import IndexVersion
from indexer.lexical import paper_text, tokenize
from indexer.retrieval import Retriever
from indexer.smoothing import Smoothing, TokenCache, smooth, term_matrix


def _vectors(*rows: list[float]) -> np.ndarray:
    return np.array(rows, dtype=np.float32)


def test_a_paper_whose_neighbours_score_high_overtakes_one_whose_neighbours_score_low() -> None:
    # a, b, c resemble each other; "lone" scores best but resembles only d and e, which score low.
    scores = np.array([1.0, 0.9, 0.85, 0.8, 0.1, 0.1])  # lone, a, b, c, d, e
    vectors = _vectors([0, 0, 1], [1, 0.1, 0], [1, 0, 0], [1, -0.1, 0], [0, 0.1, 1], [0, -0.1, 1])

    smoothed = smooth(scores, vectors, None, Smoothing(papers=6, neighbours=2, lexical_share=0))

    assert smoothed[1:4].min() > smoothed[0]
    assert smoothed[0] == pytest.approx(0.3 * 1.0 + 0.7 * 0.1)
    assert smoothed[1] == pytest.approx(0.3 * 0.9 + 0.7 * (0.85 + 0.8) / 2)


def test_the_lexical_share_decides_which_similarity_picks_the_neighbours() -> None:
    scores = np.array([0.5, 1.0, 0.0])
    dense = _vectors([1, 0], [1, 0], [0, 1])  # paper 0 is dense-close to paper 1
    terms = np.array([[1, 0], [0, 1], [1, 0]], dtype=np.float32)  # lexically close to 2

    as_dense = smooth(scores, dense, terms, Smoothing(3, 1, 1.0, lexical_share=0.0))
    as_words = smooth(scores, dense, terms, Smoothing(3, 1, 1.0, lexical_share=1.0))

    assert as_dense[0] == pytest.approx(1.0) and as_words[0] == pytest.approx(0.0)


def test_term_rows_weigh_log_counts_by_idf_at_unit_length_and_skip_unknown_terms() -> None:
    matrix = term_matrix([["cat", "cat", "dog"], ["unknown"], []], {"cat": 2.0, "dog": 1.0})

    cat, dog = (1 + np.log(2)) * 2.0, 1.0
    assert matrix.shape == (3, 3)
    np.testing.assert_allclose(matrix[0, :2], np.array([cat, dog]) / np.hypot(cat, dog), 1e-6)
    assert not matrix[1].any() and not matrix[2].any()


def test_one_paper_or_none_is_returned_as_it_is() -> None:
    assert smooth(np.array([0.4]), None, None, Smoothing(5)).tolist() == [0.4]
    assert smooth(np.zeros(0), None, None, Smoothing(5)).tolist() == []


def test_smoothing_is_off_by_zero_papers_or_weight_and_labels_itself() -> None:
    assert not Smoothing().on and Smoothing().label() == "off"
    assert not Smoothing(50, weight=0.0).on
    assert Smoothing(50, 10, 0.7, 0.5).label() == "smooth 50p/10n/0.7/lex0.5"


def test_settings_choose_the_served_smoothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ABSTRACTQA_SMOOTHING_PAPERS", "40")
    monkeypatch.setenv("ABSTRACTQA_SMOOTHING_NEIGHBOURS", "5")
    monkeypatch.setenv("ABSTRACTQA_SMOOTHING_WEIGHT", "0.6")
    monkeypatch.setenv("ABSTRACTQA_SMOOTHING_LEXICAL_SHARE", "0.25")

    assert Smoothing.from_settings(IndexerSettings()) == Smoothing(40, 5, 0.6, 0.25)


def test_the_token_cache_tokenizes_only_papers_it_does_not_hold_and_forgets_the_oldest() -> None:
    cache = TokenCache(size=2)
    asked: list[list[str]] = []

    def load(ids: list[str]) -> list[list[str]]:
        asked.append(ids)
        return [[f"{p}-term"] for p in ids]

    assert cache.get(["a", "b"], load) == [["a-term"], ["b-term"]]
    assert cache.get(["b", "c"], load) == [["b-term"], ["c-term"]]
    assert cache.get(["a"], load) == [["a-term"]]
    assert asked == [["a", "b"], ["c"], ["a"]]  # "a" was the oldest when "c" came


def test_a_papers_vector_is_the_mean_of_its_chunk_vectors(corpus_index: IndexVersion) -> None:
    paper_ids = [*sorted(corpus_index.papers)[:3], "not-a-paper"]

    vectors = corpus_index.vectors.of_papers(paper_ids)

    for at, paper_id in enumerate(paper_ids[:3]):
        chunk_ids = [c.chunk_id for c in corpus_index.chunks_of(paper_id)]
        expected = corpus_index.vectors.vectors_of(chunk_ids).mean(axis=0)
        np.testing.assert_allclose(vectors[at], expected, atol=1e-6)
    assert not vectors[3].any()


def test_smoothed_hybrid_search_reorders_the_best_fused_papers_only(
    corpus_index: IndexVersion, embedder: Embedder
) -> None:
    query = "multilingual benchmarks for low-resource languages"
    plain = Retriever(corpus_index, embedder)
    smoothing = Smoothing(papers=12, neighbours=3, weight=0.7, lexical_share=0.5)
    smoothed = Retriever(corpus_index, embedder, smoothing=smoothing)

    fused_order = list(plain.ranked(plain.candidates(query, 100), "hybrid", 1000))
    hits = smoothed.search(query, 5)

    assert {h.paper.paper_id for h in hits} <= set(fused_order[:12])
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    for mode in ("dense", "bm25"):
        assert [h.paper.paper_id for h in smoothed.search(query, 5, mode)] == [
            h.paper.paper_id for h in plain.search(query, 5, mode)
        ]


def test_smoothed_scores_are_computed_from_the_papers_own_texts_and_vectors(
    corpus_index: IndexVersion, embedder: Embedder
) -> None:
    query = "reinforcement learning from human feedback"
    smoothing = Smoothing(papers=8, neighbours=3, weight=0.5, lexical_share=0.5)
    retriever = Retriever(corpus_index, embedder, smoothing=smoothing)
    plain = Retriever(corpus_index, embedder)
    fused = plain.ranked(plain.candidates(query, 100), "hybrid", 1000)
    top = list(fused)[:8]

    papers = corpus_index.papers.many(top)
    tokens = tokenize([paper_text(papers[p].title, papers[p].abstract) for p in top])
    idf = corpus_index.bm25.idf_of([t for words in tokens for t in words])
    expected = smooth(
        np.array([fused[p] for p in top]),
        corpus_index.vectors.of_papers(top),
        term_matrix(tokens, idf),
        smoothing,
    )

    got = retriever.ranked(retriever.candidates(query, 100), "hybrid", 8)
    assert got == pytest.approx(dict(zip(top, expected.tolist(), strict=True)))


def test_papers_past_the_smoothed_ones_follow_them_with_descending_scores(
    corpus_index: IndexVersion, embedder: Embedder
) -> None:
    query = "large language models for code generation"
    plain = Retriever(corpus_index, embedder)
    smoothed = Retriever(corpus_index, embedder, smoothing=Smoothing(5, 2, 0.9, 0.0))
    fused_order = list(plain.ranked(plain.candidates(query, 100), "hybrid", 1000))

    hits = smoothed.search(query, 20)

    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    assert {h.paper.paper_id for h in hits[:5]} == set(fused_order[:5])
    assert [h.paper.paper_id for h in hits[5:]] == fused_order[5:20]
