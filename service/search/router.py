from __future__ import annotations

from fastapi import APIRouter

from service.api_errors import error_responses
from service.deps import SearchServiceDep
from service.search.models import SearchRequest, SearchResponse

router = APIRouter(prefix="/v1", tags=["search"])


@router.post(
    "/search",
    response_model=SearchResponse,
    responses=error_responses(400, 422, 503),
    summary="Ranked papers for a query",
)
async def search(request: SearchRequest, service: SearchServiceDep) -> SearchResponse:
    return await service.asearch(request)
