from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from service.deps import StateDep

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str = Field(..., description="Always 'ok' while the process runs.")


class Readiness(BaseModel):
    status: str = Field(..., description="'ready', 'loading' or 'failed'.")
    index_version: str | None = Field(None, description="The loaded index version.")
    papers: int | None = Field(None, description="Papers in the loaded index.")
    warm: bool | None = Field(
        None,
        description="Whether the background warm-up after loading this version has ended, "
        "finished or failed (answering's libraries loaded, a small index's sentence vectors "
        "embedded, the heap frozen unless gc_freeze is off; a few seconds): requests are "
        "answered before, sharing the cores with it.",
    )
    error: str | None = Field(None, description="Why the index could not be loaded.")
    pointer_error: str | None = Field(
        None,
        description="Set while the index's CURRENT pointer is damaged or missing: the loaded "
        "version is still served, but no new version is picked up until it is fixed.",
    )


@router.get("/healthz", response_model=Health, summary="The process is alive")
def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "Index not loaded (yet)."}},
    summary="The index is loaded and queries are answered",
)
def readyz(state: StateDep) -> Readiness | JSONResponse:
    if state.ready:
        loaded = state.loaded
        return Readiness(
            status="ready",
            index_version=loaded.index.name,
            papers=len(loaded.index.papers),
            warm=loaded.warmed.is_set(),
            pointer_error=state.pointer_problem(),
        )
    body = Readiness(status="failed" if state.error else "loading", error=state.error)
    return JSONResponse(body.model_dump(), status_code=503)
