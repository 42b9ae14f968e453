"""Models of ``/v1/papers``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class PaperSummary(BaseModel):
    paper_id: str = Field(..., description="Stable id of the paper.")
    title: str = Field(..., description="The paper's title.")
    authors: list[str] = Field(default_factory=list, description="Authors, when known.")
    url: str | None = Field(None, description="Link to the paper, when known.")
    published: str | None = Field(None, description="Publication date (YYYY-MM-DD), when known.")


class PaperDetail(PaperSummary):
    abstract: str = Field(..., description="The abstract, whitespace-normalised.")
    sentences: list[str] = Field(
        ..., description="The abstract's sentences, as citations quote them."
    )
    metadata: dict[str, Any] = Field(
        default_factory=dict, description="Other fields of the source record."
    )


class PaperList(BaseModel):
    total: int = Field(..., description="Papers matching `q` (all papers without `q`).")
    offset: int = Field(..., description="Papers skipped.")
    limit: int = Field(..., description="Page size.")
    papers: list[PaperSummary] = Field(..., description="This page, ordered by title.")
    index_version: str = Field(..., description="The index version that answered.")
