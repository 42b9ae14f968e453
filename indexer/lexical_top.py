"""A segment's best BM25 rows without scoring every posting (MaxScore, in numpy).

Scoring every posting of every query term was the largest share of a search on a 1,000,000
paper index: common terms have postings in a large share of the papers. A term adds
``weight * impact`` to a paper, its impact ``tf / (norm + tf)`` at most the term's largest. The
terms are scored over the whole segment in descending order of that bound until k papers score
more than all the remaining terms together could add: no paper untouched so far can then reach
the top k. The remaining terms (the longest lists; ~60% of the postings of the bundled questions
on a synthetic CISI and CACM corpus) are added to the candidates only, dropping after each term
those that can no longer reach the k-th best. The survivors' scores are then computed again from
every term in the query's order with ``LexicalIndex.score_weighted``'s float32 arithmetic, so
they equal its scores bit for bit (summing in another order rounds differently). Among equal
scores the lowest rows win (a partition of the full scores picked any of them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# Whether the remaining terms can be skipped is checked only while their postings number at
# least this share of the segment's papers, and again only after scoring that many more: the
# check (a pass over every row's score) costs about as much as scoring that many postings.
_CHECK_SHARE = 1 / 2
# Relative margin for float32 rounding: partial sums are summed in another order than the
# final ones, so a bound may be off by a few units in the last place per term.
_SLACK = 1e-4


@dataclass(frozen=True)
class TermPostings:
    """One query term in one segment: its postings' rows, their impacts ``tf / (norm + tf)``
    (``LexicalIndex.impacts``) and its weight (the idf times the query weight, the very
    object ``score_weighted`` multiplies by, so the arithmetic is the same)."""

    rows: np.ndarray
    impacts: np.ndarray
    weight: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "rows", np.asarray(self.rows))
        object.__setattr__(self, "impacts", np.asarray(self.impacts, dtype=np.float32))


def _contribution(term: TermPostings, at: np.ndarray | slice) -> np.ndarray:
    """``score_weighted``'s ``weight * impacts``, with the same roundings."""
    return term.weight * term.impacts[at]


def _add(scores: np.ndarray, rows: np.ndarray, values: np.ndarray) -> None:
    """``scores[rows] += values`` for distinct ``rows``."""
    gathered = np.take(scores, rows)
    gathered += values
    scores[rows] = gathered


def _kth_best(partial: np.ndarray, k: int) -> float:
    """The k-th best positive score (0 when fewer are positive)."""
    positive = partial[partial > 0]
    n = len(positive)
    return float(np.partition(positive, n - k)[n - k]) if n >= k else 0.0


def best_k(rows: np.ndarray, scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best of ``rows`` by score, the lowest rows first among equal scores (rows
    ascending in, ascending out)."""
    if len(rows) <= k:
        return rows, scores
    kth = np.partition(scores, len(rows) - k)[len(rows) - k]
    above = scores > kth
    tied = np.flatnonzero(scores == kth)[: k - int(above.sum())]
    above[tied] = True
    return rows[above], scores[above]


def segment_top(
    terms: Sequence[TermPostings],
    n: int,
    k: int,
    deleted: np.ndarray,
    allowed: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(rows ascending, their ``score_weighted`` scores) of the segment's ``k`` best papers
    with a positive score, the lowest rows first among equal scores; ``terms`` in query order,
    ``deleted`` rows never returned, and only ``allowed`` rows when given; ``n`` rows in all."""
    if not terms or k <= 0 or n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    if allowed is not None:  # a scope: its rows' scores alone
        rows = np.setdiff1d(allowed, deleted)
        scores = _exact(terms, rows)
        return best_k(rows[scores > 0], scores[scores > 0], k)
    prunable = all(float(t.weight) > 0 for t in terms)
    bounds = [_bound(t) for t in terms]
    order = list(range(len(terms)))
    if prunable:
        order.sort(key=lambda i: -bounds[i])
    remaining = sum(bounds)
    left = sum(len(t.rows) for t in terms)  # postings not scored yet
    checked = float("inf")  # postings left at the last check
    partial = np.zeros(n, dtype=np.float32)
    done = 0
    step = n * _CHECK_SHARE
    for i in order:
        term = terms[i]
        if prunable and done and left >= step and checked - left >= step:
            checked = left
            partial[deleted] = 0.0
            # k papers above what the rest could add: no paper untouched so far can catch up
            above = remaining * (1 + _SLACK) / (1 - _SLACK)
            if np.count_nonzero(partial > above) >= k:
                break
        left -= len(term.rows)
        _add(partial, term.rows, _contribution(term, slice(None)))
        remaining -= bounds[i]
        done += 1
    partial[deleted] = 0.0
    if done == len(terms):
        kth = _kth_best(partial, k)
        floor = kth * (1 - _SLACK) if kth > 0 else float(np.nextafter(np.float32(0), 1))
        candidates = np.flatnonzero(partial >= floor)
        if order == sorted(order):  # summed in the query's order: these are the scores
            return best_k(candidates, partial[candidates], k)
    else:
        candidates = _narrow(terms, order[done:], bounds, partial, above, remaining, k)
    return best_k(candidates, _exact(terms, candidates), k)


def _bound(term: TermPostings) -> float:
    """At most this much can ``term`` add to a paper's score."""
    if not len(term.impacts):
        return 0.0
    return float(term.weight) * float(np.max(term.impacts))


def _narrow(
    terms: Sequence[TermPostings],
    left: list[int],
    bounds: list[float],
    partial: np.ndarray,
    above: float,
    remaining: float,
    k: int,
) -> np.ndarray:
    """The rows that may still be among the ``k`` best once the ``left`` terms (not scored
    yet, ``remaining`` their bounds' sum) are added: each term is added to the candidates
    only, and after each those that cannot reach the k-th best any more are dropped (at least
    ``k`` partial scores exceed ``above``, so the k-th best is among those)."""
    kth = _kth_best(partial[partial > above], k)
    candidates = np.flatnonzero(partial >= kth * (1 - _SLACK) - remaining * (1 + _SLACK))
    scores = partial[candidates]
    for i in left:
        term = terms[i]
        hit, at = find_rows(term.rows, candidates)
        scores[hit] += _contribution(term, at)
        remaining -= bounds[i]
        kth = _kth_best(scores, k)
        keep = scores >= kth * (1 - _SLACK) - max(remaining, 0.0) * (1 + _SLACK)
        candidates, scores = candidates[keep], scores[keep]
    return candidates


def find_rows(rows: np.ndarray, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(a mask of the ``wanted`` rows found in the ascending ``rows``, their positions)."""
    if not len(rows):
        return np.zeros(len(wanted), dtype=bool), np.zeros(0, np.int64)
    # Searched with the rows' own type: with another, numpy copies all of ``rows`` first.
    at = np.minimum(np.searchsorted(rows, wanted.astype(rows.dtype, copy=False)), len(rows) - 1)
    hit = np.asarray(rows[at]) == wanted
    return hit, at[hit]


def _exact(terms: Sequence[TermPostings], rows: np.ndarray) -> np.ndarray:
    """The scores of ``rows`` (ascending) summed over ``terms`` in order."""
    scores = np.zeros(len(rows), dtype=np.float32)
    for term in terms:
        hit, at = find_rows(term.rows, rows)
        scores[hit] += _contribution(term, at)
    return scores
