"""Cold start of `abstractqa serve` and its resident memory.

Indexes the bundled corpus once into a temporary directory (or uses --index-dir), then --runs
times: launches `abstractqa serve` in a subprocess and times launch -> first `/readyz` = 200
(polled every 20 ms), reads the server process's RSS (`VmRSS` of /proc/PID/status) at that
moment, sends --queries distinct queries (half `/v1/search`, half extractive `/v1/ask`, from 4
clients) and reads the RSS again. Medians over the runs are reported. `--phases` also times the
steps of loading in one fresh interpreter (imports, model, index), to see where the time goes.

Target (issue 5): launch -> ready <= 5 s on the bundled corpus.

    .venv/bin/python benchmarks/bench_coldstart.py [--runs 5] [--queries 1000] [--phases]
        [--index-dir DIR] [--results-dir DIR]

Writes ``benchmarks/results/coldstart.json`` (medians as metrics, every run as samples).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from itertools import islice
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import RESULTS_DIR, write_results
from _server import ROOT, Server, build_index, distinct_queries, questions, rss_kb, run_load

TARGET_S = 5.0

# Runs in a fresh interpreter: each step of what `abstractqa serve` does before it is ready.
_PHASES = """
import json, sys, time
started = time.perf_counter()
marks = {}
def mark(name):
    global started
    now = time.perf_counter()
    marks[name] = now - started
    started = now
import service.cli
mark("import service.cli")
import uvicorn
from service.app import create_app
mark("import the app (fastapi, llama-index)")
import torch
mark("import torch")
import safetensors.torch, tokenizers
mark("import safetensors and tokenizers")
from indexer.embedders import build_embedder
from indexer.index import open_index
from service.settings import Settings
embedder = build_embedder(Settings(index_dir=sys.argv[1]))
mark("load the model")
open_index(sys.argv[1])
mark("open the index")
embedder.embed_queries(["a first query"])
mark("first query")
print(json.dumps(marks))
"""


def phases(index_dir: Path) -> dict[str, float]:
    started = time.perf_counter()
    output = subprocess.run(
        [sys.executable, "-c", _PHASES, str(index_dir)],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    ).stdout
    marks: dict[str, float] = json.loads(output.strip().splitlines()[-1])
    marks["interpreter start and exit (rest)"] = time.perf_counter() - started - sum(marks.values())
    return marks


def one_run(index_dir: Path, queries: list[str]) -> dict[str, float]:
    with Server(index_dir) as server:
        ready_s = server.wait_ready()
        at_ready = rss_kb(server.pid)
        half = len(queries) // 2
        run_load(server.url, "/v1/search", lambda q: {"query": q}, queries[:half], 4)
        run_load(
            server.url,
            "/v1/ask",
            lambda q: {"question": q, "backend": "extractive"},
            queries[half:],
            4,
        )
        after = rss_kb(server.pid)
    return {"ready_s": ready_s, "rss_ready_mb": at_ready / 1024, "rss_after_mb": after / 1024}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--index-dir", type=Path, help="default: index the bundled corpus")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--queries", type=int, default=1000, help="sent after each start")
    parser.add_argument("--phases", action="store_true", help="also time the loading steps")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args()
    index_dir = args.index_dir or build_index()
    texts = distinct_queries(questions())
    runs = [one_run(index_dir, list(islice(texts, args.queries))) for _ in range(args.runs)]
    metrics: dict[str, Any] = {
        key: statistics.median(run[key] for run in runs)
        for key in ("ready_s", "rss_ready_mb", "rss_after_mb")
    }
    if args.phases:
        metrics["phases_s"] = phases(index_dir)
    metrics["targets"] = {"ready_le_5s": metrics["ready_s"] <= TARGET_S}
    params = {"runs": args.runs, "queries": args.queries, "phases": args.phases}
    path = write_results("coldstart", params, metrics, {"runs": runs}, results_dir=args.results_dir)
    print(json.dumps({"metrics": metrics, "runs": runs}, indent=2))
    print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
