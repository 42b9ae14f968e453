"""BM25 impacts remembered for the next queries: each posting's ``tf / (norm + tf)``.

A posting's share of a BM25 score is ``weight * tf / (norm + tf)``, where only the weight (the
term's idf and count) depends on the query; ``norm`` depends on the paper's length and the mean
length of the whole version, so the impacts cannot be written with a segment (the next version's
mean differs) and are computed per version, the first time a query uses a term. A later query
with that term reads them: one load per posting instead of a gather of ``norm`` and a division.
At 1,000,000 papers a bundled question's terms have ~1.5 M postings, most of them of terms in
a tenth of the papers or more, and the scoring loop took 1.23 ms p50 for both segments
computing every impact, 0.76 ms reading remembered ones (``benchmarks/bench_bm25_impacts.py``,
``benchmarks/results/bm25_impacts_1m.json``); queries share their common terms.

Bounded: the impacts live in one float32 buffer of ``cap_bytes``, filled from its start term by
term (its pages are allocated as they are written). When a query's new terms do not fit in what
is left, everything is forgotten at once: a new buffer, the old one freed when the queries
reading it end (so for a moment there can be two). Terms of a query too large for a whole
buffer are computed, not remembered, and forget nothing. Small segments (under
``min_postings``) compute as before: their scoring is quick, and a daily addition is one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from indexer.lexical_top import COMPUTE, READ, STORE

if TYPE_CHECKING:
    from indexer.postings import SegmentPostings


@dataclass
class _Arena:
    """What is remembered now: where each (segment, term id)'s impacts start in ``buffer``."""

    buffer: np.ndarray
    starts: dict[tuple[int, int], int] = field(default_factory=dict)
    used: int = 0  # float32 entries reserved from the buffer's start


@dataclass(frozen=True)
class Plan:
    """How a segment's query terms are scored (``lexical_top.accumulate``): ``states`` per term,
    and for those read or stored, where in ``impacts`` their postings' impacts start."""

    impacts: np.ndarray
    starts: np.ndarray
    states: np.ndarray
    done: Callable[[], None]


class ImpactCache:
    """Per version (its segments' postings, in order): impacts of the terms queries used."""

    def __init__(
        self, postings: Sequence[SegmentPostings], cap_bytes: int, min_postings: int = 1_000_000
    ) -> None:
        self._postings = list(postings)
        self.cap_bytes = cap_bytes
        self._entries = max(0, cap_bytes) // 4
        self._min_postings = min_postings
        self._lock = threading.Lock()
        self._arena: _Arena | None = None

    @property
    def remembered_bytes(self) -> int:
        """Bytes of the buffer that queries have reserved for impacts."""
        return self._arena.used * 4 if self._arena else 0

    def plan(self, position: int, tids: np.ndarray, spans: np.ndarray) -> Plan:
        """The plan for a query's terms ``tids`` of segment ``position``, whose postings lie at
        ``spans``; its ``done`` is called once the scoring returned (never if it did not run)."""
        n = len(tids)
        postings = self._postings[position]
        if not self._entries or len(postings.rows) < self._min_postings or not n:
            return computed(n)
        starts = np.zeros(n, dtype=np.int64)
        states = np.full(n, COMPUTE, dtype=np.int8)
        sizes = (spans[:, 1] - spans[:, 0]).tolist()
        keys = [(position, tid) for tid in tids.tolist()]
        with self._lock:
            arena = self._arena
            if arena is None:
                arena = self._arena = _Arena(np.empty(self._entries, np.float32))
            wanted = sum(sizes[t] for t in range(n) if keys[t] not in arena.starts)
            if arena.used + wanted > self._entries and wanted <= self._entries:
                # Forgotten at once; the old buffer lives on while queries still read it.
                arena = self._arena = _Arena(np.empty(self._entries, np.float32))
            stored = []
            for t in range(n):
                if keys[t] in arena.starts:
                    starts[t], states[t] = arena.starts[keys[t]], READ
                elif arena.used + sizes[t] <= self._entries:
                    starts[t], states[t] = arena.used, STORE
                    arena.used += sizes[t]  # reserved now: two queries at once stay in the cap
                    stored.append(t)

        def done() -> None:
            # Only after the loop wrote them: a query that reads a term's impacts must find
            # them all. Another query storing the same term meanwhile wrote its own copy.
            with self._lock:
                for t in stored:
                    arena.starts[keys[t]] = int(starts[t])

        return Plan(arena.buffer, starts, states, done)


def computed(n: int) -> Plan:
    """A plan for ``n`` terms whose impacts are all computed, none remembered."""
    none = np.zeros(0, dtype=np.float32)
    return Plan(none, np.zeros(n, np.int64), np.full(n, COMPUTE, np.int8), _nothing)


def _nothing() -> None:
    return None
