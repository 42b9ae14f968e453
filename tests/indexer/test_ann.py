"""Vector search inside one segment (indexer/ann.py): a compressed segment's tombstones."""

from __future__ import annotations

import numpy as np

from indexer.ann import AnnParams, build_ann, exclusion, ivf_lists, search_segment


def _vectors(n: int, d: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((40, d)).astype(np.float32)
    vectors = centres[rng.integers(0, 40, n)] + 0.3 * rng.standard_normal((n, d))
    vectors = vectors.astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_a_few_tombstones_dropped_after_the_scan_leave_what_a_selector_leaves() -> None:
    vectors = _vectors(6_000, 16, 0)
    queries = _vectors(20, 16, 1)
    # Every list probed and one candidate per result (the 8-bit codes' order, re-ranked):
    # without the extra candidates asked for, the tombstones among the best would leave
    # fewer than k, and others than a selector's search keeps.
    params = AnnParams(ivf_nprobe=ivf_lists(len(vectors)), rerank_factor=1)
    index = build_ann(vectors, "ivf_sq8", params)
    for query in queries:
        nearest = np.argsort(-(vectors @ query))
        # Tombstones among the best rows and elsewhere, fewer than the candidates asked for.
        deleted = np.unique(np.concatenate([nearest[:7], nearest[50:60], nearest[-5:]]))
        live = np.setdiff1d(np.arange(len(vectors)), deleted)
        for k in (100, 150):
            dropped = search_segment(vectors, index, query, k, None, deleted, params)
            scoped = search_segment(vectors, index, query, k, live, None, params)

            assert not np.isin(dropped[1], deleted).any() and len(dropped[1]) == k
            assert dropped[1].tolist() == scoped[1].tolist()


def test_many_tombstones_are_left_out_by_a_selector_during_the_scan() -> None:
    vectors = _vectors(6_000, 16, 2)
    params = AnnParams(ivf_nprobe=ivf_lists(len(vectors)))
    index = build_ann(vectors, "ivf_sq8", params)
    deleted = np.arange(0, len(vectors), 7)  # more than the candidates a search asks for
    live = np.setdiff1d(np.arange(len(vectors)), deleted)
    for query in _vectors(10, 16, 3):
        found = search_segment(vectors, index, query, 10, None, deleted, params, exclusion(deleted))
        exact = live[np.argsort(-(vectors[live] @ query), kind="stable")[:10]]

        assert found[1].tolist() == exact.tolist()
