"""A real embedder that counts what it is asked to embed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import PrivateAttr

from indexer.embedders.base import Embedder, TextKind


class CountingEmbedder(Embedder):
    """Delegates to a real embedder and records every document text it embeds."""

    _inner: Any = PrivateAttr()
    _name: str = PrivateAttr()
    _embedded: list[str] = PrivateAttr()

    def __init__(self, inner: Embedder, name: str | None = None) -> None:
        super().__init__(model_name=inner.model_name)
        self._inner = inner
        self._name = name or inner.name
        self._embedded = []

    @property
    def embedded(self) -> list[str]:
        return self._embedded

    @property
    def name(self) -> str:
        return self._name

    @property
    def dimension(self) -> int:
        return self._inner.dimension

    @property
    def max_input_tokens(self) -> int | None:
        return self._inner.max_input_tokens

    def count_tokens_many(self, texts: list[str]) -> list[int] | None:
        return self._inner.count_tokens_many(texts)

    def _embed(self, texts: list[str], kind: TextKind) -> np.ndarray:
        if kind == "document":
            self._embedded.extend(texts)
        return self._inner._embed(texts, kind)


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path
