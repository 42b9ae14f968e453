"""The indexer's write path on the real model, FAISS and BM25."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from indexer.builder import Indexer
from indexer.errors import EmbedderMismatchError, IndexerError, NothingToIndexError
from indexer.index import IndexVersion, open_index
from indexer.retrieval import Retriever
from indexer.storage import IndexDir
from tests.fakes.embedders import CountingEmbedder, write_jsonl

NEW = {
    "id": "2401.00001",
    "title": "Quantum Annealing Schedules for Protein Folding",
    "abstract": "We study annealing schedules on quantum hardware for folding small proteins. "
    "Our schedules reduce the energy gap penalty. Experiments on ten proteins show "
    "faster convergence than classical simulated annealing.",
}


def test_bundled_corpus_indexes_all_54_papers(corpus_index: IndexVersion) -> None:
    assert len(corpus_index.papers) == 54
    assert corpus_index.manifest["counts"]["papers"] == 54
    indexed = {c.paper_id for c in corpus_index.chunks.values()}
    assert indexed == set(corpus_index.papers)
    assert corpus_index.manifest["embedder"] == {
        "name": "sentence-transformers:all-MiniLM-L6-v2",
        "dimension": 384,
        "max_input_tokens": 254,
    }


def test_every_sentence_of_every_abstract_is_in_some_chunk(corpus_index: IndexVersion) -> None:
    for paper in corpus_index.papers.values():
        covered = {i for c in corpus_index.chunks_of(paper.paper_id) for i in range(c.first, c.end)}
        assert covered == set(range(len(paper.sentences))), paper.paper_id
        for chunk in corpus_index.chunks_of(paper.paper_id):
            assert chunk.text.startswith(paper.title + "\n")


def test_adding_one_new_and_one_changed_paper_embeds_exactly_those(
    index_copy: Path,
    counting: CountingEmbedder,
    settings_for,
    corpus_index: IndexVersion,
    tmp_path: Path,
) -> None:
    changed = corpus_index.papers["the-consciousness-prior-6a422aac"]
    rows = [
        NEW,
        {"title": changed.title, "abstract": changed.abstract + " We also add a new result."},
        {
            "title": "Titans: Learning to Memorize at Test Time",
            "abstract": corpus_index.papers[
                "titans-learning-to-memorize-at-test-time-ba030557"
            ].abstract,
        },
    ]
    indexer = Indexer(settings_for(index_copy), embedder=counting)
    report = indexer.add([write_jsonl(tmp_path / "more.jsonl", rows)])

    assert (report.added, report.updated, report.unchanged) == (1, 1, 1)
    embedded_titles = {text.split("\n", 1)[0] for text in counting.embedded}
    assert embedded_titles == {NEW["title"], changed.title}
    index = open_index(index_copy)
    assert len(index.papers) == 55
    assert index.papers["2401.00001"].title == NEW["title"]
    assert index.papers[changed.paper_id].abstract.endswith("We also add a new result.")
    assert report.version == "v000002"


def test_adding_the_same_file_again_changes_nothing(
    index_copy: Path, counting: CountingEmbedder, settings_for, corpus_path: Path
) -> None:
    report = Indexer(settings_for(index_copy), embedder=counting).add([corpus_path])
    assert (report.added, report.updated, report.unchanged) == (0, 0, 54)
    assert counting.embedded == []
    assert report.version is None
    assert IndexDir(index_copy).current_name() == "v000001"


def test_removed_paper_is_no_longer_found(index_copy: Path, embedder, settings_for) -> None:
    paper_id = "titans-learning-to-memorize-at-test-time-ba030557"
    report = Indexer(settings_for(index_copy), embedder=embedder).remove([paper_id])
    assert report.removed == 1
    index = open_index(index_copy)
    assert paper_id not in index.papers
    assert all(c.paper_id != paper_id for c in index.chunks.values())
    for mode in ("hybrid", "dense", "bm25"):
        hits = Retriever(index, embedder).search(
            "Titans neural long-term memory at test time", 54, mode
        )
        assert paper_id not in [h.paper.paper_id for h in hits]


def test_removing_unknown_ids_names_them(index_copy: Path, embedder, settings_for) -> None:
    with pytest.raises(IndexerError, match="no paper with id 'nope'"):
        Indexer(settings_for(index_copy), embedder=embedder).remove(["nope"])
    report = Indexer(settings_for(index_copy), embedder=embedder).remove(
        ["nope", "the-consciousness-prior-6a422aac"]
    )
    assert report.removed == 1
    assert [str(e).endswith("no paper with id 'nope' in the index") for e in report.errors] == [
        True
    ]


def test_delete_then_add_keeps_vector_ids_unique(
    index_copy: Path, embedder, settings_for, tmp_path: Path
) -> None:
    indexer = Indexer(settings_for(index_copy), embedder=embedder)
    indexer.remove(["a-deep-learning-framework-for-lifelong-machine-learning-5941f2a8"])
    indexer.add([write_jsonl(tmp_path / "new.jsonl", [NEW])])
    index = open_index(index_copy)
    ids = [c.chunk_id for c in index.chunks.values()]
    assert len(ids) == len(set(ids)) == len(index.vectors)
    hits = Retriever(index, embedder).search("quantum annealing protein folding", 3, "dense")
    assert hits[0].paper.paper_id == "2401.00001"
    assert len({h.paper.paper_id for h in hits}) == 3


def test_opening_with_another_embedder_fails_with_a_clear_message(corpus_index_dir: Path) -> None:
    with pytest.raises(
        EmbedderMismatchError, match="built with embedder 'sentence-transformers:all-MiniLM-L6-v2'"
    ):
        open_index(corpus_index_dir, expected_embedder="openai:text-embedding-3-small")


def test_adding_with_another_embedder_is_refused_but_rebuild_re_embeds_everything(
    index_copy: Path, embedder, settings_for, tmp_path: Path
) -> None:
    other = CountingEmbedder(embedder, name="sentence-transformers:other-model")
    with pytest.raises(EmbedderMismatchError, match="abstractqa index rebuild"):
        Indexer(settings_for(index_copy), embedder=other).add(
            [write_jsonl(tmp_path / "n.jsonl", [NEW])]
        )
    report = Indexer(settings_for(index_copy), embedder=other).rebuild()
    assert report.updated == 54
    assert {t.split("\n", 1)[0] for t in other.embedded} == {
        p.title for p in open_index(index_copy).papers.values()
    }
    assert open_index(index_copy, expected_embedder="sentence-transformers:other-model")


def test_duplicates_in_the_input_are_merged(tmp_path: Path, embedder, settings_for) -> None:
    rows = [NEW, {**NEW, "id": None, "title": NEW["title"].upper(), "url": "https://example.org/q"}]
    report = Indexer(settings_for(), embedder=embedder).add(
        [write_jsonl(tmp_path / "d.jsonl", rows)]
    )
    assert (report.added, report.merged) == (1, 1)
    paper = open_index(settings_for().index.index_dir).papers["2401.00001"]
    assert paper.url == "https://example.org/q"


def test_old_versions_are_pruned_to_the_configured_number(
    tmp_path: Path, embedder, settings_for
) -> None:
    settings = settings_for(keep_versions=2)
    indexer = Indexer(settings, embedder=embedder)
    for i in range(4):
        row = {**NEW, "id": f"p{i}", "title": f"{NEW['title']} part {i}"}
        indexer.add([write_jsonl(tmp_path / f"{i}.jsonl", [row])])
    assert IndexDir(settings.index.index_dir).version_names() == ["v000003", "v000004"]
    assert len(open_index(settings.index.index_dir).papers) == 4


def test_a_file_with_no_usable_record_leaves_the_index_untouched(
    index_copy: Path, embedder, settings_for, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"title": ""}\nnot json\n', encoding="utf-8")
    with pytest.raises(NothingToIndexError, match=r"bad\.jsonl"):
        Indexer(settings_for(index_copy), embedder=embedder).add([bad])
    assert IndexDir(index_copy).version_names() == ["v000001"]


def test_manifest_records_sources_counts_and_file_hashes(
    corpus_index: IndexVersion, corpus_path: Path
) -> None:
    manifest = corpus_index.manifest
    assert manifest["format_version"] == 3
    source = manifest["sources"][str(corpus_path.resolve())]
    assert source["format"] == "daily" and source["papers"] == 54
    assert set(manifest["files"]) == {"tombstones.json"}
    assert [s["name"] for s in manifest["segments"]] == ["s000001"]
    assert manifest["counts"]["chunks"] == len(corpus_index.chunks)
    json.dumps(manifest)


def test_an_hnsw_index_finds_papers_and_supports_removal(
    tmp_path: Path, embedder, settings_for, corpus_path: Path
) -> None:
    settings = settings_for(vector_index="hnsw")
    indexer = Indexer(settings, embedder=embedder)
    indexer.add([corpus_path])
    index = open_index(settings.index.index_dir)
    assert index.vectors.kind == "hnsw" and index.manifest["settings"]["vector_index"] == "hnsw"
    query = "neural long-term memory that learns to memorize at test time"
    assert (
        Retriever(index, embedder).search(query, 1, "dense")[0].paper.paper_id.startswith("titans")
    )
    indexer.remove(["titans-learning-to-memorize-at-test-time-ba030557"])
    index = open_index(settings.index.index_dir)
    assert len(index.vectors) == len(index.chunks)
    assert (
        not Retriever(index, embedder)
        .search(query, 1, "dense")[0]
        .paper.paper_id.startswith("titans")
    )


def test_a_title_only_record_is_indexed_as_one_chunk_of_its_title_and_found_by_it(
    tmp_path: Path, embedder, settings_for
) -> None:
    from indexer.readers import ReadOptions

    rows = [NEW, {"id": "t1", "title": "Garbage Collection in List Processing Systems"}]
    settings = settings_for()
    indexer = Indexer(settings, embedder=embedder)

    skipped = indexer.add([write_jsonl(tmp_path / "a.jsonl", rows)], ReadOptions(title_only=False))
    assert skipped.added == 1 and skipped.title_only == 1
    assert "1 title-only" in skipped.summary()
    report = indexer.add([write_jsonl(tmp_path / "b.jsonl", rows)])

    assert report.added == 1 and report.unchanged == 1 and report.title_only == 1
    index = open_index(settings.index.index_dir)
    paper = index.papers["t1"]
    assert (paper.abstract, paper.sentences) == ("", [])
    (chunk,) = index.chunks_of("t1")
    assert chunk.text == paper.title
    hits = Retriever(index, embedder).search("garbage collection for list processing", 1, "hybrid")
    assert hits[0].paper.paper_id == "t1"
