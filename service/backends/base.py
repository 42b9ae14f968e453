"""The answer-backend interface: one required method, ``stream(prompt)``."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass, field


@dataclass(frozen=True)
class SourceSentence:
    """A sentence of a source abstract and its similarity to the question: the cosine of
    their vectors, or on an index larger than the sentence cache the share of the question's
    term weight it holds (``ABSTRACTQA_ANSWER_SENTENCES``); 0 to 1 either way."""

    index: int
    text: str
    score: float


@dataclass(frozen=True)
class Source:
    """A numbered paper the answer may cite as ``[n]``."""

    n: int
    paper_id: str
    title: str
    sentences: list[SourceSentence]
    answerability: float  # dense cosine + weighted term coverage (answering/abstain.py)
    url: str | None = None


@dataclass(frozen=True)
class AnswerPrompt:
    """What a backend answers from: the question, the numbered sources, and the rendered chat
    messages (``{"role", "content"}``) for backends that call an LLM."""

    question: str
    sources: list[Source]
    messages: list[dict[str, str]] = field(default_factory=list)
    max_sentences: int = 4


@dataclass
class TokenUsage:
    """The token counts an LLM reported for one answer; None where it did not say."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None


class AnswerBackend(ABC):
    """Produces answer text with ``[n]`` markers, as a stream of text pieces.

    Capabilities: ``calls_llm`` — the backend sends ``AnswerPrompt.messages`` to a language
    model, so it can also condense a conversation into a standalone question, and its timings
    and token counts are LLM calls in the metrics.
    """

    name: str
    calls_llm: bool = False

    @abstractmethod
    def stream(self, prompt: AnswerPrompt, usage: TokenUsage | None = None) -> AsyncIterator[str]:
        """Yield the answer's text in pieces; raise ``BackendError`` on failure. A backend whose
        model reports token usage records it in ``usage``."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook, most backends hold nothing
        """Release connections; backends without any need not override this."""
