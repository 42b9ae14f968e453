"""The loaded heap leaves the collector's full passes once a version is warm."""

from __future__ import annotations

import gc
import time
import weakref
from pathlib import Path

from indexer.embedders.base import Embedder
from service.runtime import heap
from service.runtime.state import ServiceState
from service.settings import Settings


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


def _wait_for(condition: object, timeout_s: float = 120.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def test_settle_frees_cycles_of_a_replaced_version_and_freezes_what_lives() -> None:
    try:
        kept = _Node()
        heap.freeze_survivors()
        assert gc.get_freeze_count() > 0
        # A cycle that dies after one freeze is only freed because the next one unfreezes.
        kept.other = _Node()
        kept.other.other = kept
        gone = weakref.ref(kept)
        heap.freeze_survivors()
        del kept
        heap.freeze_survivors()
        assert gone() is None
    finally:
        gc.unfreeze()


def test_a_loaded_and_warmed_state_freezes_its_heap(
    corpus_index_dir: Path, embedder: Embedder
) -> None:
    gc.unfreeze()
    state = ServiceState(Settings(index_dir=corpus_index_dir), embedder)
    try:
        state.load()
        assert _wait_for(lambda: gc.get_freeze_count() > 0)
        assert state.loaded.sentences.complete
    finally:
        state.close()
        gc.unfreeze()


def test_gc_freeze_off_leaves_the_collector_alone(
    corpus_index_dir: Path, embedder: Embedder
) -> None:
    gc.unfreeze()
    state = ServiceState(Settings(index_dir=corpus_index_dir, gc_freeze=False), embedder)
    try:
        state.load()
        assert _wait_for(lambda: state.loaded.sentences.complete)
        time.sleep(0.2)
        assert gc.get_freeze_count() == 0
    finally:
        state.close()
