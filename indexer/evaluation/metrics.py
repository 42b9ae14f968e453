"""Ranking metrics of one query, with the semantics of trec_eval / pytrec_eval (as BEIR uses).

``ranked`` is the system's ranking of document ids, best first; ``qrels`` maps judged document
ids to their graded relevance. A document is relevant when its grade is > 0 (trec_eval's
default relevance level 1); ungraded or 0-graded documents gain nothing. A query whose
judgements hold no relevant document scores 0 on every metric (trec_eval does the same).

- nDCG@k uses *linear* gains: DCG = sum over ranks i <= k of rel_i / log2(i + 1), divided by
  the DCG of the ideal ordering of all judged documents. This is trec_eval's ``ndcg_cut``
  (what BEIR reports), not the exponential 2^rel - 1 variant; with 0/1 grades they agree.
- AP@k (``map_cut``): the precision at the rank of each relevant document retrieved within
  the first k, summed and divided by the number of relevant documents in the qrels, retrieved
  or not.
- Recall@k: relevant documents in the first k over all relevant documents.
- MRR@k: 1 / the rank of the first relevant document within the first k, else 0.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence


def _relevant(qrels: Mapping[str, int]) -> set[str]:
    return {doc for doc, grade in qrels.items() if grade > 0}


def dcg(gains: Sequence[float]) -> float:
    """Discounted cumulative gain of gains listed by rank (rank 1 first)."""
    return sum(gain / math.log2(rank + 1) for rank, gain in enumerate(gains, start=1))


def ndcg_at_k(ranked: Sequence[str], qrels: Mapping[str, int], k: int) -> float:
    ideal = dcg(sorted((g for g in qrels.values() if g > 0), reverse=True)[:k])
    if ideal == 0:
        return 0.0
    return dcg([max(qrels.get(doc, 0), 0) for doc in ranked[:k]]) / ideal


def average_precision_at_k(ranked: Sequence[str], qrels: Mapping[str, int], k: int) -> float:
    relevant = _relevant(qrels)
    if not relevant:
        return 0.0
    found, total = 0, 0.0
    for rank, doc in enumerate(ranked[:k], start=1):
        if doc in relevant:
            found += 1
            total += found / rank
    return total / len(relevant)


def recall_at_k(ranked: Sequence[str], qrels: Mapping[str, int], k: int) -> float:
    relevant = _relevant(qrels)
    if not relevant:
        return 0.0
    return len(relevant.intersection(ranked[:k])) / len(relevant)


def mrr_at_k(ranked: Sequence[str], qrels: Mapping[str, int], k: int) -> float:
    relevant = _relevant(qrels)
    return next((1.0 / rank for rank, doc in enumerate(ranked[:k], 1) if doc in relevant), 0.0)
