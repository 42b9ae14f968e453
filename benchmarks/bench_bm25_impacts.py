"""BM25 with and without remembered impacts (``indexer/lexical_impacts.py``) on a built index:
each bundled question's top 100 per segment, the segments searched as the server searches them;
writes benchmarks/results/<name>.json.

    .venv/bin/python benchmarks/bench_bm25_impacts.py \
        --index-dir /tmp/abstractqa-corpus-scale/n1000000/index --name bm25_impacts_1m

Per round, three passes over the questions, the first two in alternating order so that the
machine's drift falls on both: computed (the cache off), first use (the cache on and empty at
the pass's start: a question's terms that no earlier question of the pass had are computed and
stored, the others read, as on a server that has just started) and remembered (the same
questions again: every term read). The indexes must return the same rows and scores bit for
bit; the run fails otherwise.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import write_results
from _server import questions

from indexer import AnnParams, open_index
from indexer.lexical import LexicalIndex

K = 100  # a hybrid search's BM25 depth


def timed(index: LexicalIndex, texts: list[str]) -> tuple[list[float], list]:
    times, found = [], []
    for text in texts:
        started = time.perf_counter()
        found.append(index.top(text, K))
        times.append((time.perf_counter() - started) * 1000)
    return times, found


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--index-dir", type=Path, required=True)
    parser.add_argument("--cache-mb", type=int, default=AnnParams().impact_cache_mb)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--name", default="bm25_impacts")
    args = parser.parse_args()
    version = open_index(args.index_dir, hashes=False)
    segments = version.segments
    postings = [s.postings for s in segments]
    threshold = version.params.parallel_min_rows
    texts = list(dict.fromkeys(questions()))
    computed_ms: list[float] = []
    first_ms: list[float] = []
    remembered_ms: list[float] = []
    remembered_bytes = 0
    for round_ in range(args.rounds):
        plain = LexicalIndex(segments, postings, threshold, 0)
        cached = LexicalIndex(segments, postings, threshold, args.cache_mb << 20)
        if round_ == 0:
            timed(plain, texts[:10])  # the kernels' first calls and the postings' pages
        order = ["computed", "cached"] if round_ % 2 == 0 else ["cached", "computed"]
        results = {}
        for kind in order:
            if kind == "computed":
                times, results[kind] = timed(plain, texts)
                computed_ms += times
            else:
                times, results[kind] = timed(cached, texts)
                first_ms += times
                times, again = timed(cached, texts)
                remembered_ms += times
                remembered_bytes = cached.impacts.remembered_bytes
                results["again"] = again
        for kind in ("cached", "again"):
            for want, got in zip(results["computed"], results[kind], strict=True):
                for (rows_a, scores_a), (rows_b, scores_b) in zip(want, got, strict=True):
                    if not (np.array_equal(rows_a, rows_b) and np.array_equal(scores_a, scores_b)):
                        raise SystemExit(f"{kind}: results differ from computing every impact")
    metrics = {
        "papers": sum(s.n_papers for s in segments),
        "segments": len(segments),
        "questions": len(texts),
        "p50_ms": {
            "computed": statistics.median(computed_ms),
            "first_use": statistics.median(first_ms),
            "remembered": statistics.median(remembered_ms),
        },
        "remembered_mb": remembered_bytes / 2**20,
        "same_results": True,
    }
    samples = {"computed": computed_ms, "first_use": first_ms, "remembered": remembered_ms}
    params = {"index_dir": str(args.index_dir), "cache_mb": args.cache_mb, "rounds": args.rounds}
    path = write_results(args.name, params=params, metrics=metrics, samples=samples)
    print(metrics)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
