"""Answer backends by name; each is imported only when it is built."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from service.backends.base import AnswerBackend, AnswerPrompt, Source, SourceSentence
from service.errors import BackendError
from service.settings import Settings


def _extractive(settings: Settings, client: httpx.AsyncClient | None) -> AnswerBackend:
    from service.backends.extractive import ExtractiveBackend

    return ExtractiveBackend.for_coverage_weight(settings.answering.abstain_coverage_weight)


def _openai(settings: Settings, client: httpx.AsyncClient | None) -> AnswerBackend:
    from service.backends.openai_chat import OpenAIChatBackend

    return OpenAIChatBackend(
        base_url=settings.llm.base_url,
        model=settings.llm.model,
        api_key=settings.llm.api_key.get_secret_value() if settings.llm.api_key else None,
        timeout_s=settings.llm.timeout_s,
        connect_timeout_s=settings.llm.connect_timeout_s,
        max_retries=settings.llm.max_retries,
        backoff_s=settings.llm.backoff_s,
        temperature=settings.llm.temperature,
        max_tokens=settings.llm.max_tokens,
        client=client,
    )


def _llama_index(settings: Settings, client: httpx.AsyncClient | None) -> AnswerBackend:
    from service.backends.llama_index import (
        CLASS_SETTING,
        LlamaIndexBackend,
        LLMArguments,
        load_llm_class,
    )

    # Checked at start-up when it is the default backend (settings.py); a request that names
    # it otherwise learns of a bad class here.
    try:
        llm_class = load_llm_class(settings.llama_index.llm_class)
        llm = LLMArguments.from_settings(settings).build(llm_class, client)
    except ValueError as exc:
        raise BackendError(f"{CLASS_SETTING}: {exc}") from exc
    return LlamaIndexBackend(llm, timeout_s=settings.llm.timeout_s)


BACKENDS: dict[str, Callable[[Settings, httpx.AsyncClient | None], AnswerBackend]] = {
    "extractive": _extractive,
    "openai": _openai,
    "llama-index": _llama_index,
}


def build_backend(
    name: str, settings: Settings, client: httpx.AsyncClient | None = None
) -> AnswerBackend:
    """The backend registered as ``name``; ``client`` lets tests swap the HTTP transport."""
    try:
        factory = BACKENDS[name]
    except KeyError:
        raise ValueError(
            f"unknown backend {name!r}; known: {', '.join(sorted(BACKENDS))}"
        ) from None
    return factory(settings, client)


__all__ = ["BACKENDS", "AnswerBackend", "AnswerPrompt", "Source", "SourceSentence", "build_backend"]
