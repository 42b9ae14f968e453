"""MCP clients of the SDK connected to both transports: a real ``python -m service.cli mcp``
subprocess over stdio, and a real uvicorn server's ``/mcp`` with API keys over streamable HTTP.

Each client runs in a blocking portal (anyio's event loop in a thread of its own), so that one
connection, entered and left in one task as the SDK requires, serves a whole session of tests.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from mcp import Client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult, ReadResourceResult, Tool

from indexer.embedders.base import Embedder
from service.app import create_app
from service.settings import Settings
from tests.conftest import ROOT
from tests.service.conftest import ready_server

KEY = "aq-test-mcp-5e2b7c90d1"


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@dataclass
class Connected:
    """An SDK client connected to a server; each call blocks until the server answers."""

    portal: BlockingPortal
    client: Client

    def tools(self) -> list[Tool]:
        return self.portal.call(self.client.list_tools).tools

    def call(self, name: str, arguments: dict[str, Any]) -> CallToolResult:
        return self.portal.call(self.client.call_tool, name, arguments)

    def read(self, uri: str) -> ReadResourceResult:
        return self.portal.call(self.client.read_resource, uri)

    def templates(self) -> list[str]:
        listed = self.portal.call(self.client.list_resource_templates)
        return [t.uri_template for t in listed.resource_templates]


@contextmanager
def connected(client: Client) -> Iterator[Connected]:
    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(client) as entered,
    ):
        yield Connected(portal, entered)


def stdio_parameters(index_dir: Path) -> StdioServerParameters:
    """``python -m service.cli mcp`` as an MCP client launches it: only the environment given
    (the SDK passes a minimal one), so this checkout's code and the offline switches go in."""
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "service.cli", "mcp", "--index-dir", str(index_dir)],
        env={
            "PYTHONPATH": os.environ.get("PYTHONPATH", str(ROOT)),
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "ABSTRACTQA_LOG_FORMAT": "text",
        },
        cwd=str(ROOT),
    )


@pytest.fixture(scope="session")
def stdio_index(corpus_index_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the bundled corpus's index for the subprocess."""
    target = tmp_path_factory.mktemp("mcp-stdio") / "index"
    shutil.copytree(corpus_index_dir, target)
    return target


@pytest.fixture(scope="session")
def stdio_mcp(stdio_index: Path) -> Iterator[Connected]:
    log = stdio_index.parent / "server-stderr.log"
    with (
        log.open("w") as errlog,
        connected(Client(stdio_client(stdio_parameters(stdio_index), errlog=errlog))) as client,
    ):
        yield client


@dataclass
class McpServer:
    url: str
    settings: Settings

    @property
    def endpoint(self) -> str:
        return f"{self.url}/mcp"


@pytest.fixture(scope="session")
def mcp_server(corpus_index_dir: Path, embedder: Embedder) -> Iterator[McpServer]:
    """The service with an API key (and no rate limit: its own test has its own server)."""
    settings = Settings(
        index_dir=corpus_index_dir,
        api_keys=KEY,  # comma-separated, as the environment gives it
        rate_limit="off",
    )
    with ready_server(create_app(settings, embedder=embedder), "abstractqa-mcp") as url:
        yield McpServer(url, settings)


@asynccontextmanager
async def keyed_transport(endpoint: str, key: str | None) -> AsyncIterator[Any]:
    """The SDK's streamable-HTTP transport over an HTTP client that sends the API key (an
    answer on the loaded test machine can take longer than httpx's default 5 s)."""
    headers = bearer(key) if key else {}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(120)) as http,
        streamable_http_client(endpoint, http_client=http) as streams,
    ):
        yield streams


def http_client(endpoint: str, key: str | None = KEY) -> Client:
    return Client(keyed_transport(endpoint, key))


@pytest.fixture(scope="session")
def http_mcp(mcp_server: McpServer) -> Iterator[Connected]:
    with connected(http_client(mcp_server.endpoint)) as client:
        yield client


@pytest.fixture(scope="session", params=["stdio", "http"])
def mcp(request: pytest.FixtureRequest) -> Connected:
    """The same tests over both transports."""
    return request.getfixturevalue(f"{request.param}_mcp")
