"""Every response carries ``X-Request-ID``: the client's own when it is sane, else a new one;
on errors and Server-Sent Events too."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.service.sse import read_events

QUESTION = "How do the authors make sparse fine-tuning composable across languages and tasks?"
GENERATED = re.compile(r"[0-9a-f]{32}")


def test_a_request_without_an_id_gets_a_new_one_each_time(client: httpx.Client) -> None:
    first = client.get("/healthz").headers["x-request-id"]
    second = client.get("/healthz").headers["x-request-id"]
    assert GENERATED.fullmatch(first) and GENERATED.fullmatch(second) and first != second


def test_a_sane_incoming_id_is_echoed(client: httpx.Client) -> None:
    for request_id in ("abc-123", "req_7.trace:span/1+x=", "f" * 128):
        response = client.get("/readyz", headers={"X-Request-ID": request_id})
        assert response.headers["x-request-id"] == request_id


@pytest.mark.parametrize(
    "request_id", ["", "has spaces", "<script>alert(1)</script>", "a" * 129, "ünïcode", "a;b"]
)
def test_an_unsafe_or_oversized_incoming_id_is_replaced(
    client: httpx.Client, request_id: str
) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": request_id.encode("utf-8")})
    assert GENERATED.fullmatch(response.headers["x-request-id"])


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("GET", "/v1/papers/no-such-paper", None, 404),
        ("GET", "/no/such/route", None, 404),
        ("POST", "/v1/ask", {"question": ""}, 422),
        ("POST", "/v1/ask", {"question": QUESTION, "backend": "nope"}, 400),
        ("DELETE", "/v1/search", None, 405),
        ("POST", "/v1/chat/completions", {"model": "nope", "messages": []}, 400),
    ],
)
def test_error_responses_carry_the_request_id(
    client: httpx.Client, method: str, path: str, body: object, status: int
) -> None:
    response = client.request(method, path, json=body, headers={"X-Request-ID": "err-1"})
    assert response.status_code == status
    assert response.headers["x-request-id"] == "err-1"
    assert "error" in response.json()


def test_an_sse_answer_carries_the_request_id_and_streams_to_the_end(
    client: httpx.Client,
) -> None:
    body = {"question": QUESTION, "stream": True}
    with client.stream("POST", "/v1/ask", json=body, headers={"X-Request-ID": "sse-1"}) as reply:
        assert reply.headers["x-request-id"] == "sse-1"
        assert reply.headers["content-type"].startswith("text/event-stream")
        events = read_events(reply)
    assert [name for name, _ in events][-2:] == ["citations", "done"]


def test_a_streamed_chat_completion_carries_the_request_id(client: httpx.Client) -> None:
    body = {
        "model": "abstractqa",
        "stream": True,
        "messages": [{"role": "user", "content": QUESTION}],
    }
    with client.stream(
        "POST", "/v1/chat/completions", json=body, headers={"X-Request-ID": "chat-1"}
    ) as reply:
        assert reply.headers["x-request-id"] == "chat-1"
        lines = [line for line in reply.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"
