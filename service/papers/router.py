from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from service.api_errors import error_responses
from service.citations.router import FILE_CONTENT, file_response
from service.deps import CitationsServiceDep, PapersServiceDep
from service.papers.models import PaperDetail, PaperList

router = APIRouter(prefix="/v1/papers", tags=["papers"])


@router.get(
    "",
    response_model=PaperList,
    responses=error_responses(422, 503),
    summary="Browse the indexed papers",
)
def list_papers(
    papers: PapersServiceDep,
    offset: Annotated[int, Query(ge=0, le=10_000_000, description="Papers to skip.")] = 0,
    limit: Annotated[int, Query(ge=1, le=200, description="Papers per page.")] = 20,
    q: Annotated[
        str | None,
        Query(
            max_length=200,
            description="Words that must all occur in the "
            "title, abstract, authors or id (case-insensitive).",
        ),
    ] = None,
) -> PaperList:
    return papers.list(offset, limit, q)


@router.get(
    "/{paper_id:path}",  # ids may hold "/" (e.g. old-style arXiv ids such as hep-th/9901001)
    response_model=PaperDetail,
    responses={200: {"content": FILE_CONTENT}, **error_responses(404, 422, 503)},
    summary="One paper, with its sentences; or its citation",
    description="`format=json` (the default) is the paper's record; `bibtex`, `ris` or "
    "`csl-json` is a citation file of it, sent as a download.",
)
def get_paper(
    paper_id: str,
    papers: PapersServiceDep,
    citations: CitationsServiceDep,
    format: Annotated[
        Literal["json", "bibtex", "ris", "csl-json"],
        Query(description="json (the record), bibtex, ris or csl-json (a citation file)."),
    ] = "json",
) -> Any:
    if format == "json":
        return papers.get(paper_id)
    return file_response(citations.export([paper_id], format))
