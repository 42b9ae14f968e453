"""Shared by the service benchmarks: an index of the bundled corpus, `abstractqa serve` in a
subprocess, distinct queries, a closed-loop HTTP load, and the server's resident memory."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import aiohttp
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import percentiles

ROOT = Path(__file__).resolve().parent.parent


def questions() -> list[str]:
    with (ROOT / "data/dev/questions.jsonl").open(encoding="utf-8") as handle:
        return [json.loads(line)["question"] for line in handle if line.strip()]


def distinct_queries(base: list[str]) -> Iterator[str]:
    """The questions, then numbered variants of them: no text repeats, so the server's query
    cache never answers (the variants only add a few tokens)."""
    round_ = 0
    while True:
        for question in base:
            yield question if round_ == 0 else f"{question} ({round_})"
        round_ += 1


def build_index() -> Path:
    """An index of the bundled corpus in a new temporary directory."""
    index_dir = Path(tempfile.mkdtemp(prefix="abstractqa-bench-")) / "index"
    command = [sys.executable, "-m", "service.cli", "index", "add"]
    subprocess.run(
        [*command, str(ROOT / "data/daily-papers.txt"), "--index-dir", str(index_dir)],
        check=True,
        capture_output=True,
    )
    return index_dir


def rss_kb(pid: int) -> int:
    """``VmRSS`` of ``/proc/PID/status``, in kB."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"/proc/{pid}/status has no VmRSS line")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """``abstractqa serve`` on a free loopback port; ``env`` adds ABSTRACTQA_* settings.

    ``clean`` drops the caller's own ABSTRACTQA_* variables first (the defaults, as `make run`
    serves); ``log`` receives the server's stderr (discarded without one).
    """

    def __init__(
        self,
        index_dir: Path,
        env: dict[str, str] | None = None,
        clean: bool = False,
        log: IO[bytes] | None = None,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        script = Path(sys.executable).with_name("abstractqa")
        launcher = [str(script)] if script.exists() else [sys.executable, "-m", "service.cli"]
        inherited = {
            k: v for k, v in os.environ.items() if not (clean and k.startswith("ABSTRACTQA_"))
        }
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            [*launcher, "serve", "--port", str(self.port), "--log-level", "warning"],
            env={**inherited, "ABSTRACTQA_INDEX_DIR": str(index_dir), **(env or {})},
            stdout=subprocess.DEVNULL,
            stderr=log if log is not None else subprocess.DEVNULL,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_ready(self, timeout_s: float = 120.0, poll_s: float = 0.02) -> float:
        """Seconds from launch until ``/readyz`` answered 200."""
        return self._wait(lambda ready: True, "ready", timeout_s, poll_s)

    def wait_warm(self, timeout_s: float = 120.0, poll_s: float = 0.02) -> float:
        """Seconds from launch until ``/readyz`` says the background warm-up has ended (a
        latency measured before shares the cores with it)."""
        return self._wait(lambda ready: bool(ready.get("warm")), "warm", timeout_s, poll_s)

    def _wait(
        self, done: Callable[[dict[str, Any]], bool], what: str, timeout_s: float, poll_s: float
    ) -> float:
        deadline = time.monotonic() + timeout_s
        with httpx.Client(timeout=5) as client:
            while True:
                try:
                    response = client.get(f"{self.url}/readyz")
                    if response.status_code == 200 and done(response.json()):
                        return time.perf_counter() - self.started
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError(f"the server did not become {what}")
                time.sleep(poll_s)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> Server:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


async def closed_loop(
    url: str, path: str, bodies: list[dict[str, Any]], concurrency: int
) -> dict[str, float]:
    """Send ``bodies`` from ``concurrency`` clients, each sending its next request when its
    previous one is answered; latency percentiles (ms), requests/s and non-200 count.

    aiohttp, not httpx: on a 2-core machine the load generator shares the cores with the
    server, and aiohttp spends about a third of httpx's CPU time per request."""
    samples: list[float] = []
    errors = 0
    pending = list(reversed(bodies))
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(url, connector=connector, timeout=timeout) as session:

        async def worker() -> None:
            nonlocal errors
            while pending:
                body = pending.pop()
                started = time.perf_counter()
                async with session.post(path, json=body) as response:
                    await response.read()
                    errors += response.status != 200
                samples.append((time.perf_counter() - started) * 1000)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return {**percentiles(samples), "qps": len(bodies) / elapsed, "errors": float(errors)}


def run_load(
    url: str, path: str, body_of: Callable[[str], dict[str, Any]], texts: list[str], c: int
) -> dict[str, float]:
    return asyncio.run(closed_loop(url, path, [body_of(t) for t in texts], c))
