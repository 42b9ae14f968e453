"""Fixtures of the indexer tests."""

from __future__ import annotations

import pytest

from indexer.embedders.base import Embedder
from tests.fakes.embedders import CountingEmbedder


@pytest.fixture
def counting(embedder: Embedder) -> CountingEmbedder:
    return CountingEmbedder(embedder)
