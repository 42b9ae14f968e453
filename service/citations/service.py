"""Citations of indexed papers in BibTeX, RIS or CSL-JSON (service/citations/formats.py)."""

from __future__ import annotations

from indexer import Paper
from service.citations.formats import CitationFile, CitationFormat, citation_file
from service.citations.models import CitationExport
from service.errors import NotFoundError
from service.runtime.state import Loaded, ServiceState


def papers_of(loaded: Loaded, paper_ids: list[str]) -> list[Paper]:
    """The papers in the order given, each once; an unknown id is a 404 naming it."""
    wanted = list(dict.fromkeys(paper_ids))
    found = loaded.index.papers.many(wanted)
    missing = [p for p in wanted if p not in found]
    if missing:
        names = ", ".join(repr(p) for p in missing)
        raise NotFoundError(f"no paper with id {names} in the index")
    return [found[p] for p in wanted]


def as_export(file: CitationFile) -> CitationExport:
    return CitationExport(
        format=file.format, media_type=file.media_type, filename=file.filename, content=file.content
    )


class CitationsService:
    def __init__(self, state: ServiceState) -> None:
        self._state = state

    def export(self, paper_ids: list[str], format: CitationFormat) -> CitationFile:
        return citation_file(papers_of(self._state.loaded, paper_ids), format)

    def of_loaded(
        self, loaded: Loaded, paper_ids: list[str], format: CitationFormat
    ) -> CitationExport:
        """The export of papers of the version an answer was made from (``loaded``), so an
        answer's citations and its export never come from two versions."""
        return as_export(citation_file(papers_of(loaded, paper_ids), format))
