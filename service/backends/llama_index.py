"""An answer backend for any llama-index LLM (a ``llama_index.core.llms.LLM`` subclass, e.g.
``llama_index.llms.openai_like.OpenAILike``), streamed through ``astream_chat``.

The class and its arguments come from settings (``llama_index.llm_class``,
``llama_index.llm_kwargs``); arguments left out default to the ``llm_*`` settings. Whatever the
LLM raises is mapped to the ``BackendError`` family, so the answer falls back to the extractive
one exactly as with the built-in ``openai`` backend; retries are the LLM's own (its
``max_retries``).
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
from collections.abc import AsyncIterator, Awaitable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
from llama_index.core.base.llms.types import ChatMessage, ChatResponse
from llama_index.core.llms import LLM
from pydantic import SecretStr, ValidationError

from indexer import excerpt
from service.backends.base import AnswerBackend, AnswerPrompt, TokenUsage
from service.errors import BackendError, BackendProtocolError, BackendUnavailableError

if TYPE_CHECKING:
    from service.settings import Settings

CLASS_SETTING = "ABSTRACTQA_LLAMA_INDEX_LLM_CLASS"
KWARGS_SETTING = "ABSTRACTQA_LLAMA_INDEX_LLM_KWARGS"
_REFUSED = f"refused its arguments ({KWARGS_SETTING} and the llm_* settings)"
T = TypeVar("T")
NO_KEY = "unused"  # the api_key an LLM class gets when llm_api_key is unset

# LLM class field <- service setting: what an LLM class that has the field gets by default.
# The LLM class's field -> the llm group's setting it defaults to.
_DEFAULTS_FROM_SETTINGS = {
    "api_base": "base_url",
    "model": "model",
    "api_key": "api_key",
    "timeout": "timeout_s",
    "max_retries": "max_retries",
    "temperature": "temperature",
    "max_tokens": "max_tokens",
}


def load_llm_class(path: str) -> type[LLM]:
    """The llama-index LLM class at ``path`` (``package.module.Class``); ValueError naming what is
    wrong otherwise."""
    module_name, _, name = path.strip().rpartition(".")
    if not module_name or not name:
        raise ValueError(f"{path!r} is not a dotted path to a class (package.module.Class)")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"cannot import {module_name!r} for {path!r}: {exc}") from None
    llm_class = getattr(module, name, None)
    if llm_class is None:
        raise ValueError(f"module {module_name!r} has no {name!r}")
    if not (isinstance(llm_class, type) and issubclass(llm_class, LLM)):
        raise ValueError(
            f"{path!r} is not a llama-index LLM class (a subclass of llama_index.core.llms.LLM)"
        )
    return llm_class


@dataclass(frozen=True)
class LLMArguments:
    """The LLM's arguments: ``kwargs`` from settings, the rest from the ``llm_*`` settings."""

    kwargs: dict[str, Any]
    defaults: dict[str, Any]  # class field -> value, used when the class has the field

    @classmethod
    def from_settings(cls, settings: Settings) -> LLMArguments:
        # The prompt is chat messages; and OpenAI's client refuses to start without a key, which
        # local servers (Ollama, llama.cpp, vLLM) neither need nor check.
        defaults: dict[str, Any] = {"is_chat_model": True, "api_key": NO_KEY}
        for field, setting in _DEFAULTS_FROM_SETTINGS.items():
            value = getattr(settings.llm, setting)
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            if value is not None:
                defaults[field] = value
        return cls(dict(settings.llama_index.llm_kwargs), defaults)

    def build(self, llm_class: type[LLM], http_client: httpx.AsyncClient | None = None) -> LLM:
        fields = llm_class.model_fields
        arguments = {k: v for k, v in self.defaults.items() if k in fields} | self.kwargs
        if (
            http_client is not None
            and "async_http_client" not in arguments
            and "async_http_client" in inspect.signature(llm_class.__init__).parameters
        ):
            arguments["async_http_client"] = http_client
        try:
            return llm_class(**arguments)
        except ValidationError as exc:
            # Field names and messages only: the inputs may include the api_key.
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'arguments'}: {e['msg']}" for e in exc.errors()
            )
            raise ValueError(f"{llm_class.__name__} {_REFUSED}: {problems}") from None
        except Exception as exc:
            message = _scrub(f"{type(exc).__name__}: {exc}", arguments.get("api_key"))
            raise ValueError(f"{llm_class.__name__} {_REFUSED}: {message}") from None


