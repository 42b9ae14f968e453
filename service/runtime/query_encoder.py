"""One owner of query embedding: concurrent requests' queries are encoded together.

Encoding 16 queries in one forward pass costs far less than 16 passes of one, so worker threads
own the embedder's query path and take queries from one queue: a worker encodes whatever is
waiting (up to ``max_batch``), after giving others up to ``wait_ms`` to join the first one.
Each caller gets a future; async callers await it without blocking the event loop, threads wait
on it. Repeated queries are answered from a small LRU cache without reaching the model.

The wait is only spent under concurrent load: a worker that takes a query while no other
query is queued or being encoded (a lone client) encodes it at once, since no batch-mate is
likely to come and the wait would be added to every request. A moving average of batch sizes
was tried as the signal and measured worse: at 16 clients it settled on small batches and
stopped waiting (docs/benchmarks.md, "Service latency").

With ``workers`` > 1 several batches are encoded at once on the one shared model (torch releases
the GIL inside the forward pass). On CPU, one worker per core with torch on one intra-op thread
each beats one worker with torch spreading each batch over every core: nothing waits at a
barrier for a thread that the HTTP work or another process has pre-empted
(docs/benchmarks.md, "Service latency").

A failure of the embedder fails the futures of that batch only, with ``QueryEncodingError``;
the thread goes on with the next batch.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import threading
import time
from collections import OrderedDict
from concurrent.futures import Future
from dataclasses import asdict, dataclass

import numpy as np

from indexer import Embedder, EmbedderError
from service.errors import QueryEncodingError
from service.settings import Settings

log = logging.getLogger("abstractqa.service")

_Pending = tuple[str, "Future[np.ndarray]"]
_Outcome = tuple["Future[np.ndarray]", "np.ndarray | Exception"]
_GROUP = 8  # most queries per embedder call, see QueryEncoder._groups


@dataclass
class EncoderStats:
    """Counters since start (for metrics and tests)."""

    batches: int = 0  # batches taken from the queue
    calls: int = 0  # calls to the embedder (a batch is split into groups of similar length)
    encoded: int = 0  # distinct queries sent to the embedder
    requested: int = 0  # queries asked for, cache hits included
    cache_hits: int = 0
    failed_batches: int = 0
    largest_batch: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class _LRU:
    """Query text -> read-only vector; size 0 keeps nothing."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> np.ndarray | None:
        with self._lock:
            vector = self._items.get(key)
            if vector is not None:
                self._items.move_to_end(key)
            return vector

    def put(self, key: str, vector: np.ndarray) -> None:
        if self._size == 0:
            return
        with self._lock:
            self._items[key] = vector
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)


