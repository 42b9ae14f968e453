"""``abstractqa eval retrieval``: the retrieval metrics of a BEIR collection, per search mode.

``add_commands`` creates the ``eval`` command group and returns its sub-commands, so the
service can add ``eval answers`` (which needs the service) next to it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from indexer.config import SEARCH_MODES, IndexerSettings, SearchMode

MAX_DEPTH = 1000


def add_commands(commands: Any, parent: argparse.ArgumentParser) -> Any:
    """Add the ``eval`` group with ``eval retrieval``; returns the group's sub-commands."""
    group = commands.add_parser("eval", help="measure retrieval and answer quality")
    sub = group.add_subparsers(dest="eval_command", required=True, metavar="COMMAND")
    retrieval = sub.add_parser(
        "retrieval",
        help="nDCG@10, MAP@100, Recall@100 and MRR@10 on a BEIR collection",
        description="Index DIR/corpus.jsonl into a temporary index (or use --index), run "
        "DIR/queries.jsonl and average nDCG@10 (graded by the qrels score), MAP@k, Recall@k "
        "and MRR@10 over the queries judged in DIR/qrels/test.tsv.",
    )
    retrieval.add_argument("--beir", type=Path, required=True, metavar="DIR")
    retrieval.add_argument(
        "--mode",
        choices=(*SEARCH_MODES, "all"),
        default="hybrid",
        help="search mode to evaluate, or all of them (default: hybrid)",
    )
    retrieval.add_argument(
        "--index",
        type=Path,
        metavar="DIR",
        help="an existing index of DIR/corpus.jsonl (default: build a temporary one)",
    )
    retrieval.add_argument(
        "--k", type=int, default=100, help="papers retrieved per query: MAP@k, R@k (default 100)"
    )
    retrieval.add_argument("--json", action="store_true", help="print JSON")
    retrieval.set_defaults(handler=_retrieval)
    return sub


def _retrieval(args: argparse.Namespace) -> int:
    from indexer.evaluation.beir import EvaluationInputError, load_beir, run_beir
    from indexer.progress import Progress

    if not 10 <= args.k <= MAX_DEPTH:
        print(f"error: --k must be between 10 and {MAX_DEPTH}", file=sys.stderr)
        return 2
    modes: tuple[SearchMode, ...] = SEARCH_MODES if args.mode == "all" else (args.mode,)
    progress = Progress()
    try:
        beir = load_beir(args.beir)
        result = run_beir(
            beir, IndexerSettings(), None, modes, args.k, index_dir=args.index, progress=progress
        )
    except EvaluationInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for warning in result["warnings"]:
        progress.log(f"warning: {warning}")
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(format_table(result, args.k, args.beir))
    return 0


def format_table(result: dict[str, Any], k: int, root: Path) -> str:
    from indexer.evaluation.beir import metric_names

    names = metric_names(k)
    timing = result["timing"]
    lines = [
        f"{root}: {result['documents']} documents, {result['queries']} judged queries",
        f"{'mode':<8}" + "".join(f"{n:>9}" for n in names) + f"{'seconds':>9}",
    ]
    for mode, values in result["modes"].items():
        seconds = timing[mode] + (timing.get("embed_queries", 0.0) if mode != "bm25" else 0.0)
        lines.append(
            f"{mode:<8}" + "".join(f"{values[n]:>9.3f}" for n in names) + f"{seconds:>9.1f}"
        )
    setup = (
        f"indexing {timing['index']:.1f} s"
        if "index" in timing
        else f"opening the index {timing['open_index']:.1f} s"
    )
    embed = (
        f", query encoding {timing['embed_queries']:.1f} s (in the dense and hybrid times)"
        if "embed_queries" in timing
        else ""
    )
    lines.append(f"total {result['seconds']:.1f} s: {setup}{embed}")
    return "\n".join(lines)
