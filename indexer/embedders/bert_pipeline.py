"""The document path of the torch BERT encoder: tokenization overlapped with the forward pass.

Measured on one H200 (issue 12), embedding with tokenization inside each batch's call runs at
~6,000 texts/s whatever the precision: the GPU waits on the serial tokenizer. Here tokenizer
threads (each with a tokenizer of its own; tokenizers releases the GIL while it encodes) work
ahead on length-sorted batches, at most ``prefetch`` batches ahead, while the calling thread
runs the forward pass of the batch before. On CUDA the token ids are pinned by the producer and
copied with ``non_blocking=True``, and a batch's vectors are copied back while the next batch
runs (one batch in flight). The same code runs on CPU (no pinning, no copy-back lag), so CPU
tests exercise the overlap.

``TOKENIZERS_PARALLELISM`` is left as configured (``indexer/quiet.py`` sets it to false: the
Rust tokenizer's own thread pool does not survive a fork); the threads here are ordinary
Python threads, which a fork does not break.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np

from indexer.embedders.bert import BertEncoder
from indexer.errors import EmbedderError

Tokenized = tuple[np.ndarray, Any, Any]  # positions, ids, mask (tensors, pinned on CUDA)


def default_tokenizer_threads(device_type: str) -> int:
    """On CPU torch's own threads use the cores: one tokenizer thread overlaps without
    competing much. On CUDA tokenization is the whole CPU cost: all cores but the one that
    drives the GPU."""
    if device_type != "cuda":
        return 1
    return max(1, (os.cpu_count() or 2) - 1)


class DocumentPipeline:
    """Embeds documents of one ``BertEncoder``: ``batches(texts)`` yields ``(positions,
    pooled vectors)`` per batch, shortest texts first, each position once."""

    def __init__(
        self,
        encoder: BertEncoder,
        batch_size: int,
        threads: int = 0,
        dtype: Any = None,
        prefetch: int | None = None,
    ) -> None:
        if batch_size < 1:
            raise EmbedderError(f"document batch size must be at least 1, got {batch_size}")
        if threads < 0:
            raise EmbedderError(f"tokenizer threads must be 0 (automatic) or more, got {threads}")
        self._encoder = encoder
        self._batch_size = batch_size
        self._threads = threads or default_tokenizer_threads(encoder.device.type)
        # Enough batches ahead to keep every thread busy, few enough to bound memory.
        self._prefetch = prefetch or 2 * self._threads
        self._dtype = dtype
        self._cuda = encoder.device.type == "cuda"
        # Tokenizers are reused across calls (loading one parses tokenizer.json: tens of ms)
        # and never shared by two threads at once: each use takes one from here or makes one.
        self._idle: list[Any] = []
        self._idle_lock = threading.Lock()

    @property
    def threads(self) -> int:
        return self._threads

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
            positions, ids, mask = self._take_inline(texts, parts[0])
            vectors = self._encoder.pooled(
                ids.to(self._encoder.device), mask.to(self._encoder.device), dtype=self._dtype
            )
            yield positions, vectors.cpu().numpy()
            return
        pool = ThreadPoolExecutor(self._threads, thread_name_prefix="abstractqa-tokenize")
        pending: deque[Future[Tokenized]] = deque()
        ahead = iter(parts)
        try:
            for positions in ahead:
                pending.append(pool.submit(self._tokenize, texts, positions))
                if len(pending) >= self._prefetch:
                    break
            in_flight: tuple[np.ndarray, Any, Any] | None = None
            while pending:
                positions, ids, mask = self._take(pending.popleft())
                for positions_next in ahead:
                    pending.append(pool.submit(self._tokenize, texts, positions_next))
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
        finally:
            for future in pending:
                future.cancel()
            pool.shutdown(wait=True, cancel_futures=True)

    def _tokenize(self, texts: list[str], positions: np.ndarray) -> Tokenized:
        with self._idle_lock:
            tokenizer = self._idle.pop() if self._idle else None
        if tokenizer is None:
            tokenizer = self._encoder.new_tokenizer()
        try:
            ids, mask = self._encoder.tokenize(tokenizer, [texts[i] for i in positions])
        finally:
            with self._idle_lock:
                self._idle.append(tokenizer)
        import torch

        ids_t, mask_t = torch.from_numpy(ids), torch.from_numpy(mask)
        if self._cuda:
            # Page-locked host memory: the copy to the GPU runs asynchronously from it.
            ids_t, mask_t = ids_t.pin_memory(), mask_t.pin_memory()
        return positions, ids_t, mask_t

    def _take_inline(self, texts: list[str], positions: np.ndarray) -> Tokenized:
        try:
            return self._tokenize(texts, positions)
        except Exception as exc:
            raise EmbedderError(f"tokenizing a batch of documents failed: {exc}") from exc

    def _take(self, future: Future[Tokenized]) -> Tokenized:
        try:
            return future.result()
        except Exception as exc:
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
