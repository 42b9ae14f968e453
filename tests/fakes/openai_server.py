"""A real OpenAI-compatible HTTP server for tests, run by uvicorn in a background thread.

Routes live in a table (``add_route``) so more endpoints (chat completions, models) can join
the same server; the fault script (``fail_next``, ``delay_next``, ``garbage_next``) is consumed
by whichever request arrives next, whatever its route.

``POST /v1/chat/completions`` answers with a scriptable text (``reply_with``), streamed as SSE
exactly like OpenAI when the body says ``"stream": true``. Stream faults (``break_stream_after``,
``stall_after``) have their own script, consumed by the next streaming chat request; a client
that goes away mid-stream is counted in ``disconnects``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import random
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal

import numpy as np
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Send

from tests.fakes.live_server import LiveServer

_WORD = re.compile(r"\w+")
_DELTA = re.compile(r"\s*\S+\s*|\s+")  # one word with its spaces, so the deltas join back
_CHAT = ("POST", "/v1/chat/completions")
DEFAULT_REPLY = "Sparse retrieval still helps dense models on rare terms [1]."
_ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server received it (header names lower-cased)."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    json: Any  # None when the body is empty or not JSON


Handler = Callable[[RecordedRequest], Awaitable[Response]]
Reply = str | Callable[[dict[str, Any]], str]


@dataclass
class _Fault:
    kind: Literal["status", "delay", "garbage", "break", "stall"]
    status: int = 500
    body: str = ""
    retry_after: float | None = None
    seconds: float = 0.0
    after: int = 0  # stream faults: content deltas sent before the fault strikes


@dataclass
class _State:
    requests: list[RecordedRequest] = field(default_factory=list)
    faults: deque[_Fault] = field(default_factory=deque)
    stream_faults: deque[_Fault] = field(default_factory=deque)
    disconnects: int = 0


class _DropConnection(Exception):
    """Raised by a chat stream to cut the connection mid-body, as a crashing upstream would."""


class _EventStream(StreamingResponse):
    media_type = "text/event-stream"

    async def stream_response(self, send: Send) -> None:
        # Returning without the final empty body message makes uvicorn close the socket with the
        # chunked body unfinished (it logs "returned without completing response"), so the
        # client sees a truncated stream rather than a clean end.
        try:
            await super().stream_response(send)
        except _DropConnection:
            return


def openai_error(status: int, message: str, kind: str = "invalid_request_error") -> JSONResponse:
    """An error response in OpenAI's shape."""
    return JSONResponse({"error": {"message": message, "type": kind, "code": None}}, status)


def _encoded(vector: list[float], encoding: str) -> list[float] | str:
    if encoding == "float":
        return vector
    return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")


def hashed_embedding(text: str, dimension: int) -> list[float]:
    """Bag of hashed words: texts sharing words get similar vectors (not unit length)."""
    vector = [0.0] * dimension
    words = _WORD.findall(text.lower()) or [text]
    for word in words:
        digest = hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest()
        bucket = int.from_bytes(digest[:7], "big") % dimension
        vector[bucket] += 1.0 if digest[7] & 1 else -1.0
    return vector


