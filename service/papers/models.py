"""Models of ``/v1/papers``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class PaperSummary(BaseModel):
    paper_id: str
    title: str
    authors: list[str] = Field(default_factory=list)
    url: str | None = None
    published: str | None = None


class PaperDetail(PaperSummary):
    abstract: str = Field(..., description="The abstract, whitespace-normalised.")
    sentences: list[str] = Field(
        ..., description="The abstract's sentences, as citations quote them."
    )
    metadata: dict[str, Any] = Field(default_factory=dict)


class PaperList(BaseModel):
    total: int = Field(..., description="Papers matching `q` (all papers without `q`).")
    offset: int
    limit: int
    papers: list[PaperSummary]
    index_version: str
