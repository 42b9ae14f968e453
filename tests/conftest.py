"""Fixtures shared by the whole suite: the real bundled model and a real index of the bundled
corpus, each built once per session."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

# Nothing may download at test time: the model is bundled, tiktoken/NLTK data ship with
# llama-index-core.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from indexer.builder import Indexer
from indexer.config import IndexerSettings
from indexer.embedders.base import Embedder
from indexer.embedders.local import load_local_embedder
from indexer.index import IndexVersion, open_index

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "data" / "daily-papers.txt"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--docs-screenshot",
        default=None,
        type=Path,
        help="where the chat page test copies its screenshot (`make screenshot`: the README's "
        "docs/screenshot-chat.png); unset, it stays in the test's temporary directory",
    )


@pytest.fixture(scope="session")
def corpus_path() -> Path:
    return CORPUS


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return load_local_embedder()


@pytest.fixture(scope="session")
def float32_embedder() -> Embedder:
    """Queries in float32 whatever the CPU: a query's vector then does not depend on the
    queries batched with it (bfloat16 moves it by a cosine of ~1e-5), for exact comparisons."""
    return load_local_embedder(query_dtype="float32")


@pytest.fixture(scope="session")
def corpus_index_dir(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Path:
    """An index of the bundled corpus; tests must not write to it (copy it with ``index_copy``)."""
    index_dir = tmp_path_factory.mktemp("corpus-index")
    Indexer(IndexerSettings(index_dir=index_dir), embedder=embedder).add([CORPUS])
    return index_dir


@pytest.fixture(scope="session")
def corpus_index(corpus_index_dir: Path) -> IndexVersion:
    return open_index(corpus_index_dir)


@pytest.fixture
def index_copy(corpus_index_dir: Path, tmp_path: Path) -> Iterator[Path]:
    """A private, writable copy of the bundled corpus's index."""
    target = tmp_path / "index"
    shutil.copytree(corpus_index_dir, target)
    yield target


@pytest.fixture
def settings_for(tmp_path: Path):  # type: ignore[no-untyped-def]
    def make(index_dir: Path | None = None, **overrides: object) -> IndexerSettings:
        return IndexerSettings(index_dir=index_dir or tmp_path / "index", **overrides)  # type: ignore[arg-type]

    return make
