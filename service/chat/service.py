"""The OpenAI-compatible chat: a conversation in, one cited answer out, built on ``AskService``.

A request is answered in four steps: choose the backend from the model name; bound the
conversation (``chat_max_messages``, ``chat_max_tokens``: the oldest messages are dropped); turn
its latest user message into a standalone question (``service.chat.condense``); answer that
question exactly as ``/v1/ask`` would. System and developer messages count towards the bounds
but are not used: the service's own answer rules apply.

The content is the answer text with its ``[n]`` markers, then a ``Sources:`` list (``[n] Title —
link or paper id``) of the cited papers; an abstention lists the related papers instead. The
structured answer (the ``/v1/ask`` response plus the standalone question) is the extra field
``abstractqa`` of the completion, or of the last chunk of a stream only.

Streaming and the non-streamed completion are one code path: the completion is the chunks
collected, so their content is always the same. The deltas are the answer text as the backend
writes it; the tail (``Sources:``) follows once the answer is verified. When the verified answer
is not the text that was streamed (the LLM failed mid-answer and the extractive answer replaced
it) the text already sent cannot be taken back, so the tail first says so and repeats the final
answer, then lists its sources; ``abstractqa.answer`` is always the final, verified answer.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Literal

from indexer import count_tokens
from service.ask.models import AskRequest, AskResponse, SourceRef
from service.ask.service import AskService, Prepared
from service.backends.extractive import ExtractiveBackend
from service.chat.condense import CondenseError, Turn, condense, rewrite
from service.chat.models import (
    AssistantMessage,
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ChatExtra,
    ChatMessage,
    Choice,
    ChunkChoice,
    Delta,
    ModelCard,
    ModelList,
    Usage,
)
from service.errors import BackendError, InvalidRequestError, NotFoundError
from service.settings import Settings

# Model name -> answer backend (None: the server's default backend).
MODELS: dict[str, str | None] = {
    "abstractqa": None,
    "abstractqa-extractive": "extractive",
    "abstractqa-llm": "openai",
}
_DESCRIPTIONS = {
    "abstractqa": "The server's default answer backend.",
    "abstractqa-extractive": "Extractive answers: the abstracts' own sentences, no LLM.",
    "abstractqa-llm": "Answers written by the configured OpenAI-compatible LLM, verified.",
}
_CREATED = int(time.time())
_MARKER_OR_SPACE = re.compile(r"\[\s*\d{1,3}(?:\s*[,;]\s*\d{1,3})*\s*\]|\s+")


class UnknownModelError(NotFoundError):
    code = "model_not_found"


@dataclass(frozen=True)
class Conversation:
    history: list[Turn]  # the earlier user and assistant turns kept, oldest first
    question: str  # the latest user message
    dropped: int  # earlier messages left out by the bounds
    tokens: int  # tiktoken tokens of the messages kept, the latest included


@dataclass(frozen=True)
class Standalone:
    question: str
    how: Literal["none", "rule", "llm"]
    note: str | None = None


@dataclass
class ChatPrepared:
    id: str
    created: int
    model: str
    conversation: Conversation
    standalone: Standalone
    ask: Prepared
    include_usage: bool


class ChatService:
    def __init__(self, ask: AskService, settings: Settings) -> None:
        self._ask = ask
        self._settings = settings

    # -- models ------------------------------------------------------------------------------

    def models(self) -> ModelList:
        return ModelList(data=[self.model(name) for name in MODELS])

    def model(self, name: str) -> ModelCard:
        self.backend_of(name)
        return ModelCard(id=name, created=_CREATED, description=_DESCRIPTIONS[name])

    def backend_of(self, model: str) -> str:
        if model not in MODELS:
            raise UnknownModelError(
                f"The model {model!r} does not exist; use one of: {', '.join(MODELS)}"
            )
        return MODELS[model] or self._settings.answer_backend

    # -- answering ---------------------------------------------------------------------------

    async def prepare(self, request: ChatCompletionRequest) -> ChatPrepared:
        """Choose the backend, bound the conversation, condense it, retrieve (HTTP errors)."""
        backend = self.backend_of(request.model)
        conversation = bound(request.messages, self._settings)
        standalone = await self._standalone(conversation, backend)
        ask = await self._ask.prepare(AskRequest(question=standalone.question, backend=backend))
        options = request.stream_options
        return ChatPrepared(
            id=f"chatcmpl-{uuid.uuid4().hex}",
            created=int(time.time()),
            model=request.model,
            conversation=conversation,
            standalone=standalone,
            ask=ask,
            include_usage=bool(options and options.include_usage),
        )

    async def chunks(self, prepared: ChatPrepared) -> AsyncIterator[ChatCompletionChunk]:
        """The role chunk, content chunks, the finishing chunk (with ``abstractqa`` unless a
        usage chunk follows: the structured answer always rides on the last chunk)."""

        def chunk(delta: Delta, finish: bool = False) -> ChatCompletionChunk:
            choice = ChunkChoice(delta=delta, finish_reason="stop" if finish else None)
            return ChatCompletionChunk(
                id=prepared.id, created=prepared.created, model=prepared.model, choices=[choice]
            )

        yield chunk(Delta(role="assistant", content=""))
        parts: list[str] = []
        final: AskResponse | None = None
        events = self._ask.events(prepared.ask)
        try:
            async for event, data in events:
                if event == "delta" and data["text"]:
                    parts.append(data["text"])
                    yield chunk(Delta(content=data["text"]))
                elif event == "citations":
                    final = AskResponse.model_validate(data)
        finally:  # a client that leaves mid-stream closes the backend's stream at once
            if isinstance(events, AsyncGenerator):
                await events.aclose()
        if final is None:  # AskService.events always ends with citations
            raise RuntimeError("the answer ended without its citations")
        streamed = "".join(parts)
        tail = answer_tail(streamed, final)
        if tail:
            yield chunk(Delta(content=tail))
        extra = self._extra(prepared, final)
        last = chunk(Delta(), finish=True)
        if not prepared.include_usage:
            last.abstractqa = extra
            yield last
            return
        yield last
        yield ChatCompletionChunk(
            id=prepared.id,
            created=prepared.created,
            model=prepared.model,
            choices=[],
            usage=usage(prepared, streamed + tail),
            abstractqa=extra,
        )

    async def complete(self, prepared: ChatPrepared) -> ChatCompletion:
        """The stream collected: the same content, the same ``abstractqa``."""
        parts: list[str] = []
        extra: ChatExtra | None = None
        async for chunk in self.chunks(prepared):
            parts.extend(c.delta.content or "" for c in chunk.choices)
            extra = chunk.abstractqa or extra
        if extra is None:  # chunks() always ends with it
            raise RuntimeError("the chat stream ended without its abstractqa field")
        content = "".join(parts)
        return ChatCompletion(
            id=prepared.id,
            created=prepared.created,
            model=prepared.model,
            choices=[Choice(message=AssistantMessage(content=content))],
            usage=usage(prepared, content),
            abstractqa=extra,
        )

    async def _standalone(self, conversation: Conversation, backend: str) -> Standalone:
        limit = self._settings.max_question_chars
        question = " ".join(conversation.question.split())
        if not any(turn.role == "user" for turn in conversation.history):
            return Standalone(question, "none")
        ruled = rewrite(conversation.history, question, limit)
        by_rule = Standalone(ruled, "none" if ruled == question else "rule")
        llm = self._ask.backend(backend)
        if isinstance(llm, ExtractiveBackend):  # no LLM to ask (openai, llama-index have one)
            return by_rule
        try:
            condensed = await condense(llm, conversation.history, question, limit)
        except (BackendError, CondenseError) as exc:
            reason = exc.message if isinstance(exc, BackendError) else str(exc)
            return Standalone(by_rule.question, by_rule.how, f"condensation failed: {reason}")
        return Standalone(condensed, "llm")

    def _extra(self, prepared: ChatPrepared, final: AskResponse) -> ChatExtra:
        return ChatExtra(
            **final.model_dump(),
            standalone_question=prepared.standalone.question,
            rewrite=prepared.standalone.how,
            rewrite_note=prepared.standalone.note,
            dropped_messages=prepared.conversation.dropped,
        )


# -- helpers -----------------------------------------------------------------------------------


def bound(messages: Sequence[ChatMessage], settings: Settings) -> Conversation:
    """The latest message and as many of the messages before it, newest first, as fit in
    ``chat_max_messages`` and ``chat_max_tokens``; a latest message that alone is too long, or
    more than ``chat_max_request_messages`` messages, is a 400."""
    if len(messages) > settings.chat_max_request_messages:
        raise InvalidRequestError(
            f"the conversation has {len(messages)} messages; the limit is "
            f"{settings.chat_max_request_messages} (setting chat_max_request_messages)"
        )
    latest = messages[-1].text
    # Characters first: counting the tokens of an overlong message is the costly part.
    if len(latest.strip()) > settings.max_question_chars:
        raise InvalidRequestError(
            f"the latest user message is {len(latest.strip())} characters long; the limit is "
            f"{settings.max_question_chars} characters (setting max_question_chars)"
        )
    latest_tokens = count_tokens(latest)
    if latest_tokens > settings.chat_max_tokens:
        raise InvalidRequestError(
            f"the latest user message is {latest_tokens} tokens long; the limit is "
            f"{settings.chat_max_tokens} tokens (setting chat_max_tokens)"
        )
    kept: list[ChatMessage] = []
    tokens = latest_tokens
    for message in reversed(messages[:-1]):
        size = count_tokens(message.text)
        if len(kept) + 2 > settings.chat_max_messages or tokens + size > settings.chat_max_tokens:
            break
        kept.append(message)
        tokens += size
    kept.reverse()
    history = [
        Turn.user(m.text) if m.role == "user" else Turn.assistant(m.text, m.abstractqa)
        for m in kept
        if m.role in ("user", "assistant")
    ]
    return Conversation(history, latest, len(messages) - 1 - len(kept), tokens)


def answer_tail(streamed: str, final: AskResponse) -> str:
    """What follows the streamed text: the final answer again when it replaced the streamed
    text, then the list of sources (or, for an abstention, of related papers)."""
    tail = ""
    if _MARKER_OR_SPACE.sub("", streamed) != _MARKER_OR_SPACE.sub("", final.answer):
        if streamed.strip():
            note = (
                "The language model failed mid-answer; the answer from the abstracts replaces "
                "the text above:"
                if final.degraded
                else "Verified answer, replacing the text above:"
            )
            tail += f"\n\n{note}\n\n"
        tail += final.answer
    if final.abstained:
        if final.related:
            tail += "\n\nRelated papers (they do not answer the question):\n"
            tail += "\n".join(f"- {_ref(r)}" for r in final.related)
        return tail
    cited = {c.n: c for c in final.citations}
    if cited:
        tail += "\n\nSources:\n" + "\n".join(
            f"[{n}] {cited[n].title} — {cited[n].url or cited[n].paper_id}" for n in sorted(cited)
        )
    return tail


def _ref(ref: SourceRef) -> str:
    return f"{ref.title} — {ref.url or ref.paper_id}"


def usage(prepared: ChatPrepared, content: str) -> Usage:
    completion = count_tokens(content)
    prompt = prepared.conversation.tokens
    return Usage(
        prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion
    )
