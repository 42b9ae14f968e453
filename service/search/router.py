from __future__ import annotations

from fastapi import APIRouter

from service.deps import SearchServiceDep
from service.search.models import SearchRequest, SearchResponse

router = APIRouter(prefix="/v1", tags=["search"])


@router.post("/search", response_model=SearchResponse, summary="Ranked papers for a query")
def search(request: SearchRequest, service: SearchServiceDep) -> SearchResponse:
    return service.search(request)
