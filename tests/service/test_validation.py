"""Bad requests get a 4xx with a message naming what was wrong, never a 500."""

from __future__ import annotations

import httpx
import pytest

CASES = [
    ("/v1/search", {"query": ""}, 422, "query"),
    ("/v1/search", {"query": "   "}, 422, "query: Value error, must not be blank"),
    ("/v1/search", {"query": "x" * 2001}, 422, "query"),
    ("/v1/search", {"query": "ok", "top_k": 0}, 422, "top_k"),
    (
        "/v1/search",
        {"query": "ok", "top_k": 51},
        422,
        "top_k: Input should be less than or equal to 50",
    ),
    ("/v1/search", {"query": "ok", "top_k": "ten"}, 422, "top_k"),
    ("/v1/search", {"query": "ok", "mode": "magic"}, 422, "mode"),
    ("/v1/search", {"query": "ok", "surprise": 1}, 422, "surprise: Extra inputs are not permitted"),
    (
        "/v1/search",
        {"query": "ok", "filters": {"published": {"from": "yesterday"}}},
        422,
        "filters.published.from",
    ),
    ("/v1/ask", {"question": ""}, 422, "question"),
    (
        "/v1/ask",
        {"question": "q" * 2001},
        400,
        "question is 2001 characters long; the limit is 2000",
    ),
    (
        "/v1/ask",
        {"question": "what?", "backend": "oracle"},
        400,
        "unknown backend 'oracle'; use one of: extractive, llama-index, openai",
    ),
    ("/v1/ask", {"question": "what?", "top_k": 21}, 422, "top_k"),
    ("/v1/ask", {}, 422, "question: Field required"),
    ("/v1/search", {"query": "ok", "top_k": None}, 422, "top_k"),
    (
        "/v1/ask",
        {"question": "what?", "top_k": None},
        422,
        "top_k: Value error, must be an integer",
    ),
    (
        "/v1/search",
        {"query": "ok", "filters": {"published": {"from": "2024-13-45"}}},
        422,
        "filters.published.from: Value error, 2024-13-45 is not a calendar date",
    ),
    (
        "/v1/ask",
        {"question": "what?", "filters": {"published": {"to": "2023-02-29"}}},
        422,
        "filters.published.to: Value error, 2023-02-29 is not a calendar date",
    ),
]


@pytest.mark.parametrize(("path", "body", "status", "message"), CASES)
def test_invalid_request_is_answered_with_a_clear_4xx(
    client: httpx.Client, path: str, body: dict, status: int, message: str
) -> None:
    response = client.post(path, json=body)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert message in error["message"]


@pytest.mark.parametrize("path", ["/v1/search", "/v1/ask"])
def test_a_body_that_is_not_json_is_a_400(client: httpx.Client, path: str) -> None:
    response = client.post(path, content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith("request body is not valid JSON")


def test_unknown_paper_and_route_are_404_in_the_error_format(client: httpx.Client) -> None:
    response = client.get("/v1/papers/does-not-exist")
    assert response.status_code == 404
    assert response.json() == {
        "error": {"code": "not_found", "message": "no paper with id 'does-not-exist' in the index"}
    }
    assert client.get("/v1/nothing").json()["error"]["code"] == "not_found"
