"""Load test: many concurrent clients against a real `abstractqa serve` on loopback.

Starts `abstractqa serve` in a subprocess on an index of the bundled corpus (built into a
temporary directory unless --index-dir is given), warms it up (every development question
asked once, 4 at a time, as a cold server embeds the abstracts' sentences on first use; then
the full load for --warmup seconds), then runs --clients concurrent clients (one connection
each) for --seconds, mixing /v1/search, /v1/ask (JSON and SSE) and /v1/chat/completions (JSON
and streamed); the answer backend is the server's default (extractive).

Questions (``--queries distinct``, the default) are drawn once each from one pool: the
development questions (data/dev/questions.jsonl, which the warm-up asks), then the queries of
the CISI and CACM collections (../shared/benchmarks, or --query-set FILE), then numbered
variants of all of them ("… (3)"), so the timed load does not hit the server's query cache
with texts the warm-up already sent. ``--queries repeat`` rotates over the development
questions instead (the cache then answers nearly every query). The cache hit rate of the timed
load is read from the server's /metrics (query encoder counters) before and after it.
Every stream is read to its end and checked (see benchmarks/loadgen.py). The server's RSS is
read from /proc/PID/status every second.

Targets (issue 6): zero 5xx, zero dropped connections (transport errors, incomplete streams),
RSS growth between the mean of the first and of the last 10 s under 10%. Any other non-200
status, or any failure during the warm-up, fails the run too. The exit status is 1 when a
target is missed.

    .venv/bin/python benchmarks/bench_load.py [--clients 64] [--seconds 60] [--warmup 10]
        [--queries distinct|repeat] [--query-set FILE ...] [--index-dir DIR] [--json]

Writes ``benchmarks/results/load.json`` (see benchmarks/_results.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import RESULTS_DIR, write_results
from _server import ROOT, Server, build_index, distinct_queries, questions
from loadgen import KINDS, LoadResult, Questions, run_load, send_one

from indexer.evaluation.beir import load_queries
from service.settings import AnsweringSettings

__all__ = ["questions"]  # the short form in tests/service/test_load.py asks the same questions

MAX_RSS_GROWTH = 0.10
WARMUP_CLIENTS = 4
SHARED_QUERY_SETS = [
    ROOT.parent / "shared/benchmarks" / name / "queries.jsonl" for name in ("cisi", "cacm")
]
_COUNTER = re.compile(r"^abstractqa_query_encoder_(requested|cache_hits)(?:_total)? (\S+)$", re.M)


def connection_cap(clients: int) -> int:
    """The per-address connection limit the server runs with: one connection per client, and
    room for the warm-up's and metrics reads' own."""
    return clients + 8


def query_pool(asked: list[str], query_sets: list[Path]) -> Iterator[str]:
    """``asked`` (the warm-up's questions), the queries of ``query_sets``, then numbered
    variants of all of them: an endless stream in which no text repeats."""
    # A query over the (clean) server's default length limit would be answered 400 (CISI has
    # one of 2,088 characters); the variants' " (N)" suffix needs a few characters more.
    longest = AnsweringSettings.model_fields["max_question_chars"].default - 10
    extra = [
        text for path in query_sets for text in load_queries(path).values() if len(text) <= longest
    ]
    return distinct_queries(list(dict.fromkeys([*asked, *extra])))


def encoder_counters(url: str) -> dict[str, float]:
    """The query encoder's ``requested`` and ``cache_hits`` counters from ``/metrics``."""
    body = httpx.get(f"{url}/metrics", timeout=30).raise_for_status().text
    found = {name: float(value) for name, value in _COUNTER.findall(body)}
    if set(found) != {"requested", "cache_hits"}:
        raise RuntimeError(f"{url}/metrics: no query encoder counters (found {sorted(found)})")
    return found


async def warm_caches(url: str, asked: list[str]) -> LoadResult:
    """Ask every question once, WARMUP_CLIENTS at a time."""
    result = LoadResult(clients=WARMUP_CLIENTS, seconds=0.0)
    pending = list(asked)
    async with httpx.AsyncClient(base_url=url, timeout=120) as http:

        async def worker() -> None:
            while pending:
                await send_one(http, "ask", pending.pop(), 0, result)

        await asyncio.gather(*(worker() for _ in range(WARMUP_CLIENTS)))
    return result


def verdict(result: LoadResult, warmup: list[str]) -> dict[str, Any]:
    growth = result.rss_growth()
    return {
        "warmup_clean": not warmup,
        "no_5xx": result.server_errors == 0,
        "no_other_status": result.other_status == 0,
        "no_drops": result.drops == 0,
        "rss_growth_under_10pct": growth is not None and growth < MAX_RSS_GROWTH,
    }


def _print(report: dict[str, Any]) -> None:
    load = report["load"]
    cache = report["query_cache"]
    print(
        f"{load['clients']} clients for {load['seconds']:.1f} s after a warm-up of "
        f"{report['warmup']['requests']} requests: {load['requests']} requests "
        f"({load['requests_per_s']:.1f}/s), "
        f"5xx {load['5xx']}, other status {load['other_status']}, drops {load['drops']}"
    )
    header = f"{'endpoint':12s} {'requests':>8s} {'5xx':>4s} {'drops':>5s}"
    print(f"{header} {'p50 ms':>8s} {'p95 ms':>8s} {'p99 ms':>8s} {'first p50':>9s}")
    for kind in KINDS:
        stats = load["endpoints"][kind]
        lat = stats.get("latency_ms", {})
        first = stats.get("first_event_ms", {}).get("p50", float("nan"))
        print(
            f"{kind:12s} {stats['requests']:8d} {stats['5xx']:4d} {stats['drops']:5d} "
            f"{lat.get('p50', float('nan')):8.1f} {lat.get('p95', float('nan')):8.1f} "
            f"{lat.get('p99', float('nan')):8.1f} {first:9.1f}"
        )
    print(
        f"query cache: {cache['hits']:.0f} hits of {cache['requested']:.0f} queries "
        f"({100 * cache['hit_rate']:.1f}%)"
    )
    rss = [mb for _, mb in report["rss_mb"]]
    growth = load["rss_growth"]
    print(
        f"server RSS: {rss[0]:.0f} MB at the start, {max(rss):.0f} MB at most, {rss[-1]:.0f} MB "
        f"at the end; growth first vs last 10 s: "
        + ("n/a" if growth is None else f"{100 * growth:+.1f}%")
    )
    for failure in load["failures"]:
        print(f"  failure: {failure}")
    print(f"targets: {report['targets']}")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--index-dir", type=Path, help="an index to serve (default: build one)")
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument(
        "--warmup", type=float, default=10.0, help="seconds of untimed load after the questions"
    )
    parser.add_argument(
        "--queries",
        choices=("distinct", "repeat"),
        default="distinct",
        help="each text once (cache misses) or the development questions over and over",
    )
    parser.add_argument(
        "--query-set",
        type=Path,
        action="append",
        help="a BEIR queries.jsonl whose queries join the pool (default: CISI and CACM's)",
    )
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args()
    asked = questions()
    query_sets = args.query_set
    if query_sets is None:
        query_sets = [path for path in SHARED_QUERY_SETS if path.is_file()]
    pool: Questions = asked if args.queries == "repeat" else query_pool(asked, query_sets)
    index_dir = args.index_dir or build_index()
    with tempfile.NamedTemporaryFile(prefix="abstractqa-load-", suffix=".log", delete=False) as log:
        # An open API (no keys, so no rate or stream limits), as `make run` serves it.
        # Every client connects from 127.0.0.1 but stands for a user of its own: the per-address
        # connection cap (32 by default) would refuse the clients beyond it with 429 and a
        # closed connection, which is that limit working, not the load being served.
        env = {
            "ABSTRACTQA_LOG_FORMAT": "text",
            "ABSTRACTQA_MAX_CONNECTIONS_PER_CLIENT": str(connection_cap(args.clients)),
        }
        server = Server(index_dir, env, clean=True, log=log)
        url = server.url
        try:
            try:
                server.wait_ready(timeout_s=180, poll_s=0.1)
            except RuntimeError as exc:
                raise RuntimeError(f"{exc}; its log: {log.name}") from exc
            # The warm-up asks the development questions: the pool's first texts.
            warm_texts = [next(pool) for _ in asked] if isinstance(pool, Iterator) else asked
            warm = [asyncio.run(warm_caches(url, warm_texts))]
            if args.warmup > 0:
                warm.append(
                    asyncio.run(run_load(url, pool, clients=args.clients, seconds=args.warmup))
                )
            failures = [note for phase in warm for note in phase.notes]
            before = encoder_counters(url)
            result = asyncio.run(
                run_load(url, pool, clients=args.clients, seconds=args.seconds, rss_pid=server.pid)
            )
            after = encoder_counters(url)
        finally:
            server.stop()
    requested = after["requested"] - before["requested"]
    hits = after["cache_hits"] - before["cache_hits"]
    load = result.summary()
    report: dict[str, Any] = {
        "warmup": {"requests": sum(p.requests for p in warm), "failures": failures},
        "load": {k: v for k, v in load.items() if k != "rss_mb"},
        "query_cache": {
            "requested": requested,
            "hits": hits,
            "hit_rate": hits / requested if requested else 0.0,
        },
        "targets": verdict(result, failures),
        "server_log": log.name,
    }
    params = {
        "clients": args.clients,
        "max_connections_per_client": connection_cap(args.clients),
        "seconds": args.seconds,
        "warmup_s": args.warmup,
        "queries": args.queries,
        "query_sets": [str(path) for path in query_sets] if args.queries == "distinct" else [],
    }
    path = write_results(
        "load", params, report, {"rss_mb": load["rss_mb"]}, results_dir=args.results_dir
    )
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        _print(report | {"rss_mb": load["rss_mb"]})
    print(f"wrote {path}", file=sys.stderr)
    return 0 if all(report["targets"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
