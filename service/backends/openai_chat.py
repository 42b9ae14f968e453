"""An answer backend for any OpenAI-compatible ``/chat/completions`` endpoint (OpenAI, vLLM,
llama.cpp server, Ollama, LM Studio, LiteLLM), streamed as server-sent events through the official
``openai`` SDK; retries, failure descriptions and key scrubbing are the shared
``indexer.OpenAIEndpoint``'s. The SSE lines are parsed here, so that a malformed stream gets a
message that says what was wrong and a JSON reply (a server ignoring ``stream``) still works."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Iterable
from contextlib import AsyncExitStack, aclosing
from dataclasses import dataclass
from typing import Any, cast

import httpx
import openai
from openai.types.chat import ChatCompletionMessageParam

from indexer import Failure, OpenAIEndpoint, excerpt
from service.backends.base import AnswerBackend, AnswerPrompt, TokenUsage
from service.errors import BackendError, BackendProtocolError, BackendUnavailableError

log = logging.getLogger(__name__)

_MAX_RETRY_AFTER_S = 10.0


class _AttemptFailed(Exception):
    """An attempt failed in transport or status; the retry loop decides what follows."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.description)
        self.failure = failure


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
        self._endpoint = OpenAIEndpoint(
            base_url=base_url,
            path="chat/completions",
            api_key=api_key,
            # The attempt's deadline (timeout_s) bounds every read, so httpx has only the
            # connect limit: a read timeout of the same length could only race the deadline.
            timeout=httpx.Timeout(None, connect=connect_timeout_s),
            deadline_s=timeout_s,
            max_retries=max_retries,
            backoff_s=backoff_s,
            max_delay_s=_MAX_RETRY_AFTER_S,
            log=log,
        )
        self._model = model
        self._timeout_s = timeout_s
        self._temperature = temperature
        self._max_tokens = max_tokens
        self._owns_client = client is None
        self._client = (
            client if client is not None else httpx.AsyncClient(timeout=self._endpoint.timeout)
        )
        # Resolved now: the SDK imports a resource's modules on first use, which takes seconds
        # on a busy machine and must not eat into the first attempt's deadline.
        sdk = self._endpoint.async_client(self._client)
        self._completions = sdk.chat.completions.with_streaming_response

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def stream(
        self, prompt: AnswerPrompt, usage: TokenUsage | None = None
    ) -> AsyncIterator[str]:
        messages = cast(Iterable[ChatCompletionMessageParam], prompt.messages)
        attempt = 0
        while True:
            yielded = False
            try:
                # aclosing: if our consumer stops, the attempt's HTTP response closes right away.
                async with aclosing(self._attempt(messages, usage)) as pieces:
                    async for piece in pieces:
                        yielded = True
                        yield piece
                return
            except _AttemptFailed as exc:
                failure = exc.failure
                if yielded and failure.transient:
                    what = f"failed mid-answer: {failure.description}"
                    raise self._error(BackendUnavailableError, what) from failure.cause
                delay = None if yielded else self._endpoint.retry_delay(attempt, failure)
                if delay is None:
                    raise self._gave_up(failure, attempt + 1) from failure.cause
                await asyncio.sleep(delay)
                attempt += 1

    def _gave_up(self, failure: Failure, attempts: int) -> BackendError:
        if failure.transient:
            plural = "s" if attempts > 1 else ""
            what = f"unavailable after {attempts} attempt{plural}: {failure.description}"
            return self._error(BackendUnavailableError, what)
        if failure.status is not None:
            return self._error(BackendError, f"rejected the request with {failure.description}")
        return self._error(BackendError, f"request failed: {failure.description}")

    # -- one attempt -------------------------------------------------------------------------

    async def _attempt(
        self, messages: Iterable[ChatCompletionMessageParam], usage: TokenUsage | None
    ) -> AsyncGenerator[str, None]:
        deadline = asyncio.get_running_loop().time() + self._timeout_s
        progress = _Progress()
        try:
            async with AsyncExitStack() as stack:
                async with asyncio.timeout_at(deadline):
                    raw = await stack.enter_async_context(
                        self._completions.create(
                            model=self._model,
                            messages=messages,
                            stream=True,
                            temperature=self._temperature,
                            max_tokens=self._max_tokens,
                            extra_headers=self._endpoint.extra_headers,
                        )
                    )
                response = raw.http_response
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
        except (openai.APIError, httpx.HTTPError, TimeoutError) as exc:
            failure = self._endpoint.failure(exc)
            if failure.transient and progress.finished:
                return  # the answer is complete; only the closing [DONE] was lost
            raise _AttemptFailed(failure) from failure.cause

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

    def _error(self, kind: type[BackendError], what: str) -> BackendError:
        return kind(self._endpoint.scrub(f"LLM at {self._endpoint.url} {what}"))


def _record_usage(body: dict[str, Any], usage: TokenUsage | None) -> None:
    """Keep the token counts of a reply's ``usage`` (OpenAI's shape), when it has one."""
    reported = body.get("usage")
    if usage is None or not isinstance(reported, dict):
        return
    for field in ("prompt_tokens", "completion_tokens"):
        value = reported.get(field)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            setattr(usage, field, value)
