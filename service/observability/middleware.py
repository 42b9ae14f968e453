"""Pure ASGI middleware giving every HTTP request an id, an access-log line and its metrics.

Pure ASGI (not Starlette's ``BaseHTTPMiddleware``, which buffers and breaks streaming): it only
wraps ``send``, so Server-Sent Events pass through untouched and still get the
``X-Request-ID`` header. It is installed outermost (last), so responses written by other
middleware (401, 413, 429) are counted and logged too.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Sequence

from starlette.datastructures import MutableHeaders
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.api_errors import error_response
from service.observability.logs import request_id_var
from service.observability.metrics import UNMATCHED_ROUTE, Metrics

HEADER = "X-Request-ID"
# An incoming id is kept only if it is short and plain (it is echoed in a header and logged).
_SANE_ID = re.compile(r"[A-Za-z0-9._:/+=-]{1,128}")
# Probes and scrapes arrive every few seconds from every balancer and scraper: logged at debug.
_QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
# nginx's code for "client closed the connection before a response was sent".
_CLIENT_GONE = 499

access_log = logging.getLogger("abstractqa.access")
log = logging.getLogger("abstractqa.service")


def request_id_from(scope: Scope) -> str:
    """The client's ``X-Request-ID`` when it is sane, else a new uuid4 hex."""
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            candidate = value.decode("latin-1").strip()
            if _SANE_ID.fullmatch(candidate):
                return candidate
            break
    return uuid.uuid4().hex


def route_of(scope: Scope, routes: Sequence[BaseRoute]) -> str:
    """The template of the route that handled (or would handle) the request, or
    ``unmatched``: only a route object of the app can name it, never the request's path, so
    the labels are bounded by the app's routes."""
    route = scope.get("route")
    if route is None:  # answered before routing (another middleware): match it here
        partial = None
        for candidate in routes:
            match, _ = candidate.matches(scope)
            if match == Match.FULL:
                route = candidate
                break
            if match == Match.PARTIAL and partial is None:
                partial = candidate
        route = route or partial
    # path_format drops converters: "/v1/papers/{paper_id}", not "{paper_id:path}".
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    return path if isinstance(path, str) and path else UNMATCHED_ROUTE


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(scope)
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status: int | None = None

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)[HEADER] = request_id
            await send(message)

        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            # Answered here, not by Starlette's outer error middleware, so that the 500 carries
            # the request id; logged once, with the request id, never shown to the client.
            log.exception("unhandled error on %s %s", scope["method"], scope["path"])
            if status is None:
                response = error_response(
                    500, "internal_error", "internal error; the server log has the details"
                )
                await response(scope, receive, send_with_id)
            status = 500 if status is None else status
        finally:
            self.metrics.in_flight.dec()
            self._finish(scope, status or _CLIENT_GONE, time.perf_counter() - started)
            request_id_var.reset(token)

    def _finish(self, scope: Scope, status: int, seconds: float) -> None:
        method, path = scope["method"], scope["path"]
        self.metrics.observe_request(method, route_of(scope, self.routes), status, seconds)
        # A probe's answer is its own report (a 503 from /readyz while loading is expected);
        # unhandled errors were already logged with their traceback.
        if path in _QUIET_PATHS:
            level = logging.DEBUG
        else:
            level = logging.WARNING if status >= 500 else logging.INFO
        client = scope.get("client")
        duration_ms = round(seconds * 1000, 1)
        access_log.log(
            level,
            "%s %s %d %.1f ms",
            method,
            path,
            status,
            duration_ms,
            extra={
                "method": method,
                "path": path,
                "status": status,
                "duration_ms": duration_ms,
                "client": client[0] if client else None,
            },
        )
