"""Quality guard: the bundled dev questions (data/dev/questions.jsonl) through the real answer
path (the real model, the session's real index of the bundled corpus, search and the extractive
/v1/ask in-process, as benchmarks/bench_answers.py runs them) must answer no worse than the
committed benchmarks/results/answers.json, by more than these margins:

- hit@1 and citation precision: 0.02 (about 3 of the 131 answerable questions, or of ~200
  citations): room for a near-tie between two papers to flip, not for a real regression;
- abstention accuracy: 0.05 (about 2 of the 48 unanswerable questions);
- false abstentions: 2 answerable questions.

A change that improves the numbers should re-run bench_answers.py and commit the new results
file, which then becomes the bar. No timings: speed is for the benchmarks.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from indexer.embedders.base import Embedder
from service.answering.abstain import IDF_POWER, PREFIX
from service.evaluation.answers import AnswerReport, evaluate_answers, read_questions
from service.runtime.state import ServiceState
from service.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
QUESTIONS = ROOT / "data" / "dev" / "questions.jsonl"
REFERENCE = ROOT / "benchmarks" / "results" / "answers.json"

HIT_AT_1_MARGIN = 0.02
CITATION_PRECISION_MARGIN = 0.02
ABSTENTION_ACCURACY_MARGIN = 0.05
FALSE_ABSTENTIONS_MARGIN = 2


@pytest.fixture(scope="module")
def reference() -> dict[str, Any]:
    result: dict[str, Any] = json.loads(REFERENCE.read_text(encoding="utf-8"))
    return result


@pytest.fixture(scope="module")
def report(corpus_index_dir: Path, embedder: Embedder) -> AnswerReport:
    state = ServiceState(Settings(index_dir=corpus_index_dir), embedder)
    state.load()
    try:
        return asyncio.run(evaluate_answers(state, read_questions(QUESTIONS)))
    finally:
        state.close()


def test_the_committed_reference_was_measured_on_this_dev_set_with_the_current_defaults(
    reference: dict[str, Any],
) -> None:
    settings = Settings(index_dir=ROOT / "unused")
    params = reference["params"]
    assert params["questions"] == "data/dev/questions.jsonl"
    assert (
        params["backend"] == settings.answering.answer_backend
        and params["top_k"] == settings.retrieval.ask_top_k
    )
    assert params["abstention"] == {
        "threshold": settings.answering.abstain_min_score,
        "coverage_weight": settings.answering.abstain_coverage_weight,
        "idf_power": IDF_POWER,
        "prefix": PREFIX,
    }, "the abstention defaults changed: re-run benchmarks/bench_answers.py"
    answers = reference["metrics"]["answers"]
    questions = read_questions(QUESTIONS)
    assert answers["questions"] == len(questions), "the dev set changed: re-run bench_answers.py"
    assert answers["unanswerable"] == sum(1 for q in questions if not q["gold"])


def test_answer_quality_on_the_dev_set_is_no_worse_than_the_committed_results(
    report: AnswerReport, reference: dict[str, Any]
) -> None:
    bar = reference["metrics"]["answers"]
    regressions = []
    for metric, margin in (
        ("hit_at_1", HIT_AT_1_MARGIN),
        ("citation_precision", CITATION_PRECISION_MARGIN),
        ("abstention_accuracy", ABSTENTION_ACCURACY_MARGIN),
    ):
        measured = getattr(report, metric)
        if measured < bar[metric] - margin:
            regressions.append(f"{metric} {measured:.3f} < {bar[metric]:.3f} - {margin}")
    if report.false_abstentions > bar["false_abstentions"] + FALSE_ABSTENTIONS_MARGIN:
        regressions.append(
            f"false_abstentions {report.false_abstentions} > "
            f"{bar['false_abstentions']} + {FALSE_ABSTENTIONS_MARGIN}"
        )
    assert not regressions, "answer quality dropped: " + "; ".join(regressions)
    assert report.questions == bar["questions"] and report.degraded == 0
