"""Title vectors: each paper's bare title embedded at `index add`, carried by merges, read for a
hybrid search's candidates only, and a third z-scored list of the fusion."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from indexer.builder import Indexer
from indexer.embedders.base import Embedder
from indexer.index import IndexVersion, open_index
from indexer.models import PaperRecord
from indexer.retrieval import Retriever
from indexer.segment import SEGMENT_FILE
from indexer.title_vectors import TITLES_FILE
from tests.indexer.conftest import UPDATED

QUERY = "sparse fine-tuning for cross-lingual transfer"


def _title_vector(index: IndexVersion, paper_id: str) -> np.ndarray:
    position, row = index.papers.locate([paper_id])[paper_id]
    vectors = index.segments[position].title_vectors
    assert vectors is not None
    return np.asarray(vectors[row], dtype=np.float32)


def test_index_add_embeds_each_bare_title_and_gives_a_title_only_paper_none(
    embedder: Embedder, settings_for, tmp_path: Path
) -> None:
    records = [
        PaperRecord("Protein folding by annealing", "We fold proteins.", "t", "1", id="a"),
        PaperRecord("Graph neural networks", "", "t", "2", id="title-only"),
    ]
    Indexer(settings_for(), embedder=embedder).add_records(records)
    index = open_index(tmp_path / "index")

    expected = np.asarray(embedder.embed_documents(["Protein folding by annealing"]))[0]
    np.testing.assert_allclose(_title_vector(index, "a"), expected, atol=2e-3)
    assert np.isnan(_title_vector(index, "title-only")).all()
    found = index.vectors.title_similarities(expected, index.papers.locate(["a", "title-only"]))
    assert list(found) == ["a"] and abs(found["a"] - 1.0) < 2e-3
    index.close()


def test_title_vectors_stay_with_their_papers_across_segments_and_a_segment_of_none_has_no_file(
    embedder: Embedder, settings_for, tmp_path: Path
) -> None:
    titles = ["Protein folding", "Graph kernels", "Only a title", "Another title", "Sea otters"]
    abstracts = ["We fold proteins.", "We count walks.", "", "", "Otters eat urchins."]
    records = [
        PaperRecord(title, abstract, "t", str(i), id=f"p{i}")
        for i, (title, abstract) in enumerate(zip(titles, abstracts, strict=True))
    ]
    Indexer(settings_for(segment_max_papers=2), embedder=embedder).add_records(records)
    index = open_index(tmp_path / "index")

    assert len(index.segments) == 3
    assert index.segments[1].title_vectors is None  # two title-only papers
    assert not (index.segments[1].directory / TITLES_FILE).exists()
    expected = np.asarray(embedder.embed_documents([titles[i] for i in (0, 1, 4)]))
    for i, vector in zip((0, 1, 4), expected, strict=True):
        np.testing.assert_allclose(_title_vector(index, f"p{i}"), vector, atol=2e-3)
    index.close()


def test_a_merge_copies_the_title_vectors_of_the_live_papers(
    two_segments: IndexVersion, index_copy: Path, embedder: Embedder, settings_for
) -> None:
    before = {p: _title_vector(two_segments, p) for p in [*list(two_segments.papers)[:5], UPDATED]}
    two_segments.close()

    Indexer(settings_for(index_copy), embedder=embedder).compact()

    merged = open_index(index_copy)
    assert len(merged.segments) == 1
    for paper_id, vector in before.items():
        np.testing.assert_array_equal(_title_vector(merged, paper_id), vector)
    merged.close()


def test_a_merge_of_a_segment_without_title_vectors_leaves_its_papers_without_one(
    two_segments: IndexVersion, index_copy: Path, embedder: Embedder, settings_for
) -> None:
    where = two_segments.papers.locate(list(two_segments.papers))
    fresh = {p: _title_vector(two_segments, p) for p, (at, _) in where.items() if at == 1}
    old = next(p for p, (at, _) in where.items() if at == 0)
    two_segments.close()
    _forget_title_vectors(next(iter(sorted((index_copy / "segments").iterdir()))))

    Indexer(settings_for(index_copy), embedder=embedder).compact()

    merged = open_index(index_copy)
    assert np.isnan(_title_vector(merged, old)).all()
    assert fresh and all(np.array_equal(_title_vector(merged, p), v) for p, v in fresh.items())
    merged.close()


def _forget_title_vectors(segment_dir: Path) -> None:
    """Make ``segment_dir`` a segment written before title vectors: no file, none listed."""
    (segment_dir / TITLES_FILE).unlink()
    meta = json.loads((segment_dir / SEGMENT_FILE).read_text())
    del meta["files"][TITLES_FILE]
    (segment_dir / SEGMENT_FILE).write_text(json.dumps(meta))


def test_a_segment_without_title_vectors_is_served_and_its_papers_are_neutral(
    index_copy: Path, embedder: Embedder
) -> None:
    _forget_title_vectors(next((index_copy / "segments").iterdir()))

    index = open_index(index_copy)
    plain = Retriever(index, embedder).search(QUERY, k=10)
    titled = Retriever(index, embedder, title_weight=0.5).search(QUERY, k=10)

    assert index.segments[0].title_vectors is None
    assert [h.paper.paper_id for h in titled] == [h.paper.paper_id for h in plain]
    assert [h.score for h in titled] == [h.score for h in plain]
    index.close()


def test_the_title_list_adds_its_weight_times_the_z_score_of_the_candidates_title_cosines(
    corpus_index: IndexVersion, embedder: Embedder
) -> None:
    titled = Retriever(corpus_index, embedder, title_weight=0.2)
    plain = Retriever(corpus_index, embedder)
    found = titled.candidates(QUERY, 100)
    query = embedder.embed_queries([QUERY])[0]

    # The cosines are the query's with each candidate's embedded title.
    some = list(found.titles)[:3]
    titles = [corpus_index.papers[p].title for p in some]
    cosines = np.asarray(embedder.embed_documents(titles)) @ np.asarray(query)
    np.testing.assert_allclose([found.titles[p] for p in some], cosines, atol=5e-3)
    candidates = found.dense.keys() | found.lexical.keys()
    assert set(found.titles) == candidates  # every bundled paper has an abstract

    base = plain.ranked(found, "hybrid", 1000)
    with_titles = titled.ranked(found, "hybrid", 1000)
    values = np.array([found.titles[p] for p in base])
    z = (values - values.mean()) / values.std()
    for paper_id, zp in zip(base, z, strict=True):
        assert abs(with_titles[paper_id] - (base[paper_id] + 0.2 * zp)) < 1e-9
    best_title = max(found.titles, key=found.titles.__getitem__)
    assert list(with_titles).index(best_title) <= list(base).index(best_title)
