"""``/v1/admin/*``: reload the index, add and remove papers. Off without ABSTRACTQA_ADMIN_KEY;
every request needs ``Authorization: Bearer <admin key>``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from service.admin.models import PapersChanged, PapersIn, ReloadResponse
from service.admin.service import check_admin_key
from service.api_errors import ErrorBody
from service.deps import AdminServiceDep, SettingsDep

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="AdminKey",
    description="The admin key (ABSTRACTQA_ADMIN_KEY) as a bearer token.",
)


def require_admin(
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    check_admin_key(settings.security.admin_key, credentials.credentials if credentials else None)


_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in {
        401: "No admin key sent (admin_key_required).",
        403: "The bearer token is not the admin key (admin_key_invalid).",
        404: "Admin endpoints are off: no ABSTRACTQA_ADMIN_KEY (admin_disabled); or, for a "
        "removal, no such paper (not_found).",
        409: "The new version cannot be served and the old one still is (reload_failed), the "
        "index is being written by another process (index_busy), or the indexer refused the "
        "change (index_write_failed).",
        503: "The index is not loaded yet.",
    }.items()
}

router = APIRouter(
    prefix="/v1/admin",
    tags=["admin"],
    dependencies=[Depends(require_admin)],
    responses=_RESPONSES,
)


@router.post(
    "/reload",
    response_model=ReloadResponse,
    summary="Serve the index's current version (after `abstractqa index add`, for example)",
)
async def reload(admin: AdminServiceDep) -> ReloadResponse:
    return await admin.reload()


@router.post(
    "/papers",
    response_model=PapersChanged,
    summary="Add or update papers (one object or a list), then serve the new version",
    responses={
        400: {"model": ErrorBody, "description": "A paper the indexer cannot use."},
        422: {"model": ErrorBody, "description": "A field is missing or has an invalid value."},
    },
)
async def add_papers(
    admin: AdminServiceDep,
    papers: Annotated[PapersIn, Body(description="A paper, or a list of up to 1000.")],
) -> PapersChanged:
    return await admin.add(papers)


@router.delete(
    "/papers/{paper_id:path}",
    response_model=PapersChanged,
    summary="Remove a paper, then serve the new version",
)
async def remove_paper(paper_id: str, admin: AdminServiceDep) -> PapersChanged:
    return await admin.remove(paper_id)
