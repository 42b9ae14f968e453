"""Security headers on every response.

The chat page and its assets carry their own Content-Security-Policy (service/web/router.py:
scripts and styles from this origin only, never inline). Every other response gets one that
allows nothing at all: a JSON body opened as a document can load, run and frame nothing. The
API docs (``/docs``, ``/redoc``) are FastAPI's pages, which load Swagger UI / ReDoc from a CDN
and start them with an inline script; their policy only forbids framing, plugins and ``<base>``,
so they keep working. Each header is set only where the response has none of its own.
"""

from __future__ import annotations

from collections.abc import Collection

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
DOCS_CSP = "frame-ancestors 'none'; object-src 'none'; base-uri 'none'"

COMMON_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, docs_paths: Collection[str] = ()) -> None:
        self.app = app
        self.docs_paths = frozenset(docs_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = DOCS_CSP if scope["path"] in self.docs_paths else API_CSP

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in {**COMMON_HEADERS, "Content-Security-Policy": csp}.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)
