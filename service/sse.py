"""Server-sent events: the one writer the ask and chat streams share.

A stream is a sequence of frames; a failure while producing it becomes one final error frame
(never a hung or silently cut connection), in the shape its protocol uses.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.responses import StreamingResponse

from service.errors import ServiceError
from service.security.limits import LimitedStreamingResponse, StreamSlot

log = logging.getLogger("abstractqa.service")

# No caching, and no buffering by nginx-like proxies: each frame reaches the client as written.
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
INTERNAL_ERROR = "internal error while answering"

# (HTTP status, error code, message) -> the error frame of a protocol.
ErrorFrame = Callable[[int, str, str], str]


def sse_frame(data: Any, event: str | None = None) -> str:
    """One event: ``data`` as JSON (a string as it is), with an ``event:`` line when named."""
    payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    return (f"event: {event}\n" if event else "") + f"data: {payload}\n\n"


async def guarded(
    frames: AsyncIterator[str], error_frame: ErrorFrame, closing: str | None = None
) -> AsyncIterator[str]:
    """``frames``, then ``closing`` once they all were produced; a failure ends the stream with
    ``error_frame`` instead (a ``ServiceError`` with its own code, anything else logged and
    reported as an internal error)."""
    try:
        async for frame in frames:
            yield frame
    except ServiceError as exc:
        yield error_frame(exc.status, exc.code, exc.message)
        return
    except Exception:
        log.exception("answer stream failed")
        yield error_frame(500, "internal_error", INTERNAL_ERROR)
        return
    if closing is not None:
        yield closing


def sse_response(
    frames: AsyncIterator[str], slot: StreamSlot, headers: dict[str, str] | None = None
) -> StreamingResponse:
    """The event-stream response; it gives the client's stream slot back when it ends."""
    return LimitedStreamingResponse(
        frames, slot, media_type="text/event-stream", headers={**SSE_HEADERS, **(headers or {})}
    )
