"""Segments searched on several threads (indexer/fanout.py) give what one thread gives."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from indexer.ann import AnnParams
from indexer.builder import Indexer
from indexer.embedders.base import Embedder
from indexer.fanout import map_segments, one_blas_thread_per_call
from indexer.index import open_index
from indexer.retrieval import Retriever
from tests.conftest import CORPUS

QUERIES = (
    "memory at test time",
    "graph neural network traffic forecasting",
    "reinforcement learning from human feedback for language models",
    "diffusion image generation",
)


def test_segments_run_on_other_threads_in_their_order_once_there_are_enough_rows() -> None:
    seen: list[str] = []

    def work(item: int) -> int:
        seen.append(threading.current_thread().name)
        return item * item

    assert map_segments(work, [1, 2, 3, 4], rows=10, min_rows=100) == [1, 4, 9, 16]
    assert set(seen) == {threading.current_thread().name}

    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("one core: segments stay on the calling thread")
    # The first two items each wait for the other: only two threads at once get past it.
    both = threading.Barrier(2, timeout=30)

    def together(item: int) -> int:
        if item <= 2:
            both.wait()
        return work(item)

    seen.clear()
    assert map_segments(together, [1, 2, 3, 4], rows=100, min_rows=100) == [1, 4, 9, 16]
    assert any(name.startswith("segment-search") for name in seen)


def test_an_error_in_one_segment_reaches_the_caller() -> None:
    def work(item: int) -> int:
        if item == 3:
            raise ValueError("segment 3 is damaged")
        return item

    with pytest.raises(ValueError, match="segment 3"):
        map_segments(work, [1, 2, 3], rows=1, min_rows=0)


def test_a_search_over_segments_on_several_threads_ranks_as_on_one(
    tmp_path: Path, embedder: Embedder, settings_for
) -> None:
    settings = settings_for(tmp_path / "index", segment_max_papers=15)
    Indexer(settings, embedder=embedder).add([CORPUS])
    one = open_index(settings.index.index_dir)
    several = open_index(settings.index.index_dir, params=AnnParams(parallel_min_rows=0))
    try:
        assert len(one.segments) >= 3
        for query in QUERIES:
            for mode in ("dense", "bm25", "hybrid"):
                a = Retriever(one, embedder).search(query, 10, mode)
                b = Retriever(several, embedder).search(query, 10, mode)
                assert [(h.paper.paper_id, h.score) for h in a] == [
                    (h.paper.paper_id, h.score) for h in b
                ]
    finally:
        one.close()
        several.close()


def test_after_an_error_no_new_segment_starts_and_none_outlives_the_call() -> None:
    started: list[int] = []
    finished: list[int] = []

    def work(item: int) -> int:
        started.append(item)
        if item == 1:
            raise ValueError("segment 1 is damaged")
        time.sleep(0.05)
        finished.append(item)
        return item

    with pytest.raises(ValueError, match="segment 1"):
        map_segments(work, list(range(1, 9)), rows=1, min_rows=0)
    assert len(started) < 8
    assert sorted(finished) == sorted(i for i in started if i != 1)


def test_numpys_blas_runs_on_one_thread_and_faiss_keeps_its_own() -> None:
    import faiss  # noqa: F401 -- loads FAISS's own BLAS
    from threadpoolctl import threadpool_info

    before = {i["filepath"]: i["num_threads"] for i in threadpool_info()}
    assert one_blas_thread_per_call()
    after = {i["filepath"]: i["num_threads"] for i in threadpool_info()}
    numpys = [p for p in after if Path(p).parent.name.startswith("numpy")]
    assert numpys and all(after[p] == 1 for p in numpys)
    assert {p: n for p, n in after.items() if p not in numpys} == {
        p: n for p, n in before.items() if p not in numpys
    }
