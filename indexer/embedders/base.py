"""The embedder interface: numpy batch methods over one method a backend implements.

Subclasses implement ``_embed(texts, kind)``, returning an L2-normalised float32 matrix;
cosine similarity is then the inner product FAISS computes. A plain ABC (no llama-index base
class): nothing calls llama-index's embedding methods, and the torch path must import without
llama-index or pydantic (``benchmarks/bench_gpu_embed.py`` runs on a machine that has neither).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import Literal

import numpy as np

TextKind = Literal["query", "document"]


def normalise(vectors: np.ndarray) -> np.ndarray:
    """Scale each row to unit length (rows of zeros stay zero)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim == 1:
        vectors = vectors[np.newaxis, :]
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(vectors / norms, dtype=np.float32)


class Embedder(ABC):
    """An embedding model the index is built with.

    ``name`` identifies the model in the index manifest (opening an index built with another
    name fails); ``dimension`` is the vector size. ``model_name`` is the model as configured
    and ``embed_batch_size`` the texts it embeds at once.
    """

    def __init__(self, *, model_name: str, embed_batch_size: int = 64) -> None:
        self.model_name = model_name
        self.embed_batch_size = embed_batch_size

    @property
    @abstractmethod
    def name(self) -> str:
        """Stable identity, e.g. ``sentence-transformers:all-MiniLM-L6-v2``."""

    @property
    @abstractmethod
    def dimension(self) -> int:
        """Length of each vector."""

    @property
    def max_input_tokens(self) -> int | None:
        """How many of its own tokens the model reads of one text (special tokens excluded),
        or None when unknown."""
        return None

    def release(self) -> None:
        """Stop what the embedder keeps running between calls (tokenizer processes); a later
        call starts it again. A build calls it when it ends, so that a long-running server
        that indexes does not hold them idle. Here: nothing runs between calls."""
        return None

    @property
    def call_texts(self) -> int:
        """Documents per ``embed_document_batches`` call below which the backend loses speed
        to the call's start and end (0: none): ``index add`` gathers blocks up to it."""
        return 0

    def count_tokens_many(self, texts: list[str]) -> list[int] | None:
        """Lengths in the model's own tokens (special tokens excluded), or None when unknown."""
        return None

    @abstractmethod
    def _embed(self, texts: list[str], kind: TextKind) -> np.ndarray:
        """Embed ``texts``; return an (n, dimension) float32 matrix of unit rows."""

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return self._embed(texts, "document")

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return self._embed(texts, "query")

    def embed_document_batches(self, texts: list[str]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Embed ``texts`` batch by batch, as each batch is done: ``(positions, vectors)`` with
        ``vectors[j]`` the vector of ``texts[positions[j]]``. Every position comes once; a
        caller checkpoints each batch as it arrives. Here: ``embed_batch_size`` texts at a time,
        in the order given; a backend that overlaps its stages yields them in its own order."""
        step = max(1, self.embed_batch_size)
        for start in range(0, len(texts), step):
            positions = np.arange(start, min(start + step, len(texts)))
            yield positions, self.embed_documents(texts[start : start + step])
