"""The embedder interface: llama-index's ``BaseEmbedding`` plus numpy batch methods.

Subclasses implement one method, ``_embed(texts, kind)``, returning an L2-normalised float32
matrix; cosine similarity is then the inner product FAISS computes.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Literal

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding

TextKind = Literal["query", "document"]


def normalise(vectors: np.ndarray) -> np.ndarray:
    """Scale each row to unit length (rows of zeros stay zero)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim == 1:
        vectors = vectors[np.newaxis, :]
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(vectors / norms, dtype=np.float32)


class Embedder(BaseEmbedding):
    """An embedding model the index is built with.

    ``name`` identifies the model in the index manifest (opening an index built with another
    name fails); ``dimension`` is the vector size.
    """

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

    # llama-index's interface, on top of the numpy methods.
    def _get_query_embedding(self, query: str) -> Embedding:
        return self.embed_queries([query])[0].tolist()

    async def _aget_query_embedding(self, query: str) -> Embedding:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> Embedding:
        return self.embed_documents([text])[0].tolist()

    def _get_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return self.embed_documents(list(texts)).tolist()