class LlamaIndexBackend(AnswerBackend):
    """Streams ``ChatResponse.delta`` from ``llm.astream_chat(messages)``.

    ``timeout_s`` bounds the whole answer (so also any silence), whatever timeouts the LLM
    has of its own. When the consumer stops or is cancelled, the LLM's stream is closed.
    """

    name = "llama-index"
    calls_llm = True

    def __init__(self, llm: LLM, *, timeout_s: float) -> None:
        self._llm = llm
        self._timeout_s = timeout_s
        self._described = f"{type(llm).__name__} ({llm.metadata.model_name})"
        self._api_key = _secret_of(llm)

    @property
    def llm(self) -> LLM:
        return self._llm

    async def stream(
        self, prompt: AnswerPrompt, usage: TokenUsage | None = None
    ) -> AsyncIterator[str]:
        messages = [ChatMessage(role=m["role"], content=m["content"]) for m in prompt.messages]
        deadline = asyncio.get_running_loop().time() + self._timeout_s
        # The LLM's stream is read by a task of its own, into an unbounded queue, so that the
        # task is only ever waiting on the LLM: cancelling it then ends the HTTP read inside
        # and closes the response. Closing the generator astream_chat returns would not:
        # llama-index wraps the LLM's own generator in another, and leaves the inner one open.
        responses: asyncio.Queue[ChatResponse | Exception | None] = asyncio.Queue()
        reader = asyncio.create_task(self._read(messages, responses))
        yielded = False
        try:
            while (response := await _before(deadline, responses.get())) is not None:
                if isinstance(response, Exception):
                    raise response
                _record_usage(response, usage)
                if response.delta:
                    yielded = True
                    yield response.delta
        except Exception as exc:  # a third-party LLM: anything it raises is a backend failure
            kind, what = self._classify(exc)
            if yielded:
                what = f"failed mid-answer: {what}"
            elif kind is BackendUnavailableError:
                what = f"unavailable: {what}"
            raise kind(self._scrub(f"LLM {self._described} {what}")) from exc
        finally:
            # Done, failed, timed out, or our consumer stopped or was cancelled: end the read.
            reader.cancel()
            await asyncio.wait([reader])

    async def _read(
        self,
        messages: list[ChatMessage],
        responses: asyncio.Queue[ChatResponse | Exception | None],
    ) -> None:
        try:
            async for response in await self._llm.astream_chat(messages):
                responses.put_nowait(response)
            responses.put_nowait(None)
        except Exception as exc:
            responses.put_nowait(exc)

    def _classify(self, exc: Exception) -> tuple[type[BackendError], str]:
        if isinstance(exc, _TimedOut):
            return BackendUnavailableError, f"timed out after {self._timeout_s} s"
        status = _status_of(exc)
        if status is not None:
            failure = f"HTTP {status}: {excerpt(str(exc))}"
            if status == 429 or status >= 500:
                return BackendUnavailableError, failure
            return BackendError, f"rejected the request with {failure}"
        for cause in _causes(exc):
            if isinstance(cause, ConnectionRefusedError):
                return BackendUnavailableError, "connection refused"
            if isinstance(cause, httpx.TimeoutException | TimeoutError):
                return BackendUnavailableError, f"timed out ({type(cause).__name__})"
            if isinstance(cause, httpx.TransportError | ConnectionError):
                return BackendUnavailableError, f"connection lost: {type(cause).__name__}: {cause}"
            if isinstance(cause, ValueError):
                # JSON that does not parse, a chunk that does not fit the protocol's models.
                what = f"{type(cause).__name__}: {excerpt(str(cause))}"
                return BackendProtocolError, f"sent a reply that is not the protocol: {what}"
        return BackendError, f"failed: {type(exc).__name__}: {excerpt(str(exc))}"

    def _scrub(self, message: str) -> str:
        return _scrub(message, self._api_key)


class _TimedOut(Exception):
    """Our deadline for the answer passed (not a timeout of the LLM's own)."""


async def _before(deadline: float, awaitable: Awaitable[T]) -> T:
    timer = asyncio.timeout_at(deadline)
    try:
        async with timer:
            return await awaitable
    except TimeoutError as exc:
        if timer.expired():
            raise _TimedOut from exc
        raise


def _record_usage(response: ChatResponse, usage: TokenUsage | None) -> None:
    """llama-index LLMs report token counts in ``additional_kwargs`` (OpenAI's names)."""
    if usage is None:
        return
    for field in ("prompt_tokens", "completion_tokens"):
        value = response.additional_kwargs.get(field)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            setattr(usage, field, value)


def _status_of(exc: BaseException) -> int | None:
    """The HTTP status of an API error: ``status_code`` (openai, anthropic, ...) or an httpx
    ``HTTPStatusError``'s response."""
    for cause in _causes(exc):
        status = getattr(cause, "status_code", None)
        if isinstance(cause, httpx.HTTPStatusError):
            status = cause.response.status_code
        if isinstance(status, int) and not isinstance(status, bool):
            return status
    return None


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        yield cause
        cause = cause.__cause__ or cause.__context__


def _secret_of(llm: LLM) -> str | None:
    key = getattr(llm, "api_key", None)
    if isinstance(key, SecretStr):
        key = key.get_secret_value()
    return key if isinstance(key, str) and key and key != NO_KEY else None


def _scrub(message: str, api_key: Any) -> str:
    # A proxy may echo the Authorization header in its error body; never pass the key on.
    return message.replace(api_key, "***") if isinstance(api_key, str) and api_key else message
