"""The side-by-side latency measurement (benchmarks/_side_by_side.py) against two real loopback
HTTP servers that record what they were sent."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from benchmarks._side_by_side import BLOCK, SETTLE, p50_ratio


@pytest.fixture
def two_servers() -> Iterator[tuple[list[tuple[str, str]], str, str]]:
    """(every request as (server, query) in arrival order, the base's URL, the other's)."""
    log: list[tuple[str, str]] = []
    servers = []
    for name in ("base", "other"):

        class Handler(BaseHTTPRequestHandler):
            server_name = name

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                log.append((self.server_name, body["query"]))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    urls = [f"http://127.0.0.1:{s.server_address[1]}" for s in servers]
    yield log, urls[0], urls[1]
    for server in servers:
        server.shutdown()
        server.server_close()


def test_both_servers_get_every_query_in_alternating_blocks(
    two_servers: tuple[list[tuple[str, str]], str, str],
) -> None:
    log, base, other = two_servers
    texts = [f"q{i}" for i in range(2 * BLOCK + 5)]  # two full blocks and a short one

    result = p50_ratio(base, other, "/v1/search", lambda q: {"query": q}, texts)

    blocks = [texts[:BLOCK], texts[BLOCK : 2 * BLOCK], texts[2 * BLOCK :]]
    expected = []
    for number, block in enumerate(blocks):
        turn = ["base", "other"] if number % 2 == 0 else ["other", "base"]
        expected += [(name, q) for name in turn for q in block]
    assert log == expected
    counted = sum(len(block) - SETTLE for block in blocks)
    assert result["base"]["n"] == result["other"]["n"] == counted
    low, high = result["p50_ratio_95ci"]
    assert low <= result["p50_ratio"] <= high
    assert result["p50_ratio"] == pytest.approx(result["other"]["p50"] / result["base"]["p50"])
