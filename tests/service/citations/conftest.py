"""A real server over an index of the awkward citation corpus (tests/service/citations/corpus.py),
answering every question (no abstention) with the extractive backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from indexer.builder import Indexer
from indexer.config import IndexerSettings
from indexer.embedders.base import Embedder
from indexer.index import IndexVersion, open_index
from service.app import create_app
from service.settings import Settings
from tests.service.citations.corpus import write_corpus
from tests.service.conftest import ready_server


@pytest.fixture(scope="session")
def citations_index_dir(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Path:
    root = tmp_path_factory.mktemp("citations")
    index_dir = root / "index"
    Indexer(IndexerSettings(index_dir=index_dir), embedder=embedder).add(write_corpus(root))
    return index_dir


@pytest.fixture(scope="session")
def citations_index(citations_index_dir: Path) -> IndexVersion:
    return open_index(citations_index_dir)


@pytest.fixture(scope="session")
def citations_url(citations_index_dir: Path, embedder: Embedder) -> Iterator[str]:
    settings = Settings(index_dir=citations_index_dir, abstain_min_score=-1.0)
    with ready_server(create_app(settings, embedder=embedder), "abstractqa-citations") as url:
        yield url
