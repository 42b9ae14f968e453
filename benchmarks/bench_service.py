"""Latency of /v1/search and extractive /v1/ask on loopback, next to the in-process floor.

Starts `abstractqa serve` on the bundled corpus's index in a subprocess, sends the development
questions (data/dev/questions.jsonl, cycled) from an asyncio client at concurrency 1 and 16,
and reports p50/p95/p99 latency and throughput per endpoint. In the same run it measures the
in-process floor: embedding one query and searching the index (`Retriever.search`, hybrid),
one query at a time.

Targets (issue 3): /v1/search p50 at concurrency 1 <= 2x the floor; extractive /v1/ask p50
<= 60 ms.

    .venv/bin/python benchmarks/bench_service.py [--index-dir DIR] [--requests 200] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, percentiles

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _questions() -> list[str]:
    with (ROOT / "data/dev/questions.jsonl").open(encoding="utf-8") as handle:
        return [json.loads(line)["question"] for line in handle if line.strip()]


def floor_ms(index_dir: Path, questions: list[str], rounds: int) -> dict[str, float]:
    from indexer.embedders.local import SentenceTransformerEmbedder
    from indexer.index import open_index
    from indexer.retrieval import Retriever

    retriever = Retriever(open_index(index_dir), SentenceTransformerEmbedder())
    for q in questions[:10]:
        retriever.search(q, 10)
    samples = []
    for i in range(rounds):
        started = time.perf_counter()
        retriever.search(questions[i % len(questions)], 10)
        samples.append((time.perf_counter() - started) * 1000)
    return percentiles(samples)


async def _load(
    url: str, path: str, body_of: Any, questions: list[str], concurrency: int, total: int
) -> dict[str, float]:
    samples: list[float] = []
    errors = 0
    queue = list(range(total))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:

        async def worker() -> None:
            nonlocal errors
            while queue:
                i = queue.pop()
                started = time.perf_counter()
                response = await client.post(path, json=body_of(questions[i % len(questions)]))
                samples.append((time.perf_counter() - started) * 1000)
                errors += response.status_code != 200

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return {**percentiles(samples), "qps": total / elapsed, "errors": float(errors)}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--index-dir", type=Path)
    parser.add_argument(
        "--requests", type=int, default=200, help="requests per endpoint and concurrency"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    questions = _questions()
    index_dir = args.index_dir
    if index_dir is None:
        index_dir = Path(tempfile.mkdtemp(prefix="abstractqa-bench-")) / "index"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "service.cli",
                "index",
                "add",
                str(ROOT / "data/daily-papers.txt"),
                "--index-dir",
                str(index_dir),
            ],
            check=True,
            capture_output=True,
        )
    port = _free_port()
    env = {**os.environ, "ABSTRACTQA_INDEX_DIR": str(index_dir)}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "service.cli",
            "serve",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    results: dict[str, Any] = {"machine": machine()}
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError("the server did not become ready")
            time.sleep(0.1)
        # Warm the server's caches (sentence vectors, code paths) like a running service.
        asyncio.run(_load(url, "/v1/ask", lambda q: {"question": q}, questions, 4, len(questions)))
        bodies = {
            "/v1/search": lambda q: {"query": q, "top_k": 10},
            "/v1/ask": lambda q: {"question": q, "backend": "extractive"},
        }
        for path, body_of in bodies.items():
            for concurrency in (1, 16):
                total = args.requests if concurrency == 1 else args.requests * 2
                key = f"{path} c={concurrency}"
                results[key] = asyncio.run(_load(url, path, body_of, questions, concurrency, total))
    finally:
        server.terminate()
        server.wait(timeout=30)
    results["floor"] = floor_ms(index_dir, questions, args.requests)
    search_p50, floor_p50 = results["/v1/search c=1"]["p50"], results["floor"]["p50"]
    ask_p50 = results["/v1/ask c=1"]["p50"]
    results["targets"] = {
        "search_p50_over_floor": search_p50 / floor_p50,
        "search_p50_le_2x_floor": search_p50 <= 2 * floor_p50,
        "ask_p50_ms": ask_p50,
        "ask_p50_le_60ms": ask_p50 <= 60,
    }
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"machine: {results['machine']}")
    print(f"{'what':22s} {'p50 ms':>8s} {'p95 ms':>8s} {'p99 ms':>8s} {'req/s':>8s} {'errors':>6s}")
    for key, value in results.items():
        if key in ("machine", "targets"):
            continue
        print(
            f"{key:22s} {value['p50']:8.1f} {value['p95']:8.1f} {value['p99']:8.1f} "
            f"{value.get('qps', float('nan')):8.1f} {int(value.get('errors', 0)):6d}"
        )
    print(f"targets: {results['targets']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
