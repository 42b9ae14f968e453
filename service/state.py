"""What the running service holds: the embedder, the open index version and its retriever.

Loading (model + index) happens off the event loop after start-up; until it is done the
service is alive (``/healthz``) but not ready (``/readyz`` answers 503).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from indexer.embedders import Embedder, build_embedder
from indexer.embedders.factory import embedder_name
from indexer.index import IndexVersion, open_index
from indexer.retrieval import Retriever
from service.errors import IndexNotReadyError
from service.settings import Settings

log = logging.getLogger("abstractqa.service")


class SentenceVectors:
    """Embeddings of abstract sentences, computed on first use per paper and kept.

    The index stores chunk vectors only (sentence vectors would double indexing time), while
    answering compares questions and answers with single sentences.
    """

    def __init__(self, index: IndexVersion, embedder: Embedder) -> None:
        self._index = index
        self._embedder = embedder
        self._vectors: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    def get(self, paper_ids: list[str]) -> dict[str, np.ndarray]:
        missing = [p for p in dict.fromkeys(paper_ids) if p not in self._vectors]
        if missing:
            # Encoded outside the lock, so a request never queues behind the warm-up; two
            # threads may embed the same paper once, which costs time but not correctness.
            texts = [s for p in missing for s in self._index.papers[p].sentences]
            vectors = self._embedder.embed_documents(texts)
            with self._lock:
                start = 0
                for paper_id in missing:
                    n = len(self._index.papers[paper_id].sentences)
                    self._vectors.setdefault(paper_id, vectors[start : start + n])
                    start += n
        return {p: self._vectors[p] for p in paper_ids}

    def warm(self, stop: threading.Event, batch_papers: int = 8) -> None:
        """Embed every paper's sentences, a batch at a time, until done or ``stop`` is set."""
        ids = list(self._index.papers)
        for start in range(0, len(ids), batch_papers):
            if stop.is_set():
                return
            self.get(ids[start : start + batch_papers])


@dataclass
class Loaded:
    index: IndexVersion
    embedder: Embedder
    retriever: Retriever
    sentences: SentenceVectors


class ServiceState:
    """The service's loaded parts, or why they are not loaded."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None) -> None:
        self.settings = settings
        self._embedder = embedder
        self._loaded: Loaded | None = None
        self.error: str | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def ready(self) -> bool:
        return self._loaded is not None

    @property
    def loaded(self) -> Loaded:
        if self._loaded is None:
            reason = f": {self.error}" if self.error else "; try again shortly"
            raise IndexNotReadyError(f"the index is not loaded{reason}")
        return self._loaded

    def load(self) -> None:
        """Load the embedder and the current index version (blocking)."""
        try:
            embedder = self._embedder or build_embedder(self.settings)
            index = open_index(
                self.settings.index_dir,
                expected_embedder=embedder_name(self.settings)
                if self._embedder is None
                else embedder.name,
            )
            self._loaded = Loaded(
                index, embedder, Retriever(index, embedder), SentenceVectors(index, embedder)
            )
            self.error = None
            log.info("index %s loaded: %d papers", index.name, len(index.papers))
        except Exception as exc:
            self.error = str(exc)
            log.error("cannot load the index: %s", exc)
            raise
        self._spawn(self._warm, "sentence-warmup")

    def start_loading(self) -> None:
        """Load in a background thread; failures are kept in ``error`` (shown by /readyz)."""
        self._spawn(self._load_quietly, "index-loader")

    def close(self, timeout_s: float = 30.0) -> None:
        """Stop background work and wait for it: a thread still inside torch when the
        interpreter exits aborts the process."""
        self._stop.set()
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout_s)

    def _spawn(self, target: Any, name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _load_quietly(self) -> None:
        try:
            self.load()
        except Exception:  # the reason is kept in self.error
            log.debug("index loading failed", exc_info=True)

    def _warm(self) -> None:
        try:
            self.loaded.sentences.warm(self._stop)
        except Exception as exc:  # warming is an optimisation; answering embeds on demand
            log.warning("sentence warm-up stopped: %s", exc)
