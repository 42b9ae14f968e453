"""Request and response models of ``/v1/search`` (shared with ``/v1/ask``)."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from indexer import Filters

ISO_DATE = r"^\d{4}-\d{2}-\d{2}$"


class PublishedRange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    from_: str | None = Field(
        None, alias="from", pattern=ISO_DATE, description="Earliest date, YYYY-MM-DD."
    )
    to: str | None = Field(
        None, pattern=ISO_DATE, description="Latest date, YYYY-MM-DD (inclusive)."
    )

    @field_validator("from_", "to")
    @classmethod
    def _calendar_date(cls, value: str | None) -> str | None:
        # The pattern lets 2024-13-45 through, which would compare as a string and filter wrongly.
        if value is not None:
            try:
                date.fromisoformat(value)
            except ValueError:
                raise ValueError(f"{value} is not a calendar date") from None
        return value


class SearchFilters(BaseModel):
    """Restrict retrieval: equality on metadata fields, and a range on ``published``."""

    model_config = ConfigDict(extra="forbid")

    equals: dict[str, str | int | float | bool] = Field(
        default_factory=dict,
        description="Field -> value; a paper matches when the field equals the value (for a "
        "list field such as authors: contains it). Fields: paper fields (authors, url, "
        "published, title) or any metadata key.",
        max_length=20,
    )
    published: PublishedRange | None = Field(
        None, description="Inclusive range of publication dates."
    )

    def to_filters(self) -> Filters:
        published = self.published or PublishedRange()
        return Filters(dict(self.equals), published.from_, published.to)


class Scope(BaseModel):
    """Fields shared by search and ask requests that narrow what retrieval may return."""

    paper_ids: list[str] | None = Field(
        None,
        max_length=1000,
        description="Only these papers are retrieved (e.g. 'ask about this paper').",
    )
    filters: SearchFilters | None = Field(None, description="Metadata filters.")


class SearchRequest(Scope):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(..., min_length=1, max_length=2000, description="What to search for.")
    top_k: int = Field(10, ge=1, le=50, description="Number of papers to return.")
    mode: Literal["hybrid", "dense", "bm25"] = Field(
        "hybrid", description="hybrid: dense + BM25, an equal-weight sum of z-scored scores."
    )

    @field_validator("query")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value


class PaperResult(BaseModel):
    paper_id: str = Field(..., description="Stable id of the paper.")
    title: str = Field(..., description="The paper's title.")
    score: float = Field(
        ...,
        description="Relevance in the chosen mode: cosine (dense), BM25 score (bm25), or "
        "the fused z-score (hybrid; comparable within one response only).",
    )
    snippet: str = Field(..., description="The paper's sentences that best match the query.")
    url: str | None = Field(None, description="Link to the paper, when known.")
    authors: list[str] = Field(default_factory=list, description="Authors, when known.")
    published: str | None = Field(None, description="Publication date (YYYY-MM-DD), when known.")
    metadata: dict[str, Any] = Field(
        default_factory=dict, description="Other metadata of the paper."
    )


class SearchResponse(BaseModel):
    query: str = Field(..., description="The query as received.")
    mode: str = Field(..., description="The retrieval mode used.")
    results: list[PaperResult] = Field(..., description="Ranked papers, best first.")
    answerable: bool = Field(
        ...,
        description="Whether the papers returned answer the query, by the test /v1/ask "
        "abstains with: false where /v1/ask would say the indexed papers do not cover it "
        "(the best answerability is under ABSTRACTQA_ABSTAIN_MIN_SCORE, or _SCOPED with "
        "paper_ids).",
    )
    answerability: float = Field(
        ...,
        description="The best returned paper's answerability: dense cosine plus the weighted "
        "share of the query's distinctive terms it contains (0 without results).",
    )
    took_ms: float = Field(..., description="Server time spent on the request.")
