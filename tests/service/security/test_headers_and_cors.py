"""Security headers on every response (the page's CSP without 'unsafe-inline', nosniff, frame
denial, no referrer), CORS only for the configured origins, and no stack trace or server path in
any error a client sees."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI

from service import api_errors
from service.security.install import install
from service.settings import Settings
from tests.fakes.live_server import LiveServer
from tests.service.security.conftest import ALLOWED_ORIGIN, KEYS, KeyedServer, bearer

API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"


def assert_security_headers(response: httpx.Response) -> None:
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    csp = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/healthz", 200),
        ("GET", "/readyz", 200),
        ("GET", "/openapi.json", 200),
        ("GET", "/v1/papers?limit=2", 200),
        ("POST", "/v1/search", 422),
        ("GET", "/v1/papers/no-such-paper", 404),
        ("DELETE", "/v1/models", 405),
    ],
)
def test_every_api_response_carries_the_security_headers_and_a_csp_allowing_nothing(
    client: httpx.Client, method: str, path: str, status: int
) -> None:
    response = client.request(method, path)
    assert response.status_code == status
    assert_security_headers(response)
    assert response.headers["content-security-policy"] == API_CSP


def test_the_page_and_its_assets_keep_their_own_strict_csp(client: httpx.Client) -> None:
    for path in ("/", "/static/app.js", "/static/key.js", "/static/app.css"):
        response = client.get(path)
        assert response.status_code == 200
        assert_security_headers(response)
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "style-src 'self'" in csp
        assert "require-trusted-types-for 'script'" in csp


def test_the_docs_page_loads_its_scripts_from_this_origin_only_and_is_never_framed(
    client: httpx.Client,
) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    assert_security_headers(response)
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self';" in csp
    assert "frame-ancestors 'none'" in csp and "connect-src 'self'" in csp
    assert "http" not in csp  # no other origin, CDN or not
    assert "cdn" not in response.text and "https://" not in response.text
    for asset in ("/static/swagger-ui-bundle.js", "/static/swagger-ui.css", "/static/docs.js"):
        assert f'"{asset}"' in response.text
        assert client.get(asset).status_code == 200
    assert client.get("/redoc").status_code == 404  # FastAPI's CDN page is not offered


def test_refusals_carry_the_security_headers_too(keyed: KeyedServer) -> None:
    assert_security_headers(httpx.get(f"{keyed.url}/v1/models"))
    assert_security_headers(httpx.get(f"{keyed.url}/v1/models", headers=bearer("nope")))


# -- CORS ----------------------------------------------------------------------------------------


def preflight(url: str, origin: str) -> httpx.Response:
    return httpx.options(
        f"{url}/v1/ask",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )


def test_a_configured_origin_may_call_the_api_with_its_key(keyed: KeyedServer) -> None:
    response = preflight(keyed.url, ALLOWED_ORIGIN)
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    allowed = response.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed and "content-type" in allowed
    assert "POST" in response.headers["access-control-allow-methods"]
    headers = {"Origin": ALLOWED_ORIGIN, **bearer(KEYS[0])}
    answered = httpx.get(f"{keyed.url}/v1/models", headers=headers)
    assert answered.status_code == 200
    assert answered.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    assert "retry-after" in answered.headers["access-control-expose-headers"].lower()
    # The page of that origin can read a refusal, to ask its user for a key.
    refused = httpx.get(f"{keyed.url}/v1/models", headers={"Origin": ALLOWED_ORIGIN})
    assert refused.status_code == 401
    assert refused.headers["access-control-allow-origin"] == ALLOWED_ORIGIN


def test_another_origin_gets_no_cors_permission(keyed: KeyedServer) -> None:
    response = preflight(keyed.url, "http://evil.example")
    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers
    headers = {"Origin": "http://evil.example", **bearer(KEYS[0])}
    answered = httpx.get(f"{keyed.url}/v1/models", headers=headers)
    assert "access-control-allow-origin" not in answered.headers


def test_without_configured_origins_there_are_no_cors_headers(client: httpx.Client) -> None:
    response = client.get("/v1/models", headers={"Origin": ALLOWED_ORIGIN})
    assert response.status_code == 200
    assert not [name for name in response.headers if name.startswith("access-control-")]
    assert client.options("/v1/ask", headers={"Origin": ALLOWED_ORIGIN}).status_code == 405


def test_a_malformed_origin_is_refused_at_start_up() -> None:
    with pytest.raises(ValueError, match=r"scheme://host\[:port\] with no path"):
        Settings(cors_origins="https://ok.example,https://bad.example/app")  # type: ignore[arg-type]


# -- unexpected errors ---------------------------------------------------------------------------

SECRET_PATH = "/srv/abstractqa/internal/secret_module.py"


@pytest.fixture(scope="module")
def broken_url() -> Iterator[str]:
    """A tiny app with the service's error handlers and security middleware, and routes that
    fail the way a bug would (there is no real way to make the service's own routes crash)."""
    app = FastAPI()
    api_errors.install(app)
    install(app, Settings())

    @app.get("/v1/crash")
    def crash() -> None:
        raise RuntimeError(f"cannot open {SECRET_PATH}: the database password is hunter2")

    @app.get("/v1/crash-async")
    async def crash_async() -> None:
        raise KeyError(SECRET_PATH)

    with LiveServer(app, "broken") as server:
        yield server.url


@pytest.mark.parametrize("path", ["/v1/crash", "/v1/crash-async"])
def test_an_unexpected_error_is_a_generic_500_and_its_trace_goes_to_the_log(
    broken_url: str, path: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="abstractqa.service")
    response = httpx.get(f"{broken_url}{path}")
    assert response.status_code == 500
    assert response.json() == {
        "error": {
            "code": "internal_error",
            "message": "internal error; the server log has the details",
        }
    }
    for leak in (SECRET_PATH, "Traceback", "hunter2", "secret_module", ".py"):
        assert leak not in response.text
    assert_security_headers(response)
    logged = [r for r in caplog.records if r.name == "abstractqa.service" and r.exc_info]
    assert logged and f"unhandled error on GET {path}" in logged[0].getMessage()
