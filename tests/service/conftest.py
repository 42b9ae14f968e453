"""A real abstractqa server on 127.0.0.1 over the bundled corpus's index, with the real model."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from indexer.embedders.base import Embedder
from service.app import create_app
from service.settings import Settings
from tests.fakes.live_server import LiveServer


def wait_ready(url: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if httpx.get(f"{url}/readyz").status_code == 200:
            return
        time.sleep(0.05)
    raise RuntimeError(f"{url} never became ready")


@contextmanager
def ready_server(app: Any, name: str = "abstractqa", **options: Any) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1 and yield its URL once /readyz answers 200; ``options`` go to
    uvicorn (``uvicorn_options(settings)``, as ``abstractqa serve`` passes them)."""
    with LiveServer(app, name, **options) as server:
        wait_ready(server.url)
        yield server.url


@pytest.fixture(scope="session")
def server_url(corpus_index_dir: Path, embedder: Embedder) -> Iterator[str]:
    app = create_app(Settings(index_dir=corpus_index_dir), embedder=embedder)
    with LiveServer(app, "abstractqa") as server:
        wait_ready(server.url)
        yield server.url


@pytest.fixture
def client(server_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server_url, timeout=30) as http:
        yield http
