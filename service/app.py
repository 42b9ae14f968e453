"""The app factory: ``create_app(settings)`` builds the FastAPI app; tests pass their own."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import httpx
from fastapi import FastAPI

from indexer import Embedder, one_blas_thread_per_call
from service import api_errors
from service.admin.router import router as admin_router
from service.admin.service import AdminService
from service.ask.router import router as ask_router
from service.ask.service import AskService
from service.chat.router import router as chat_router
from service.chat.service import ChatService
from service.citations.router import router as citations_router
from service.citations.service import CitationsService
from service.health.router import router as health_router
from service.mcp.http import mount_mcp
from service.mcp.server import build_mcp_server
from service.observability.install import install_observability
from service.observability.metrics import Metrics
from service.papers.router import router as papers_router
from service.papers.service import PapersService
from service.runtime.state import ServiceState
from service.search.router import router as search_router
from service.search.service import SearchService
from service.security.install import install as install_security
from service.settings import Settings
from service.web.docs import router as docs_router
from service.web.router import router as web_router

log = logging.getLogger(__name__)


def create_app(
    settings: Settings | None = None,
    *,
    embedder: Embedder | None = None,
    http_client: httpx.AsyncClient | None = None,
    load_in_background: bool = True,
) -> FastAPI:
    """The service app. ``embedder`` reuses a loaded model; ``http_client`` is the client LLM
    backends use (tests swap its transport)."""
    settings = settings or Settings()
    state = ServiceState(settings, embedder)
    metrics = Metrics(
        lambda: state.loaded.index if state.ready else None,
        lambda: state.query_encoder.stats.as_dict() if state.ready else None,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Requests and a search's segments already run side by side (indexer/fanout.py).
        if not one_blas_thread_per_call():
            log.info("numpy has no BLAS of its own here; its thread count is left as it is")
        if load_in_background:
            state.start_loading()
        else:
            state.load()
        if settings.runtime.watch_index:
            state.start_watching()
        async with mcp_sessions.run():
            yield
        await app.state.ask.aclose()
        await anyio.to_thread.run_sync(state.close)

    app = FastAPI(
        title="abstractqa",
        version="0.1.0",
        summary="Question answering over research-paper abstracts, with sentence-level citations.",
        lifespan=lifespan,
        # FastAPI's pages load their scripts from a CDN; /docs is served from the package
        # instead (service/web/docs.py), and ReDoc is not offered.
        docs_url=None,
        redoc_url=None,
    )
    app.state.service = state
    app.state.search = SearchService(state, metrics)
    citations = CitationsService(state)
    app.state.citations = citations
    app.state.ask = AskService(state, http_client, metrics, citations)
    app.state.chat = ChatService(app.state.ask, settings)
    app.state.papers = PapersService(state)
    app.state.admin = AdminService(state)
    api_errors.install(app)
    # API keys, rate and size limits, CORS, security headers (service/security).
    install_security(app, settings)
    for router in (
        health_router,
        search_router,
        ask_router,
        papers_router,
        citations_router,
        chat_router,
        web_router,
        docs_router,
        admin_router,
    ):
        app.include_router(router)
    # /mcp: the same services as MCP tools, behind the same middleware as /v1 (service/mcp).
    mcp_sessions = mount_mcp(
        app, build_mcp_server(app.state.search, app.state.ask, app.state.papers), settings
    )
    # Last, so that its middleware is the outermost: request ids and metrics for every response.
    install_observability(app, metrics)
    return app
