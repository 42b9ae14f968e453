"""How the indexer picks the FAISS index type from the corpus size (vector_index=auto), on the
real model and real FAISS, with the threshold lowered to the size of small test corpora."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from indexer.builder import Indexer
from indexer.index import open_index
from indexer.retrieval import Retriever
from service.cli import main as cli_main
from tests.fakes.embedders import write_jsonl

PAPERS = [
    {
        "id": "2401.00001",
        "title": "Quantum Annealing Schedules for Protein Folding",
        "abstract": "We study annealing schedules on quantum hardware for folding small "
        "proteins. Our schedules reduce the energy gap penalty.",
    },
    {
        "id": "2401.00002",
        "title": "Soil Moisture Estimation from Satellite Radar",
        "abstract": "We estimate soil moisture from synthetic aperture radar images with a "
        "physics-informed network. Field probes validate the estimates.",
    },
    {
        "id": "2401.00003",
        "title": "Graph Neural Networks for Traffic Forecasting",
        "abstract": "We forecast road traffic with a graph neural network over sensor networks. "
        "The model beats recurrent baselines on two city datasets.",
    },
]
TITANS_QUERY = "neural long-term memory that learns to memorize at test time"


def top_paper(index_dir: Path, embedder, query: str) -> str:  # type: ignore[no-untyped-def]
    return Retriever(open_index(index_dir), embedder).search(query, 1, "dense")[0].paper.paper_id


@pytest.mark.parametrize(("extra", "kind"), [(0, "hnsw"), (1, "flat")])
def test_auto_builds_hnsw_from_the_threshold_on_and_flat_below_it(
    tmp_path: Path, embedder, settings_for, extra: int, kind: str, capsys
) -> None:
    papers = write_jsonl(tmp_path / "papers.jsonl", PAPERS)
    # Each of these short abstracts is one chunk, so the index holds exactly 3 vectors.
    settings = settings_for(hnsw_min_vectors=len(PAPERS) + extra)
    Indexer(settings, embedder=embedder).add([papers])
    index = open_index(settings.index_dir)
    assert len(index.vectors) == len(PAPERS)
    assert index.vectors.kind == kind
    assert index.manifest["settings"]["vector_index"] == kind
    assert index.manifest["settings"]["vector_index_rule"] == "auto"
    assert top_paper(settings.index_dir, embedder, "satellite radar soil moisture") == "2401.00002"

    assert cli_main(["index", "info", "--index-dir", str(settings.index_dir)]) == 0
    out = capsys.readouterr().out
    assert f"vectors:    3 in a {kind} index (auto: HNSW from {3 + extra} vectors)" in out


def test_an_explicit_index_type_wins_over_the_size(tmp_path: Path, embedder, settings_for) -> None:
    papers = write_jsonl(tmp_path / "papers.jsonl", PAPERS)
    settings = settings_for(vector_index="flat", hnsw_min_vectors=1)
    Indexer(settings, embedder=embedder).add([papers])
    index = open_index(settings.index_dir)
    assert index.vectors.kind == "flat"
    assert index.manifest["settings"]["vector_index_rule"] == "flat"


def test_an_add_that_crosses_the_threshold_rebuilds_the_vectors_as_hnsw(
    index_copy: Path, tmp_path: Path, embedder, settings_for
) -> None:
    before = open_index(index_copy)
    assert before.vectors.kind == "flat"
    ids = sorted(before.chunks)
    vectors = before.vectors.vectors_of(ids)
    settings = settings_for(index_copy, hnsw_min_vectors=len(before.vectors) + 1)

    Indexer(settings, embedder=embedder).add([write_jsonl(tmp_path / "new.jsonl", PAPERS[:1])])

    after = open_index(index_copy)
    assert after.vectors.kind == "hnsw" and after.manifest["settings"]["vector_index"] == "hnsw"
    assert len(after.vectors) == len(before.vectors) + 1 == len(after.chunks)
    # Every old chunk keeps its FAISS id and its vector; the new one gets the next id.
    np.testing.assert_array_equal(after.vectors.vectors_of(ids), vectors)
    assert [after.vectors.node_id(i) for i in ids] == [before.vectors.node_id(i) for i in ids]
    assert after.vectors.faiss_id("2401.00001#0") == before.vectors.next_id
    assert top_paper(index_copy, embedder, TITANS_QUERY).startswith("titans")
    assert top_paper(index_copy, embedder, "quantum annealing protein folding") == "2401.00001"


def test_a_removal_that_falls_below_the_threshold_goes_back_to_flat(
    index_copy: Path, tmp_path: Path, embedder, settings_for
) -> None:
    n = len(open_index(index_copy).vectors)
    settings = settings_for(index_copy, hnsw_min_vectors=n + 1)
    indexer = Indexer(settings, embedder=embedder)
    indexer.add([write_jsonl(tmp_path / "new.jsonl", PAPERS[:1])])
    assert open_index(index_copy).vectors.kind == "hnsw"

    indexer.remove(["2401.00001"])

    index = open_index(index_copy)
    assert index.vectors.kind == "flat" and index.manifest["settings"]["vector_index"] == "flat"
    assert len(index.vectors) == n == len(index.chunks)
    assert top_paper(index_copy, embedder, TITANS_QUERY).startswith("titans")
