"""A segment's BM25 scores and its best rows, in compiled loops (numba).

A query's terms are added into one float32 score per paper of the segment, every posting in
the query's order with ``score_weighted``'s float32 arithmetic (``weight * (tf / (norm + tf))``),
so the scores equal it bit for bit; then a bounded heap keeps the k best, the lowest rows first
among equal scores. Blocks of 128 papers whose best score cannot be among the k best (under the
k-th best block maximum, or under the full heap's least) are skipped.

Why compiled and why every posting: on the 1,000,000-paper benchmark index (every query term is
common there: ~1.5 M postings a query), MaxScore pruning in numpy took 8.3 ms a query on one
thread and these loops 3.0 ms, read straight from the memory-mapped postings (ad hoc, the
bundled questions; docs/benchmarks.md, "Corpus scale"). numpy's gathers and scatters made
several passes with temporaries per term; a loop makes one. A segment's search is one call
(``scored_top``: every term, the deleted rows, the heap) that releases the GIL, so a query's
segments run side by side (``indexer/fanout.py``) without taking turns at it between terms.
A scope (a few allowed rows) is scored at those rows only, in numpy
(``LexicalIndex._scoped_top``, with ``find_rows`` and ``best_k`` from here).
"""

from __future__ import annotations

from functools import cache

import numpy as np
from numba import njit

# Papers per block of the top-k scan: a block's maximum is one vectorised pass.
_BLOCK = 128


# A term's impacts in ``accumulate``: computed, read from ``impacts``, or computed and stored
# there (``indexer/lexical_impacts.py``).
COMPUTE, READ, STORE = 0, 1, 2


@njit(nogil=True, cache=True)
def accumulate(
    scores: np.ndarray,
    rows: np.ndarray,
    tfs: np.ndarray,
    spans: np.ndarray,
    weights: np.ndarray,
    norm: np.ndarray,
    impacts: np.ndarray,
    starts: np.ndarray,
    states: np.ndarray,
) -> None:
    """For each query term ``t`` in order, whose postings are ``rows`` and ``tfs`` at
    ``spans[t, 0]:spans[t, 1]`` (distinct rows): ``scores[rows] += weights[t] * (tfs /
    (norm[rows] + tfs))``, in float32.

    Each posting's ``tf / (norm + tf)`` (its impact) is computed (``states[t]`` COMPUTE), read
    from ``impacts`` from ``starts[t]`` on, one per posting (READ), or computed and written
    there for the next query (STORE): the same float32 operations either way.

    ``rows`` are unsigned (``SegmentPostings.unsigned_rows``), and so are the loops' indices:
    numba wraps a negative index around, a test per array access that a signed index pays. On
    the 1,000,000-paper benchmark index, a segment's share of a bundled question took 1.02 ms
    with signed indices and 0.54 ms with unsigned ones with its impacts read, 1.33-1.62 and
    0.94-0.95 ms computing them, with the same rows and scores bit for bit (ad hoc, the whole
    ``scored_top``, the 179 questions and CACM's and CISI's 164 queries)."""
    for t in range(spans.shape[0]):
        weight = weights[t]
        first, end = np.uint64(spans[t, 0]), np.uint64(spans[t, 1])
        base = np.uint64(starts[t])
        if states[t] == READ:
            for i in range(first, end):
                scores[rows[i]] += weight * impacts[base + (i - first)]
        elif states[t] == STORE:
            for i in range(first, end):
                row = rows[i]
                tf = tfs[i]
                impact = tf / (norm[row] + tf)
                impacts[base + (i - first)] = impact
                scores[row] += weight * impact
        else:
            for i in range(first, end):
                row = rows[i]
                tf = tfs[i]
                scores[row] += weight * (tf / (norm[row] + tf))


@njit(nogil=True, cache=True)
def scored_top(
    rows: np.ndarray,
    tfs: np.ndarray,
    spans: np.ndarray,
    weights: np.ndarray,
    norm: np.ndarray,
    impacts: np.ndarray,
    starts: np.ndarray,
    states: np.ndarray,
    deleted: np.ndarray,
    k: int,
) -> tuple[np.ndarray, np.ndarray]:
    """(rows ascending, their scores) of the ``k`` best positive scores of a segment, the lowest
    rows first among equal scores: ``accumulate`` of its query terms' postings (their impacts
    computed, read or stored as ``states`` says), 0 at the ``deleted`` rows, in one compiled
    call: per term and step, a call from Python was a release and a re-take of the GIL, which
    the other segments' threads were holding. ``k`` must be positive (with none wanted, no
    impact would be stored that the caller's plan says is)."""
    scores = np.zeros(norm.shape[0], np.float32)
    accumulate(scores, rows, tfs, spans, weights, norm, impacts, starts, states)
    for i in range(deleted.shape[0]):
        scores[deleted[i]] = 0
    return _top_k(scores, k)


