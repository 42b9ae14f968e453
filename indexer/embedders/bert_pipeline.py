"""The document path of the torch BERT encoder: tokenization overlapped with the forward pass.

Measured on one H200 (issue 12), embedding with tokenization inside each batch's call runs at
~6,000 texts/s whatever the precision: the GPU waits on the serial tokenizer. Here tokenizer
threads (each with a tokenizer of its own; tokenizers releases the GIL while it encodes) work
ahead on length-sorted batches, at most ``prefetch`` batches ahead, while the calling thread
runs the forward pass of the batch before. All threads tokenize a batch together, in pieces,
so the first batch of a call is ready soon (``index add`` calls once per block of papers). On
CUDA the token ids are pinned and copied with ``non_blocking=True``, and a batch's vectors are
copied back while the next batch runs (one batch in flight). The same code runs on CPU (no
pinning, no copy-back lag), so CPU tests exercise the overlap.

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

Tokenized = tuple[np.ndarray, np.ndarray, np.ndarray]  # positions, token ids, attention mask


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
        # Batches tokenized ahead: enough to keep every thread busy, few to bound memory.
        self._prefetch = prefetch or 2
        # Each batch is tokenized in pieces by all threads together, so that the first batch
        # of a call (index add calls once per block of papers) is ready in a fraction of the
        # time one thread would take, and the forward pass does not wait for it.
        self._piece = max(1, -(-batch_size // self._threads))
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
        pending: deque[list[Future[Tokenized]]] = deque()
        ahead = iter(parts)

        def submit(part: np.ndarray) -> None:
            pieces = [part[i : i + self._piece] for i in range(0, len(part), self._piece)]
            pending.append([pool.submit(self._tokenize, texts, piece) for piece in pieces])

        try:
            for part in ahead:
                submit(part)
                if len(pending) >= self._prefetch:
                    break
            in_flight: tuple[np.ndarray, Any, Any] | None = None
            while pending:
                positions, ids, mask = self._assembled(pending.popleft())
                for part in ahead:
                    submit(part)
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
            for futures in pending:
                for future in futures:
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
        return positions, ids, mask

    def _tensors(self, tokenized: Tokenized) -> tuple[np.ndarray, Any, Any]:
        import torch

        positions, ids, mask = tokenized
        ids_t, mask_t = torch.from_numpy(ids), torch.from_numpy(mask)
        if self._cuda:
            # Page-locked host memory: the copy to the GPU runs asynchronously from it.
            ids_t, mask_t = ids_t.pin_memory(), mask_t.pin_memory()
        return positions, ids_t, mask_t

    def _take_inline(self, texts: list[str], positions: np.ndarray) -> tuple[np.ndarray, Any, Any]:
        try:
            return self._tensors(self._tokenize(texts, positions))
        except Exception as exc:
            raise EmbedderError(f"tokenizing a batch of documents failed: {exc}") from exc

    def _assembled(self, futures: list[Future[Tokenized]]) -> tuple[np.ndarray, Any, Any]:
        """One batch from its pieces, padded to its longest text: the same ids and mask as
        tokenizing the batch at once (padding is on the right, masked out)."""
        try:
            pieces = [future.result() for future in futures]
        except Exception as exc:
            raise EmbedderError(f"tokenizing a batch of documents failed: {exc}") from exc
        if len(pieces) == 1:
            return self._tensors(pieces[0])
        rows = sum(len(positions) for positions, _, _ in pieces)
        width = max(ids.shape[1] for _, ids, _ in pieces)
        ids = np.full((rows, width), self._encoder.pad_id, dtype=np.int64)
        mask = np.zeros((rows, width), dtype=np.bool_)
        row = 0
        for positions, piece_ids, piece_mask in pieces:
            ids[row : row + len(positions), : piece_ids.shape[1]] = piece_ids
            mask[row : row + len(positions), : piece_mask.shape[1]] = piece_mask
            row += len(positions)
        positions = np.concatenate([positions for positions, _, _ in pieces])
        return self._tensors((positions, ids, mask))

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
