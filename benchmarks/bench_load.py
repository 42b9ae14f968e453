"""Load test: many concurrent clients against a real `abstractqa serve` on loopback.

Starts `abstractqa serve` in a subprocess on an index of the bundled corpus (built into a
temporary directory unless --index-dir is given), warms it up (every development question
asked once, 4 at a time, as a cold server embeds the abstracts' sentences on first use; then
the full load for --warmup seconds), then runs --clients concurrent clients (one connection
each) for --seconds, mixing /v1/search, /v1/ask (JSON and SSE) and /v1/chat/completions (JSON
and streamed) with the questions of data/dev/questions.jsonl; the answer backend is the
server's default (extractive).
Every stream is read to its end and checked (see benchmarks/loadgen.py). The server's RSS is
read from /proc/PID/status every second.

Targets (issue 6): zero 5xx, zero dropped connections (transport errors, incomplete streams),
RSS growth between the mean of the first and of the last 10 s under 10%. Any other non-200
status, or any failure during the warm-up, fails the run too. The exit status is 1 when a
target is missed.

    .venv/bin/python benchmarks/bench_load.py [--clients 64] [--seconds 60] [--warmup 10]
        [--index-dir DIR] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine
from _server import Server, build_index
from loadgen import KINDS, LoadResult, run_load, send_one

ROOT = Path(__file__).resolve().parent.parent
MAX_RSS_GROWTH = 0.10
WARMUP_CLIENTS = 4


def questions() -> list[str]:
    with (ROOT / "data/dev/questions.jsonl").open(encoding="utf-8") as handle:
        return [json.loads(line)["question"] for line in handle if line.strip()]


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
    print(f"machine: {report['machine']}")
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
    rss = [mb for _, mb in load["rss_mb"]]
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
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    asked = questions()
    index_dir = args.index_dir or build_index()
    report: dict[str, Any] = {"machine": machine(), "warmup_s": args.warmup}
    with tempfile.NamedTemporaryFile(prefix="abstractqa-load-", suffix=".log", delete=False) as log:
        # An open API (no keys, so no rate or stream limits), as `make run` serves it.
        server = Server(index_dir, {"ABSTRACTQA_LOG_FORMAT": "text"}, clean=True, log=log)
        url = server.url
        try:
            try:
                server.wait_ready(timeout_s=180, poll_s=0.1)
            except RuntimeError as exc:
                raise RuntimeError(f"{exc}; its log: {log.name}") from exc
            warm = [asyncio.run(warm_caches(url, asked))]
            if args.warmup > 0:
                warm.append(
                    asyncio.run(run_load(url, asked, clients=args.clients, seconds=args.warmup))
                )
            failures = [note for phase in warm for note in phase.notes]
            report["warmup"] = {"requests": sum(p.requests for p in warm), "failures": failures}
            result = asyncio.run(
                run_load(url, asked, clients=args.clients, seconds=args.seconds, rss_pid=server.pid)
            )
        finally:
            server.stop()
    report["load"] = result.summary()
    report["targets"] = verdict(result, failures)
    report["server_log"] = log.name
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        _print(report)
    return 0 if all(report["targets"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
