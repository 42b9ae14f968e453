"""Bounds on what a client controls: the request body (413, also for chunked bodies without a
length), the conversation (400), and the answers one client streams at once (429, the slot given
back when a stream ends, fails, or its client goes away)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.service.raw_http import connect, read_to_close
from tests.service.security.conftest import KEYS, MAX_BODY_BYTES, QUESTION, KeyedServer, bearer
from tests.service.sse import read_events

TOO_LARGE = {
    "error": {
        "code": "payload_too_large",
        "message": f"the request body is larger than the limit of {MAX_BODY_BYTES} bytes "
        "(setting max_body_bytes)",
    }
}


def chunks(total: int, size: int = 1000) -> Iterator[bytes]:
    """A JSON body sent in pieces, so httpx sends it chunked, without a Content-Length."""
    yield b'{"query": "sparse fine-tuning"'
    for _ in range(total // size):
        yield b" " * size
    yield b"}"


# -- request bodies ------------------------------------------------------------------------------


def test_a_body_declared_larger_than_the_limit_is_a_413(keyed: KeyedServer) -> None:
    with keyed.client(KEYS[0]) as client:
        response = client.post("/v1/search", json={"query": "x" * (MAX_BODY_BYTES + 1)})
        assert response.request.headers["content-length"] == str(len(response.request.content))
        assert response.status_code == 413
        assert response.json() == TOO_LARGE
        # The service goes on serving.
        assert client.get("/v1/models").status_code == 200


def test_a_chunked_body_without_a_length_is_cut_off_at_the_limit(keyed: KeyedServer) -> None:
    with keyed.client(KEYS[0]) as client:
        request = client.build_request(
            "POST",
            "/v1/search",
            content=chunks(4 * MAX_BODY_BYTES),
            headers={"content-type": "application/json"},
        )
        assert "content-length" not in request.headers
        assert request.headers["transfer-encoding"] == "chunked"
        response = client.send(request)
    assert response.status_code == 413
    assert response.json() == TOO_LARGE


# Well past what the sockets' buffers hold (about 4 MB on loopback), so a client that sends it
# all before reading needs the server to have read it.
BIG = 8_000_000


def test_python_clients_that_send_a_whole_oversized_body_first_still_get_the_413(
    keyed: KeyedServer,
) -> None:
    body = json.dumps({"query": "x" * BIG}).encode()
    request = urllib.request.Request(
        f"{keyed.url}/v1/search",
        data=body,
        headers={"Content-Type": "application/json", **bearer(KEYS[0])},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=60)
    assert refused.value.code == 413
    assert json.loads(refused.value.read()) == TOO_LARGE

    with keyed.client(KEYS[0]) as client:
        declared = client.post("/v1/search", content=body)
        chunked = client.post("/v1/search", content=chunks(BIG, size=65536))
    assert declared.status_code == chunked.status_code == 413
    assert declared.json() == chunked.json() == TOO_LARGE
    assert declared.headers["connection"] == "close"


def test_a_client_expecting_100_continue_gets_the_413_without_sending_the_body(
    keyed: KeyedServer,
) -> None:
    with connect(keyed.url) as sock:
        sock.sendall(
            f"POST /v1/search HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {KEYS[0]}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {BIG}\r\n"
            "Expect: 100-continue\r\n\r\n".encode()
        )
        response = read_to_close(sock)
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), response  # no "100 Continue" before it
    assert json.loads(body) == TOO_LARGE


def test_a_chunked_body_within_the_limit_is_answered(keyed: KeyedServer) -> None:
    with keyed.client(KEYS[0]) as client:
        response = client.post(
            "/v1/search",
            content=chunks(MAX_BODY_BYTES // 2),
            headers={"content-type": "application/json"},
        )
    assert response.status_code == 200, response.text
    assert response.json()["results"]


def test_the_chat_endpoint_has_the_same_body_limit(keyed: KeyedServer) -> None:
    body = {"model": "abstractqa", "messages": [{"role": "user", "content": "x" * MAX_BODY_BYTES}]}
    with keyed.client(KEYS[0]) as client:
        response = client.post("/v1/chat/completions", json=body)
    assert response.status_code == 413
    assert response.json()["error"]["message"] == TOO_LARGE["error"]["message"]


# -- conversations (the open session server) -----------------------------------------------------


def test_a_conversation_with_too_many_messages_is_a_400(client: httpx.Client) -> None:
    messages: list[dict[str, Any]] = [{"role": "user", "content": "hi"}] * 1001
    response = client.post(
        "/v1/chat/completions", json={"model": "abstractqa", "messages": messages}
    )
    assert response.status_code == 400
    assert response.json()["error"]["message"] == (
        "the conversation has 1001 messages; the limit is 1000 (setting chat_max_request_messages)"
    )


def test_a_latest_message_longer_than_a_question_may_be_is_a_400(client: httpx.Client) -> None:
    messages = [{"role": "user", "content": "why " * 600}]
    response = client.post(
        "/v1/chat/completions", json={"model": "abstractqa", "messages": messages}
    )
    assert response.status_code == 400
    assert response.json()["error"]["message"] == (
        "the latest user message is 2399 characters long; the limit is 2000 characters "
        "(setting max_question_chars)"
    )


# -- concurrent streams --------------------------------------------------------------------------


def stream_status(client: httpx.Client, body: dict[str, Any]) -> tuple[int, Any]:
    """Open a stream and read it to its end: (status, events or the error body)."""
    with client.stream("POST", "/v1/ask", json={**body, "stream": True}) as response:
        if response.status_code != 200:
            response.read()
            return response.status_code, response.json()
        return 200, read_events(response)


def wait_accepted(client: httpx.Client, body: dict[str, Any], timeout_s: float = 30.0) -> None:
    """Retry a stream until it is accepted: the slot of a stream whose client left is given
    back once the server notices the departure."""
    deadline = time.monotonic() + timeout_s
    while True:
        status, _ = stream_status(client, body)
        if status == 200 or time.monotonic() > deadline:
            assert status == 200
            return
        time.sleep(0.1)


EXTRACTIVE = {"question": QUESTION, "backend": "extractive"}


def test_a_client_gets_429_for_a_stream_beyond_its_limit_until_its_stream_goes(
    keyed: KeyedServer,
) -> None:
    keyed.fake.stall_after(1, seconds=120)  # the LLM's stream stays open after one word
    with (
        keyed.client(KEYS[0]) as held,
        keyed.client(KEYS[0]) as same,
        keyed.client(KEYS[1]) as other,
    ):
        body = {"question": QUESTION, "backend": "openai", "stream": True}
        with held.stream("POST", "/v1/ask", json=body) as response:
            assert response.status_code == 200
            lines = response.iter_lines()
            while next(lines) != "event: delta":
                pass

            status, error = stream_status(same, EXTRACTIVE)
            assert status == 429
            assert error["error"]["code"] == "too_many_streams"
            assert "max_streams_per_client" in error["error"]["message"]
            chat = {
                "model": "abstractqa",
                "stream": True,
                "messages": [{"role": "user", "content": QUESTION}],
            }
            assert same.post("/v1/chat/completions", json=chat).status_code == 429
            # Answers that do not stream, and other clients' streams, go on.
            assert same.post("/v1/ask", json=EXTRACTIVE).status_code == 200
            status, events = stream_status(other, EXTRACTIVE)
            assert status == 200 and events[-1][0] == "done"

        assert keyed.fake.wait_for_disconnect(timeout_s=10.0)
        wait_accepted(same, EXTRACTIVE)


def test_a_stream_that_ends_gives_its_slot_back_at_once(keyed: KeyedServer) -> None:
    with keyed.client(KEYS[2]) as client:
        for _ in range(3):
            status, events = stream_status(client, EXTRACTIVE)
            assert status == 200 and events[-1][0] == "done"


def test_a_stream_refused_as_invalid_takes_no_slot(keyed: KeyedServer) -> None:
    with keyed.client(KEYS[2]) as client:
        status, error = stream_status(client, {"question": "q" * 2001})
        assert status == 400 and error["error"]["code"] == "invalid_request"
        status, error = stream_status(client, {"question": QUESTION, "backend": "oracle"})
        assert status == 400
        status, _ = stream_status(client, EXTRACTIVE)
        assert status == 200


@pytest.mark.parametrize("path", ["/v1/ask", "/v1/search"])
def test_limits_leave_the_errors_in_the_json_error_format(keyed: KeyedServer, path: str) -> None:
    with keyed.client(KEYS[0]) as client:
        response = client.post(path, content=b"x" * (MAX_BODY_BYTES + 1))
    assert response.headers["content-type"] == "application/json"
    assert set(response.json()["error"]) == {"code", "message"}
