"""Answer quality on the development sets of the bundled corpus (data/dev/).

Builds (or opens, with --index-dir) an index of data/daily-papers.txt, runs every question of
data/dev/questions.jsonl through search and the extractive /v1/ask path in-process, and
reports hit@1, recall@5, MRR, citation precision, supported share and abstention accuracy;
then the range of abstention thresholds that separate answerable from unanswerable
questions, and the citation-verification threshold fitted on
data/dev/claims.jsonl. Writes benchmarks/results/answers.json (the committed reference of the
quality guard, tests/service/test_answer_quality.py).

    .venv/bin/python benchmarks/bench_answers.py [--index-dir DIR] [--json] [--no-write]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _answers import ROOT, bundled_state
from _results import record, write_document


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--index-dir", type=Path, help="an index of data/daily-papers.txt (default: build one)"
    )
    parser.add_argument("--questions", type=Path, default=ROOT / "data/dev/questions.jsonl")
    parser.add_argument("--claims", type=Path, default=ROOT / "data/dev/claims.jsonl")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--no-write", action="store_true", help="do not write the results file")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))

    from indexer import read_json_objects
    from service.answering.abstain import IDF_POWER, PREFIX
    from service.evaluation.answers import (
        accuracy,
        best_threshold,
        claim_similarities,
        evaluate_answers,
        read_questions,
    )

    questions = read_questions(args.questions)
    with bundled_state(args.index_dir) as state:
        settings = state.settings
        report = asyncio.run(evaluate_answers(state, questions))
        pairs = claim_similarities(
            state, read_json_objects(args.claims, "claim, paper_id and supported")
        )
    highest_unanswerable = max(
        (r.answerability for r in report.results if not r.gold), default=None
    )
    lowest_answerable = min((r.answerability for r in report.results if r.gold), default=None)
    separable = (
        highest_unanswerable is not None
        and lowest_answerable is not None
        and highest_unanswerable < lowest_answerable
    )
    fitted, fitted_accuracy = best_threshold(pairs)
    out: dict[str, Any] = {
        "answers": report.summary(),
        "abstention": {
            "threshold": settings.answering.abstain_min_score,
            "coverage_weight": settings.answering.abstain_coverage_weight,
            "idf_power": IDF_POWER,
            "prefix": PREFIX,
            # Thresholds above the first and up to the second abstain exactly when they should.
            "perfect_range": [highest_unanswerable, lowest_answerable] if separable else None,
            "max_unanswerable": highest_unanswerable,
            "min_answerable": lowest_answerable,
        },
        "verification": {
            "claims": len(pairs),
            "threshold": settings.answering.support_min_similarity,
            "accuracy": accuracy(pairs, settings.answering.support_min_similarity),
            "fitted_threshold": fitted,
            "fitted_accuracy": fitted_accuracy,
        },
        "misses": [
            {
                "question": r.question,
                "gold": r.gold,
                "top": r.ranked[:3],
                "abstained": r.abstained,
                "answerability": round(r.answerability, 3),
            }
            for r in report.results
            if (r.gold and (not r.ranked or r.ranked[0] not in r.gold or r.abstained))
            or (not r.gold and not r.abstained)
        ],
    }
    if not args.no_write:
        result = record(
            "answers",
            params={
                "questions": _shown(args.questions),
                "claims": _shown(args.claims),
                "backend": settings.answering.answer_backend,
                "top_k": settings.retrieval.ask_top_k,
                "abstention": {k: v for k, v in out["abstention"].items() if k in _SETTINGS},
                "support_min_similarity": settings.answering.support_min_similarity,
            },
            metrics={
                "answers": out["answers"],
                "abstention_scores": {
                    k: v for k, v in out["abstention"].items() if k not in _SETTINGS
                },
                "verification": out["verification"],
            },
            samples=[
                {
                    "id": item.get("id"),
                    "abstained": r.abstained,
                    "answerability": round(r.answerability, 4),
                    "top": r.ranked[:3],
                    "cited": r.cited,
                }
                for item, r in zip(questions, report.results, strict=True)
            ],
        )
        print(f"wrote {write_document(result).relative_to(ROOT)}", file=sys.stderr)
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    a = out["answers"]
    print(
        f"questions: {a['questions']} "
        f"({a['answerable']} answerable, {a['unanswerable']} unanswerable)"
    )
    for key in (
        "hit_at_1",
        "recall_at_5",
        "mrr",
        "citation_precision",
        "supported_share",
        "abstention_accuracy",
    ):
        print(f"  {key:20s} {a[key]:.3f}")
    print(f"  {'false_abstentions':20s} {a['false_abstentions']}")
    ab = out["abstention"]
    print(
        f"abstention threshold {ab['threshold']} (weight {ab['coverage_weight']}); "
        f"max unanswerable {ab['max_unanswerable']:.3f}, "
        f"min answerable {ab['min_answerable']:.3f}; "
        f"perfect range {ab['perfect_range']}"
    )
    v = out["verification"]
    print(
        f"verification: {v['claims']} claims; "
        f"threshold {v['threshold']} accuracy {v['accuracy']:.3f}; "
        f"fitted {v['fitted_threshold']:.3f} accuracy {v['fitted_accuracy']:.3f}"
    )
    for miss in out["misses"]:
        print(f"  miss: {miss}")
    return 0


_SETTINGS = {"threshold", "coverage_weight", "idf_power", "prefix"}


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


if __name__ == "__main__":
    sys.exit(main())
