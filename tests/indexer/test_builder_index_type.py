"""Segments: the vector structure each gets from its size (vector_index=auto), adds that write
only a new segment, removals that write only tombstones, merges and compaction; on the real
model and real FAISS, with thresholds lowered to the size of small test corpora."""

from __future__ import annotations

import hashlib
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


def segment_digests(index_dir: Path) -> dict[str, str]:
    """sha256 of every file under segments/, by relative path."""
    return {
        str(p.relative_to(index_dir)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted((index_dir / "segments").rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize(("extra", "kind"), [(0, "hnsw"), (1, "flat")])
def test_auto_builds_hnsw_from_the_threshold_on_and_flat_below_it(
    tmp_path: Path, embedder, settings_for, extra: int, kind: str, capsys
) -> None:
    papers = write_jsonl(tmp_path / "papers.jsonl", PAPERS)
    # Each of these short abstracts is one chunk, so the segment holds exactly 3 vectors.
    settings = settings_for(hnsw_min_vectors=len(PAPERS) + extra)
    Indexer(settings, embedder=embedder).add([papers])
    index = open_index(settings.index.index_dir)
    assert len(index.vectors) == len(PAPERS)
    assert index.vectors.kind == kind
    assert index.manifest["settings"]["vector_index"] == kind
    assert index.manifest["settings"]["vector_index_rule"] == "auto"
    assert (
        top_paper(settings.index.index_dir, embedder, "satellite radar soil moisture")
        == "2401.00002"
    )

    assert cli_main(["index", "info", "--index-dir", str(settings.index.index_dir)]) == 0
    out = capsys.readouterr().out
    assert (
        f"vectors:    3 in a {kind} index (auto per segment: HNSW from {3 + extra} vectors" in out
    )


def test_an_explicit_index_type_wins_over_the_size(tmp_path: Path, embedder, settings_for) -> None:
    papers = write_jsonl(tmp_path / "papers.jsonl", PAPERS)
    settings = settings_for(vector_index="flat", hnsw_min_vectors=1)
    Indexer(settings, embedder=embedder).add([papers])
    index = open_index(settings.index.index_dir)
    assert index.vectors.kind == "flat"
    assert index.manifest["settings"]["vector_index_rule"] == "flat"


def test_a_compressed_segment_reranks_by_exact_vectors_and_finds_what_flat_finds(
    corpus_path: Path, embedder, settings_for, tmp_path: Path
) -> None:
    flat = settings_for(tmp_path / "flat", vector_index="flat")
    ivf = settings_for(tmp_path / "ivf", vector_index="ivf_sq8", ivf_nprobe=64)
    for settings in (flat, ivf):
        Indexer(settings, embedder=embedder).add([corpus_path])
    exact, compressed = open_index(flat.index.index_dir), open_index(ivf.index.index_dir)
    assert compressed.vectors.kind == "ivf_sq8"
    query = embedder.embed_queries([TITANS_QUERY])
    want_scores, want_ids = exact.vectors.search(query, 10)
    got_scores, got_ids = compressed.vectors.search(query, 10)
    # Every list is probed here (nprobe >= lists), so re-ranking gives the exact top 10.
    assert got_ids.tolist() == want_ids.tolist()
    np.testing.assert_allclose(got_scores, want_scores, rtol=1e-6)


def test_an_add_writes_one_new_segment_and_leaves_the_old_ones_untouched(
    index_copy: Path, tmp_path: Path, embedder, settings_for
) -> None:
    before = open_index(index_copy)
    ids = sorted(before.chunks)
    vectors = before.vectors.vectors_of(ids)
    files_before = segment_digests(index_copy)
    settings = settings_for(index_copy, hnsw_min_vectors=1)  # the new, 1-vector segment: hnsw

    Indexer(settings, embedder=embedder).add([write_jsonl(tmp_path / "new.jsonl", PAPERS[:1])])

    after = open_index(index_copy)
    assert [s.kind for s in after.segments] == ["flat", "hnsw"]
    assert after.manifest["settings"]["vector_index"] == "flat+hnsw"
    files_after = segment_digests(index_copy)
    assert {k: files_after[k] for k in files_before} == files_before
    new_bytes = sum((index_copy / k).stat().st_size for k in files_after.keys() - files_before)
    assert new_bytes < sum((index_copy / k).stat().st_size for k in files_before) / 4
    assert len(after.vectors) == len(before.vectors) + 1 == len(after.chunks)
    np.testing.assert_array_equal(after.vectors.vectors_of(ids), vectors)
    assert top_paper(index_copy, embedder, TITANS_QUERY).startswith("titans")
    assert top_paper(index_copy, embedder, "quantum annealing protein folding") == "2401.00001"


def test_a_removal_writes_only_tombstones_and_compact_drops_them(
    index_copy: Path, embedder, settings_for, capsys
) -> None:
    titans = "titans-learning-to-memorize-at-test-time-ba030557"
    files_before = segment_digests(index_copy)
    n_papers = len(open_index(index_copy).papers)
    indexer = Indexer(settings_for(index_copy), embedder=embedder)

    report = indexer.remove([titans])

    assert report.removed == 1 and segment_digests(index_copy) == files_before
    index = open_index(index_copy)
    assert titans not in index.papers and len(index.papers) == n_papers - 1
    assert index.manifest["counts"]["deleted"] == 1
    assert len(index.vectors) == len(index.chunks)
    for mode in ("dense", "bm25", "hybrid"):
        hits = Retriever(index, embedder).search(TITANS_QUERY, 10, mode)
        assert titans not in {h.paper.paper_id for h in hits}

    assert cli_main(["index", "compact", "--index-dir", str(index_copy)]) == 0
    assert "merged 1 segments" in capsys.readouterr().out
    compacted = open_index(index_copy)
    assert compacted.manifest["counts"]["deleted"] == 0
    assert len(compacted.segments) == 1 and len(compacted.papers) == n_papers - 1
    assert [
        h.paper.paper_id for h in Retriever(compacted, embedder).search("memory at test time", 5)
    ] == [h.paper.paper_id for h in Retriever(index, embedder).search("memory at test time", 5)]


def test_the_merge_policy_folds_small_segments_once_there_are_too_many(
    tmp_path: Path, embedder, settings_for
) -> None:
    settings = settings_for(max_segments=2, merge_factor=2)
    indexer = Indexer(settings, embedder=embedder)
    for i, paper in enumerate(PAPERS):
        indexer.add([write_jsonl(tmp_path / f"p{i}.jsonl", [paper])])

    index = open_index(settings.index.index_dir)
    assert len(index.segments) <= 2
    assert sorted(index.papers) == [p["id"] for p in PAPERS]
    assert (
        top_paper(settings.index.index_dir, embedder, "graph neural network traffic")
        == "2401.00003"
    )
