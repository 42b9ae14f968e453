"""The batched chunk reads of an opened version (indexer/views.py) on the bundled corpus."""

from __future__ import annotations

from pathlib import Path

from indexer.builder import Indexer
from indexer.embedders.base import Embedder
from indexer.index import IndexVersion, open_index


def test_chunks_read_together_equal_chunks_read_one_by_one(corpus_index: IndexVersion) -> None:
    ids = sorted(corpus_index.chunks)[::3]

    together = corpus_index.chunks.many(ids)

    assert together == {i: corpus_index.chunks[i] for i in ids}
    assert all(together[i].paper_id for i in ids)


def test_first_chunks_of_papers_are_their_first_chunks(corpus_index: IndexVersion) -> None:
    paper_ids = sorted(corpus_index.papers)[:20]

    first = corpus_index.chunks.first_of([*paper_ids, "no-such-paper"])

    assert first == {p: corpus_index.chunks_of(p)[0] for p in paper_ids}


def test_a_removed_papers_chunks_are_never_read_together(
    index_copy: Path, embedder: Embedder, settings_for
) -> None:
    index = open_index(index_copy)
    gone = sorted(index.papers)[0]
    its_chunks = [c.chunk_id for c in index.chunks_of(gone)]
    index.close()
    Indexer(settings_for(index_copy), embedder=embedder).remove([gone])

    index = open_index(index_copy)
    try:
        assert index.chunks.many(its_chunks) == {}
        assert index.chunks.first_of([gone]) == {}
    finally:
        index.close()
