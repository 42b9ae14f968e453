"""Browsing the indexed papers: a stable order by title, an optional text filter."""

from __future__ import annotations

from indexer.models import Paper
from service.errors import NotFoundError
from service.papers.models import PaperDetail, PaperList, PaperSummary
from service.state import ServiceState


def _summary(paper: Paper) -> PaperSummary:
    return PaperSummary(
        paper_id=paper.paper_id,
        title=paper.title,
        authors=paper.authors,
        url=paper.url,
        published=paper.published,
    )


def _matches(paper: Paper, words: list[str]) -> bool:
    haystack = " ".join([paper.paper_id, paper.title, paper.abstract, *paper.authors]).casefold()
    return all(word in haystack for word in words)


class PapersService:
    def __init__(self, state: ServiceState) -> None:
        self._state = state

    def list(self, offset: int, limit: int, q: str | None) -> PaperList:
        index = self._state.loaded.index
        papers = sorted(index.papers.values(), key=lambda p: (p.title.casefold(), p.paper_id))
        if q and q.strip():
            words = q.casefold().split()
            papers = [p for p in papers if _matches(p, words)]
        page = [_summary(p) for p in papers[offset : offset + limit]]
        return PaperList(
            total=len(papers), offset=offset, limit=limit, papers=page, index_version=index.name
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
