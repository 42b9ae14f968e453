"""Choosing the abstention parameters by cross-validation: folds, thresholds, intervals."""

from __future__ import annotations

import pytest

from indexer.models import Paper
from service.answering.tuning import (
    Case,
    Setting,
    best_threshold,
    choose,
    count,
    cross_validate,
    score,
    stratified_folds,
    wilson,
)


def test_the_wilson_interval_matches_the_textbook_values() -> None:
    low, high = wilson(40, 48)
    assert low == pytest.approx(0.7042, abs=1e-4) and high == pytest.approx(0.9130, abs=1e-4)
    assert wilson(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert wilson(10, 10) == pytest.approx((0.7225, 1.0), abs=1e-4)
    with pytest.raises(ValueError, match="at least one trial"):
        wilson(0, 0)


def test_stratified_folds_partition_the_questions_and_spread_each_class_evenly() -> None:
    labels = [True] * 23 + [False] * 9
    folds = stratified_folds(labels, 5, seed=13)
    assert sorted(i for fold in folds for i in fold) == list(range(len(labels)))
    for fold in folds:
        assert 1 <= sum(not labels[i] for i in fold) <= 2
        assert 4 <= sum(labels[i] for i in fold) <= 5
    assert folds == stratified_folds(labels, 5, seed=13)
    assert folds != stratified_folds(labels, 5, seed=14)
    with pytest.raises(ValueError, match="at least 2 folds"):
        stratified_folds(labels, 1, seed=13)


def test_the_threshold_is_the_midpoint_of_the_widest_gap_that_separates_the_classes() -> None:
    scores = [0.2, 0.3, 0.45, 0.8, 0.9, 0.95]
    answerable = [False, False, False, True, True, True]
    threshold, accuracy, margin = best_threshold(scores, answerable)
    assert threshold == pytest.approx(0.625) and accuracy == 1.0 and margin == pytest.approx(0.35)


def test_balanced_accuracy_weighs_the_rare_class_as_much_as_the_common_one() -> None:
    # Answering everything is right for 9 of 10 questions but abstains on no unanswerable one.
    scores = [0.9] * 9 + [0.5]
    answerable = [True] * 8 + [False, False]
    threshold, accuracy, _ = best_threshold(scores, answerable)
    assert 0.5 < threshold < 0.9 and accuracy == pytest.approx((1.0 + 0.5) / 2)


def test_choosing_prefers_the_setting_that_separates_and_counts_the_held_out_fold() -> None:
    answerable = [True, True, True, False, False, False]
    good, bad = Setting(0.5, 2.0, 5), Setting(1.0, 1.0, 7)
    scored = {good: [0.9, 0.8, 0.7, 0.3, 0.2, 0.1], bad: [0.9, 0.2, 0.7, 0.8, 0.2, 0.1]}
    choice = choose(scored, answerable, range(6))
    assert choice.setting == good and choice.balanced_accuracy == 1.0
    counts = count(scored[good], answerable, [0, 3, 4], choice.threshold)
    assert (counts.answerable, counts.abstained_answerable) == (1, 0)
    assert (counts.unanswerable, counts.abstained_unanswerable) == (2, 2)


def test_cross_validation_counts_every_question_once_in_a_held_out_fold() -> None:
    answerable = [True] * 20 + [False] * 10
    scores = [0.6 + i / 100 for i in range(20)] + [0.1 + i / 100 for i in range(10)]
    result = cross_validate({Setting(0.5, 2.0, 5): scores}, answerable, 5, seed=13)
    assert len(result.folds) == 5
    held = result.held_out
    assert (held.answerable, held.unanswerable) == (20, 10)
    assert (held.abstained_answerable, held.abstained_unanswerable) == (0, 10)
    rates = held.rates()
    assert rates["abstention_accuracy"]["rate"] == 1.0
    assert rates["false_abstention_rate"]["rate"] == 0.0
    low, high = rates["false_abstention_rate"]["ci95"]
    assert low == 0.0 and 0.1 < high < 0.2


def test_a_case_scores_its_best_paper_by_relevance_plus_weighted_coverage() -> None:
    def paper(title: str, abstract: str) -> Paper:
        return Paper(title.lower(), title, abstract, [abstract], "hash")

    kelp = paper("Kelp forests", "Sea otters protect kelp forests from urchins.")
    other = paper("Coral reefs", "Heatwaves bleach corals.")
    case = Case(True, {"otter": 2.0, "kelp": 1.0, "decline": 1.0}, [(0.6, kelp), (0.7, other)])
    assert score(case, Setting(0.0, 1.0, 0)) == pytest.approx(0.7)
    # IDF to the power 1: otter and kelp hold 3 of the question's 4 units of weight.
    assert score(case, Setting(1.0, 1.0, 0)) == pytest.approx(0.6 + 3 / 4)
    # Squared: 5 of 6.
    assert score(case, Setting(1.0, 2.0, 0)) == pytest.approx(0.6 + 5 / 6)
    assert score(Case(False, {"otter": 1.0}, []), Setting(1.0, 1.0, 5)) == 0.0
