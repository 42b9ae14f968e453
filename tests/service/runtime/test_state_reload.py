"""ServiceState.reload: a new version is swapped in whole; whoever holds the old one keeps it."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexer.embedders.base import Embedder
from service.errors import IndexNotReadyError, ReloadFailedError
from service.runtime.state import ServiceState
from service.settings import Settings
from tests.service.admin.conftest import KELP, KELP_QUESTION, index_papers


def test_a_request_holding_the_old_version_finishes_on_it_while_new_requests_get_the_new_one(
    index_copy: Path, embedder: Embedder
) -> None:
    state = ServiceState(Settings(index_dir=index_copy), embedder)
    state.load()
    try:
        old = state.loaded
        warmed = next(iter(old.index.papers))
        old_vectors = old.sentences.get([warmed])[warmed]
        index_papers(index_copy, embedder, KELP)

        outcome = state.reload()

        new = state.loaded
        assert (outcome.old_version, outcome.new_version, outcome.papers) == (
            "v000001",
            "v000002",
            55,
        )
        assert outcome.changed and new is not old
        vector = embedder.embed_queries([KELP_QUESTION])[0]
        on_old = [
            h.paper.paper_id for h in old.retriever.search(KELP_QUESTION, 3, query_vector=vector)
        ]
        on_new = [
            h.paper.paper_id for h in new.retriever.search(KELP_QUESTION, 3, query_vector=vector)
        ]
        assert KELP["id"] not in on_old and KELP["id"] not in old.index.papers
        assert on_new[0] == KELP["id"]
        # The old version's sentence warm-up is told to stop; unchanged papers' sentence
        # vectors are carried over rather than embedded again.
        assert old.warm_stop.is_set() and not new.warm_stop.is_set()
        assert new.sentences.get([warmed])[warmed] is old_vectors
        assert new.sentences.get([KELP["id"]])[KELP["id"]].shape[0] == len(
            new.index.papers[KELP["id"]].sentences
        )
        again = state.reload()
        assert not again.changed and again.new_version == "v000002" and state.loaded is new
    finally:
        state.close()
    assert new.warm_stop.is_set()


def test_a_reload_before_the_first_load_waits_for_it_or_retries_a_failed_one(
    index_copy: Path, embedder: Embedder, tmp_path: Path
) -> None:
    loading = ServiceState(Settings(index_dir=index_copy), embedder)
    with pytest.raises(IndexNotReadyError, match="still loading"):
        loading.reload()

    state = ServiceState(Settings(index_dir=tmp_path / "later"), embedder)
    with pytest.raises(Exception, match="no index at"):
        state.load()
    with pytest.raises(ReloadFailedError, match="nothing is served; no index at"):
        state.reload()
    index_papers(tmp_path / "later", embedder, KELP)
    try:
        outcome = state.reload()
        assert (outcome.old_version, outcome.new_version, outcome.papers) == (None, "v000001", 1)
        assert state.ready and state.error is None
    finally:
        state.close()
