"""The admin key: admin endpoints are off without one, and need it as a bearer token."""

from __future__ import annotations

import logging

import httpx
import pytest

from service.settings import Settings
from tests.service.admin.conftest import ADMIN_KEY, KELP, AdminServer

ADMIN_REQUESTS = [
    ("POST", "/v1/admin/reload", None),
    ("POST", "/v1/admin/papers", KELP),
    ("DELETE", "/v1/admin/papers/some-paper", None),
]


def test_admin_endpoints_are_off_when_no_admin_key_is_configured(client: httpx.Client) -> None:
    for method, path, body in ADMIN_REQUESTS:
        response = client.request(
            method, path, json=body, headers={"Authorization": "Bearer anything"}
        )
        assert response.status_code == 404, response.text
        error = response.json()["error"]
        assert error["code"] == "admin_disabled"
        assert "ABSTRACTQA_ADMIN_KEY" in error["message"]


def test_a_request_without_the_admin_key_is_401_and_with_another_key_403(
    admin_server: AdminServer,
) -> None:
    with httpx.Client(base_url=admin_server.url, timeout=30) as http:
        for method, path, body in ADMIN_REQUESTS:
            missing = http.request(method, path, json=body)
            assert missing.status_code == 401, missing.text
            assert missing.json()["error"]["code"] == "admin_key_required"
            assert missing.headers["WWW-Authenticate"].startswith("Bearer")
            basic = http.request(method, path, json=body, headers={"Authorization": "Basic eDp5"})
            assert basic.status_code == 401
            for wrong in ("nope", ADMIN_KEY[:-1], ADMIN_KEY + "x", ADMIN_KEY.upper()):
                refused = http.request(
                    method, path, json=body, headers={"Authorization": f"Bearer {wrong}"}
                )
                assert refused.status_code == 403, refused.text
                assert refused.json()["error"]["code"] == "admin_key_invalid"
        # The key is checked before the body is read: no validation details without it.
        invalid = http.post("/v1/admin/papers", json={"no": "title"})
        assert invalid.status_code == 401
    # Nothing was written by the refused requests.
    assert sorted(p.name for p in (admin_server.index_dir / "versions").iterdir()) == ["v000001"]


def test_the_admin_key_opens_the_admin_endpoints(admin: httpx.Client) -> None:
    response = admin.post("/v1/admin/reload")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "already_current"


def test_the_admin_key_is_never_logged_nor_shown_in_the_settings(
    admin_server: AdminServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with admin_server.client() as http:
        assert http.post("/v1/admin/reload").status_code == 200
        assert http.post("/v1/admin/papers", json={"title": "t"}).status_code == 422
    with admin_server.client("wrong-key-7d2a") as http:
        assert http.post("/v1/admin/reload").status_code == 403
    logged = caplog.text + "".join(str(r.args) for r in caplog.records)
    assert ADMIN_KEY not in logged and "wrong-key-7d2a" not in logged
    settings = Settings(admin_key=ADMIN_KEY)  # type: ignore[arg-type]
    assert ADMIN_KEY not in repr(settings) and ADMIN_KEY not in str(settings.model_dump())
