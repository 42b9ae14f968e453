"""Models of ``/v1/citations`` and of the citation export an answer may carry."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from service.citations.formats import CitationFormat


class ExportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    paper_ids: list[str] = Field(
        ...,
        min_length=1,
        max_length=200,
        description="The papers to cite, in the order the file lists them (repeats are "
        "listed once).",
    )
    format: CitationFormat = Field(
        ..., description="bibtex (.bib), ris (.ris) or csl-json (CSL-JSON, .json)."
    )


class CitationExport(BaseModel):
    format: CitationFormat = Field(..., description="The format of `content`.")
    media_type: str = Field(..., description="The media type of the format.")
    filename: str = Field(..., description="A file name for `content`, with its extension.")
    content: str = Field(
        ..., description="The cited papers in the format, in the order of their [n] markers."
    )
