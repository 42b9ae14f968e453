"""The citation formats: one name each, its media type and file extension, and its writer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from indexer import Paper
from service.citations import bibtex, csl, ris
from service.citations.record import CitationRecord, citation_record

CitationFormat = Literal["bibtex", "ris", "csl-json"]


@dataclass(frozen=True)
class FormatSpec:
    media_type: str
    extension: str
    render: Callable[[list[CitationRecord]], str]


FORMATS: dict[str, FormatSpec] = {
    "bibtex": FormatSpec("application/x-bibtex", "bib", bibtex.render),
    "ris": FormatSpec("application/x-research-info-systems", "ris", ris.render),
    "csl-json": FormatSpec("application/vnd.citationstyles.csl+json", "json", csl.render),
}


@dataclass(frozen=True)
class CitationFile:
    format: CitationFormat
    media_type: str
    filename: str
    content: str


def citation_file(papers: list[Paper], format: CitationFormat) -> CitationFile:
    """``papers`` in ``format``, in the order given, in a file named by the citation key of a
    single paper (else ``citations``) and the format's extension."""
    spec = FORMATS[format]
    records = [citation_record(p) for p in papers]
    name = records[0].key if len(records) == 1 else "citations"
    return CitationFile(format, spec.media_type, f"{name}.{spec.extension}", spec.render(records))
