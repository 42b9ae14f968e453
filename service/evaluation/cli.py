"""``abstractqa eval answers``: answer quality on a question set, through the real ask path.

Mounted in the ``eval`` group that ``indexer.evaluation.cli`` creates (the indexer cannot
import the service, which answering needs).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any, get_args

from service.settings import BackendName

# (key in the report, label) in the order printed.
_METRICS = (
    ("hit_at_1", "hit@1"),
    ("recall_at_5", "recall@5"),
    ("mrr", "MRR"),
    ("citation_precision", "citation precision"),
    ("supported_share", "supported sentences"),
    ("abstention_accuracy", "abstention accuracy"),
)


def add_commands(eval_commands: Any, parent: argparse.ArgumentParser) -> None:
    answers = eval_commands.add_parser(
        "answers",
        parents=[parent],
        help="hit@1, recall@5, MRR, citations and abstention on a question set",
        description='Ask every question of FILE (JSON Lines of {"question", "gold"}; gold: '
        "paper ids or titles, an empty list when no paper answers it) against the index and "
        "report retrieval, citation, verification and abstention metrics.",
    )
    answers.add_argument("--qa", type=Path, required=True, metavar="FILE")
    answers.add_argument(
        "--backend",
        choices=get_args(BackendName),
        help="answer backend (default: $ABSTRACTQA_ANSWER_BACKEND, else extractive)",
    )
    answers.add_argument("--json", action="store_true", help="print JSON")
    answers.set_defaults(handler=_answers)


def _answers(args: argparse.Namespace) -> int:
    from indexer import EvaluationInputError
    from service.evaluation.answers import evaluate_answers, read_questions, unknown_gold
    from service.runtime.state import ServiceState
    from service.settings import Settings

    try:
        questions = read_questions(args.qa)
    except EvaluationInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    overrides: dict[str, Any] = (
        {"index_dir": Path(args.index_dir)} if getattr(args, "index_dir", None) else {}
    )
    state = ServiceState(Settings(**overrides))
    state.load()  # an unusable index raises an IndexerError, reported by the caller
    try:
        for gold in unknown_gold(state, questions):
            print(f"warning: {args.qa}: gold {gold!r} names no indexed paper", file=sys.stderr)
        report = asyncio.run(evaluate_answers(state, questions, args.backend))
    finally:
        state.close()
    summary = report.summary()
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    print(
        f"{args.qa}: {report.questions} questions "
        f"({report.answerable} answerable, {report.unanswerable} unanswerable)"
    )
    for key, label in _METRICS:
        print(f"  {label:<22}{summary[key]:.3f}")
    print(f"  {'false abstentions':<22}{report.false_abstentions} of {report.answerable}")
    if report.degraded:
        print(f"  {'degraded answers':<22}{report.degraded} (the backend failed; extractive used)")
    return 0
