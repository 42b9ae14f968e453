"""Embeddings of abstract sentences for citation checks: computed on first use per paper, kept
for the most recently used papers, warmed in the background only when the index fits."""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

from indexer import Embedder, IndexVersion


class SentenceVectors:
    """Embeddings of abstract sentences, computed on first use per paper, kept for the
    ``max_papers`` most recently used papers.

    The index stores chunk vectors only (sentence vectors would double indexing time), while
    answering compares questions and answers with single sentences. Only an index that fits the
    cache is warmed in the background; a large one embeds a paper's sentences when an answer
    first needs them (a few milliseconds per paper), so start-up does no per-paper work.
    """

    def __init__(self, index: IndexVersion, embedder: Embedder, max_papers: int = 50_000) -> None:
        self._index = index
        self._embedder = embedder
        self._max_papers = max(1, max_papers)
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        # Papers some thread is embedding now, with the event set when it is done: without
        # it, a burst of requests on a cold server embedded the same papers in every thread
        # (minutes of latency and gigabytes of memory under 64 clients).
        self._pending: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def get(self, paper_ids: list[str]) -> dict[str, np.ndarray]:
        wanted = list(dict.fromkeys(paper_ids))
        done = threading.Event()
        with self._lock:
            mine = [p for p in wanted if p not in self._vectors and p not in self._pending]
            others = {id(e): e for p in wanted if (e := self._pending.get(p)) is not None}
            for paper_id in mine:
                self._pending[paper_id] = done
        if mine:
            try:
                papers = self._index.papers.many(mine)
                mine = [p for p in mine if p in papers]
                texts = [s for p in mine for s in papers[p].sentences]
                vectors = self._embedder.embed_documents(texts)
                with self._lock:
                    start = 0
                    for paper_id in mine:
                        n = len(papers[paper_id].sentences)
                        self._keep(paper_id, vectors[start : start + n])
                        start += n
            finally:
                with self._lock:
                    for paper_id in mine:
                        self._pending.pop(paper_id, None)
                done.set()
        for event in others.values():
            event.wait()
        with self._lock:
            found = {p: v for p in wanted if (v := self._vectors.get(p)) is not None}
            for paper_id in found:
                self._vectors.move_to_end(paper_id)
        # Papers another thread failed to embed (or the cache dropped meanwhile): embed here.
        missing = [p for p in wanted if p not in found and p in self._index.papers]
        if missing:
            found.update(self._embed_now(missing))
        return {p: found[p] for p in paper_ids if p in found}

    def _embed_now(self, paper_ids: list[str]) -> dict[str, np.ndarray]:
        papers = self._index.papers.many(paper_ids)
        out: dict[str, np.ndarray] = {}
        for paper_id, paper in papers.items():
            out[paper_id] = self._embedder.embed_documents(paper.sentences)
            with self._lock:
                self._keep(paper_id, out[paper_id])
        return out

    def _keep(self, paper_id: str, vectors: np.ndarray) -> None:
        """Store under the lock, dropping the least recently used papers beyond the bound."""
        self._vectors.setdefault(paper_id, vectors)
        self._vectors.move_to_end(paper_id)
        while len(self._vectors) > self._max_papers:
            self._vectors.popitem(last=False)

    def __len__(self) -> int:
        """Papers whose sentence vectors are held now."""
        return len(self._vectors)

    @property
    def complete(self) -> bool:
        """Every paper's sentences are embedded, so ``get`` will not call the model."""
        return len(self) >= len(self._index.papers)

    def warm(self, stop: threading.Event, batch_papers: int = 8) -> None:
        """Embed every paper's sentences, a batch at a time, until done or ``stop`` is set;
        nothing when the index holds more papers than the cache keeps."""
        if len(self._index.papers) > self._max_papers:
            return
        ids = list(self._index.papers)
        for start in range(0, len(ids), batch_papers):
            if stop.is_set():
                return
            self.get(ids[start : start + batch_papers])

    def adopt(self, previous: SentenceVectors) -> int:
        """Take over ``previous``'s vectors of papers whose sentences did not change (after a
        reload most papers are the same, and re-embedding them all would be wasted work)."""
        with previous._lock:
            known = dict(previous._vectors)
        now = self._index.papers.many(list(known))
        before = previous._index.papers.many(list(now))
        kept = {
            paper_id: vectors
            for paper_id, vectors in known.items()
            if paper_id in now
            and paper_id in before
            and now[paper_id].sentences == before[paper_id].sentences
        }
        with self._lock:
            for paper_id, vectors in kept.items():
                self._keep(paper_id, vectors)
        return len(kept)
