"""API keys (``ABSTRACTQA_API_KEYS``): every /v1 endpoint needs one when they are configured
(401 without, 403 with a wrong one), the probes, the page, the docs and metrics do not, keys are
compared in constant time and never logged; unset, the API is open."""

from __future__ import annotations

import hmac
import inspect
import logging
from typing import Any

import httpx
import openai
import pytest
from openai import OpenAI

from service.security.auth import ApiKeys, bearer_token
from service.settings import Settings
from tests.service.security.conftest import KEYS, QUESTION, KeyedServer, bearer

# Every /v1 operation a client may call, with a request that succeeds given a key.
API_CALLS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("POST", "/v1/search", {"query": "sparse fine-tuning"}),
    ("POST", "/v1/ask", {"question": QUESTION}),
    ("GET", "/v1/papers", None),
    ("GET", "/v1/papers/composable-sparse-fine-tuning-for-cross-lingual-transfer-27123fb7", None),
    (
        "POST",
        "/v1/chat/completions",
        {"model": "abstractqa", "messages": [{"role": "user", "content": QUESTION}]},
    ),
    ("GET", "/v1/models", None),
    ("GET", "/v1/models/abstractqa", None),
]
PUBLIC_PATHS = [
    "/healthz",
    "/readyz",
    "/",
    "/static/app.js",
    "/favicon.ico",
    "/docs",
    "/openapi.json",
]


def call(
    client: httpx.Client, method: str, path: str, body: dict[str, Any] | None, **kw: Any
) -> httpx.Response:
    return client.request(method, path, json=body, **kw)


@pytest.mark.parametrize(("method", "path", "body"), API_CALLS)
def test_an_api_call_without_a_key_is_a_401_asking_for_a_bearer_token(
    keyed: KeyedServer, method: str, path: str, body: dict[str, Any] | None
) -> None:
    with keyed.client() as client:
        response = call(client, method, path, body)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json() == {
        "error": {
            "code": "api_key_required",
            "message": "this endpoint needs an API key: send the header 'Authorization: Bearer <key>'",
        }
    }


@pytest.mark.parametrize(("method", "path", "body"), API_CALLS)
def test_an_api_call_with_a_wrong_key_is_a_403(
    keyed: KeyedServer, method: str, path: str, body: dict[str, Any] | None
) -> None:
    with keyed.client("aq-test-not-a-key") as client:
        response = call(client, method, path, body)
    assert response.status_code == 403
    assert response.json() == {
        "error": {"code": "api_key_invalid", "message": "the API key is not valid"}
    }


@pytest.mark.parametrize(("method", "path", "body"), API_CALLS)
def test_an_api_call_with_any_configured_key_is_answered(
    keyed: KeyedServer, method: str, path: str, body: dict[str, Any] | None
) -> None:
    for key in KEYS:
        with keyed.client(key) as client:
            response = call(client, method, path, body)
        assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    "token",
    [
        KEYS[0][:-1],  # a prefix
        KEYS[0] + "0",  # an extension
        KEYS[0].upper(),
        f"{KEYS[0]},{KEYS[1]}",  # the setting's own syntax is not a key
    ],
)
def test_a_token_that_is_almost_a_key_is_refused(keyed: KeyedServer, token: str) -> None:
    with keyed.client(token) as client:
        assert client.get("/v1/models").status_code == 403


@pytest.mark.parametrize(
    "authorization", ["", "Bearer", f"Basic {KEYS[0]}", KEYS[0], f"Token {KEYS[0]}"]
)
def test_an_authorization_header_without_a_bearer_token_counts_as_no_key(
    keyed: KeyedServer, authorization: str
) -> None:
    response = httpx.get(f"{keyed.url}/v1/models", headers={"Authorization": authorization})
    assert response.status_code == 401


def test_the_bearer_scheme_is_case_insensitive(keyed: KeyedServer) -> None:
    response = httpx.get(f"{keyed.url}/v1/models", headers={"Authorization": f"bearer {KEYS[1]}"})
    assert response.status_code == 200


def test_an_unknown_api_route_needs_a_key_too(keyed: KeyedServer) -> None:
    # Deny by default: the routes of the API are not revealed to a client without a key.
    assert httpx.get(f"{keyed.url}/v1/nothing-here").status_code == 401
    assert httpx.get(f"{keyed.url}/v1/nothing-here", headers=bearer(KEYS[0])).status_code == 404


@pytest.mark.parametrize("path", PUBLIC_PATHS)
def test_probes_the_page_and_the_docs_need_no_key(keyed: KeyedServer, path: str) -> None:
    assert httpx.get(f"{keyed.url}{path}").status_code == 200


