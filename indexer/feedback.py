"""Pseudo-relevance feedback: a first pass's best papers taken as relevant to refine the query.

RM3 (lexical): expansion terms weighted by RM1, the relevance model of the feedback papers
(each term's relative frequency in a paper times that paper's share of the first-pass scores),
mixed with the query's own terms. Rocchio (dense): the query vector moved toward the mean of
the feedback papers' best chunk vectors. Both are off by default: see ``Feedback``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from indexer.config import IndexerSettings


@dataclass(frozen=True)
class Feedback:
    """How many first-pass papers feed back into each retriever (0: no feedback), and how.

    ``rm3_terms`` expansion terms are kept; ``rm3_query_weight`` is the original query's share
    of the expanded query. ``rocchio_beta`` is how far the query vector moves toward the mean
    of the feedback vectors (0: not at all, 1: onto it)."""

    rm3_docs: int = 0
    rm3_terms: int = 10
    rm3_query_weight: float = 0.5
    rocchio_docs: int = 0
    rocchio_beta: float = 0.3

    @classmethod
    def from_settings(cls, settings: IndexerSettings) -> Feedback:
        return cls(
            rm3_docs=settings.feedback.rm3_docs,
            rm3_terms=settings.feedback.rm3_terms,
            rm3_query_weight=settings.feedback.rm3_query_weight,
            rocchio_docs=settings.feedback.rocchio_docs,
            rocchio_beta=settings.feedback.rocchio_beta,
        )

    def label(self) -> str:
        """A short name for tables: ``off``, ``rm3 10d/10t/0.5``, ``rocchio 5d/0.3``."""
        parts = []
        if self.rm3_docs:
            parts.append(f"rm3 {self.rm3_docs}d/{self.rm3_terms}t/{self.rm3_query_weight}")
        if self.rocchio_docs:
            parts.append(f"rocchio {self.rocchio_docs}d/{self.rocchio_beta}")
        return " + ".join(parts) or "off"


def rm3_query(
    query_terms: Sequence[str],
    feedback_terms: Sequence[Sequence[str]],
    scores: Sequence[float],
    n_terms: int,
    query_weight: float,
) -> dict[str, float]:
    """The expanded query: term -> weight, summing to 1 (for non-empty input).

    ``feedback_terms``: the tokens of each feedback paper, ``scores`` their first-pass scores
    (positive). The query's own terms keep their relative counts."""
    total = float(sum(scores))
    relevance: dict[str, float] = {}
    for tokens, score in zip(feedback_terms, scores, strict=True):
        if not tokens or total <= 0:
            continue
        share = score / total
        for term, tf in Counter(tokens).items():
            relevance[term] = relevance.get(term, 0.0) + share * tf / len(tokens)
    # Ties broken by term so the expansion does not depend on dict order.
    top = sorted(relevance.items(), key=lambda item: (-item[1], item[0]))[:n_terms]
    top_mass = sum(w for _, w in top)
    counts = Counter(query_terms)
    query_mass = sum(counts.values())
    mixed: dict[str, float] = {}
    if query_mass:
        for term, n in counts.items():
            mixed[term] = query_weight * n / query_mass
    if top_mass > 0:
        rest = 1.0 - query_weight if query_mass else 1.0
        for term, w in top:
            mixed[term] = mixed.get(term, 0.0) + rest * w / top_mass
    return mixed


def rocchio(query_vector: np.ndarray, feedback_vectors: np.ndarray, beta: float) -> np.ndarray:
    """``query_vector`` moved toward the mean of ``feedback_vectors`` by ``beta``, at unit
    length (the index scores by inner product, which is the cosine only for unit vectors)."""
    query = np.asarray(query_vector, dtype=np.float32)
    if len(feedback_vectors) == 0:
        return query
    centroid = np.asarray(feedback_vectors, dtype=np.float32).mean(axis=0)
    moved = (1.0 - beta) * query + beta * centroid
    norm = float(np.linalg.norm(moved))
    return query if norm < 1e-12 else (moved / norm).astype(np.float32)
