"""An answer backend for any OpenAI-compatible ``/chat/completions`` endpoint (OpenAI, vLLM,
llama.cpp server, Ollama, LM Studio, LiteLLM), streamed as server-sent events over httpx."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import AsyncExitStack, aclosing
from dataclasses import dataclass
from typing import Any

import httpx

from indexer import excerpt, retry_after
from service.backends.base import AnswerBackend, AnswerPrompt, TokenUsage
from service.errors import BackendError, BackendProtocolError, BackendUnavailableError

log = logging.getLogger(__name__)

_MAX_RETRY_AFTER_S = 10.0
# Failures another attempt may cure; TimeoutError is our own per-attempt deadline.
_TRANSIENT_ERRORS = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
    TimeoutError,
)


@dataclass
class _Transient(Exception):
    """A failure worth retrying, as long as no piece of the answer has been yielded yet."""

    description: str
    retry_after: float | None = None


@dataclass
class _Progress:
    finished: bool = False  # a choice carried a finish_reason: the answer is complete
    done: bool = False  # ``data: [DONE]`` arrived


class OpenAIChatBackend(AnswerBackend):
    """Streams ``choices[0].delta.content`` from ``POST {base_url}/chat/completions``.

    429, 5xx, connect errors and timeouts are retried with exponential backoff, but only until
    the first piece is yielded: after that a retry would repeat text the caller already has.
    ``timeout_s`` bounds both the silence between bytes and each attempt as a whole.
    """

    name = "openai"
    calls_llm = True

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout_s: float = 60.0,
        connect_timeout_s: float = 5.0,
        max_retries: int = 2,
        backoff_s: float = 0.5,
        temperature: float = 0.1,
        max_tokens: int = 400,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        if max_retries < 0:
            raise ValueError(f"max_retries must be 0 or more, got {max_retries}")
        self._url = base_url.rstrip("/") + "/chat/completions"
        self._model = model
        self._api_key = api_key or None
        self._timeout_s = timeout_s
        self._connect_timeout_s = connect_timeout_s
        self._max_retries = max_retries
        self._backoff_s = backoff_s
        self._temperature = temperature
        self._max_tokens = max_tokens
        # Passed with every request too, so an injected client gets the same limits.
        self._timeout = httpx.Timeout(timeout_s, connect=connect_timeout_s)
        self._owns_client = client is None
        self._client = client if client is not None else httpx.AsyncClient(timeout=self._timeout)

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def stream(
        self, prompt: AnswerPrompt, usage: TokenUsage | None = None
    ) -> AsyncIterator[str]:
        payload: dict[str, Any] = {
            "model": self._model,
            "messages": prompt.messages,
            "stream": True,
            "temperature": self._temperature,
            "max_tokens": self._max_tokens,
        }
        attempts = self._max_retries + 1
        for attempt in range(attempts):
            yielded = False
            try:
                # aclosing: if our consumer stops, the attempt's HTTP response closes right away.
                async with aclosing(self._attempt(payload, usage)) as pieces:
                    async for piece in pieces:
                        yielded = True
                        yield piece
                return
            except _Transient as exc:
                if yielded:
                    what = f"failed mid-answer: {exc.description}"
                    raise self._error(BackendUnavailableError, what) from exc.__cause__
                if attempt == attempts - 1:
                    plural = "s" if attempts > 1 else ""
                    what = f"unavailable after {attempts} attempt{plural}: {exc.description}"
                    raise self._error(BackendUnavailableError, what) from exc.__cause__
                delay = self._backoff_s * 2**attempt if exc.retry_after is None else exc.retry_after
                log.warning("LLM at %s: %s; retrying in %.2f s", self._url, exc.description, delay)
                await asyncio.sleep(delay)

    # -- one attempt -------------------------------------------------------------------------

    async def _attempt(
        self, payload: dict[str, Any], usage: TokenUsage | None
    ) -> AsyncGenerator[str, None]:
        deadline = asyncio.get_running_loop().time() + self._timeout_s
        progress = _Progress()
        headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        try:
            async with AsyncExitStack() as stack:
                async with asyncio.timeout_at(deadline):
                    response = await stack.enter_async_context(
                        self._client.stream(
                            "POST", self._url, json=payload, headers=headers, timeout=self._timeout
                        )
                    )
                    await self._check_status(response)
                media_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
                if media_type == "application/json":
                    # A server that ignores "stream": the whole answer as one piece.
                    async with asyncio.timeout_at(deadline):
                        await response.aread()
                    if answer := self._json_answer(response, usage):
                        yield answer
                    return
                if media_type != "text/event-stream":
                    what = f"answered with content type {media_type or '(none)'!r}, not SSE or JSON"
                    raise self._error(BackendProtocolError, what)
                lines = response.aiter_lines()
                while not progress.done:
                    try:
                        async with asyncio.timeout_at(deadline):
                            line = await anext(lines)
                    except StopAsyncIteration:
                        break
                    if piece := self._sse_piece(line, progress, usage):
                        yield piece
                if not (progress.done or progress.finished):
                    what = "ended the stream before a finish_reason or [DONE]"
                    raise self._error(BackendProtocolError, what)
        except _TRANSIENT_ERRORS as exc:
            if progress.finished:
                return  # the answer is complete; only the closing [DONE] was lost
            raise _Transient(self._describe(exc)) from exc
        except httpx.HTTPError as exc:
            what = f"request failed: {type(exc).__name__}: {exc}"
            raise self._error(BackendError, what) from exc

    async def _check_status(self, response: httpx.Response) -> None:
        if response.is_success:
            return
        await response.aread()
        # Scrubbed here because the retry log line shows it too.
        failure = self._scrub(f"HTTP {response.status_code}: {excerpt(response.text)}")
        if response.status_code == 429 or response.status_code >= 500:
            raise _Transient(failure, retry_after(response, _MAX_RETRY_AFTER_S))
        raise self._error(BackendError, f"rejected the request with {failure}")

    def _sse_piece(self, line: str, progress: _Progress, usage: TokenUsage | None) -> str | None:
        # Anything but a data field is framing: blank separators, ": keep-alive", event:, id:.
        if not line.startswith("data:"):
            return None
        data = line[5:].removeprefix(" ")
        if data.strip() == "[DONE]":
            progress.done = True
            return None
        try:
            chunk = json.loads(data)
        except ValueError as exc:
            what = f"sent a stream line that is not JSON: {excerpt(data)}"
            raise self._error(BackendProtocolError, what) from exc
        choice = self._first_choice(chunk, "stream chunk")
        _record_usage(chunk, usage)
        if choice is None:
            return None  # e.g. the usage-only chunk that ends a stream
        if choice.get("finish_reason"):
            progress.finished = True
        delta = choice.get("delta")
        content = delta.get("content") if isinstance(delta, dict) else None
        if content is not None and not isinstance(content, str):
            raise self._error(BackendProtocolError, "sent a delta whose content is not a string")
        return content or None

    def _json_answer(self, response: httpx.Response, usage: TokenUsage | None) -> str:
        try:
            body = response.json()
        except ValueError as exc:
            what = f"sent a JSON reply that does not parse: {excerpt(response.text)}"
            raise self._error(BackendProtocolError, what) from exc
        choice = self._first_choice(body, "reply")
        message = choice.get("message") if choice is not None else None
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, str):
            what = f"sent a reply without choices[0].message.content: {excerpt(response.text)}"
            raise self._error(BackendProtocolError, what)
        _record_usage(body, usage)
        return content

    def _first_choice(self, body: Any, what: str) -> dict[str, Any] | None:
        if isinstance(body, dict) and body.get("error"):
            error = body["error"]
            detail = error.get("message", error) if isinstance(error, dict) else error
            raise self._error(BackendProtocolError, f"sent an error in its {what}: {detail}")
        choices = body.get("choices") if isinstance(body, dict) else None
        if not isinstance(choices, list):
            problem = f"sent a {what} without a 'choices' list: {excerpt(json.dumps(body))}"
            raise self._error(BackendProtocolError, problem)
        if not choices:
            return None
        if not isinstance(choices[0], dict):
            raise self._error(BackendProtocolError, f"sent a {what} whose choice is not an object")
        return choices[0]

    # -- messages ----------------------------------------------------------------------------

    def _describe(self, exc: BaseException) -> str:
        if isinstance(exc, httpx.ConnectTimeout):
            return f"connect timed out after {self._connect_timeout_s} s"
        if isinstance(exc, httpx.TimeoutException | TimeoutError):
            return f"timed out after {self._timeout_s} s"
        cause: BaseException | None = exc
        while cause is not None:
            if isinstance(cause, ConnectionRefusedError):
                return "connection refused"
            cause = cause.__cause__ or cause.__context__
        if isinstance(exc, httpx.RemoteProtocolError):
            return f"connection lost: {exc}"
        return f"{type(exc).__name__}: {exc}"

    def _error(self, kind: type[BackendError], what: str) -> BackendError:
        return kind(self._scrub(f"LLM at {self._url} {what}"))

    def _scrub(self, message: str) -> str:
        # A proxy may echo the Authorization header in its error body; never pass the key on.
        return message.replace(self._api_key, "***") if self._api_key else message


def _record_usage(body: dict[str, Any], usage: TokenUsage | None) -> None:
    """Keep the token counts of a reply's ``usage`` (OpenAI's shape), when it has one."""
    reported = body.get("usage")
    if usage is None or not isinstance(reported, dict):
        return
    for field in ("prompt_tokens", "completion_tokens"):
        value = reported.get(field)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            setattr(usage, field, value)
