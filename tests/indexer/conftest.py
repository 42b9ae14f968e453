"""Fixtures of the indexer tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from indexer.builder import Indexer
from indexer.embedders.base import Embedder
from indexer.index import IndexVersion, open_index
from tests.fakes.embedders import CountingEmbedder, write_jsonl

UPDATED = "the-consciousness-prior-6a422aac"


@pytest.fixture
def counting(embedder: Embedder) -> CountingEmbedder:
    return CountingEmbedder(embedder)


@pytest.fixture
def two_segments(
    index_copy: Path, embedder: Embedder, settings_for, tmp_path: Path
) -> Iterator[IndexVersion]:
    """The bundled corpus plus a second segment: a new paper and a new version of ``UPDATED``,
    whose old copy is a tombstone in the first."""
    old = open_index(index_copy)
    changed = old.papers[UPDATED]
    old.close()
    rows = [
        {"title": "Annealing Schedules for Protein Folding", "abstract": "We fold proteins."},
        {"title": changed.title, "abstract": changed.abstract + " We also add a new result."},
    ]
    Indexer(settings_for(index_copy), embedder=embedder).add(
        [write_jsonl(tmp_path / "n.jsonl", rows)]
    )
    index = open_index(index_copy)
    assert len(index.segments) == 2
    yield index
    index.close()
