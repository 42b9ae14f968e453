"""Abstention parameters chosen by cross-validation on the bundled dev question set.

Builds (or opens, with --index-dir) an index of data/daily-papers.txt and retrieves every
question of data/dev/questions.jsonl as /v1/ask does. Then, for k stratified folds (fixed
seed), it chooses the threshold, coverage weight, IDF power and prefix length on the other
folds (service/answering/tuning.py) and counts abstentions in the held-out fold. Reported: the
pooled held-out abstention accuracy (unanswerable questions) and false-abstention rate
(answerable ones) with Wilson 95% intervals, beside the in-sample rates of the setting chosen
on all questions and of the service's current defaults. Writes
benchmarks/results/cv_abstention.json.

    .venv/bin/python benchmarks/cv_abstention.py [--index-dir DIR] [--folds 5] [--seed 13]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import asdict
from pathlib import Path

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
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument(
        "--compare",
        action="append",
        default=[],
        metavar="THRESHOLD:WEIGHT:POWER:PREFIX",
        help="also report this setting's rates on all questions (repeatable)",
    )
    parser.add_argument(
        "--unseen-from",
        metavar="ID",
        help="also report the compared settings on the questions from this id on (those "
        "written after the settings were chosen: a held-out check of them)",
    )
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))

    from service.answering.abstain import IDF_POWER, PREFIX
    from service.answering.tuning import (
        Setting,
        choose,
        count,
        cross_validate,
        grid,
        score,
        score_grid,
    )
    from service.evaluation.answers import abstention_cases, evaluate_answers, read_questions

    questions = read_questions(args.questions)
    with bundled_state(args.index_dir) as state:
        settings = state.settings
        served = asyncio.run(evaluate_answers(state, questions))
        cases = abstention_cases(state, questions)

    current = Setting(settings.answering.abstain_coverage_weight, IDF_POWER, PREFIX)
    # The offline scores must be the service's own, or the chosen parameters mean nothing.
    for item, case, result in zip(questions, cases, served.results, strict=True):
        if abs(score(case, current) - result.answerability) > 1e-3:
            raise SystemExit(
                f"{item.get('id', item['question'])}: offline answerability "
                f"{score(case, current):.4f} differs from the service's {result.answerability:.4f}"
            )

    labels = [case.answerable for case in cases]
    settings_grid = grid()
    scored = score_grid(cases, settings_grid)
    scored.setdefault(current, [score(case, current) for case in cases])
    everything = list(range(len(cases)))
    cv = cross_validate(scored, labels, args.folds, args.seed)
    chosen = choose(scored, labels, everything)
    in_sample = count(scored[chosen.setting], labels, everything, chosen.threshold)
    defaults = count(scored[current], labels, everything, settings.answering.abstain_min_score)
    ids = [item.get("id") for item in questions]
    unseen = everything[ids.index(args.unseen_from) :] if args.unseen_from in ids else []
    compared = []
    for spec in args.compare:
        threshold, weight, power, prefix = spec.split(":")
        setting = Setting(float(weight), float(power), int(prefix))
        scores = scored.get(setting) or [score(case, setting) for case in cases]
        entry = asdict(setting) | {"threshold": float(threshold)}
        entry["all"] = count(scores, labels, everything, float(threshold)).rates()
        if unseen:
            entry["unseen_from"] = args.unseen_from
            entry["unseen"] = count(scores, labels, unseen, float(threshold)).rates()
        compared.append(entry)

    result = record(
        "cv_abstention",
        params={
            "questions": str(args.questions.relative_to(ROOT))
            if args.questions.is_relative_to(ROOT)
            else str(args.questions),
            "answerable": sum(labels),
            "unanswerable": len(labels) - sum(labels),
            "folds": args.folds,
            "seed": args.seed,
            "objective": "balanced accuracy; ties: widest threshold gap, then grid order",
            "grid": {
                "coverage_weight": sorted({s.coverage_weight for s in settings_grid}),
                "idf_power": sorted({s.idf_power for s in settings_grid}),
                "prefix": sorted({s.prefix for s in settings_grid}),
                "threshold": "midpoints between neighbouring training scores",
            },
            "current_defaults": asdict(current)
            | {"threshold": settings.answering.abstain_min_score},
        },
        metrics={
            "held_out": cv.held_out.rates(),
            "in_sample_chosen_on_all": chosen.as_dict() | in_sample.rates(),
            "in_sample_current_defaults": defaults.rates(),
            "compared": compared,
        },
        samples={
            "folds": cv.folds,
            "questions": [
                {
                    "id": item.get("id"),
                    "answerable": case.answerable,
                    "answerability": round(scored[current][i], 4),
                    "answerability_chosen": round(scored[chosen.setting][i], 4),
                }
                for i, (item, case) in enumerate(zip(questions, cases, strict=True))
            ],
        },
    )
    print(json.dumps(result["metrics"], indent=2))
    for fold in cv.folds:
        print(json.dumps(fold))
    if not args.no_write:
        print(f"wrote {write_document(result).relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
