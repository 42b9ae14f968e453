"""Pluggable embedders; ``build_embedder(settings)`` picks one by ``settings.embedding.mode``."""

from indexer.embedders.base import Embedder, normalise
from indexer.embedders.factory import build_embedder

__all__ = ["Embedder", "build_embedder", "normalise"]
