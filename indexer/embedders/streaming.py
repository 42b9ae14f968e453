"""Document vectors batch by batch, in order, so each batch is checkpointed as it arrives.

An in-process embedder is called once per batch. An embedder that runs elsewhere (a Ray
cluster) takes all the texts of a block at once, to keep its workers busy, and yields their
vectors batch by batch as the workers finish them: the build still checkpoints each batch, and
the time it waits for the next one is the time it waits on the embedder.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol, runtime_checkable

import numpy as np

from indexer.embedders.base import Embedder


@runtime_checkable
class StreamingEmbedder(Protocol):
    def stream_documents(self, texts: list[str], batch_size: int) -> Iterator[np.ndarray]:
        """The vectors of ``texts`` in their order, in consecutive batches of any size."""
        ...


def document_batches(embedder: Embedder, texts: list[str], batch_size: int) -> Iterator[np.ndarray]:
    """Vectors of ``texts``, in order, as consecutive row batches."""
    if isinstance(embedder, StreamingEmbedder):
        yield from embedder.stream_documents(texts, batch_size)
        return
    for begin in range(0, len(texts), batch_size):
        yield np.asarray(embedder.embed_documents(texts[begin : begin + batch_size]))
