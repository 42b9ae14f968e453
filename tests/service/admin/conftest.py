"""Real servers with admin endpoints on, each over a private copy of the corpus's index."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from indexer.builder import Indexer
from indexer.config import IndexerSettings
from indexer.embedders.base import Embedder
from service.app import create_app
from service.runtime.state import ServiceState
from service.settings import Settings
from tests.service.conftest import ready_server

ADMIN_KEY = "admin-key-for-tests-5b1e0c"
KELP = {
    "id": "kelp-acidification-2024",
    "title": "Kelp Forest Carbon Uptake Under Ocean Acidification",
    "abstract": "We measure how giant kelp forests absorb carbon dioxide when seawater becomes "
    "more acidic. Across twelve sites off the coast of California, kelp grown under acidified "
    "conditions fixed 18 percent more carbon than kelp in control plots. We attribute the gain "
    "to higher dissolved carbon dioxide concentrations, which relieve the carbon limitation of "
    "photosynthesis. These results suggest that kelp forests may partially buffer local "
    "acidification.",
    "authors": ["Ana Ruiz", "Tom Hale"],
    "published": "2024-03-05",
}
KELP_QUESTION = "How does ocean acidification change carbon uptake by kelp forests?"
BEES = {
    "id": "bee-waggle-dance-decoding",
    "title": "Decoding the Honeybee Waggle Dance with Thermal Cameras",
    "abstract": "Honeybees tell nestmates where flowers are through the waggle dance. We record "
    "dances inside dark hives with thermal cameras and decode the direction and distance they "
    "signal. The decoded locations match feeder positions within thirty metres.",
}


@dataclass
class AdminServer:
    url: str
    index_dir: Path
    state: ServiceState

    def client(self, key: str | None = ADMIN_KEY) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=120)


@contextmanager
def serve(index_dir: Path, embedder: Embedder, **overrides: Any) -> Iterator[AdminServer]:
    """A real server on 127.0.0.1 over ``index_dir`` with the admin key set (unless overridden)."""
    settings = Settings(index_dir=index_dir, **({"admin_key": ADMIN_KEY} | overrides))
    app = create_app(settings, embedder=embedder)
    with ready_server(app, "abstractqa-admin") as url:
        yield AdminServer(url, index_dir, app.state.service)


@pytest.fixture
def admin_server(index_copy: Path, embedder: Embedder) -> Iterator[AdminServer]:
    with serve(index_copy, embedder) as server:
        yield server


@pytest.fixture
def admin(admin_server: AdminServer) -> Iterator[httpx.Client]:
    """A client of ``admin_server`` that sends the admin key."""
    with admin_server.client() as http:
        yield http


def index_papers(index_dir: Path, embedder: Embedder, *papers: dict[str, Any]) -> str:
    """Write a new version holding ``papers`` with the indexer, as another process would (the
    server does not know); returns the version's name."""
    source = index_dir.parent / f"papers-{len(list(index_dir.parent.iterdir()))}.jsonl"
    source.write_text("\n".join(json.dumps(p) for p in papers) + "\n")
    report = Indexer(IndexerSettings(index_dir=index_dir), embedder=embedder).add([source])
    assert report.version is not None
    return report.version


def top_paper(http: httpx.Client, query: str) -> str:
    response = http.post("/v1/search", json={"query": query, "top_k": 3})
    assert response.status_code == 200, response.text
    return str(response.json()["results"][0]["paper_id"])
