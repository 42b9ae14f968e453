"""Slow and greedy clients on a real server run with the options ``abstractqa serve`` gives
uvicorn: headers and bodies that do not arrive in time are answered 408 and the connection
closed; one client address holds at most ``max_connections_per_client`` connections."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from indexer.embedders.base import Embedder
from service.app import create_app
from service.security.connections import uvicorn_options
from service.settings import Settings
from tests.service.conftest import ready_server
from tests.service.raw_http import WAIT_S, connect, error_of, read_response, read_to_close

MAX_CONNECTIONS = 4


@pytest.fixture(scope="module")
def guarded_url(corpus_index_dir: Path, embedder: Embedder) -> Iterator[str]:
    settings = Settings(
        index_dir=corpus_index_dir,
        header_timeout_s=1.0,
        body_timeout_s=1.0,
        keep_alive_timeout_s=600.0,  # kept-alive connections stay for the cap test
        max_connections_per_client=MAX_CONNECTIONS,
    )
    app = create_app(settings, embedder=embedder)
    with ready_server(app, "abstractqa-guarded", **uvicorn_options(settings)) as url:
        yield url


def test_headers_that_never_complete_are_answered_408_and_the_connection_closed(
    guarded_url: str,
) -> None:
    with connect(guarded_url) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\nX-Slow: ")
        status, error = error_of(read_to_close(sock))
    assert status == 408
    assert error["code"] == "request_timeout"
    assert "header_timeout_s" in error["message"]


def test_a_kept_alive_connection_gets_the_same_header_timeout_for_its_next_request(
    guarded_url: str,
) -> None:
    with connect(guarded_url) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
        assert read_response(sock).startswith(b"HTTP/1.1 200")
        # The first bytes of a next request (uvicorn's keep-alive timer stops at them).
        sock.sendall(b"GET /hea")
        status, error = error_of(read_to_close(sock))
    assert (status, error["code"]) == (408, "request_timeout")


def test_a_body_that_stops_arriving_is_answered_408_and_the_connection_closed(
    guarded_url: str,
) -> None:
    with connect(guarded_url) as sock:
        sock.sendall(
            b"POST /v1/search HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            b'Content-Length: 100\r\n\r\n{"query": "sparse'
        )
        response = read_to_close(sock)
    status, error = error_of(response)
    assert status == 408
    assert error == {
        "code": "request_timeout",
        "message": "the request body did not arrive within 1 s (setting body_timeout_s)",
    }
    assert b"connection: close" in response.lower()


def test_one_address_holds_at_most_the_cap_of_connections_and_others_are_not_affected(
    guarded_url: str,
) -> None:
    with ExitStack() as stack:
        held = []
        for _ in range(MAX_CONNECTIONS):
            sock = stack.enter_context(connect(guarded_url))
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
            assert read_response(sock).startswith(b"HTTP/1.1 200")
            held.append(sock)
        with connect(guarded_url) as refused:
            status, error = error_of(read_to_close(refused))
        assert (status, error["code"]) == (429, "too_many_connections")
        assert "max_connections_per_client" in error["message"]

        # Another address is another client.
        with connect(guarded_url, source="127.0.0.2") as other:
            other.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
            assert read_response(other).startswith(b"HTTP/1.1 200")

        # A closed connection frees its place.
        held.pop().close()
        deadline = time.monotonic() + WAIT_S
        while True:
            with connect(guarded_url) as again:
                again.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
                if (answer := read_response(again)).startswith(b"HTTP/1.1 200"):
                    break
            assert time.monotonic() < deadline, answer
            time.sleep(0.05)
