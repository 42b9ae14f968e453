"""``/mcp`` sits behind the same API keys, limits and metrics as ``/v1``: the SDK's own client
against real servers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp.shared.exceptions import MCPError

from indexer.embedders.base import Embedder
from service.app import create_app
from service.settings import Settings
from tests.service.conftest import ready_server
from tests.service.mcp.conftest import KEY, McpServer, bearer, connected, http_client
from tests.service.observability.scrape import scrape, value

REQUESTS = "abstractqa_http_requests_total"
# A JSON-RPC request as a streamable-HTTP client sends it.
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "raw-test", "version": "0"},
    },
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream"}


def post(
    url: str, body: Any, key: str | None = None, headers: dict[str, str] | None = None
) -> httpx.Response:
    sent = MCP_HEADERS | (bearer(key) if key else {}) | (headers or {})
    return httpx.post(f"{url}/mcp", json=body, headers=sent, timeout=60)


def test_without_an_api_key_mcp_is_refused_as_v1_is(mcp_server: McpServer) -> None:
    missing = post(mcp_server.url, INITIALIZE)
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "api_key_required"
    wrong = post(mcp_server.url, INITIALIZE, key="not-the-key")
    assert wrong.status_code == 403
    assert wrong.json()["error"]["code"] == "api_key_invalid"
    assert post(mcp_server.url, INITIALIZE, key=KEY).status_code == 200


def test_the_sdk_client_without_the_key_cannot_connect(mcp_server: McpServer) -> None:
    # The SDK reports the 401 to its initialize request as an error response.
    with (
        pytest.raises(ExceptionGroup) as raised,
        connected(http_client(mcp_server.endpoint, key=None)),
    ):
        pass
    assert raised.group_contains(MCPError, match="error response", depth=None)


def test_the_sdk_client_with_the_key_uses_the_tools(mcp_server: McpServer) -> None:
    with connected(http_client(mcp_server.endpoint)) as client:
        result = client.call("search_papers", {"query": "composable sparse fine-tuning", "k": 1})
    assert not result.is_error
    assert result.structured_content is not None
    assert len(result.structured_content["results"]) == 1


def test_mcp_requests_are_counted_in_the_metrics_under_the_mcp_route(
    mcp_server: McpServer,
) -> None:
    with httpx.Client(base_url=mcp_server.url, timeout=30) as http:
        before = scrape(http)
        with connected(http_client(mcp_server.endpoint)) as client:
            client.call("get_paper", {"paper_id": "no-such-paper"})
        assert post(mcp_server.url, INITIALIZE).status_code == 401
        after = scrape(http)

    def moved(**labels: str) -> float:
        return value(after, REQUESTS, **labels) - value(before, REQUESTS, **labels)

    assert moved(method="POST", route="/mcp", status="200") >= 2  # initialize, then the call
    assert moved(method="POST", route="/mcp", status="401") == 1


@pytest.fixture
def limited_url(corpus_index_dir: Path, embedder: Embedder) -> Any:
    settings = Settings(
        index_dir=corpus_index_dir,
        api_keys=KEY,  # comma-separated, as the environment gives it
        rate_limit="3/minute",
        max_body_bytes=2048,
    )
    with ready_server(create_app(settings, embedder=embedder), "abstractqa-mcp-limited") as url:
        yield url


def test_mcp_requests_share_the_clients_rate_limit_and_body_limit(limited_url: str) -> None:
    huge = INITIALIZE | {"params": INITIALIZE["params"] | {"padding": "x" * 4096}}  # type: ignore[operator]
    too_large = post(limited_url, huge, key=KEY)
    assert too_large.status_code == 413
    assert too_large.json()["error"]["code"] == "payload_too_large"
    # Requests to /v1 and /mcp draw on one allowance per key (the refused one counted too).
    assert httpx.get(f"{limited_url}/v1/papers", headers=bearer(KEY)).status_code == 200
    assert post(limited_url, INITIALIZE, key=KEY).status_code == 200
    limited = post(limited_url, INITIALIZE, key=KEY)
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limited"
    assert int(limited.headers["Retry-After"]) >= 1


def test_the_mcp_endpoint_refuses_a_foreign_host_when_bound_to_loopback(
    mcp_server: McpServer,
) -> None:
    # DNS rebinding: a page of evil.example resolving its name to 127.0.0.1.
    response = post(mcp_server.url, INITIALIZE, key=KEY, headers={"Host": "evil.example"})
    assert response.status_code in (400, 421)


def test_behind_trusted_proxies_the_public_host_name_is_accepted(
    corpus_index_dir: Path, embedder: Embedder
) -> None:
    settings = Settings(index_dir=corpus_index_dir, trusted_proxies=["127.0.0.1"])
    with ready_server(create_app(settings, embedder=embedder), "abstractqa-mcp-proxied") as url:
        response = post(url, INITIALIZE, headers={"Host": "qa.example.org"})
    assert response.status_code == 200
    assert response.json()["result"]["serverInfo"]["name"] == "abstractqa"
