"""Serves the chat page at ``/`` and its assets at ``/static/{name}``.

Every asset is a file of ``service/static`` shipped with the package (no CDN, no build step).
Each response carries a strict Content-Security-Policy: scripts and styles come only from this
origin and never inline, so text from abstracts or from the model cannot run even if a bug ever
put it into the DOM as markup. ``require-trusted-types-for 'script'`` makes the browser refuse
string assignments to ``innerHTML`` and similar sinks, which enforces the page's rule of building
the DOM with ``textContent`` only.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from fastapi import APIRouter, Request, Response

from service.errors import NotFoundError

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "require-trusted-types-for 'script'",
    ]
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}

# With nosniff the browser trusts these types, and ES modules need a JavaScript type.
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}

router = APIRouter(include_in_schema=False)


def _asset(name: str) -> Path:
    """The file ``name`` directly in the static folder, or a 404 (no subfolders, no ``..``)."""
    path = STATIC_DIR / name
    if (
        "/" in name
        or "\\" in name
        or name.startswith(".")
        or path.suffix not in CONTENT_TYPES
        or not path.is_file()
    ):
        raise NotFoundError(f"no asset {name!r}")
    return path


def _serve(request: Request, path: Path) -> Response:
    """The file with the security headers."""
    return etagged(request, path.read_bytes(), CONTENT_TYPES[path.suffix], SECURITY_HEADERS)


def etagged(request: Request, body: bytes, media_type: str, headers: dict[str, str]) -> Response:
    """``body`` revalidated on each load (``no-cache`` + ETag), so a changed asset is never
    stale yet an unchanged one costs a 304."""
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {**headers, "Cache-Control": "no-cache", "ETag": etag}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


@router.get("/")
def index(request: Request) -> Response:
    return _serve(request, _asset("index.html"))


@router.get("/static/{name}")
def static(name: str, request: Request) -> Response:
    return _serve(request, _asset(name))


@router.get("/favicon.ico")
def favicon(request: Request) -> Response:
    # Browsers ask for /favicon.ico whatever the page links; answer with the SVG icon.
    return _serve(request, _asset("favicon.svg"))
