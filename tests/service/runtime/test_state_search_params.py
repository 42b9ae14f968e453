"""The served index searches with the index settings' search parameters, after a reload too."""

from __future__ import annotations

from pathlib import Path

from indexer import AnnParams
from indexer.embedders.base import Embedder
from service.runtime.state import ServiceState
from service.settings import Settings
from tests.service.admin.conftest import KELP, index_papers


def test_the_served_index_searches_with_the_configured_nprobe_parallel_threshold_and_impacts(
    index_copy: Path, embedder: Embedder
) -> None:
    settings = Settings(
        index_dir=index_copy,
        ivf_nprobe=7,
        hnsw_ef_search=64,
        search_parallel_min_rows=0,
        bm25_impact_cache_mb=3,
    )
    configured = (7, 64, 0, 3)
    state = ServiceState(settings, embedder)
    state.load()
    try:
        params = state.loaded.index.params
        assert _search_params(params) == configured
        assert state.loaded.index.bm25.impacts.cap_bytes == 3 << 20
        hits = state.loaded.retriever.search("memory at test time", 3)
        assert hits and hits[0].paper.paper_id.startswith("titans")

        index_papers(index_copy, embedder, KELP)
        assert state.reload().changed
        assert _search_params(state.loaded.index.params) == configured
        assert state.loaded.index.bm25.impacts.cap_bytes == 3 << 20
    finally:
        state.close()


def _search_params(params: AnnParams) -> tuple[int, int, int, int]:
    return (
        params.ivf_nprobe,
        params.hnsw_ef_search,
        params.parallel_min_rows,
        params.impact_cache_mb,
    )
