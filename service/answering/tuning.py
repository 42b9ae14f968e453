"""Choosing the abstention parameters by cross-validation over a question set.

A question's answerability is the best, over its retrieved papers, of dense relevance plus
``coverage_weight`` x the IDF^``idf_power``-weighted share of its terms the paper contains
(terms sharing ``prefix`` letters count as one; answering/abstain.py); the service abstains
below ``threshold``. Retrieval does not depend on these parameters, so each question is
retrieved once (a ``Case``) and every parameter setting is scored offline.

``choose`` picks the setting with the best balanced accuracy (the mean of the abstention rate
on unanswerable questions and the answer rate on answerable ones, so that neither class
dominates by its size); among equals, the threshold with the widest gap to the scores either
side of it, then the first setting in grid order (the smallest weight, power and prefix), so
that the choice never depends on the defaults it may replace. ``cross_validate`` chooses on k-1
folds and counts on the held-out one; ``wilson`` gives the 95% interval of a pooled rate.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from indexer import Paper
from service.answering.abstain import answerability, coverage

COVERAGE_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5)
IDF_POWERS = (1.0, 2.0, 3.0)
PREFIXES = (0, 4, 5, 6, 7)  # 0: exact stems only


@dataclass(frozen=True)
class Case:
    """One question as the answer path sees it before abstaining."""

    answerable: bool
    weights: dict[str, float]  # the question's terms and their IDF
    hits: list[tuple[float, Paper]]  # the retrieved papers with their dense relevance


@dataclass(frozen=True)
class Setting:
    coverage_weight: float
    idf_power: float
    prefix: int


@dataclass(frozen=True)
class Choice:
    setting: Setting
    threshold: float
    balanced_accuracy: float  # on the questions it was chosen on
    margin: float  # the gap between the scores either side of the threshold

    def as_dict(self) -> dict[str, Any]:
        return asdict(self.setting) | {
            "threshold": self.threshold,
            "balanced_accuracy": self.balanced_accuracy,
            "margin": self.margin,
        }


@dataclass
class Counts:
    """Abstentions among answerable and unanswerable questions."""

    unanswerable: int = 0
    abstained_unanswerable: int = 0
    answerable: int = 0
    abstained_answerable: int = 0

    def add(self, other: Counts) -> None:
        self.unanswerable += other.unanswerable
        self.abstained_unanswerable += other.abstained_unanswerable
        self.answerable += other.answerable
        self.abstained_answerable += other.abstained_answerable

    def rates(self) -> dict[str, Any]:
        """Abstention accuracy on unanswerable and false-abstention rate on answerable
        questions, each with its Wilson 95% interval."""
        return {
            "abstention_accuracy": _rate(self.abstained_unanswerable, self.unanswerable),
            "false_abstention_rate": _rate(self.abstained_answerable, self.answerable),
        } | asdict(self)


@dataclass
class CrossValidation:
    folds: list[dict[str, Any]] = field(default_factory=list)
    held_out: Counts = field(default_factory=Counts)


def wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of ``successes``/``n`` (95% for the default z)."""
    if n <= 0:
        raise ValueError("the Wilson interval needs at least one trial")
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def _rate(successes: int, n: int) -> dict[str, Any]:
    if n == 0:
        return {"rate": None, "ci95": None}
    return {"rate": successes / n, "ci95": list(wilson(successes, n))}


def stratified_folds(labels: Sequence[bool], k: int, seed: int) -> list[list[int]]:
    """``k`` folds of indices, each label shuffled (with ``seed``) and dealt round-robin, so
    every fold holds about 1/k of each class."""
    if k < 2:
        raise ValueError(f"cross-validation needs at least 2 folds, got {k}")
    rng = random.Random(seed)
    folds: list[list[int]] = [[] for _ in range(k)]
    dealt = 0
    for label in (True, False):
        members = [i for i, x in enumerate(labels) if x is label]
        rng.shuffle(members)
        for i in members:
            folds[dealt % k].append(i)
            dealt += 1
    return [sorted(fold) for fold in folds]


