from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from service.api_errors import error_responses
from service.ask.models import AskRequest, AskResponse
from service.ask.service import Event
from service.deps import AskServiceDep
from service.errors import ServiceError
from service.security.limits import ClientStreamsDep, LimitedStreamingResponse, StreamSlot

router = APIRouter(prefix="/v1", tags=["ask"])
log = logging.getLogger("abstractqa.service")

_STREAM_DOC = (
    "With `stream: true` or `Accept: text/event-stream`: Server-Sent Events `sources` (the "
    "numbered papers), `delta` (`{text}`, repeated), `citations` (the final response, as the "
    "JSON answer), `done` (`{took_ms}`); a failure mid-stream is an `error` event "
    "(`{code, message}`). If the LLM fails after text was sent, `citations.answer` is the "
    "extractive answer that replaces it (`degraded: true`)."
)


def sse(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


async def sse_stream(events: AsyncIterator[Event]) -> AsyncIterator[str]:
    """Format events; an exception becomes an ``error`` event, never a hung connection."""
    try:
        async for event, data in events:
            yield sse(event, data)
    except ServiceError as exc:
        yield sse("error", {"code": exc.code, "message": exc.message})
    except Exception:
        log.exception("answer stream failed")
        yield sse("error", {"code": "internal_error", "message": "internal error while answering"})


def event_stream(events: AsyncIterator[Event], slot: StreamSlot) -> StreamingResponse:
    """The SSE response; it gives the client's stream slot back when it ends."""
    return LimitedStreamingResponse(
        sse_stream(events),
        slot,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


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
        return event_stream(service.events(prepared), slot)
    return await service.complete(await service.prepare(body))
