"""Per-segment searches spread over the cores this process may run on.

A version of a large index is a handful of big segments (two of ~500,000 papers at 1,000,000),
searched one after another: on two cores one request left the other idle. FAISS searches and
numpy's array passes release the GIL, so threads run the segments side by side. Small
segments stay on the calling thread, where handing work to another costs more than it saves.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path
from typing import TypeVar, cast

import numpy as np

T = TypeVar("T")
R = TypeVar("R")

_MAX_THREADS = 8

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None


def _threads() -> int:
    return max(1, min(_MAX_THREADS, len(os.sched_getaffinity(0))))


def _shared_pool() -> ThreadPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(_threads(), thread_name_prefix="segment-search")
        return _pool


def map_segments(work: Callable[[T], R], items: Sequence[T], rows: int, min_rows: int) -> list[R]:
    """``[work(item) for item in items]``, on several threads when there is more than one
    item, more than one core and at least ``min_rows`` ``rows`` in all (below that the
    segments take well under a millisecond each). Items start in their order, each on the
    first thread free."""
    if len(items) < 2 or rows < min_rows or _threads() < 2:
        return [work(item) for item in items]
    results: list[R | None] = [None] * len(items)
    order = itertools.count()  # next() on a count is atomic under the GIL
    failed = threading.Event()

    def run() -> None:
        try:
            while not failed.is_set() and (i := next(order)) < len(items):
                results[i] = work(items[i])
        except BaseException:
            failed.set()  # the others take no new item
            raise

    pool = _shared_pool()
    # One thread per core, the caller's included: the caller works too, so a pool busy with
    # other requests never leaves it only waiting.
    helpers = [pool.submit(run) for _ in range(min(_threads(), len(items)) - 1)]
    try:
        run()
    finally:
        # A helper still queued behind other requests has nothing left to do; the others are
        # waited for, so no work of this call outlives it, failed or not.
        started = [helper for helper in helpers if not helper.cancel()]
        wait(started)
    for helper in started:
        helper.result()  # raises a helper's error (the caller's own is already raised)
    return cast(list[R], results)


def one_blas_thread_per_call() -> bool:
    """Run numpy's own BLAS (the library in its wheel) on one thread per call in this process;
    False when it has none of its own (a numpy built on a system BLAS is left as it is).

    For a server: dense re-ranking multiplies ~1,000 vectors by the query per segment, which
    OpenBLAS split over every core, whose threads then spun waiting for more work. On two cores
    that took the core the other segments' threads (and other requests) needed: on a
    1,000,000-paper index, a dense search, a BM25 search and a hybrid search of one query, in
    process and one after another, used ~90 ms of CPU for ~38 ms of wall time, ~43 ms of CPU
    with one BLAS thread (ad hoc). FAISS's own BLAS (its k-means when a segment is sealed) is
    not touched."""
    from threadpoolctl import ThreadpoolController

    numpy_home = Path(np.__file__).resolve().parent
    found = False
    for library in ThreadpoolController().lib_controllers:
        where = Path(library.filepath).resolve()
        inside = where.parent.parent == numpy_home.parent and where.parent.name.startswith("numpy")
        if library.user_api == "blas" and inside:
            library.set_num_threads(1)
            found = True
    return found
