"""The ranking metrics against hand-computed values (trec_eval semantics, linear nDCG gains)."""

from __future__ import annotations

import math

import pytest

from indexer.evaluation.metrics import (
    average_precision_at_k,
    dcg,
    mrr_at_k,
    ndcg_at_k,
    recall_at_k,
)

# Three documents retrieved; d1 and d3 relevant (d3 twice as much), d2 judged not relevant,
# and d4 relevant but never retrieved.
RANKED = ["d1", "d2", "d3"]
QRELS = {"d1": 1, "d2": 0, "d3": 2, "d4": 1}


def test_dcg_divides_each_gain_by_log2_of_its_rank_plus_one() -> None:
    # 3/log2(2) + 0/log2(3) + 1/log2(4) = 3 + 0 + 0.5
    assert dcg([3, 0, 1]) == pytest.approx(3.5)


def test_ndcg_uses_the_grades_as_linear_gains_against_the_ideal_order_of_all_judgements() -> None:
    # DCG@3  = 1/log2(2) + 0/log2(3) + 2/log2(4) = 1 + 0 + 1 = 2
    # IDCG@3 = grades sorted 2, 1, 1: 2/log2(2) + 1/log2(3) + 1/log2(4) = 2.5 + 1/log2(3)
    expected = 2 / (2.5 + 1 / math.log2(3))
    assert ndcg_at_k(RANKED, QRELS, 3) == pytest.approx(expected)
    assert ndcg_at_k(RANKED, QRELS, 3) == pytest.approx(0.63879, abs=1e-5)
    # At 1: d1 gains 1 where the ideal first document (d3) gains 2.
    assert ndcg_at_k(RANKED, QRELS, 1) == pytest.approx(0.5)


def test_ndcg_is_one_for_the_ideal_order_and_exponential_gains_would_differ() -> None:
    assert ndcg_at_k(["d3", "d1", "d4", "d2"], QRELS, 10) == pytest.approx(1.0)
    # Linear gains: d1 then d3 scores (1 + 2/log2(3)) / (2 + 1/log2(3)); with 2^rel - 1 gains
    # it would be (1 + 3/log2(3)) / (3 + 1/log2(3)). The two must not be confused.
    linear = (1 + 2 / math.log2(3)) / (2 + 1 / math.log2(3))
    exponential = (1 + 3 / math.log2(3)) / (3 + 1 / math.log2(3))
    assert ndcg_at_k(["d1", "d3"], {"d1": 1, "d3": 2}, 10) == pytest.approx(linear)
    assert linear != pytest.approx(exponential)


def test_average_precision_divides_by_every_relevant_document_retrieved_or_not() -> None:
    # Relevant: d1, d3, d4. Precision at d1 (rank 1) = 1/1, at d3 (rank 3) = 2/3;
    # (1 + 2/3) / 3 relevant documents = 5/9.
    assert average_precision_at_k(RANKED, QRELS, 3) == pytest.approx(5 / 9)
    # Cut at 2: only d1 counts, still over 3 relevant documents.
    assert average_precision_at_k(RANKED, QRELS, 2) == pytest.approx(1 / 3)


def test_recall_is_the_share_of_relevant_documents_in_the_first_k() -> None:
    assert recall_at_k(RANKED, QRELS, 3) == pytest.approx(2 / 3)  # d1, d3 of d1, d3, d4
    assert recall_at_k(RANKED, QRELS, 1) == pytest.approx(1 / 3)


def test_reciprocal_rank_is_one_over_the_first_relevant_rank_within_the_cut() -> None:
    assert mrr_at_k(RANKED, QRELS, 10) == 1.0
    assert mrr_at_k(["d2", "d3", "d1"], QRELS, 10) == 0.5  # d2 graded 0 is not relevant
    assert mrr_at_k(["d2", "d3", "d1"], QRELS, 1) == 0.0
    assert mrr_at_k(["x", "y"], QRELS, 10) == 0.0


def test_a_query_whose_judgements_hold_no_relevant_document_scores_zero_everywhere() -> None:
    qrels = {"d1": 0, "d2": 0}
    for metric in (ndcg_at_k, average_precision_at_k, recall_at_k, mrr_at_k):
        assert metric(RANKED, qrels, 10) == 0.0


def test_an_empty_ranking_scores_zero() -> None:
    for metric in (ndcg_at_k, average_precision_at_k, recall_at_k, mrr_at_k):
        assert metric([], QRELS, 10) == 0.0
