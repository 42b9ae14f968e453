"""Request and response models of ``/v1/ask``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from service.citations.formats import CitationFormat
from service.citations.models import CitationExport
from service.search.models import Scope


def _integer_only(schema: dict[str, Any]) -> None:
    """The schema of an optional integer that may be left out but not sent as null."""
    schema.pop("anyOf", None)
    schema.pop("default", None)
    schema.update(type="integer", minimum=1, maximum=20)


class AskRequest(Scope):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(..., min_length=1, description="A question in plain language.")
    top_k: int | None = Field(
        None,
        ge=1,
        le=20,
        description="Papers the answer may draw on (default 5).",
        # Left out means the server's default; an explicit null is refused, as by /v1/search.
        json_schema_extra=_integer_only,
    )
    backend: str | None = Field(
        None,
        description="Answer backend: 'extractive' (no LLM) or 'openai' (default: the server's).",
    )
    stream: bool = Field(
        False,
        description="Answer as Server-Sent Events (also chosen by Accept: text/event-stream).",
    )
    citation_format: CitationFormat | None = Field(
        None,
        description="Also export the cited papers in this format (bibtex, ris or csl-json) "
        "in the response's `citation_export`.",
    )

    @field_validator("question")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value

    @field_validator("top_k", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("must be an integer from 1 to 20, or left out for the default")
        return value


class SourceRef(BaseModel):
    n: int = Field(..., description="The number answer text cites as [n].")
    paper_id: str = Field(..., description="Stable id of the paper.")
    title: str = Field(..., description="The paper's title.")
    url: str | None = Field(None, description="Link to the paper, when known.")
    score: float = Field(
        ...,
        description="Answerability of the question by this paper: dense cosine + weighted "
        "term coverage.",
    )


class CitationOut(BaseModel):
    n: int = Field(..., description="The [n] marker in the answer.")
    paper_id: str = Field(..., description="Stable id of the paper.")
    title: str = Field(..., description="The paper's title.")
    url: str | None = Field(None, description="Link to the paper, when known.")
    quote: str = Field(
        ...,
        description="The exact sentence(s) of the abstract relied on, verbatim; ' … ' stands "
        "between two that are not adjacent in the abstract.",
    )
    sentence_indices: list[int] = Field(
        ..., description="Indices of the quoted sentences in the paper."
    )
    score: float = Field(..., description="Similarity of the citing answer text to the quote.")
    supported: bool = Field(..., description="Whether the quote supports the citing answer text.")


class AnswerSentence(BaseModel):
    text: str = Field(..., description="The answer sentence with its [n] markers.")
    citations: list[int] = Field(..., description="The [n] markers of this sentence.")
    supported: bool = Field(
        ..., description="A cited abstract states it (similarity over the threshold)."
    )
    score: float | None = Field(None, description="Best similarity to a sentence of a cited paper.")


class AskResponse(BaseModel):
    answer: str = Field(..., description="The answer text with [n] citation markers.")
    citations: list[CitationOut] = Field(..., description="The cited papers, verified.")
    abstained: bool = Field(..., description="The indexed papers do not cover the question.")
    related: list[SourceRef] = Field(
        default_factory=list, description="When abstaining: the closest papers, not citations."
    )
    sources: list[SourceRef] = Field(
        default_factory=list, description="The numbered papers offered to the backend."
    )
    sentences: list[AnswerSentence] = Field(
        default_factory=list, description="Per-sentence verification."
    )
    unsupported_sentences: int = Field(
        0, description="Answer sentences no cited abstract supports."
    )
    removed_markers: int = Field(0, description="Markers that named no source and were removed.")
    backend: str = Field(..., description="The backend that produced the answer.")
    degraded: bool = Field(
        False, description="The requested backend failed; the extractive answer was used."
    )
    degraded_reason: str | None = Field(None, description="Why the requested backend failed.")
    answerability: float = Field(
        ...,
        description="How well the best paper matches the question; below the threshold: abstain.",
    )
    citation_export: CitationExport | None = Field(
        None,
        description="With `citation_format`: the cited papers in that format, in the order of "
        "their [n] markers; null when not asked for or when the answer cites no paper.",
    )
    index_version: str = Field(..., description="The index version that answered.")
    took_ms: float = Field(..., description="Server time spent on the request.")