class QueryEncoder:
    """Batches the query embeddings of concurrent requests; see the module docstring."""

    def __init__(
        self,
        embedder: Embedder,
        wait_ms: float = 4.0,
        max_batch: int = 8,
        cache_size: int = 1024,
        workers: int = 1,
    ) -> None:
        if max_batch < 1 or workers < 1:
            raise ValueError("max_batch and workers must be at least 1")
        self.embedder = embedder
        self.wait_s = max(0.0, wait_ms) / 1000
        self.max_batch = max_batch
        self._cache = _LRU(cache_size)
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._stats = EncoderStats()
        self._in_flight = 0  # queued or being encoded
        self._stats_lock = threading.Lock()
        self._closed = False
        self._closing = threading.Lock()  # no query may be queued behind the stop sentinel
        self._threads = [
            threading.Thread(target=self._run, name=f"query-encoder-{i}", daemon=True)
            for i in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    @classmethod
    def from_settings(cls, embedder: Embedder, settings: Settings) -> QueryEncoder:
        return cls(
            embedder,
            settings.query_encoder.batch_wait_ms,
            settings.query_encoder.batch_max,
            settings.query_encoder.cache_size,
            settings.query_encoder.encoder_workers or os.cpu_count() or 1,
        )

    @property
    def workers(self) -> int:
        return len(self._threads)

    @property
    def stats(self) -> EncoderStats:
        with self._stats_lock:
            return EncoderStats(**asdict(self._stats))

    def submit(self, query: str) -> Future[np.ndarray]:
        """A future of ``query``'s unit vector (read-only: it may be shared via the cache)."""
        future: Future[np.ndarray] = Future()
        cached = self._cache.get(query)
        with self._stats_lock:
            self._stats.requested += 1
            self._stats.cache_hits += cached is not None
        if cached is not None:
            future.set_result(cached)
            return future
        with self._closing:
            if self._closed:
                future.set_exception(QueryEncodingError("the service is shutting down"))
            else:
                with self._stats_lock:
                    self._in_flight += 1
                self._queue.put((query, future))
        return future

    def encode_sync(self, query: str) -> np.ndarray:
        """For threads (not the event loop): wait for the vector."""
        return self.submit(query).result()

    async def encode(self, query: str) -> np.ndarray:
        """For coroutines: the event loop keeps running while the batch is encoded."""
        future = self.submit(query)
        if future.done():
            return future.result()
        return await asyncio.wrap_future(future)

    def close(self, timeout_s: float = 30.0) -> None:
        """Finish the queued queries, then stop the workers and wait for them (a thread still
        inside torch when the interpreter exits aborts the process)."""
        with self._closing:
            if not self._closed:
                self._closed = True
                for _ in self._threads:  # one stop sign per worker, behind every query
                    self._queue.put(None)
        deadline = time.monotonic() + timeout_s
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))

    @property
    def alive(self) -> bool:
        return any(thread.is_alive() for thread in self._threads)

    # -- the workers ------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch, stop = self._collect(first)
            try:
                outcomes = self._encode(batch)
            finally:
                # Before any caller hears back: one that asks again at once must not count
                # its own finished query as still in flight.
                with self._stats_lock:
                    self._in_flight -= len(batch)
            _settle(outcomes)
            if stop:
                return

    def _collect(self, first: _Pending) -> tuple[list[_Pending], bool]:
        """``first`` and the queries that join it within the wait, up to ``max_batch``."""
        batch = [first]
        with self._stats_lock:
            alone = self._in_flight <= 1
        wait_s = 0.0 if alone else self.wait_s
        deadline = time.monotonic() + wait_s
        while len(batch) < self.max_batch:
            try:
                # What is already queued joins without waiting (requests that arrived while
                # the previous batch was encoded); the wait only applies to an empty queue.
                item = self._queue.get_nowait()
            except queue.Empty:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    item = self._queue.get(timeout=remaining)
                except queue.Empty:
                    break
            if item is None:
                return batch, True
            batch.append(item)
        return batch, False

    def _encode(self, batch: list[_Pending]) -> list[_Outcome]:
        """Embed the batch: each live caller's future with its vector or error (handed over
        by ``_settle``)."""
        # A cancelled future (its client went away) needs no vector.
        live = [(q, f) for q, f in batch if f.set_running_or_notify_cancel()]
        if not live:
            return []
        texts = list(dict.fromkeys(q for q, _ in live))
        groups = self._groups(texts)
        try:
            vectors = np.empty((len(texts), self.embedder.dimension), dtype=np.float32)
            for group in groups:
                got = self.embedder.embed_queries([texts[i] for i in group])
                if got.shape[0] != len(group):
                    raise EmbedderError(
                        f"the embedder returned {got.shape[0]} vectors for {len(group)} queries"
                    )
                vectors[group] = got
        except Exception as exc:
            message = _client_message(exc)
            with self._stats_lock:
                self._stats.batches += 1
                self._stats.calls += len(groups)
                self._stats.failed_batches += 1
            error = QueryEncodingError(message)
            return [(future, error) for _, future in live]
        by_text: dict[str, np.ndarray] = {}
        for text, vector in zip(texts, vectors, strict=True):
            vector = vector.copy()  # a row of its own, so cached rows do not pin the batch
            vector.setflags(write=False)
            by_text[text] = vector
            self._cache.put(text, vector)
        with self._stats_lock:
            self._stats.batches += 1
            self._stats.calls += len(groups)
            self._stats.encoded += len(texts)
            self._stats.largest_batch = max(self._stats.largest_batch, len(texts))
        return [(future, by_text[query]) for query, future in live]

    def _groups(self, texts: list[str]) -> list[list[int]]:
        """Positions of ``texts`` in embedder calls. A model pads every text of a call to the
        longest one, so a large batch is encoded as groups of similar token length: 16 short
        and long questions take ~15% less time as two sorted groups of 8 than as one call on a
        single thread (docs/benchmarks.md). Embedders that cannot count tokens get one call."""
        if len(texts) <= _GROUP:
            return [list(range(len(texts)))]
        lengths = self.embedder.count_tokens_many(texts)
        if lengths is None:
            return [list(range(len(texts)))]
        order = sorted(range(len(texts)), key=lengths.__getitem__)
        return [order[start : start + _GROUP] for start in range(0, len(order), _GROUP)]


def _settle(outcomes: list[_Outcome]) -> None:
    for future, outcome in outcomes:
        if isinstance(outcome, Exception):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)


def _client_message(exc: Exception) -> str:
    """What the requests of a failed batch are told: the embedder's own message when it is
    meant for users (``EmbedderError``), else only the error's type (the log has the rest)."""
    if isinstance(exc, EmbedderError):
        return f"the query could not be embedded: {exc}"
    log.error("query encoding failed", exc_info=exc)
    return f"the query could not be embedded ({type(exc).__name__}); the server log has the details"
