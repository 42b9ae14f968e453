"""Browsing the indexed papers: a stable order by title, an optional text filter (every word
must occur in the paper's record: id, title, abstract, authors or metadata), one page at a time
read from the index (no per-request work over the whole corpus in Python)."""

from __future__ import annotations

from indexer import Paper
from service.errors import NotFoundError
from service.papers.models import PaperDetail, PaperList, PaperSummary
from service.runtime.state import ServiceState


def _summary(paper: Paper) -> PaperSummary:
    return PaperSummary(
        paper_id=paper.paper_id,
        title=paper.title,
        authors=paper.authors,
        url=paper.url,
        published=paper.published,
    )


class PapersService:
    def __init__(self, state: ServiceState) -> None:
        self._state = state

    def list(self, offset: int, limit: int, q: str | None) -> PaperList:
        index = self._state.loaded.index
        words = q.casefold().split() if q else []
        total, papers = index.papers.page(offset, limit, words)
        return PaperList(
            total=total,
            offset=offset,
            limit=limit,
            papers=[_summary(p) for p in papers],
            index_version=index.name,
        )

    def get(self, paper_id: str) -> PaperDetail:
        paper = self._state.loaded.index.papers.get(paper_id)
        if paper is None:
            raise NotFoundError(f"no paper with id {paper_id!r} in the index")
        return PaperDetail(
            **_summary(paper).model_dump(),
            abstract=paper.abstract,
            sentences=paper.sentences,
            metadata=paper.metadata,
        )
