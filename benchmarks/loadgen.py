"""The load generator of bench_load.py (and of its short form in the test suite).

``run_load`` keeps ``clients`` concurrent clients busy for ``seconds``: each client is its own
``httpx.AsyncClient`` with one connection, and sends, one request after another, a rotating mix
of ``/v1/search``, ``/v1/ask`` (JSON and Server-Sent Events) and ``/v1/chat/completions`` (JSON
and streamed chunks). Every response is checked, not only its status: a JSON answer must parse
and carry its main field, an ask stream must end with its ``citations`` then ``done`` events, a
chat stream with a ``finish_reason`` chunk then ``data: [DONE]``. What fails is counted as

- ``5xx``: a status of 500 or more;
- ``other``: any other status than 200 (the requests are valid, so a 4xx is a bug too);
- ``drops``: a transport error (refused, reset, timed out) or a 200 whose body or stream is
  incomplete or unreadable (including an ``error`` event in a stream).

Questions come from a list (each client rotates over it, so texts repeat and the server's query
cache answers most of them) or from an iterator that all clients share, each text sent once
(``bench_load.py`` draws distinct texts this way, so the cache only answers real repeats).

With ``rss_pid`` the resident set size of that process is read from ``/proc/PID/status`` every
second, so memory growth under load can be judged.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import percentiles
from _server import rss_kb

KINDS = ("search", "ask", "ask_stream", "chat", "chat_stream")
PATHS = {
    "search": "/v1/search",
    "ask": "/v1/ask",
    "ask_stream": "/v1/ask",
    "chat": "/v1/chat/completions",
    "chat_stream": "/v1/chat/completions",
}
_MAX_NOTES = 20  # failure descriptions kept for the report


@dataclass
class EndpointStats:
    requests: int = 0
    server_errors: int = 0  # 5xx
    other_status: int = 0  # not 200, not 5xx
    drops: int = 0  # transport errors and incomplete bodies or streams
    latencies_ms: list[float] = field(default_factory=list)  # complete 200 answers
    first_event_ms: list[float] = field(default_factory=list)  # streams: first event seen

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "requests": self.requests,
            "5xx": self.server_errors,
            "other_status": self.other_status,
            "drops": self.drops,
        }
        if self.latencies_ms:
            out["latency_ms"] = percentiles(self.latencies_ms)
        if self.first_event_ms:
            out["first_event_ms"] = percentiles(self.first_event_ms)
        return out


@dataclass
class LoadResult:
    clients: int
    seconds: float
    endpoints: dict[str, EndpointStats] = field(
        default_factory=lambda: {kind: EndpointStats() for kind in KINDS}
    )
    rss_kb: list[tuple[float, int]] = field(default_factory=list)  # (seconds since start, kB)
    notes: list[str] = field(default_factory=list)  # the first failures, described

    @property
    def requests(self) -> int:
        return sum(s.requests for s in self.endpoints.values())

    @property
    def server_errors(self) -> int:
        return sum(s.server_errors for s in self.endpoints.values())

    @property
    def other_status(self) -> int:
        return sum(s.other_status for s in self.endpoints.values())

    @property
    def drops(self) -> int:
        return sum(s.drops for s in self.endpoints.values())

    def rss_growth(self, window_s: float = 10.0) -> float | None:
        """Mean RSS of the last ``window_s`` over that of the first, minus 1 (0.05 = +5%)."""
        window = min(window_s, self.seconds / 3)
        first = [kb for t, kb in self.rss_kb if t <= window]
        last = [kb for t, kb in self.rss_kb if t >= self.seconds - window]
        if not first or not last:
            return None
        return (sum(last) / len(last)) / (sum(first) / len(first)) - 1

    def note(self, message: str) -> None:
        if len(self.notes) < _MAX_NOTES:
            self.notes.append(message)

    def summary(self) -> dict[str, Any]:
        growth = self.rss_growth()
        return {
            "clients": self.clients,
            "seconds": self.seconds,
            "requests": self.requests,
            "requests_per_s": self.requests / self.seconds,
            "5xx": self.server_errors,
            "other_status": self.other_status,
            "drops": self.drops,
            "endpoints": {kind: stats.summary() for kind, stats in self.endpoints.items()},
            "rss_mb": [[round(t, 1), round(kb / 1024, 1)] for t, kb in self.rss_kb],
            "rss_growth": growth,
            "failures": self.notes,
        }


def request_body(kind: str, question: str, turn: int) -> dict[str, Any]:
    """A valid request of ``kind``; every other chat is a follow-up to an earlier exchange."""
    if kind == "search":
        return {"query": question, "top_k": 10}
    if kind in ("ask", "ask_stream"):
        return {"question": question, "stream": kind == "ask_stream"}
    messages = [{"role": "user", "content": question}]
    if turn % 2:
        messages = [
            *messages,
            {"role": "assistant", "content": "Several of the indexed papers address this [1]."},
            {"role": "user", "content": "What do the authors evaluate it on?"},
        ]
    return {"model": "abstractqa", "messages": messages, "stream": kind == "chat_stream"}


def _complete_json(kind: str, body: Any) -> bool:
    key = {"search": "results", "ask": "answer", "chat": "choices"}[kind]
    return isinstance(body, dict) and key in body


async def _ask_stream_problem(response: httpx.Response, first: list[float]) -> str | None:
    """None when the stream ends with ``citations`` then ``done``, else what is wrong."""
    events: list[str] = []
    async for line in response.aiter_lines():
        if line.startswith("event:"):
            if not first:
                first.append(time.perf_counter())
            events.append(line[6:].strip())
    if "error" in events:
        return f"an error event after {events[:-1]}"
    if events[-2:] != ["citations", "done"]:
        return f"ended after {events[-3:]} without citations and done"
    return None


async def _chat_stream_problem(response: httpx.Response, first: list[float]) -> str | None:
    """None when the chunks end with a finish_reason chunk then ``[DONE]``, else the problem."""
    data: list[str] = []
    finished = False
    async for line in response.aiter_lines():
        if not line.startswith("data:"):
            continue
        if not first:
            first.append(time.perf_counter())
        data.append(line[5:].strip())
        if data[-1] != "[DONE]":
            chunk = json.loads(data[-1])
            if "error" in chunk:
                return f"an error chunk: {data[-1][:200]}"
            finished = finished or any(c.get("finish_reason") for c in chunk.get("choices", []))
    if not data or data[-1] != "[DONE]" or not finished:
        return f"ended without a finish_reason chunk and [DONE] ({len(data)} data lines)"
    return None


async def send_one(
    http: httpx.AsyncClient, kind: str, question: str, turn: int, result: LoadResult
) -> None:
    """Send one request of ``kind`` and record its outcome in ``result``."""
    stats = result.endpoints[kind]
    stats.requests += 1
    body = request_body(kind, question, turn)
    started = time.perf_counter()
    first: list[float] = []
    try:
        async with http.stream("POST", PATHS[kind], json=body) as response:
            if response.status_code != 200:
                await response.aread()
                if response.status_code >= 500:
                    stats.server_errors += 1
                else:
                    stats.other_status += 1
                result.note(f"{kind}: HTTP {response.status_code}: {response.text[:200]}")
                return
            if kind == "ask_stream":
                problem = await _ask_stream_problem(response, first)
            elif kind == "chat_stream":
                problem = await _chat_stream_problem(response, first)
            else:
                await response.aread()
                problem = None if _complete_json(kind, response.json()) else "an incomplete body"
    except (httpx.TransportError, ValueError) as exc:  # ValueError: a body that is not JSON
        stats.drops += 1
        result.note(f"{kind}: {type(exc).__name__}: {exc}")
        return
    if problem is not None:
        stats.drops += 1
        result.note(f"{kind}: {problem}")
        return
    stats.latencies_ms.append((time.perf_counter() - started) * 1000)
    if first:
        stats.first_event_ms.append((first[0] - started) * 1000)


Questions = Sequence[str] | Iterator[str]


def _question(questions: Questions, number: int, turn: int) -> str:
    if isinstance(questions, Sequence):
        return questions[(number * 7 + turn) % len(questions)]
    return next(questions)  # one event loop: the clients never draw at the same time


async def _client(
    http: httpx.AsyncClient, number: int, deadline: float, questions: Questions, result: LoadResult
) -> None:
    turn = 0
    while time.monotonic() < deadline:
        kind = KINDS[(number + turn) % len(KINDS)]
        question = _question(questions, number, turn)
        await send_one(http, kind, question, turn // len(KINDS), result)
        turn += 1


async def _sample_rss(pid: int, started: float, stop: asyncio.Event, result: LoadResult) -> None:
    while True:
        result.rss_kb.append((time.monotonic() - started, rss_kb(pid)))
        try:
            await asyncio.wait_for(stop.wait(), 1.0)
            return
        except TimeoutError:
            pass


async def run_load(
    base_url: str,
    questions: Questions,
    *,
    clients: int,
    seconds: float,
    rss_pid: int | None = None,
    timeout_s: float = 120.0,
) -> LoadResult:
    """Run the load; requests in flight at the end are finished and counted. A request whose
    next bytes take longer than ``timeout_s`` counts as dropped. ``questions``: a list to
    rotate over, or an iterator to draw each question from once (it must not run out)."""
    result = LoadResult(clients=clients, seconds=seconds)
    # One connection per client: its requests go one after another, as a person's would. The
    # clients are made before the clock starts (each builds an SSL context, which takes a while).
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    timeout = httpx.Timeout(timeout_s, connect=min(timeout_s, 30.0))
    async with AsyncExitStack() as stack:
        https = [
            await stack.enter_async_context(
                httpx.AsyncClient(base_url=base_url, limits=limits, timeout=timeout)
            )
            for _ in range(clients)
        ]
        started = time.monotonic()
        stop = asyncio.Event()
        sampler = (
            asyncio.create_task(_sample_rss(rss_pid, started, stop, result))
            if rss_pid is not None
            else None
        )
        try:
            await asyncio.gather(
                *(
                    _client(http, n, started + seconds, questions, result)
                    for n, http in enumerate(https)
                )
            )
        finally:
            stop.set()
            if sampler is not None:
                await sampler
        result.seconds = time.monotonic() - started
    return result
