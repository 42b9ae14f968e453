"""Answering: retrieve, abstain or build numbered sources, run a backend, verify citations.

The non-streaming answer is the streamed one collected, so both always agree.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import anyio
import httpx

import prompts
from service.answering.citations import Verified, verify
from service.answering.context import chat_messages, pack_sources
from service.ask.models import AnswerSentence, AskRequest, AskResponse, CitationOut, SourceRef
from service.backends import (
    BACKENDS,
    AnswerBackend,
    AnswerPrompt,
    Source,
    SourceSentence,
    build_backend,
)
from service.backends.extractive import ExtractiveBackend
from service.citations.service import CitationsService
from service.errors import BackendError, InvalidRequestError
from service.observability.metrics import Metrics
from service.runtime.state import Loaded, ServiceState
from service.search.service import retrieve_async, snippet_scoring

Event = tuple[str, dict[str, Any]]


@dataclass
class Prepared:
    request: AskRequest
    started: float
    loaded: Loaded
    backend: AnswerBackend
    prompt: AnswerPrompt
    candidates: list[SourceRef]
    abstained: bool
    answerability: float
    # Each retrieved paper's abstract sentences, as read for retrieval: verification needs them
    # whole (a source's packed sentences may be fewer), and reading them again by id cost ~0.3
    # ms of an answer at 1,000,000 papers (ad hoc).
    sentences: dict[str, list[str]]

    def refs(self) -> list[SourceRef]:
        return [
            SourceRef(n=s.n, paper_id=s.paper_id, title=s.title, url=s.url, score=s.answerability)
            for s in self.prompt.sources
        ]


class AskService:
    def __init__(
        self,
        state: ServiceState,
        http_client: httpx.AsyncClient | None = None,
        metrics: Metrics | None = None,
        citations: CitationsService | None = None,
    ) -> None:
        self._state = state
        self._citations = citations or CitationsService(state)
        self._client = http_client
        self._metrics = metrics or Metrics()
        self._backends: dict[str, AnswerBackend] = {}
        self._extractive = ExtractiveBackend.for_coverage_weight(
            state.settings.answering.abstain_coverage_weight
        )
        # Built now rather than on the first request: the openai backend imports the SDK, which
        # takes seconds and would block the event loop while that request waits.
        self.backend(None)

    def backend(self, name: str | None) -> AnswerBackend:
        name = name or self._state.settings.answering.answer_backend
        if name not in BACKENDS:
            raise InvalidRequestError(
                f"unknown backend {name!r}; use one of: {', '.join(sorted(BACKENDS))}"
            )
        if name not in self._backends:
            self._backends[name] = build_backend(name, self._state.settings, self._client)
        return self._backends[name]

    async def aclose(self) -> None:
        for backend in self._backends.values():
            await backend.aclose()

    async def prepare(self, request: AskRequest) -> Prepared:
        """Validate, retrieve and decide whether to abstain (errors here are plain HTTP errors)."""
        started = time.perf_counter()
        settings = self._state.settings
        question = request.question.strip()
        if len(question) > settings.answering.max_question_chars:
            raise InvalidRequestError(
                f"question is {len(question)} characters long; "
                f"the limit is {settings.answering.max_question_chars}"
            )
        backend = self.backend(request.backend)
        loaded = self._state.loaded
        top_k = request.top_k or settings.retrieval.ask_top_k
        with self._metrics.time_retrieval("ask"):
            vector = await self._state.query_encoder.encode(question)
            chosen = settings.retrieval.answer_sentences
            scoring = snippet_scoring(settings, len(loaded.index.papers), chosen)
            retrieved = await retrieve_async(
                loaded, question, vector, top_k, "hybrid", request, scoring
            )
        answerabilities = retrieved.answerabilities(
            loaded, question, settings.answering.abstain_coverage_weight
        )
        sources = []
        for hit, paper_score in zip(retrieved.hits, answerabilities, strict=True):
            scores = retrieved.sentence_scores[hit.paper.paper_id]
            sentences = [
                SourceSentence(i, text, float(scores[i]))
                for i, text in enumerate(hit.paper.sentences)
            ]
            sources.append(
                Source(
                    0, hit.paper.paper_id, hit.paper.title, sentences, paper_score, hit.paper.url
                )
            )
        candidates = [
            SourceRef(n=i + 1, paper_id=s.paper_id, title=s.title, url=s.url, score=s.answerability)
            for i, s in enumerate(sources)
        ]
        score = max(answerabilities, default=0.0)
        threshold = settings.abstain_threshold(request.paper_ids is not None)
        abstained = score < threshold
        packed = [] if abstained else pack_sources(sources, settings.llm.context_tokens)
        prompt = AnswerPrompt(
            question,
            packed,
            chat_messages(question, packed, settings.answering.answer_max_sentences),
            settings.answering.answer_max_sentences,
        )
        return Prepared(
            request,
            started,
            loaded,
            backend,
            prompt,
            candidates,
            abstained or not packed,
            score,
            {hit.paper.paper_id: hit.paper.sentences for hit in retrieved.hits},
        )

    async def events(self, prepared: Prepared) -> AsyncIterator[Event]:
        """``sources``, ``delta``..., ``citations`` (the final response), ``done``."""
        backend_name = prepared.backend.name
        failure: BackendError | None = None
        yield (
            "sources",
            {
                "sources": [r.model_dump() for r in prepared.refs()],
                "abstained": prepared.abstained,
                "related": [r.model_dump() for r in prepared.candidates]
                if prepared.abstained
                else [],
                "backend": backend_name,
            },
        )
        if prepared.abstained:
            text = prompts.render("no_answer").strip()
            yield "delta", {"text": text}
            final = self._abstention(prepared, text, backend_name)
        else:
            parts: list[str] = []
            reason = None
            # A backend that calls no model has no LLM timings or tokens of its own.
            llm = self._metrics.llm_call(backend_name, prepared.backend.calls_llm)
            try:
                async for piece in prepared.backend.stream(prepared.prompt, llm.usage):
                    llm.piece()
                    parts.append(piece)
                    yield "delta", {"text": piece}
                llm.finish(prepared.prompt.messages, "".join(parts))
            except BackendError as exc:
                # The LLM failed: answer extractively; a client that already showed partial text
                # replaces it with the final answer of the citations event.
                llm.fail()
                failure, reason, backend_name = exc, exc.message, self._extractive.name
                fallback = self._extractive.pieces(prepared.prompt)
                if not parts:
                    for piece in fallback:
                        yield "delta", {"text": piece}
                parts = fallback
            final = await self._finish(prepared, "".join(parts), backend_name, reason)
        self._metrics.observe_answer(final, failure)
        yield "citations", final.model_dump()
        yield "done", {"took_ms": final.took_ms}

    async def complete(self, prepared: Prepared) -> AskResponse:
        final: dict[str, Any] | None = None
        async for event, data in self.events(prepared):
            if event == "citations":
                final = data
        assert final is not None
        return AskResponse(**final)

    def _abstention(
        self, prepared: Prepared, text: str, backend: str, reason: str | None = None
    ) -> AskResponse:
        return AskResponse(
            answer=text,
            citations=[],
            abstained=True,
            related=prepared.candidates,
            sources=[],
            **_outcome(prepared, backend, reason),
        )

    async def _finish(
        self, prepared: Prepared, text: str, backend: str, reason: str | None
    ) -> AskResponse:
        no_answer = prompts.render("no_answer").strip()
        if text.strip().startswith(no_answer.rstrip(".")):
            return self._abstention(prepared, no_answer, backend, reason)
        verified = await anyio.to_thread.run_sync(self._verify, prepared, text)
        cited = [c.source.paper_id for c in sorted(verified.citations, key=lambda c: c.n)]
        export, format = None, prepared.request.citation_format
        if format and cited:
            # Reads the papers from the index (SQLite): off the event loop, as verification is.
            export = await anyio.to_thread.run_sync(
                self._citations.of_loaded, prepared.loaded, cited, format
            )
        return AskResponse(
            answer=verified.answer,
            citations=[
                CitationOut(
                    n=c.n,
                    paper_id=c.source.paper_id,
                    title=c.source.title,
                    url=c.source.url,
                    quote=c.quote,
                    sentence_indices=c.sentence_indices,
                    score=c.score,
                    supported=c.supported,
                )
                for c in verified.citations
            ],
            abstained=False,
            sources=prepared.refs(),
            sentences=[
                AnswerSentence(text=s.text, citations=s.cited, supported=s.supported, score=s.score)
                for s in verified.sentences
            ],
            unsupported_sentences=verified.unsupported,
            removed_markers=verified.removed_markers,
            citation_export=export,
            **_outcome(prepared, backend, reason),
        )

    def _verify(self, prepared: Prepared, text: str) -> Verified:
        loaded, sources = prepared.loaded, prepared.prompt.sources
        return verify(
            text,
            sources,
            loaded.sentences.get,
            {s.paper_id: prepared.sentences[s.paper_id] for s in sources},
            loaded.embedder.embed_documents,
            self._state.settings.answering.support_min_similarity,
        )


def _outcome(prepared: Prepared, backend: str, reason: str | None) -> dict[str, Any]:
    """The fields every final response carries: who answered, how, and how long it took."""
    return {
        "backend": backend,
        "degraded": reason is not None,
        "degraded_reason": reason,
        "answerability": prepared.answerability,
        "index_version": prepared.loaded.index.name,
        "took_ms": _ms(prepared.started),
    }


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
