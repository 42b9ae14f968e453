from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request

from service.api_errors import error_responses
from service.ask.models import AskRequest, AskResponse
from service.ask.service import Event
from service.deps import AskServiceDep
from service.security.limits import ClientStreamsDep
from service.sse import guarded, sse_frame, sse_response

router = APIRouter(prefix="/v1", tags=["ask"])
log = logging.getLogger("abstractqa.service")

_STREAM_DOC = (
    "With `stream: true` or `Accept: text/event-stream`: Server-Sent Events `sources` (the "
    "numbered papers), `delta` (`{text}`, repeated), `citations` (the final response, as the "
    "JSON answer), `done` (`{took_ms}`); a failure mid-stream is an `error` event "
    "(`{code, message}`). If the LLM fails after text was sent, `citations.answer` is the "
    "extractive answer that replaces it (`degraded: true`)."
)


def _error_event(status: int, code: str, message: str) -> str:
    return sse_frame({"code": code, "message": message}, "error")


async def _frames(events: AsyncIterator[Event]) -> AsyncIterator[str]:
    async for event, data in events:
        yield sse_frame(data, event)


@router.post(
    "/ask",
    response_model=AskResponse,
    summary="Answer a question with cited, verified sentences",
    description=_STREAM_DOC,
    responses={200: {"content": {"text/event-stream": {}}}, **error_responses(400, 422, 503)},
)
async def ask(
    body: AskRequest, request: Request, service: AskServiceDep, streams: ClientStreamsDep
) -> Any:
    if body.stream or "text/event-stream" in request.headers.get("accept", ""):
        slot = streams.open()  # 429 when the client streams too many answers already
        with slot.released_on_error():
            prepared = await service.prepare(body)
        return sse_response(guarded(_frames(service.events(prepared)), _error_event), slot)
    return await service.complete(await service.prepare(body))
