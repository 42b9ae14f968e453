"""Pluggable embedders; ``build_embedder(settings)`` picks one by ``settings.embedding.mode``.

Names resolve on first use (PEP 562): importing a backend module (``indexer.embedders.local``)
does not import the factory and with it the settings (pydantic-settings).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from indexer.embedders.base import Embedder, normalise
    from indexer.embedders.factory import build_embedder

__all__ = ["Embedder", "build_embedder", "normalise"]

_WHERE = {
    "Embedder": "indexer.embedders.base",
    "normalise": "indexer.embedders.base",
    "build_embedder": "indexer.embedders.factory",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
