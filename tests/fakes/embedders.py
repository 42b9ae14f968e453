"""A real embedder that counts what it is asked to embed."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from indexer.embedders.base import Embedder, TextKind


def tokenizer_processes() -> list[int]:
    """This process's children started by multiprocessing's spawn (tokenizer workers)."""
    found = []
    for task in Path(f"/proc/{os.getpid()}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except FileNotFoundError:  # the thread ended meanwhile
            continue
        for child in children:
            try:
                command = Path(f"/proc/{child}/cmdline").read_bytes()
            except FileNotFoundError:  # it ended meanwhile
                continue
            if b"spawn_main" in command:
                found.append(int(child))
    return found


class CountingEmbedder(Embedder):
    """Delegates to a real embedder and records every document text it embeds, and every batch
    of queries."""

    def __init__(self, inner: Embedder, name: str | None = None, call_texts: int = 0) -> None:
        super().__init__(model_name=inner.model_name, embed_batch_size=inner.embed_batch_size)
        self._inner = inner
        self._name = name or inner.name
        self._call_texts = call_texts
        self._embedded: list[str] = []
        self._query_batches: list[list[str]] = []
        self.document_calls: list[int] = []  # texts per embed_document_batches call

    @property
    def call_texts(self) -> int:
        return self._call_texts

    def embed_document_batches(self, texts: list[str]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        self.document_calls.append(len(texts))
        return super().embed_document_batches(texts)

    def release(self) -> None:
        self._inner.release()

    @property
    def embedded(self) -> list[str]:
        return self._embedded

    @property
    def query_batches(self) -> list[list[str]]:
        return self._query_batches

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
        else:
            self._query_batches.append(list(texts))
        return self._inner._embed(texts, kind)


class GatedEmbedder(CountingEmbedder):
    """A ``CountingEmbedder`` whose query batches can be held at a gate (so a test knows which
    queries wait together) and fail on a chosen query, as an unreachable embedding endpoint or a
    broken model would."""

    def __init__(self, inner: Embedder, fail_on: str | None = None, error: Exception | None = None):
        super().__init__(inner)
        self._gate = threading.Event()
        self._gate.set()
        self._arrivals = threading.Condition()
        self._waiting = 0
        self._fail_on: str | None = fail_on
        self._error = error or RuntimeError("the model broke")

    def close_gate(self) -> None:
        self._gate.clear()

    def open_gate(self) -> None:
        self._gate.set()

    def wait_inside(self, batches: int = 1, timeout_s: float = 30.0) -> None:
        """Until ``batches`` query batches wait at the (closed) gate at the same time."""
        with self._arrivals:
            if not self._arrivals.wait_for(lambda: self._waiting >= batches, timeout_s):
                raise TimeoutError(f"{self._waiting} query batches reached the embedder")

    def _embed(self, texts: list[str], kind: TextKind) -> np.ndarray:
        if kind == "query":
            with self._arrivals:
                self._waiting += 1
                self._arrivals.notify_all()
            self._gate.wait(30)
            with self._arrivals:
                self._waiting -= 1
            if self._fail_on is not None and self._fail_on in texts:
                self._query_batches.append(list(texts))
                raise self._error
        return super()._embed(texts, kind)


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path
