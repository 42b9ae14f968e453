"""Latency and throughput of /v1/search and extractive /v1/ask on loopback, against concurrency,
next to the in-process floors measured in the same run.

Starts `abstractqa serve` on the bundled corpus's index in a subprocess and sends requests from
asyncio clients (closed loop: each client sends its next request when the previous one is
answered). Queries are the development questions (data/dev/questions.jsonl) and then numbered
variants of them, so no query repeats and the server's query cache never answers; one more run
sends 16 repeated queries, which the cache does answer, reported apart.

- Sweep: `/v1/search` at concurrency 1, 2, 4, 8, 16, 32, --repeat times (medians reported).
- Encoder floor: the best queries/second of the bundled model in-process (this process), over
  configurations of workers (threads sharing the model) x torch threads x batch size that
  include the one the server runs (e.g. 2 workers x 1 thread x batches of 8), measured before
  the server starts and after it stops (median of the rounds per configuration).
- Issue 3: `/v1/search` and extractive `/v1/ask` at concurrency 1 and 16, and the in-process
  floor of one query (embed + hybrid `Retriever.search`).

Targets: issue 5, at 16 concurrent clients `/v1/search` throughput >= 60% of the encoder floor
with p99 <= 150 ms; issue 3, `/v1/search` p50 at concurrency 1 <= 2x the one-query floor and
extractive `/v1/ask` p50 <= 60 ms. Plots latency and throughput against concurrency (--plot).

    .venv/bin/python benchmarks/bench_service.py [--index-dir DIR] [--repeat 3]
        [--set query_batch_wait_ms=5 ...] [--results-dir benchmarks/results]
        [--plot docs/service-concurrency.png]

Writes ``benchmarks/results/service.json`` (see benchmarks/_results.py).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import percentiles
from _results import RESULTS_DIR, read_results, write_results
from _server import ROOT, Server, build_index, distinct_queries, questions, run_load
from plot_service import plot

CONCURRENCY = (1, 2, 4, 8, 16, 32)
FLOOR_BATCH = 64
FLOOR_QUERIES = 256  # encoded per configuration and round


@dataclass(frozen=True)
class EncoderConfig:
    """How queries reach the model: ``workers`` threads sharing it, each running torch on
    ``torch_threads`` threads and encoding ``batch`` queries per call (the server runs
    ``query_encoder_workers`` x ``torch_threads`` x at most ``query_batch_max``)."""

    workers: int
    torch_threads: int
    batch: int

    @property
    def label(self) -> str:
        return f"{self.workers}w x {self.torch_threads}t x {self.batch}"


def floor_configs(served: EncoderConfig) -> list[EncoderConfig]:
    """The served configuration and its neighbours: 1 or all cores of workers and of torch
    threads, batches of the served size, 16 and 64. The floor is the best of them, so the
    server is compared with what its own encoder could do at best, not with one setting."""
    cores = os.cpu_count() or 1
    workers = sorted({1, cores, served.workers})
    threads = sorted({1, cores, served.torch_threads})
    batches = sorted({served.batch, 16, FLOOR_BATCH})
    return [EncoderConfig(w, t, b) for w in workers for t in threads for b in batches]


def encode_rate(embedder: Any, config: EncoderConfig, queries: list[str]) -> float:
    """Queries/second while ``config.workers`` threads encode ``queries`` in calls of
    ``config.batch``, each thread with torch on ``config.torch_threads`` threads."""
    import torch

    batches = [queries[i : i + config.batch] for i in range(0, len(queries), config.batch)]
    pending = list(reversed(batches))
    lock = threading.Lock()

    def work() -> None:
        # OpenMP's thread count is per calling thread: each worker sets its own, as each
        # server worker inherits OMP_NUM_THREADS.
        torch.set_num_threads(config.torch_threads)
        while True:
            with lock:
                if not pending:
                    return
                batch = pending.pop()
            embedder.embed_queries(batch)

    threads = [threading.Thread(target=work) for _ in range(config.workers)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(queries) / (time.perf_counter() - started)


def encoder_floor(
    queries: list[str], configs: list[EncoderConfig], rounds: int
) -> dict[str, list[float]]:
    """Queries/second of the bundled model in each configuration, ``rounds`` times each (the
    configurations interleaved, so drift of the host's speed hits them alike)."""
    import torch

    from indexer.embedders.local import load_local_embedder

    embedder = load_local_embedder()
    default_threads = torch.get_num_threads()
    embedder.embed_queries(queries[:FLOOR_BATCH])  # warm-up
    rates: dict[str, list[float]] = {config.label: [] for config in configs}
    for i in range(rounds):
        part = queries[(i % 2) * FLOOR_QUERIES :][:FLOOR_QUERIES]
        for config in configs:
            rates[config.label].append(encode_rate(embedder, config, part))
    torch.set_num_threads(default_threads)
    return rates


def one_query_floor(index_dir: Path, queries: list[str], rounds: int) -> dict[str, float]:
    """Embedding one query and searching (hybrid), one query at a time, in-process."""
    from indexer.embedders.local import load_local_embedder
    from indexer.index import open_index
    from indexer.retrieval import Retriever

    retriever = Retriever(open_index(index_dir), load_local_embedder())
    for query in queries[:10]:
        retriever.search(query, 10)
    samples = []
    for query in queries[10 : 10 + rounds]:
        started = time.perf_counter()
        retriever.search(query, 10)
        samples.append((time.perf_counter() - started) * 1000)
    return percentiles(samples)


def _median_run(runs: list[dict[str, float]]) -> dict[str, Any]:
    """Medians of the runs' figures (the runs themselves go to the samples)."""
    keys = ("p50", "p95", "p99", "mean", "qps")
    return {
        **{key: statistics.median(run[key] for run in runs) for key in keys},
        "errors": sum(run["errors"] for run in runs),
    }


def search(query: str) -> dict[str, Any]:
    return {"query": query, "top_k": 10}


def ask(query: str) -> dict[str, Any]:
    return {"question": query, "backend": "extractive"}


def _server_env(args: argparse.Namespace) -> dict[str, str]:
    """ABSTRACTQA_* variables for the server, from ``--set name=value``."""
    env = {}
    for item in args.set:
        name, _, value = item.partition("=")
        env[f"ABSTRACTQA_{name.upper()}"] = value
    return env


def _server_settings(env: dict[str, str]) -> dict[str, Any]:
    """The server's effective query-encoding settings (defaults, environment, --set)."""
    from service.settings import Settings

    overrides = {key.removeprefix("ABSTRACTQA_").lower(): value for key, value in env.items()}
    settings = Settings(**overrides)
    encoder, runtime = settings.query_encoder, settings.runtime
    served = {f"query_{name}": value for name, value in encoder.model_dump().items()}
    return {**served, "torch_threads": runtime.torch_threads}


def served_config(settings: dict[str, Any]) -> EncoderConfig:
    return EncoderConfig(
        settings["query_encoder_workers"] or os.cpu_count() or 1,
        settings["torch_threads"] or os.cpu_count() or 1,
        settings["query_batch_max"],
    )


def run(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    """The metrics (medians, targets) and the samples (every run, every floor round)."""
    texts = distinct_queries(questions())
    index_dir = args.index_dir or build_index()
    env = _server_env(args)
    results: dict[str, Any] = {"server": _server_settings(env)}
    served = served_config(results["server"])
    configs = floor_configs(served)
    floor_queries = list(islice(texts, FLOOR_QUERIES * 2))
    # Before the server starts and after it stops: the host's speed drifts within a run.
    floor_rates = encoder_floor(floor_queries, configs, args.floor_rounds)
    sweep: dict[int, list[dict[str, float]]] = {c: [] for c in args.concurrency}
    repeated_runs = []
    with Server(index_dir, env) as server:
        server.wait_ready()
        # Warm the server like a running service (sentence vectors, code paths).
        run_load(server.url, "/v1/ask", ask, list(islice(texts, 200)), 4)
        for _ in range(args.repeat):
            for c in args.concurrency:
                total = max(args.sweep_requests, 20 * c)
                sweep[c].append(
                    run_load(server.url, "/v1/search", search, list(islice(texts, total)), c)
                )
        repeated = questions()[:16]
        for _ in range(args.repeat):
            bodies = repeated * (args.sweep_requests // 16)
            repeated_runs.append(run_load(server.url, "/v1/search", search, bodies, 16))
        results["search_repeated_c16"] = _median_run(repeated_runs)
        for path, body_of in (("/v1/search", search), ("/v1/ask", ask)):
            for c in (1, 16):
                total = args.requests * (1 if c == 1 else 2)
                load = run_load(server.url, path, body_of, list(islice(texts, total)), c)
                results[f"{path} c={c}"] = load
    for label, rates in encoder_floor(floor_queries, configs, args.floor_rounds).items():
        floor_rates[label] += rates
    by_config = {label: statistics.median(rates) for label, rates in floor_rates.items()}
    best = max(by_config, key=by_config.__getitem__)
    results["encoder_floor_qps"] = by_config[best]
    results["encoder_floor_config"] = best
    results["encoder_served_config"] = served.label
    results["encoder_served_qps"] = by_config[served.label]
    results["encoder_floor_by_config"] = by_config
    results["search_sweep"] = {str(c): _median_run(runs) for c, runs in sweep.items()}
    results["one_query_floor_ms"] = one_query_floor(index_dir, list(islice(texts, 210)), 200)
    results["targets"] = _targets(results)
    samples = {
        "search_sweep_runs": {str(c): runs for c, runs in sweep.items()},
        "search_repeated_c16_runs": repeated_runs,
        "encoder_floor_rounds_qps": floor_rates,
    }
    return results, samples


def _targets(results: dict[str, Any]) -> dict[str, Any]:
    targets: dict[str, Any] = {}
    c16 = results["search_sweep"].get("16")
    if c16 is not None:
        share = c16["qps"] / results["encoder_floor_qps"]
        targets |= {
            "c16_qps_over_encoder_floor": share,
            "c16_qps_ge_60pct_floor": share >= 0.6,
            "c16_p99_ms": c16["p99"],
            "c16_p99_le_150ms": c16["p99"] <= 150,
        }
    search_p50 = results["/v1/search c=1"]["p50"]
    floor_p50 = results["one_query_floor_ms"]["p50"]
    ask_p50 = results["/v1/ask c=1"]["p50"]
    return targets | {
        "search_p50_over_floor": search_p50 / floor_p50,
        "search_p50_le_2x_floor": search_p50 <= 2 * floor_p50,
        "ask_p50_ms": ask_p50,
        "ask_p50_le_60ms": ask_p50 <= 60,
    }


def _print(results: dict[str, Any]) -> None:
    print(f"server: {results['server']}")
    print(
        f"encoder floor: {results['encoder_floor_qps']:.1f} q/s "
        f"({results['encoder_floor_config']}; served {results['encoder_served_config']}: "
        f"{results['encoder_served_qps']:.1f} q/s); by configuration: "
        f"{results['encoder_floor_by_config']}"
    )
    print(f"{'what':24s} {'p50 ms':>8s} {'p95 ms':>8s} {'p99 ms':>8s} {'req/s':>8s} {'errors':>6s}")
    rows = {f"/v1/search sweep c={c}": v for c, v in results["search_sweep"].items()}
    rows |= {"/v1/search repeated c=16": results["search_repeated_c16"]}
    rows |= {k: v for k, v in results.items() if k.startswith("/v1/")}
    rows |= {"one-query floor": results["one_query_floor_ms"]}
    for key, value in rows.items():
        print(
            f"{key:24s} {value['p50']:8.1f} {value['p95']:8.1f} {value['p99']:8.1f} "
            f"{value.get('qps', float('nan')):8.1f} {int(value.get('errors', 0)):6d}"
        )
    print(f"targets: {results['targets']}")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--index-dir", type=Path, help="default: index the bundled corpus")
    parser.add_argument("--repeat", type=int, default=3, help="sweep runs (medians reported)")
    parser.add_argument("--sweep-requests", type=int, default=400, help="per concurrency level")
    parser.add_argument(
        "--concurrency",
        type=lambda s: [int(c) for c in s.split(",")],
        default=list(CONCURRENCY),
        help="comma-separated levels of the sweep",
    )
    parser.add_argument("--requests", type=int, default=200, help="issue-3 runs, at c=1")
    parser.add_argument(
        "--floor-rounds", type=int, default=3, help="per configuration, before and after each"
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a server setting, e.g. query_batch_wait_ms=5 (repeatable)",
    )
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("--plot", type=Path, default=ROOT / "docs/service-concurrency.png")
    parser.add_argument("--json", action="store_true", help="print the JSON instead of a table")
    args = parser.parse_args()
    metrics, samples = run(args)
    params = {
        key: value
        for key, value in vars(args).items()
        if key not in ("results_dir", "plot", "json", "index_dir")
    }
    path = write_results("service", params, metrics, samples, results_dir=args.results_dir)
    if args.plot and "16" in metrics["search_sweep"]:
        plot(read_results("service", args.results_dir), args.plot)
    if args.json:
        print(json.dumps(metrics, indent=2))
    else:
        _print(metrics)
    print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
