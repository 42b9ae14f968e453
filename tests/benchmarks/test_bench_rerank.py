"""The re-ranking depth benchmark (benchmarks/bench_rerank.py) on vectors made here: recall of
the exact top k through the real ivf_sq8 segment path."""

from __future__ import annotations

import numpy as np

from benchmarks.bench_rerank import recall_by_factor


def test_re_ranking_more_candidates_never_finds_fewer_of_the_exact_top_k() -> None:
    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((3000, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    queries = vectors[:40] + 0.05 * rng.standard_normal((40, 32)).astype(np.float32)

    recall = recall_by_factor(vectors, queries, ks=(10, 200), factors=(1, 4))

    assert set(recall) == {10, 200} and all(set(row) == {1, 4} for row in recall.values())
    # k=10 re-ranks the floor of 100 candidates whatever the factor.
    assert recall[10][1] == recall[10][4] > 0.9
    assert recall[200][4] >= recall[200][1] > 0.9
    assert recall[200][4] > 0.99
