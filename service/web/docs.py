"""``/docs``: Swagger UI for ``/openapi.json``, served entirely from the package.

FastAPI's own page loads Swagger UI from a CDN (a floating version, no integrity hash) and
starts it with an inline script; the service promises to work offline and to run no
third-party script. Here the assets are a vendored, pinned copy in ``service/static``
(``swagger-ui-bundle.js`` and ``swagger-ui.css`` of Swagger UI 5.24.2, from the
``swagger-ui-py`` 25.7.1 wheel on PyPI; Apache-2.0, ``swagger-ui.LICENSE``), loaded with
Subresource Integrity hashes, and started by ``docs.js``. The page's Content-Security-Policy
allows this origin only.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from service.web.router import SECURITY_HEADERS, etagged

SWAGGER_UI_VERSION = "5.24.2"
# sha384 (base64) of each vendored file: the browser refuses a file that does not match, and
# tests/service/test_docs_page.py checks the files against them.
ASSET_SRI = {
    "swagger-ui-bundle.js": "ZIayL8B1zmoewy79zLGijJx1jpyHexP/3SH9JCq2xhzJUtDw9Y2hVdQ/UKN1kQZL",
    "swagger-ui.css": "S+iZGxcLHU1ByODKehPIOcS0UkxgKTWKdT/VtKStv2S430eyGsmjt/NeSxrQq6Ke",
}

DOCS_CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'none'",
    ]
)

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>abstractqa API</title>
<link rel="icon" href="/favicon.ico">
<link rel="stylesheet" href="/static/swagger-ui.css" integrity="sha384-{css}">
</head>
<body>
<div id="swagger-ui" data-openapi="{openapi}"></div>
<script src="/static/swagger-ui-bundle.js" integrity="sha384-{js}"></script>
<script src="/static/docs.js"></script>
</body>
</html>
"""

router = APIRouter(include_in_schema=False)


@router.get("/docs")
def docs(request: Request) -> Response:
    page = _PAGE.format(
        css=ASSET_SRI["swagger-ui.css"],
        js=ASSET_SRI["swagger-ui-bundle.js"],
        openapi=request.app.openapi_url or "/openapi.json",
    ).encode()
    headers = {**SECURITY_HEADERS, "Content-Security-Policy": DOCS_CSP}
    return etagged(request, page, "text/html; charset=utf-8", headers)
