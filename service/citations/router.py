from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from service.api_errors import error_responses
from service.citations.formats import FORMATS, CitationFile
from service.citations.models import ExportRequest
from service.deps import CitationsServiceDep

router = APIRouter(prefix="/v1/citations", tags=["citations"])

# The 200 content of a route answering with a citation file, for the OpenAPI schema.
FILE_CONTENT: dict[str, Any] = {
    spec.media_type: {"schema": {"type": "string"}} for spec in FORMATS.values()
}


def file_response(file: CitationFile) -> Response:
    """The file as a download: its media type (UTF-8) and a ``Content-Disposition`` name."""
    return Response(
        file.content,
        media_type=f"{file.media_type}; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{file.filename}"'},
    )


@router.post(
    "/export",
    response_class=Response,
    responses={
        200: {"content": FILE_CONTENT, "description": "The citation file."},
        **error_responses(404, 422, 503),
    },
    summary="Citations of papers in BibTeX, RIS or CSL-JSON",
    description="One file citing every paper of `paper_ids`, in that order (an answer's "
    "citations: the `paper_id` of each, by their [n]). An unknown id is a 404 naming it.",
)
def export(body: ExportRequest, citations: CitationsServiceDep) -> Response:
    return file_response(citations.export(body.paper_ids, body.format))