def test_admin_routes_are_left_to_their_own_admin_key_check(keyed: KeyedServer) -> None:
    # No admin key configured: the admin routes answer for themselves, not with api_key_*.
    response = httpx.post(f"{keyed.url}/v1/admin/reload", headers=bearer(KEYS[0]))
    assert response.json()["error"]["code"].startswith("admin_")
    response = httpx.post(f"{keyed.url}/v1/admin/reload")
    assert response.json()["error"]["code"].startswith("admin_")


def test_the_openapi_document_declares_the_bearer_scheme_on_the_api_operations(
    keyed: KeyedServer,
) -> None:
    schema = httpx.get(f"{keyed.url}/openapi.json").json()
    assert schema["components"]["securitySchemes"]["ApiKey"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "One of the API keys (setting api_keys).",
    }
    for method, path, _ in API_CALLS:
        template = "/v1/papers/{paper_id}" if path.startswith("/v1/papers/") else path
        template = "/v1/models/{model}" if path.startswith("/v1/models/") else template
        operation = schema["paths"][template][method.lower()]
        assert operation["security"] == [{"ApiKey": []}], template
        assert {"401", "403"} <= set(operation["responses"]), template
    for path in ("/healthz", "/readyz"):
        assert "security" not in schema["paths"][path]["get"]


def test_an_open_service_needs_no_key_and_declares_none(client: httpx.Client) -> None:
    assert client.post("/v1/search", json={"query": "sparse fine-tuning"}).status_code == 200
    assert client.get("/v1/models", headers=bearer("anything")).status_code == 200
    schema = client.get("/openapi.json").json()
    assert "ApiKey" not in schema.get("components", {}).get("securitySchemes", {})
    assert "security" not in schema["paths"]["/v1/search"]["post"]


def test_the_openai_sdk_raises_its_permission_error_for_a_wrong_key(keyed: KeyedServer) -> None:
    messages: Any = [{"role": "user", "content": "What is composable sparse fine-tuning?"}]
    # (The SDK refuses to send a request without a key: the 401 is the raw tests' above.)
    with (
        OpenAI(base_url=f"{keyed.url}/v1", api_key="wrong", max_retries=0) as sdk,
        pytest.raises(openai.PermissionDeniedError, match="the API key is not valid"),
    ):
        sdk.chat.completions.create(model="abstractqa", messages=messages)
    with OpenAI(base_url=f"{keyed.url}/v1", api_key=KEYS[2], max_retries=0) as sdk:
        completion = sdk.chat.completions.create(model="abstractqa", messages=messages)
    assert completion.choices[0].message.content


def test_keys_never_reach_the_log_or_an_answer(
    keyed: KeyedServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "aq-test-wrong-5e1d0f"
    with keyed.client(wrong) as client:
        refused = client.post("/v1/ask", json={"question": QUESTION})
    with keyed.client(KEYS[0]) as client:
        answered = client.post("/v1/ask", json={"question": QUESTION})
    assert refused.status_code == 403 and answered.status_code == 200
    for secret in (*KEYS, wrong):
        assert secret not in caplog.text
        assert secret not in refused.text and secret not in answered.text
    assert all(secret not in repr(keyed.settings) for secret in KEYS)


# -- the key check itself ------------------------------------------------------------------------


def test_a_key_is_found_by_its_position_and_anything_else_is_not() -> None:
    keys = ApiKeys(["first-key", "second-key", "third-key"])
    assert [keys.match(k) for k in ("first-key", "second-key", "third-key")] == [0, 1, 2]
    assert keys.match("second-ke") is None and keys.match("") is None
    assert not ApiKeys([]) and len(keys) == 3


def test_every_key_is_compared_in_constant_time_without_an_early_exit() -> None:
    compared: list[tuple[bytes, bytes]] = []

    def recording_compare(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return hmac.compare_digest(a, b)

    keys = ApiKeys(["first-key", "second-key", "third-key"], compare=recording_compare)
    assert keys.match("first-key") == 0
    # All three keys compared though the first matched; all inputs of one length (digests), so
    # the time does not depend on how long a key is or how much of it matched.
    assert len(compared) == 3
    assert {len(a) for a, _ in compared} | {len(b) for _, b in compared} == {32}
    assert inspect.signature(ApiKeys).parameters["compare"].default is hmac.compare_digest


def test_the_bearer_token_is_read_from_the_authorization_header() -> None:
    assert bearer_token("Bearer abc") == "abc"
    assert bearer_token("BEARER  abc ") == "abc"
    assert bearer_token("Basic abc") is None
    assert bearer_token(None) is None


def test_keys_are_read_from_a_comma_separated_environment_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ABSTRACTQA_API_KEYS", " key-one, key-two ,,key-three ")
    settings = Settings()
    assert [k.get_secret_value() for k in settings.security.api_keys] == [
        "key-one",
        "key-two",
        "key-three",
    ]
    assert "key-one" not in repr(settings) and "key-one" not in str(settings.model_dump())
    monkeypatch.setenv("ABSTRACTQA_API_KEYS", "")
    assert Settings().security.api_keys == []
