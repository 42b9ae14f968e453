"""``abstractqa eval retrieval`` through the real command (in-process ``main``) on a tiny BEIR
collection, with the real model; and its errors for missing and malformed files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from indexer.builder import Indexer
from indexer.config import IndexerSettings
from indexer.embedders.base import Embedder
from service.cli import main
from tests.indexer.evaluation.conftest import DOCUMENTS, write_beir

METRICS = {"nDCG@10", "MAP@100", "R@100", "MRR@10"}


def run(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_eval_retrieval_all_modes_prints_the_documented_json_and_answerable_queries_rank_first(
    beir_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "eval", "retrieval", "--beir", beir_dir, "--mode", "all", "--json")

    assert code == 0, err
    result = json.loads(out)
    assert set(result["modes"]) == {"hybrid", "dense", "bm25"}
    for mode, metrics in result["modes"].items():
        assert set(metrics) == METRICS, mode
        assert all(0.0 <= v <= 1.0 for v in metrics.values()), (mode, metrics)
        # Each judged query names its one relevant paper almost verbatim.
        assert metrics["MRR@10"] == 1.0, (mode, metrics)
        assert metrics["R@100"] == 1.0, (mode, metrics)
        assert metrics["nDCG@10"] == 1.0, (mode, metrics)
    # q3 has no judgements and q9 is not a query: only q1 and q2 count.
    assert result["queries"] == 2
    # d8 shares d7's title but has its own id: a document of its own.
    assert result["documents"] == DOCUMENTS
    assert isinstance(result["seconds"], float)
    assert {"index", "embed_queries", "hybrid", "dense", "bm25"} <= set(result["timing"])
    warnings = "\n".join(result["warnings"])
    assert "1 judged query id(s) not in queries.jsonl (skipped): q9" in warnings
    assert "1 of the 3 documents judged relevant are not in the index" in warnings
    assert "warning: " in err and "d99" in err


def test_eval_retrieval_on_an_existing_index_prints_a_table_of_the_chosen_mode(
    beir_dir: Path, tmp_path: Path, embedder: Embedder, capsys: pytest.CaptureFixture[str]
) -> None:
    index_dir = tmp_path / "index"
    Indexer(IndexerSettings(index_dir=index_dir), embedder=embedder).add(
        [beir_dir / "corpus.jsonl"]
    )

    code, out, err = run(
        capsys, "eval", "retrieval", "--beir", beir_dir, "--index", index_dir, "--mode", "bm25"
    )

    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == f"{beir_dir}: {DOCUMENTS} documents, 2 judged queries"
    assert lines[1].split() == ["mode", "nDCG@10", "MAP@100", "R@100", "MRR@10", "seconds"]
    assert lines[2].split()[:5] == ["bm25", "1.000", "1.000", "1.000", "1.000"]
    assert "opening the index" in lines[3] and "indexing" not in out
    assert "d99" in err  # the warnings are the same as with a temporary index


def _broken_copy(beir_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "beir"
    shutil.copytree(beir_dir, target)
    return target


def test_a_missing_qrels_file_is_an_error_naming_it(
    beir_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _broken_copy(beir_dir, tmp_path)
    (root / "qrels" / "test.tsv").unlink()

    code, out, err = run(capsys, "eval", "retrieval", "--beir", root, "--json")

    assert code == 2 and out == ""
    assert err.startswith(f"error: {root / 'qrels' / 'test.tsv'}: no such file")
    assert "Traceback" not in err


def test_a_malformed_qrels_line_is_an_error_naming_the_file_and_line(
    beir_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _broken_copy(beir_dir, tmp_path)
    qrels = root / "qrels" / "test.tsv"
    qrels.write_text(qrels.read_text() + "q2 d5 1\n")  # spaces, not tabs: line 7

    code, _, err = run(capsys, "eval", "retrieval", "--beir", root)

    assert code == 2
    assert f"error: {qrels}: line 7: expected 3 tab-separated fields" in err
    qrels.write_text("query-id\tcorpus-id\tscore\nq1\td0\tvery\n")
    code, _, err = run(capsys, "eval", "retrieval", "--beir", root)
    assert code == 2 and f"{qrels}: line 2: score 'very' is not an integer" in err


def test_malformed_queries_and_corpus_lines_are_errors_naming_the_file_and_line(
    beir_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _broken_copy(beir_dir, tmp_path)
    queries = root / "queries.jsonl"
    original = queries.read_text()
    queries.write_text(original + '{"_id": "q4", "text": \n')
    code, _, err = run(capsys, "eval", "retrieval", "--beir", root)
    assert code == 2 and f"error: {queries}: line 4: invalid JSON" in err

    queries.write_text(original + '{"_id": "q4"}\n')
    code, _, err = run(capsys, "eval", "retrieval", "--beir", root)
    assert code == 2 and f"error: {queries}: line 4: no text" in err

    queries.write_text(original)
    corpus = root / "corpus.jsonl"
    lines = corpus.read_text().splitlines()
    corpus.write_text("\n".join([lines[0], '{"_id": "x", "title": ', *lines[1:]]))
    code, _, err = run(capsys, "eval", "retrieval", "--beir", root)
    assert code == 2
    assert f"error: {corpus}: unusable records:" in err and "line 2: invalid JSON" in err


def test_a_directory_that_is_not_a_beir_collection_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "eval", "retrieval", "--beir", tmp_path / "nowhere")
    assert code == 2 and f"{tmp_path / 'nowhere'}: not a directory" in err

    code, _, err = run(capsys, "eval", "retrieval", "--beir", tmp_path)
    assert code == 2 and f"{tmp_path / 'corpus.jsonl'}: no such file" in err

    code, _, err = run(capsys, "eval", "retrieval", "--beir", tmp_path, "--k", "5")
    assert code == 2 and "--k must be between 10 and 1000" in err


def test_title_only_and_empty_documents_are_indexed_as_they_are_with_warnings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # As in CACM: some documents have a title and no text, some have neither.
    corpus = [
        {
            "_id": "full",
            "title": "Sparse attention for long documents",
            "text": "We make attention sparse so that long documents fit in memory.",
        },
        {"_id": "titled", "title": "Garbage collection in list processing systems", "text": ""},
        {"_id": "empty", "title": "", "text": ""},
        {"_id": "untitled", "title": "", "text": "Formulae typed on a Flexowriter go straight in."},
    ]
    queries = [
        {"_id": "q1", "text": "garbage collection for list processing"},
        {"_id": "q2", "text": "anything"},
    ]
    qrels = [("q1", "titled", 1), ("q2", "empty", 1)]
    root = write_beir(tmp_path / "cacm-like", corpus, queries, qrels)

    code, out, err = run(capsys, "eval", "retrieval", "--beir", root, "--mode", "bm25", "--json")

    assert code == 0, err
    result = json.loads(out)
    assert result["documents"] == 3
    warnings = "\n".join(result["warnings"])
    assert "1 of 3 documents have a title and no text (indexed by their title alone)" in warnings
    assert "1 document(s) have text and no title (titled by the start of their text)" in warnings
    assert "1 document(s) have neither title nor text" in warnings
    assert "1 of the 2 documents judged relevant are not in the index" in warnings
    # q1 finds its title-only document first; q2's empty document counts as not retrieved.
    assert result["modes"]["bm25"]["MRR@10"] == 0.5