@njit(nogil=True, cache=True)
def _block_maxima(scores: np.ndarray) -> np.ndarray:
    """The best score of each block of ``_BLOCK`` papers (0 at least). Four running maxima: one
    ``max`` chain over a block was not vectorised and took 0.20 ms per 500,000 papers, these
    0.08 ms (ad hoc)."""
    n = scores.shape[0]
    out = np.zeros((n + _BLOCK - 1) // _BLOCK, np.float32)
    for block in range(out.shape[0]):
        start = block * _BLOCK
        end = min(n, start + _BLOCK)
        m0 = m1 = m2 = m3 = np.float32(0)
        row = start
        while row + 4 <= end:
            a0, a1, a2, a3 = scores[row], scores[row + 1], scores[row + 2], scores[row + 3]
            m0 = a0 if a0 > m0 else m0
            m1 = a1 if a1 > m1 else m1
            m2 = a2 if a2 > m2 else m2
            m3 = a3 if a3 > m3 else m3
            row += 4
        while row < end:
            m0 = scores[row] if scores[row] > m0 else m0
            row += 1
        out[block] = max(max(m0, m1), max(m2, m3))
    return out


@njit(nogil=True, cache=True)
def _before(score_a: float, row_a: int, score_b: float, row_b: int) -> bool:
    """Whether (score_a, row_a) ranks below (score_b, row_b): a lower score, or an equal score
    and a higher row (the heap's root is the entry to drop first)."""
    return score_a < score_b or (score_a == score_b and row_a > row_b)


@njit(nogil=True, cache=True)
def _push(heap_scores: np.ndarray, heap_rows: np.ndarray, size: int, score: float, row: int) -> int:
    """Add (score, row) to the min-heap, replacing its root once full; its new size."""
    k = heap_scores.shape[0]
    if size < k:
        at = size
        size += 1
        while at > 0:
            parent = (at - 1) // 2
            if _before(heap_scores[parent], heap_rows[parent], score, row):
                break
            heap_scores[at] = heap_scores[parent]
            heap_rows[at] = heap_rows[parent]
            at = parent
    else:
        at = 0
        while True:
            child = 2 * at + 1
            if child >= size:
                break
            right = child + 1
            if right < size and _before(
                heap_scores[right], heap_rows[right], heap_scores[child], heap_rows[child]
            ):
                child = right
            if not _before(heap_scores[child], heap_rows[child], score, row):
                break
            heap_scores[at] = heap_scores[child]
            heap_rows[at] = heap_rows[child]
            at = child
    heap_scores[at] = score
    heap_rows[at] = row
    return size


@njit(nogil=True, cache=True)
def _top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    heap_scores = np.empty(k, np.float32)
    heap_rows = np.empty(k, np.int64)
    size = 0
    n = scores.shape[0]
    maxima = _block_maxima(scores)
    # The k-th best block maximum: k scores are at least that, so no lower score is among the
    # k best, and no block whose best is lower needs a look (the heap alone let the early
    # blocks in while it filled: 0.36 ms a segment at 1,000,000 papers, 0.15 with it, ad hoc).
    floor = np.float32(0)
    if maxima.shape[0] > k:
        floor = np.partition(maxima, maxima.shape[0] - k)[maxima.shape[0] - k]
    for block in range(maxima.shape[0]):
        best = maxima[block]
        if best < floor or (size == k and best <= heap_scores[0]):
            continue
        start = block * _BLOCK
        for row in range(start, min(n, start + _BLOCK)):
            score = scores[row]
            # Rows come in ascending order: an equal score never displaces a lower row.
            if score > 0 and score >= floor and (size < k or score > heap_scores[0]):
                size = _push(heap_scores, heap_rows, size, score, row)
    order = np.argsort(heap_rows[:size])
    return heap_rows[:size][order], heap_scores[:size][order]


@cache
def compile_kernels() -> None:
    """Compile (or load from numba's cache) the loops for the array types a search passes:
    read-only uint32 rows (``SegmentPostings.unsigned_rows``) and float32 tfs as ``np.load`` maps
    them. Done when an index is opened, so that no query waits ~2 s for the compiler."""
    rows = np.arange(2, dtype=np.uint32)
    tfs = np.ones(2, dtype=np.float32)
    rows.flags.writeable = tfs.flags.writeable = False
    spans = np.array([[0, 2]], dtype=np.int64)
    weights = np.ones(1, dtype=np.float32)
    norm = np.ones(4, dtype=np.float32)
    scores = np.zeros(4, dtype=np.float32)
    impacts, states = np.zeros(2, dtype=np.float32), np.zeros(1, dtype=np.int8)
    starts = np.zeros(1, dtype=np.int64)
    accumulate(scores, rows, tfs, spans, weights, norm, impacts, starts, states)
    found = (rows, tfs, spans, weights, norm, impacts, starts, states)
    scored_top(*found, np.zeros(1, dtype=np.int64), 1)


def best_k(rows: np.ndarray, scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best of ``rows`` by score, the lowest rows first among equal scores (rows
    ascending in, ascending out)."""
    if len(rows) <= k:
        return rows, scores
    kth = np.partition(scores, len(rows) - k)[len(rows) - k]
    above = scores > kth
    tied = np.flatnonzero(scores == kth)[: k - int(above.sum())]
    above[tied] = True
    return rows[above], scores[above]


def find_rows(rows: np.ndarray, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(a mask of the ``wanted`` rows found in the ascending ``rows``, their positions)."""
    if not len(rows):
        return np.zeros(len(wanted), dtype=bool), np.zeros(0, np.int64)
    # Searched with the rows' own type: with another, numpy copies all of ``rows`` first.
    at = np.minimum(np.searchsorted(rows, wanted.astype(rows.dtype, copy=False)), len(rows) - 1)
    hit = np.asarray(rows[at]) == wanted
    return hit, at[hit]
