"""Hybrid retrieval: standardised-score fusion of dense and paper-level BM25, scopes, and
indexes written by format 2 (one full copy per version), upgraded into a segment."""

from __future__ import annotations

import json
from pathlib import Path

import faiss
import numpy as np
import pytest

from indexer.builder import Indexer
from indexer.config import IndexerSettings
from indexer.embedders import Embedder
from indexer.errors import LegacyFormatError
from indexer.index import IndexVersion, open_index
from indexer.legacy import upgrade
from indexer.progress import SilentProgress
from indexer.retrieval import Filters, Retriever, _Ranked
from indexer.storage import IndexDir, sha256_file
from tests.fakes.embedders import write_jsonl
from tests.indexer.conftest import UPDATED


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
    assert hits[0].chunk is not None and hits[0].chunk.paper_id == hits[0].paper.paper_id


def test_a_search_without_chunks_finds_the_same_papers_and_scores(
    corpus_index: IndexVersion, embedder: Embedder
) -> None:
    retriever = Retriever(corpus_index, embedder)
    for mode in ("hybrid", "dense", "bm25"):
        with_chunks = retriever.search("speculative decoding for language models", 10, mode)
        papers_only = retriever.search(
            "speculative decoding for language models", 10, mode, chunks=False
        )

        assert all(hit.chunk is not None for hit in with_chunks)
        assert all(hit.chunk is None for hit in papers_only)
        assert [(h.paper.paper_id, h.score, h.location) for h in papers_only] == [
            (h.paper.paper_id, h.score, h.location) for h in with_chunks
        ]
        assert all(h.sentences == h.paper.sentences for h in papers_only)


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


def test_an_index_of_format_2_is_upgraded_to_a_segment_without_re_embedding(
    corpus_index: IndexVersion, tmp_path: Path, embedder: Embedder
) -> None:
    legacy = tmp_path / "legacy"
    write_format_2_index(corpus_index, legacy)

    with pytest.raises(LegacyFormatError, match="abstractqa index upgrade"):
        open_index(legacy)
    root = IndexDir(legacy)
    with root.write_lock():
        upgrade(root, IndexerSettings(index_dir=legacy), SilentProgress())
    index = open_index(legacy)

    assert len(index.papers) == len(corpus_index.papers)
    assert len(index.chunks) == len(corpus_index.chunks)
    for query in ("MasakhaNER AmericasNLI", "weak supervisor deceives strong model"):
        for mode in ("dense", "bm25", "hybrid"):
            before = Retriever(corpus_index, embedder).search(query, 5, mode)
            after = Retriever(index, embedder).search(query, 5, mode)
            assert [h.paper.paper_id for h in after] == [h.paper.paper_id for h in before]
            assert [h.score for h in after] == pytest.approx([h.score for h in before], abs=1e-5)


def write_format_2_index(source: IndexVersion, target: Path) -> None:
    """The on-disk layout of format 2 (one full copy per version), from an opened index."""
    version = target / "versions" / "v000001"
    version.mkdir(parents=True)
    papers = sorted(source.papers.values(), key=lambda p: p.paper_id)
    chunks = [c for p in papers for c in source.chunks_of(p.paper_id)]
    with (version / "papers.jsonl").open("w") as handle:
        handle.writelines(json.dumps(p.to_json()) + "\n" for p in papers)
    with (version / "chunks.jsonl").open("w") as handle:
        handle.writelines(json.dumps(c.to_json()) + "\n" for c in chunks)
    ids = np.array([c.chunk_id for c in chunks], dtype=np.int64)
    flat = faiss.IndexIDMap2(faiss.IndexFlatIP(384))
    flat.add_with_ids(source.vectors.vectors_of(ids.tolist()), ids)
    faiss.write_index(flat, str(version / "vectors.faiss"))
    files = {
        name: {"bytes": (version / name).stat().st_size, "sha256": sha256_file(version / name)}
        for name in ("papers.jsonl", "chunks.jsonl", "vectors.faiss")
    }
    manifest = dict(source.manifest, format_version=2, version="v000001", files=files)
    (version / "manifest.json").write_text(json.dumps(manifest))
    (target / "CURRENT").write_text("v000001\n")


def test_filters_evaluated_in_sqlite_select_exactly_the_papers_filters_accept(
    tmp_path: Path, embedder: Embedder
) -> None:
    rows = [
        {
            "id": f"p{i}",
            "title": f"Paper number {i} on topic {i % 3}",
            "abstract": f"We study topic {i % 3}. Result {i} follows.",
            "authors": [f"Author {i % 4}", f"Author {i % 5}"],
            "published": f"2024-0{1 + i % 9}-1{i % 10}",
            "categories": ["cs.CL", "cs.LG"] if i % 2 else ["stat.ML"],
            "venue": "ACL" if i % 3 == 0 else "NeurIPS",
            "pages": i % 4,
        }
        for i in range(24)
    ]
    settings = IndexerSettings(index_dir=tmp_path / "index")
    Indexer(settings, embedder=embedder).add([write_jsonl(tmp_path / "p.jsonl", rows)])
    Indexer(settings, embedder=embedder).remove(["p3"])  # tombstoned papers never match
    index = open_index(settings.index.index_dir)
    papers = list(index.papers.values())
    cases = [
        Filters(equals={"authors": "Author 3"}),
        Filters(equals={"paper_id": "p5"}),
        Filters(equals={"title": "Paper number 7 on topic 1", "authors": "Author 2"}),
        Filters(equals={"categories": "cs.CL"}),
        Filters(equals={"venue": "ACL", "pages": 2}),
        Filters(equals={'odd"key': "x"}),
        Filters(published_from="2024-05-01"),
        Filters(published_to="2024-03-15", equals={"categories": "stat.ML"}),
        Filters(published_from="2024-02-12", published_to="2024-02-12"),
    ]
    for filters in cases:
        expected = {p.paper_id for p in papers if filters.accepts(p)}
        found = index.papers.matching(filters.equals, filters.published_from, filters.published_to)
        assert found == expected, filters
    assert "p3" not in index.papers.matching({"authors": "Author 3"}, None, None)
    assert (
        sum(bool(index.papers.matching(f.equals, f.published_from, f.published_to)) for f in cases)
        >= 7
    )


def test_hits_carry_where_their_papers_live_across_segments_and_updates(
    two_segments: IndexVersion, embedder: Embedder
) -> None:
    index = two_segments
    retriever = Retriever(index, embedder)
    queries = ["consciousness prior", "protein folding", "speech language model"]
    hits = [
        h for q in queries for mode in ("hybrid", "bm25") for h in retriever.search(q, 10, mode)
    ]
    lexical = index.bm25.search("consciousness prior representation", 10)

    assert UPDATED in {h.paper.paper_id for h in hits}
    for hit in hits:
        assert hit.location == index.papers.locate([hit.paper.paper_id])[hit.paper.paper_id]
    assert lexical.locations == [index.papers.locate([p])[p] for p in lexical.paper_ids]
    assert index.papers.locate([UPDATED])[UPDATED][0] == 1  # the new copy
