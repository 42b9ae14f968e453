"""Answer backends by name; each is imported only when it is built."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from service.backends.base import AnswerBackend, AnswerPrompt, Source, SourceSentence
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


BACKENDS: dict[str, Callable[[Settings, httpx.AsyncClient | None], AnswerBackend]] = {
    "extractive": _extractive,
    "openai": _openai,
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
