"""Bounds on what one client can make the service hold: the size of a request body, and the
number of answers it streams at once."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterable, AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import anyio
from fastapi import Depends, Request
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import Response, StreamingResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.api_errors import error_response
from service.errors import (
    PayloadTooLargeError,
    RequestTimeoutError,
    ServiceError,
    TooManyStreamsError,
)
from service.security.auth import ClientDep


class BodyTooLargeError(HTTPException):
    """Raised from ``receive`` when the body passes the limit. An HTTPException, because FastAPI
    re-raises those while it reads a body (anything else would become a 400 parse error); the
    app's handler answers it as ``payload_too_large``."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, body_too_large_message(limit), headers=CLOSE)


class BodyTimeoutError(HTTPException):
    """Raised from ``receive`` when the body is slower than ``body_timeout_s``; answered as
    ``request_timeout`` (408), as ``BodyTooLargeError`` is."""

    def __init__(self, timeout_s: float) -> None:
        super().__init__(408, body_timeout_message(timeout_s), headers=CLOSE)


# Every refusal of a body ends its connection: the rest of the body would be read as the next
# request.
CLOSE = {"Connection": "close"}
# Of a body refused for its size, at most this much more is read (and thrown away) before the
# answer: clients that send the whole body before reading (urllib, requests) otherwise get
# "connection reset" from the close with unread data instead of the 413.
DRAIN_BYTES = 16 * 1024 * 1024


def body_too_large_message(limit: int) -> str:
    return f"the request body is larger than the limit of {limit} bytes (setting max_body_bytes)"


def body_timeout_message(timeout_s: float) -> str:
    return f"the request body did not arrive within {timeout_s:g} s (setting body_timeout_s)"


class BodyLimitMiddleware:
    """413 for a request body over ``max_bytes``: at once when ``Content-Length`` says so, else
    as soon as the bytes received pass the limit (chunked bodies have no length, and a length
    can lie), so no more than the limit is ever buffered. 408 for a body that is not complete
    ``timeout_s`` after the headers."""

    def __init__(self, app: ASGIApp, max_bytes: int, timeout_s: float = 30.0) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        deadline = anyio.current_time() + self.timeout_s
        headers = Headers(scope=scope)
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            # A client waiting for "100 Continue" sends nothing more once it has the answer;
            # any other is read to the end (bounded) so that it is there to read the answer.
            expects_continue = "100-continue" in headers.get("expect", "").lower()
            if not expects_continue and int(declared) <= DRAIN_BYTES:
                await _drain(receive, deadline)
            await self._refuse(scope, receive, send)
            return

        received = 0
        complete = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, complete
            if complete:  # the body is read: what is left to receive is the disconnect
                return await receive()
            message = await _before(deadline, receive)
            if message is None:
                raise BodyTimeoutError(self.timeout_s)
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                complete = not message.get("more_body", False)
                if received > self.max_bytes:
                    if not complete:
                        await _drain(receive, deadline, DRAIN_BYTES)
                    raise BodyTooLargeError(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except (BodyTooLargeError, BodyTimeoutError) as exc:
            # Reached here only when the body was read outside a route (whose handler answers
            # it); after the response started there is nothing left to tell the client.
            if started:
                raise
            if isinstance(exc, BodyTimeoutError):
                timeout = RequestTimeoutError(body_timeout_message(self.timeout_s))
                await _error(timeout)(scope, receive, send)
            else:
                await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        error = PayloadTooLargeError(body_too_large_message(self.max_bytes))
        await _error(error)(scope, receive, send)


def _error(error: ServiceError) -> Response:
    response = error_response(error.status, error.code, error.message)
    response.headers.update(CLOSE)
    return response


async def _before(deadline: float, receive: Receive) -> Message | None:
    """The next message, or None if it has not come by ``deadline``."""
    with anyio.move_on_after(max(0.0, deadline - anyio.current_time())):
        return await receive()
    return None


async def _drain(receive: Receive, deadline: float, limit: int = DRAIN_BYTES) -> None:
    """Read and drop the rest of a body: up to ``limit`` bytes, until ``deadline``."""
    drained = 0
    while drained <= limit:
        message = await _before(deadline, receive)
        if message is None or message["type"] != "http.request":
            return
        drained += len(message.get("body", b""))
        if not message.get("more_body", False):
            return


class StreamSlot:
    """One of a client's concurrent streams; ``release()`` gives it back (idempotent)."""

    def __init__(self, limiter: StreamLimiter, client: str) -> None:
        self._limiter = limiter
        self._client = client
        self._held = True

    def release(self) -> None:
        if self._held:
            self._held = False
            self._limiter._release(self._client)

    @contextmanager
    def released_on_error(self) -> Iterator[StreamSlot]:
        """Hold the slot while the stream is prepared; give it back if that fails (once the
        response exists, the response releases it)."""
        try:
            yield self
        except BaseException:
            self.release()
            raise


class StreamLimiter:
    """At most ``per_client`` open streams per client (None: no limit). Entries exist only
    while a client has streams open, so memory is bounded by the open streams."""

    def __init__(self, per_client: int | None) -> None:
        self.per_client = per_client
        self._open: dict[str, int] = {}
        self._lock = threading.Lock()

    def acquire(self, client: str) -> StreamSlot:
        with self._lock:
            count = self._open.get(client, 0)
            if self.per_client is not None and count >= self.per_client:
                raise TooManyStreamsError(
                    f"this client already has {count} answers streaming; the limit is "
                    f"{self.per_client} (setting max_streams_per_client): wait for one to end"
                )
            self._open[client] = count + 1
        return StreamSlot(self, client)

    def open_streams(self, client: str) -> int:
        with self._lock:
            return self._open.get(client, 0)

    def _release(self, client: str) -> None:
        with self._lock:
            count = self._open.get(client, 0) - 1
            if count > 0:
                self._open[client] = count
            else:
                self._open.pop(client, None)


class LimitedStreamingResponse(StreamingResponse):
    """A streaming response that releases its stream slot when it ends: sent in full, failed,
    or cut short by a client that went away."""

    def __init__(self, content: AsyncIterable[Any], slot: StreamSlot, **kwargs: Any) -> None:
        super().__init__(_releasing(content, slot), **kwargs)
        self.slot = slot

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.slot.release()


async def _releasing(content: AsyncIterable[Any], slot: StreamSlot) -> AsyncIterator[Any]:
    # Released when the last chunk has been produced, before the end of the response is sent:
    # a client that saw its stream end can open the next one at once.
    try:
        async for chunk in content:
            yield chunk
    finally:
        slot.release()


class ClientStreams:
    """The stream limiter bound to the requesting client."""

    def __init__(self, limiter: StreamLimiter, client: str) -> None:
        self._limiter = limiter
        self._client = client

    def open(self) -> StreamSlot:
        """A slot for one more stream, or TooManyStreamsError (429)."""
        return self._limiter.acquire(self._client)


def _client_streams(request: Request, client: ClientDep) -> ClientStreams:
    limiter = getattr(request.app.state, "streams", None) or StreamLimiter(None)
    return ClientStreams(limiter, client.id)


ClientStreamsDep = Annotated[ClientStreams, Depends(_client_streams)]