def score(case: Case, setting: Setting) -> float:
    """The case's answerability under ``setting`` (0 with nothing retrieved, as the service)."""
    return max(
        (
            answerability(
                relevance,
                coverage(case.weights, paper, setting.idf_power, setting.prefix),
                setting.coverage_weight,
            )
            for relevance, paper in case.hits
        ),
        default=0.0,
    )


def grid() -> list[Setting]:
    return [
        Setting(*values) for values in itertools.product(COVERAGE_WEIGHTS, IDF_POWERS, PREFIXES)
    ]


def best_threshold(
    scores: Sequence[float], answerable: Sequence[bool]
) -> tuple[float, float, float]:
    """(threshold, balanced accuracy, margin): the midpoint between neighbouring scores (or just
    outside them) that best separates answerable (score >= threshold) from unanswerable."""
    values = sorted(set(scores))
    cuts = [(values[0] - 0.01, 0.0)]
    cuts += [((a + b) / 2, b - a) for a, b in itertools.pairwise(values)]
    cuts.append((values[-1] + 0.01, 0.0))
    best: tuple[float, float, float] | None = None
    for threshold, margin in cuts:
        accuracy = balanced_accuracy(scores, answerable, threshold)
        if best is None or (accuracy, margin) > (best[1], best[2]):
            best = (threshold, accuracy, margin)
    assert best is not None
    return best


def balanced_accuracy(
    scores: Sequence[float], answerable: Sequence[bool], threshold: float
) -> float:
    rates = []
    for label in (True, False):
        members = [s for s, a in zip(scores, answerable, strict=True) if a is label]
        if members:
            # Answerable questions should be answered (score >= threshold), the others not.
            rates.append(sum((s >= threshold) is label for s in members) / len(members))
    return sum(rates) / len(rates) if rates else 0.0


def choose(
    scored: dict[Setting, list[float]], answerable: Sequence[bool], rows: Sequence[int]
) -> Choice:
    """The best setting and threshold on the questions at ``rows`` (see the module doc)."""
    labels = [answerable[i] for i in rows]
    best: tuple[tuple[float, float], Choice] | None = None
    for setting, scores in scored.items():
        threshold, accuracy, margin = best_threshold([scores[i] for i in rows], labels)
        key = (accuracy, margin)
        if best is None or key > best[0]:
            best = (key, Choice(setting, threshold, accuracy, margin))
    assert best is not None
    return best[1]


def count(
    scores: Sequence[float], answerable: Sequence[bool], rows: Sequence[int], threshold: float
) -> Counts:
    counts = Counts()
    for i in rows:
        abstained = scores[i] < threshold
        if answerable[i]:
            counts.answerable += 1
            counts.abstained_answerable += abstained
        else:
            counts.unanswerable += 1
            counts.abstained_unanswerable += abstained
    return counts


def score_grid(cases: Sequence[Case], settings: Sequence[Setting]) -> dict[Setting, list[float]]:
    return {setting: [score(case, setting) for case in cases] for setting in settings}


def cross_validate(
    scored: dict[Setting, list[float]], answerable: Sequence[bool], k: int, seed: int
) -> CrossValidation:
    """Choose on k-1 folds, count on the held-out one; the held-out counts are pooled."""
    result = CrossValidation()
    for number, fold in enumerate(stratified_folds(answerable, k, seed), 1):
        held = set(fold)
        train = [i for i in range(len(answerable)) if i not in held]
        choice = choose(scored, answerable, train)
        counts = count(scored[choice.setting], answerable, fold, choice.threshold)
        result.held_out.add(counts)
        result.folds.append(
            {
                "fold": number,
                "questions": len(fold),
                "chosen": choice.as_dict(),
                "held_out": asdict(counts),
            }
        )
    return result
