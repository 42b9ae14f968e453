"""The batched reads of an opened version (indexer/views.py) on the bundled corpus: chunks,
and chunk vectors per paper."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from indexer import fanout
from indexer.ann import AnnParams
from indexer.builder import Indexer
from indexer.embedders.base import Embedder
from indexer.index import IndexVersion, open_index
from tests.indexer.conftest import UPDATED


def test_chunks_read_together_equal_chunks_read_one_by_one(corpus_index: IndexVersion) -> None:
    ids = sorted(corpus_index.chunks)[::3]

    together = corpus_index.chunks.many(ids)

    assert together == {i: corpus_index.chunks[i] for i in ids}
    assert all(together[i].paper_id for i in ids)


def test_first_chunks_of_papers_are_their_first_chunks(corpus_index: IndexVersion) -> None:
    paper_ids = sorted(corpus_index.papers)[:20]

    first = corpus_index.chunks.first_of([*paper_ids, "no-such-paper"])

    assert first == {p: corpus_index.chunks_of(p)[0] for p in paper_ids}


def test_a_removed_papers_chunks_are_never_read_together(
    index_copy: Path, embedder: Embedder, settings_for
) -> None:
    index = open_index(index_copy)
    gone = sorted(index.papers)[0]
    its_chunks = [c.chunk_id for c in index.chunks_of(gone)]
    index.close()
    Indexer(settings_for(index_copy), embedder=embedder).remove([gone])

    index = open_index(index_copy)
    try:
        assert index.chunks.many(its_chunks) == {}
        assert index.chunks.first_of([gone]) == {}
    finally:
        index.close()


def test_papers_chunk_vectors_are_read_as_runs_across_segments_and_updates(
    two_segments: IndexVersion, embedder: Embedder
) -> None:
    index = two_segments
    paper_ids = [*sorted(index.papers, reverse=True), "no-such-paper"]
    query = embedder.embed_queries(["annealing proteins and consciousness"])[0]

    means = index.vectors.of_papers(paper_ids)
    best = index.vectors.best_scores(paper_ids, query)

    several = 0
    for at, paper_id in enumerate(paper_ids[:-1]):
        chunk_ids = [c.chunk_id for c in index.chunks_of(paper_id)]
        several += len(chunk_ids) > 1
        vectors = index.vectors.vectors_of(chunk_ids)
        np.testing.assert_allclose(means[at], vectors.mean(axis=0), atol=1e-6)
        assert best[at] == pytest.approx(float((vectors @ query).max()), abs=1e-6)
    assert several, "some paper has several chunks"
    assert not means[-1].any() and best[-1] == -np.inf


def test_papers_of_two_segments_read_side_by_side_are_those_read_one_after_the_other(
    two_segments: IndexVersion, index_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # parallel_min_rows 0 and two threads, whatever the runner's cores: the segments' SQLite
    # reads run side by side (indexer/fanout.py).
    monkeypatch.setattr(fanout, "_threads", lambda: 2)
    side_by_side = open_index(index_copy, params=AnnParams(parallel_min_rows=0))
    paper_ids = [*sorted(two_segments.papers)[::2], UPDATED, "no-such-paper"]
    try:
        found = side_by_side.papers.many(paper_ids)

        assert found == two_segments.papers.many(paper_ids)
        assert list(found) == list(two_segments.papers.many(paper_ids))
        assert UPDATED in found and "no-such-paper" not in found
        assert {side_by_side.papers.locate([UPDATED])[UPDATED][0]} == {1}
    finally:
        side_by_side.close()
