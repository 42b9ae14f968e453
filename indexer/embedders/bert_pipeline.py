"""The document path of the torch BERT encoder: tokenization overlapped with the forward pass.

Measured on one H200 (issue 12), embedding with tokenization inside each batch's call runs at
~6,000 texts/s whatever the precision: the GPU waits on the serial tokenizer. Here tokenizer
workers work ahead on length-sorted batches, at most ``prefetch`` batches ahead, while the
calling thread runs the forward pass of the batch before. All workers tokenize a batch
together, in pieces, so the first batch of a call is ready soon (``index add`` calls once per
block of papers). Pieces come back packed (ids one text after another, and lengths: a quarter
of the padded batch, which matters across a process boundary) and are padded here.

Workers are threads or processes (``pool``). Plain-ASCII texts are tokenized by a word cache in
Python (``wordpiece``), which holds the GIL: threads take turns, processes add up. On CUDA,
where tokenization bounds the rate, they are processes (started with spawn: forking a process
that holds CUDA is unsafe), started on the first call with several batches and kept; on CPU,
where the forward pass bounds it, one thread. On CUDA the token ids are pinned and copied with
``non_blocking=True``, and a batch's vectors are copied back while the next batch runs (one
batch in flight). The same code runs on CPU (no pinning, no copy-back lag), so CPU tests
exercise the overlap and both kinds of workers.

``TOKENIZERS_PARALLELISM`` is left as configured (``indexer/quiet.py`` sets it to false: the
Rust tokenizer's own thread pool does not survive a fork).
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import threading
import weakref
from collections import deque
from collections.abc import Iterator
from concurrent.futures import (
    BrokenExecutor,
    Executor,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
)
from typing import Any, Literal

import numpy as np

from indexer.embedders.bert import BertEncoder
from indexer.embedders.bert_tokens import Packed, join, packed_in_worker, pad, start_worker
from indexer.errors import EmbedderError

TokenizerPool = Literal["auto", "threads", "processes"]
# Texts per piece of a batch sent to a tokenizer process, past a call's first batch.
_PROCESS_PIECE = 256


def default_tokenizer_workers(device_type: str) -> int:
    """On CPU torch's own threads use the cores: one tokenizer thread overlaps without
    competing much. On CUDA tokenization is the whole CPU cost: all cores but the one that
    drives the GPU."""
    if device_type != "cuda":
        return 1
    # The cores this process may run on (a container's or taskset's), not the machine's.
    return max(1, len(os.sched_getaffinity(0)) - 1)


def _shutdown_all(pools: list[Executor]) -> None:
    for pool in pools:
        pool.shutdown(wait=True, cancel_futures=True)


class DocumentPipeline:
    """Embeds documents of one ``BertEncoder``: ``batches(texts)`` yields ``(positions,
    pooled vectors)`` per batch, shortest texts first, each position once."""

    def __init__(
        self,
        encoder: BertEncoder,
        batch_size: int,
        workers: int = 0,
        dtype: Any = None,
        prefetch: int | None = None,
        pool: TokenizerPool = "auto",
    ) -> None:
        if batch_size < 1:
            raise EmbedderError(f"document batch size must be at least 1, got {batch_size}")
        if workers < 0:
            raise EmbedderError(f"tokenizer workers must be 0 (automatic) or more, got {workers}")
        self._encoder = encoder
        self._batch_size = batch_size
        self._workers = workers or default_tokenizer_workers(encoder.device.type)
        self._cuda = encoder.device.type == "cuda"
        # Threads share the GIL, which the word-cache tokenizer holds (it is Python): on CUDA,
        # where tokenization is the bound, processes; on CPU the forward pass is, and one
        # thread keeps ahead of it.
        self._processes = pool == "processes" or (pool == "auto" and self._cuda)
        # The first batch of a call (index add calls once per block of papers) is tokenized
        # in pieces by all workers together, so that it is ready in a fraction of the time one
        # worker would take and the forward pass does not wait long. Later batches are
        # tokenized while the device runs: in processes their pieces are larger, since each
        # piece costs the calling process pickling and queueing under the GIL the forward
        # pass's launches need (in an ad hoc check on the development machine, about 5 ms of
        # CPU per 1,024 texts at 69 texts a piece, 2.6 at 256).
        self._first_piece = max(1, -(-batch_size // self._workers))
        self._piece = (
            max(self._first_piece, _PROCESS_PIECE) if self._processes else self._first_piece
        )
        # Batches tokenized ahead: enough to keep every worker busy, few to bound memory.
        self._prefetch = prefetch or max(2, -(-self._workers * self._piece // batch_size))
        self._dtype = dtype
        # Started on the first call that has several batches and kept for the next calls
        # (a process loads its tokenizer once); shut down with the pipeline. A list, which the
        # finalizer holds, so that it shuts down whichever pool is current then.
        self._pools: list[Executor] = []
        self._pool_lock = threading.Lock()
        weakref.finalize(self, _shutdown_all, self._pools)
        # Calls using the pool now; ``close`` during one waits for the last to end.
        self._users = 0
        self._close_when_idle = False

    @property
    def workers(self) -> int:
        return self._workers

    @property
    def processes(self) -> bool:
        """Whether tokenizer workers are processes (else threads)."""
        return self._processes

    def close(self) -> None:
        """Stop the workers; if calls are using them (another thread's), once the last ends."""
        with self._pool_lock:
            if self._users:
                self._close_when_idle = True
                return
        self._discard()

    def _discard(self) -> None:
        """Stop the workers now (a broken pool: its other users fail anyway)."""
        with self._pool_lock:
            pools = list(self._pools)
            self._pools.clear()
        _shutdown_all(pools)

    def _done_with_pool(self) -> None:
        with self._pool_lock:
            self._users -= 1
            idle = self._users == 0 and self._close_when_idle
            if idle:
                self._close_when_idle = False
        if idle:
            self._discard()

    def _executor(self) -> Executor:
        """The pool, counted as in use until ``_done_with_pool``."""
        with self._pool_lock:
            if self._pools and getattr(self._pools[0], "_broken", False):
                # A worker died between calls (killed, out of memory): a pool with a dead
                # worker refuses all work, so it is replaced.
                broken = self._pools.pop()
                broken.shutdown(wait=False, cancel_futures=True)
            if not self._pools:
                if self._processes:
                    pool: Executor = ProcessPoolExecutor(
                        self._workers,
                        mp_context=multiprocessing.get_context("spawn"),
                        initializer=start_worker,
                        initargs=(self._encoder.tokens,),
                    )
                else:
                    pool = ThreadPoolExecutor(
                        self._workers, thread_name_prefix="abstractqa-tokenize"
                    )
                self._pools.append(pool)
            self._users += 1
            return self._pools[0]

    def batches(self, texts: list[str]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        if not texts:
            return
        # Similar lengths side by side keep padding short; a stable sort on the character
        # length keeps the batches a CPU index was built from before this pipeline.
        lengths = np.fromiter((len(text) for text in texts), np.int64, len(texts))
        order = np.argsort(lengths, kind="stable")
        parts = [order[i : i + self._batch_size] for i in range(0, len(order), self._batch_size)]
        if len(parts) == 1:
            # One batch (a paper's sentences for the service): nothing to overlap with.
            positions = parts[0]
            ids, mask = self._tensors(self._inline([texts[i] for i in positions]))
            vectors = self._encoder.pooled(
                ids.to(self._encoder.device), mask.to(self._encoder.device), dtype=self._dtype
            )
            yield positions, vectors.cpu().numpy()
            return
        pool = self._executor()
        tokenize = packed_in_worker if self._processes else self._encoder.tokens.packed
        pending: deque[tuple[np.ndarray, list[Future[Packed]]]] = deque()
        ahead = iter(parts)

        def submit(part: np.ndarray, size: int) -> None:
            pieces = [part[i : i + size] for i in range(0, len(part), size)]
            futures = [pool.submit(tokenize, [texts[i] for i in piece]) for piece in pieces]
            pending.append((part, futures))

        try:
            submit(next(ahead), self._first_piece)
            for part in itertools.islice(ahead, self._prefetch - 1):
                submit(part, self._piece)
            in_flight: tuple[np.ndarray, Any, Any] | None = None
            while pending:
                positions, futures = pending.popleft()
                ids, mask = self._tensors(self._assembled(futures))
                for part in ahead:
                    submit(part, self._piece)
                    break
                vectors = self._encoder.pooled(
                    ids.to(self._encoder.device, non_blocking=True),
                    mask.to(self._encoder.device, non_blocking=True),
                    dtype=self._dtype,
                )
                if not self._cuda:
                    yield positions, vectors.numpy()
                    continue
                done = self._copy_back(positions, vectors)
                if in_flight is not None:
                    yield self._finished(in_flight)
                in_flight = done
            if in_flight is not None:
                yield self._finished(in_flight)
        except BrokenExecutor as exc:  # raised by submit once a worker has died
            self._discard()
            raise EmbedderError(f"a tokenizer worker died: {exc}") from exc
        finally:
            for _, futures in pending:
                for future in futures:
                    future.cancel()
            self._done_with_pool()

    def _tensors(self, packed: Packed) -> tuple[Any, Any]:
        import torch

        ids, mask = pad(packed, self._encoder.pad_id)
        ids_t, mask_t = torch.from_numpy(ids), torch.from_numpy(mask)
        if self._cuda:
            # Page-locked host memory: the copy to the GPU runs asynchronously from it.
            ids_t, mask_t = ids_t.pin_memory(), mask_t.pin_memory()
        return ids_t, mask_t

    def _inline(self, texts: list[str]) -> Packed:
        try:
            return self._encoder.tokens.packed(texts)
        except Exception as exc:
            raise EmbedderError(f"tokenizing a batch of documents failed: {exc}") from exc

    def _assembled(self, futures: list[Future[Packed]]) -> Packed:
        """One batch from its pieces: the same ids as tokenizing the batch at once."""
        try:
            return join([future.result() for future in futures])
        except Exception as exc:
            if self._processes:
                # A worker that died (killed, out of memory) breaks the whole pool: the next
                # call starts a new one.
                self._discard()
            raise EmbedderError(f"tokenizing a batch of documents failed: {exc}") from exc

    def _copy_back(self, positions: np.ndarray, vectors: Any) -> tuple[np.ndarray, Any, Any]:
        import torch

        host = torch.empty(vectors.shape, dtype=vectors.dtype, pin_memory=True)
        host.copy_(vectors, non_blocking=True)
        event = torch.cuda.Event()
        event.record()
        return positions, host, event

    @staticmethod
    def _finished(in_flight: tuple[np.ndarray, Any, Any]) -> tuple[np.ndarray, np.ndarray]:
        positions, host, event = in_flight
        event.synchronize()
        return positions, host.numpy()
