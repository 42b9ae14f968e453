"""Score regularisation (Diaz, 2005): a first pass's best papers re-scored by their neighbours.

Relevant papers resemble each other more than they resemble the rest of a ranking (the cluster
hypothesis), so a paper whose nearest neighbours among the top of the ranking also score high
is moved up, and a lone high scorer down. Each of the ``papers`` best fused papers gets
``(1 - weight) * its score + weight * the mean score of its ``neighbours`` most similar papers
among them``. Similarity is a mix of two cosines: of the papers' mean chunk vectors (dense) and
of their tf-idf term vectors over BM25's tokens (lexical), ``lexical_share`` of the latter.
The papers below the first ``papers`` keep their order after them.

Unlike pseudo-relevance feedback it asks no second retrieval pass: the query is not moved, the
candidates are only reordered, which is why it held up on held-out folds of both CISI and CACM
where RM3 and Rocchio did not (docs/benchmarks.md, ``benchmarks/cv_retrieval.py``).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from indexer.config import IndexerSettings


@dataclass(frozen=True)
class Smoothing:
    """How many of the best fused papers are re-scored (0: off), from how many neighbours each,
    with what share of the neighbours' mean score, and how much of the similarity is lexical."""

    papers: int = 0
    neighbours: int = 10
    weight: float = 0.7
    lexical_share: float = 0.5

    @classmethod
    def from_settings(cls, settings: IndexerSettings) -> Smoothing:
        group = settings.feedback
        return cls(
            papers=group.smoothing_papers,
            neighbours=group.smoothing_neighbours,
            weight=group.smoothing_weight,
            lexical_share=group.smoothing_lexical_share,
        )

    @property
    def on(self) -> bool:
        return self.papers > 1 and self.neighbours > 0 and self.weight > 0

    def label(self) -> str:
        """``off`` or ``smooth 50p/10n/0.7/lex0.5`` for tables."""
        if not self.on:
            return "off"
        return f"smooth {self.papers}p/{self.neighbours}n/{self.weight}/lex{self.lexical_share}"


class TokenCache:
    """Papers' BM25 tokens by paper id, the ``size`` most recently used kept: a paper in the top
    of one ranking is often in the next, and tokenizing 50 abstracts cost ~3 ms a search."""

    def __init__(self, size: int = 20_000) -> None:
        self._size = size
        self._tokens: OrderedDict[str, list[str]] = OrderedDict()
        self._lock = threading.Lock()

    def get(
        self, paper_ids: Sequence[str], load: Callable[[list[str]], list[list[str]]]
    ) -> list[list[str]]:
        """The tokens of each of ``paper_ids``; ``load`` tokenizes those not kept."""
        with self._lock:
            found = {p: self._tokens.get(p) for p in paper_ids}
            for p, tokens in found.items():
                if tokens is not None:
                    self._tokens.move_to_end(p)
        missing = [p for p, tokens in found.items() if tokens is None]
        if missing:
            loaded = dict(zip(missing, load(missing), strict=True))
            found.update(loaded)
            with self._lock:
                self._tokens.update(loaded)
                while len(self._tokens) > self._size:
                    self._tokens.popitem(last=False)
        return [found[p] or [] for p in paper_ids]


def term_matrix(tokens: Sequence[Sequence[str]], idf: Mapping[str, float]) -> np.ndarray:
    """One row per paper: its ``(1 + log tf) * idf`` weights over the papers' terms, at unit
    length (a row of zeros for a paper with no known term)."""
    vocabulary: dict[str, int] = {}
    columns = [vocabulary.setdefault(t, len(vocabulary)) for words in tokens for t in words]
    rows = np.repeat(np.arange(len(tokens)), [len(words) for words in tokens])
    width = len(vocabulary)
    cells = rows * width + np.asarray(columns, dtype=np.int64)
    counts = np.bincount(cells, minlength=len(tokens) * width).reshape(len(tokens), width)
    weights = np.array([idf.get(t, 0.0) for t in vocabulary], dtype=np.float32)
    matrix = np.zeros(counts.shape, dtype=np.float32)
    present = counts > 0
    matrix[present] = 1.0 + np.log(counts[present])
    return _unit_rows(matrix * np.maximum(weights, 0.0))


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)


def smooth(
    scores: np.ndarray,
    vectors: np.ndarray | None,
    terms: np.ndarray | None,
    smoothing: Smoothing,
) -> np.ndarray:
    """``scores`` (of ``len(scores)`` papers, best first) re-scored from each paper's
    ``smoothing.neighbours`` most similar others; ``vectors`` and ``terms`` hold one row per
    paper (dense vectors and ``term_matrix`` rows), each needed only while its share of the
    similarity is not 0."""
    n = len(scores)
    if n < 2:
        return np.asarray(scores, dtype=np.float64)
    share = smoothing.lexical_share
    similarity = np.zeros((n, n), dtype=np.float32)
    if share < 1 and vectors is not None:
        dense = _unit_rows(np.asarray(vectors, dtype=np.float32))
        similarity += (1.0 - share) * (dense @ dense.T)
    if share > 0 and terms is not None:
        similarity += share * (terms @ terms.T)
    np.fill_diagonal(similarity, -np.inf)
    k = min(smoothing.neighbours, n - 1)
    # Ties to the better-ranked neighbour, so the result does not depend on the sort's choice.
    nearest = np.argsort(-similarity, axis=1, kind="stable")[:, :k]
    base = np.asarray(scores, dtype=np.float64)
    return (1.0 - smoothing.weight) * base + smoothing.weight * base[nearest].mean(axis=1)
