"""``abstractqa mcp``: the MCP server over stdio, on the local index.

The model and the index load once, inside the server's lifespan, which the SDK enters after
it has claimed the process's stdout for the protocol (fd 1 then points at stderr): whatever
loading prints, from Python or from native code, cannot corrupt the stream. A client's first
request waits until loading is done.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from mcp.server.mcpserver import MCPServer

from service.ask.service import AskService
from service.mcp.server import build_mcp_server
from service.papers.service import PapersService
from service.runtime.state import ServiceState
from service.search.service import SearchService
from service.settings import Settings


def serve_stdio(settings: Settings) -> None:
    """Serve until the client closes stdin (blocking)."""
    state = ServiceState(settings)
    search, ask, papers = SearchService(state), AskService(state), PapersService(state)

    @asynccontextmanager
    async def lifespan(_: MCPServer[Any]) -> AsyncIterator[None]:
        await anyio.to_thread.run_sync(state.load)
        try:
            yield
        finally:
            await ask.aclose()
            await anyio.to_thread.run_sync(state.close)

    build_mcp_server(search, ask, papers, lifespan=lifespan).run("stdio")
