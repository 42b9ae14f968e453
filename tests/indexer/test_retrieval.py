"""Hybrid retrieval: standardised-score fusion of dense and paper-level BM25, scopes, and
indexes written by the first format (chunk-level BM25)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from indexer.bm25 import BM25_DIR
from indexer.embedders import Embedder
from indexer.index import IndexVersion, open_index
from indexer.retrieval import Filters, Retriever, _Ranked
from indexer.storage import IndexDir


def _ranking(scores: dict[str, float]) -> dict[str, _Ranked]:
    ordered = sorted(scores, key=lambda p: -scores[p])
    return {p: _Ranked(scores[p], None, rank) for rank, p in enumerate(ordered, 1)}


def test_a_paper_both_retrievers_rank_high_beats_one_only_one_of_them_loves(
    corpus_index: IndexVersion, embedder: Embedder
) -> None:
    retriever = Retriever(corpus_index, embedder)
    dense = _ranking({"both": 0.60, "dense-only": 0.62, "d2": 0.30, "d3": 0.25})
    lexical = _ranking({"both": 9.0, "bm25-only": 9.5, "b2": 2.0, "b3": 1.0})

    fused = retriever._fuse(dense, lexical)

    assert max(fused, key=lambda p: fused[p]) == "both"
    assert fused["dense-only"] > fused["d3"], "a missing side counts as that side's floor"


def test_fusion_with_one_empty_side_keeps_the_other_sides_order(
    corpus_index: IndexVersion, embedder: Embedder
) -> None:
    retriever = Retriever(corpus_index, embedder)
    dense = _ranking({"a": 0.9, "b": 0.5, "c": 0.1})

    fused = retriever._fuse(dense, {})

    assert sorted(fused, key=lambda p: -fused[p]) == ["a", "b", "c"]


def test_bm25_scores_whole_papers_so_terms_of_different_chunks_add_up(
    corpus_index: IndexVersion, embedder: Embedder
) -> None:
    hits = Retriever(corpus_index, embedder).search("MasakhaNER AmericasNLI", 3, "bm25")

    assert hits and hits[0].bm25_rank == 1
    assert "MasakhaNER" in hits[0].paper.abstract and "AmericasNLI" in hits[0].paper.abstract
    assert hits[0].chunk.paper_id == hits[0].paper.paper_id


def test_scoped_hybrid_search_returns_only_the_named_papers(
    corpus_index: IndexVersion, embedder: Embedder
) -> None:
    chosen = sorted(corpus_index.papers)[:3]

    hits = Retriever(corpus_index, embedder).search("language models", 10, paper_ids=chosen)

    assert {h.paper.paper_id for h in hits} == set(chosen)
    assert (
        Retriever(corpus_index, embedder).search(
            "language models", 10, filters=Filters(equals={"paper_id": "no-such-paper"})
        )
        == []
    )


def test_an_index_of_format_1_opens_with_a_paper_level_bm25_built_on_open(
    index_copy: Path, embedder: Embedder
) -> None:
    root = IndexDir(index_copy)
    version = root.current()
    manifest_path = version / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["format_version"] = 1
    manifest["files"] = {
        name: meta for name, meta in manifest["files"].items() if not name.startswith(BM25_DIR)
    }
    manifest_path.write_text(json.dumps(manifest))
    shutil.rmtree(version / BM25_DIR)  # the old chunk-level files are not read

    index = open_index(index_copy)

    assert index.bm25.paper_ids == sorted(index.papers)
    hits = Retriever(index, embedder).search("MasakhaNER AmericasNLI", 1, "bm25")
    assert "MasakhaNER" in hits[0].paper.abstract