class FakeOpenAIServer:
    """``with FakeOpenAIServer() as server: ... server.base_url ...``"""

    def __init__(self, dimension: int = 64, shuffle: bool = False) -> None:
        self.dimension = dimension
        self.shuffle = shuffle  # answer embeddings in a shuffled (but correctly indexed) order
        self._lock = threading.Lock()
        self._state = _State()
        self._routes: dict[tuple[str, str], Handler] = {}
        self._live: LiveServer | None = None
        self._port: int | None = None
        self._reply: Reply = DEFAULT_REPLY
        self.chunk_delay = 0.0  # seconds between streamed content deltas
        self.keep_alive = False  # send ": keep-alive" comment lines between chat chunks
        self.send_usage = False  # end chat streams with a usage-only chunk (empty choices)
        self.send_done = True  # False: end chat streams after finish_reason, without [DONE]
        self.models = ["fake-chat", "text-embedding-test"]
        self.disconnected = threading.Event()  # set when a client leaves a chat stream early
        self._garbage: dict[tuple[str, str], Callable[[RecordedRequest], Response | None]] = {
            _CHAT: self._chat_garbage
        }
        self.add_route("POST", "/v1/embeddings", self._embeddings)
        self.add_route(*_CHAT, self._chat_completions)
        self.add_route("GET", "/v1/models", self._models)

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self, timeout_s: float = 10.0) -> None:
        app = Starlette(routes=[Route("/{path:path}", self._dispatch, methods=_ALL_METHODS)])
        self._live = LiveServer(app, "fake-openai", lifespan="off")
        self._live.start(timeout_s)
        self._port = self._live.port

    def stop(self) -> None:
        if self._live is not None:
            self._live.stop()
        self._live = None

    def __enter__(self) -> FakeOpenAIServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("server not started")
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # -- routes, records and faults ----------------------------------------------------------

    def add_route(self, method: str, path: str, handler: Handler) -> None:
        """Serve ``method path`` (e.g. ``"POST", "/v1/chat/completions"``); replaces any handler."""
        self._routes[(method.upper(), path)] = handler

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._state.requests)

    def requests_to(self, path: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == path]

    def reset(self) -> None:
        """Forget recorded requests, pending faults (stream faults too) and disconnects."""
        with self._lock:
            self._state = _State()
        self.disconnected.clear()

    def fail_next(
        self,
        status: int,
        times: int = 1,
        body: str = '{"error": {"message": "injected failure", "type": "server_error"}}',
        retry_after: float | None = None,
    ) -> None:
        self._queue(_Fault("status", status=status, body=body, retry_after=retry_after), times)

    def delay_next(self, seconds: float, times: int = 1) -> None:
        """Sleep ``seconds`` before answering the next request(s) normally."""
        self._queue(_Fault("delay", seconds=seconds), times)

    def garbage_next(self, times: int = 1) -> None:
        """Answer the next request(s) 200 with a body that is not JSON (for a streaming chat
        request: a ``text/event-stream`` whose data lines are not JSON)."""
        self._queue(_Fault("garbage"), times)

    def _queue(self, fault: _Fault, times: int) -> None:
        with self._lock:
            self._state.faults.extend([fault] * times)

    # -- chat script -------------------------------------------------------------------------

    def reply_with(self, text: Reply, chunk_delay: float | None = None) -> None:
        """Answer chat requests with ``text``, or ``text(request_body)`` when it is callable."""
        with self._lock:
            self._reply = text
        if chunk_delay is not None:
            self.chunk_delay = chunk_delay

    def break_stream_after(self, n_chunks: int, times: int = 1) -> None:
        """Send ``n_chunks`` content deltas of the next chat stream(s), then drop the connection
        without finish_reason or [DONE]."""
        self._queue_stream(_Fault("break", after=n_chunks), times)

    def stall_after(self, n_chunks: int, seconds: float, times: int = 1) -> None:
        """Send ``n_chunks`` content deltas of the next chat stream(s), then go silent for
        ``seconds`` before finishing normally (if the client is still there)."""
        self._queue_stream(_Fault("stall", after=n_chunks, seconds=seconds), times)

    @property
    def disconnects(self) -> int:
        """How many chat streams the client abandoned before their end."""
        with self._lock:
            return self._state.disconnects

    def wait_for_disconnect(self, timeout_s: float = 5.0) -> bool:
        """Block until a client has left a chat stream early; False if none did in time."""
        return self.disconnected.wait(timeout_s)

    def _queue_stream(self, fault: _Fault, times: int) -> None:
        with self._lock:
            self._state.stream_faults.extend([fault] * times)

    # -- request handling --------------------------------------------------------------------

    async def _dispatch(self, request: Request) -> Response:
        body = await request.body()
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
        recorded = RecordedRequest(
            method=request.method,
            path=request.url.path,
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
            json=parsed,
        )
        with self._lock:
            self._state.requests.append(recorded)
            fault = self._state.faults.popleft() if self._state.faults else None
        if fault is not None:
            if fault.kind == "status":
                headers = {"content-type": "application/json"}
                if fault.retry_after is not None:
                    headers["retry-after"] = f"{fault.retry_after:g}"
                return Response(fault.body, fault.status, headers=headers)
            if fault.kind == "garbage":
                garbage = self._garbage.get((recorded.method, recorded.path))
                special = garbage(recorded) if garbage is not None else None
                if special is not None:
                    return special
                return Response("<html>not json", 200, media_type="application/json")
            await self._sleep(fault.seconds)
        handler = self._routes.get((recorded.method, recorded.path))
        if handler is None:
            return openai_error(404, f"no route {recorded.method} {recorded.path}")
        return await handler(recorded)

    async def _sleep(self, seconds: float) -> None:
        # Short steps so that stop() need not wait for a long injected delay to run out.
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not (self._live is None or self._live.stopping):
            await asyncio.sleep(min(0.02, max(0.0, deadline - time.monotonic())))

    async def _embeddings(self, request: RecordedRequest) -> Response:
        payload = request.json
        if not isinstance(payload, dict) or not isinstance(payload.get("model"), str):
            return openai_error(400, "body must be a JSON object with a 'model' string")
        inputs = payload.get("input")
        if isinstance(inputs, str):
            inputs = [inputs]
        if (
            not isinstance(inputs, list)
            or not inputs
            or not all(isinstance(t, str) for t in inputs)
        ):
            return openai_error(400, "'input' must be a string or a non-empty list of strings")
        dimension = payload.get("dimensions", self.dimension)
        if not isinstance(dimension, int) or dimension < 1:
            return openai_error(400, "'dimensions' must be a positive integer")
        encoding = payload.get("encoding_format", "float")
        if encoding not in ("float", "base64"):
            return openai_error(400, "'encoding_format' must be 'float' or 'base64'")
        data = [
            {
                "object": "embedding",
                "index": i,
                "embedding": _encoded(hashed_embedding(text, dimension), encoding),
            }
            for i, text in enumerate(inputs)
        ]
        if self.shuffle:
            random.Random(len(data)).shuffle(data)
            if len(data) > 1 and all(item["index"] == i for i, item in enumerate(data)):
                data.reverse()
        tokens = sum(len(_WORD.findall(text)) for text in inputs)
        return JSONResponse(
            {
                "object": "list",
                "data": data,
                "model": payload["model"],
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )

    async def _models(self, request: RecordedRequest) -> Response:
        data = [
            {"id": model, "object": "model", "created": 0, "owned_by": "fake-openai"}
            for model in self.models
        ]
        return JSONResponse({"object": "list", "data": data})

    async def _chat_completions(self, request: RecordedRequest) -> Response:
        payload = request.json
        if not isinstance(payload, dict) or not isinstance(payload.get("model"), str):
            return openai_error(400, "body must be a JSON object with a 'model' string")
        messages = payload.get("messages")
        if (
            not isinstance(messages, list)
            or not messages
            or not all(isinstance(m, dict) and isinstance(m.get("role"), str) for m in messages)
        ):
            return openai_error(400, "'messages' must be a non-empty list of {role, content}")
        with self._lock:
            reply = self._reply
        text = reply(payload) if callable(reply) else reply
        prompt_tokens = sum(len(_WORD.findall(str(m.get("content", "")))) for m in messages)
        completion_tokens = len(_DELTA.findall(text))
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        if not payload.get("stream"):
            return JSONResponse(
                {
                    "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": payload["model"],
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": text},
                            "logprobs": None,
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": usage,
                }
            )
        with self._lock:
            fault = self._state.stream_faults.popleft() if self._state.stream_faults else None
        options = payload.get("stream_options")
        include_usage = self.send_usage or (
            isinstance(options, dict) and bool(options.get("include_usage"))
        )
        events = self._chat_events(payload["model"], text, fault, usage if include_usage else None)
        return _EventStream(events, headers={"cache-control": "no-cache"})

    async def _chat_events(
        self, model: str, text: str, fault: _Fault | None, usage: dict[str, int] | None
    ) -> AsyncIterator[str]:
        completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        created = int(time.time())

        def event(choices: list[dict[str, Any]], **extra: Any) -> str:
            chunk = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": choices,
                **extra,
            }
            return f"data: {json.dumps(chunk, separators=(',', ':'))}\n\n"

        def delta(content: dict[str, str], finish_reason: str | None = None) -> str:
            choice = {
                "index": 0,
                "delta": content,
                "logprobs": None,
                "finish_reason": finish_reason,
            }
            return event([choice])

        pieces = _DELTA.findall(text)
        strike = min(fault.after, len(pieces)) if fault is not None else -1
        ended_by_server = False
        try:
            yield delta({"role": "assistant", "content": ""})
            for sent in range(len(pieces) + 1):
                if fault is not None and sent == strike:
                    if fault.kind == "break":
                        ended_by_server = True
                        raise _DropConnection
                    await self._sleep(fault.seconds)
                if sent == len(pieces):
                    break
                if sent and self.chunk_delay:
                    await self._sleep(self.chunk_delay)
                if self.keep_alive:
                    yield ": keep-alive\n\n"
                yield delta({"content": pieces[sent]})
            yield delta({}, "stop")
            if usage is not None:
                yield event([], usage=usage)
            if self.send_done:
                yield "data: [DONE]\n\n"
            ended_by_server = True
        finally:
            # Starlette cancels this generator (or abandons it) when the client disconnects.
            if not ended_by_server:
                with self._lock:
                    self._state.disconnects += 1
                self.disconnected.set()

    def _chat_garbage(self, request: RecordedRequest) -> Response | None:
        if not (isinstance(request.json, dict) and request.json.get("stream")):
            return None  # a non-streaming chat request gets the usual non-JSON body
        lines = 'data: <html>not json\n\ndata: {"choices": [\n\n'
        return Response(lines, 200, media_type="text/event-stream")
