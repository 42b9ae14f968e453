"""``evaluate_retrieval`` on the bundled corpus's index, and the BEIR file loaders."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexer.embedders.base import Embedder
from indexer.evaluation.beir import (
    EvaluationInputError,
    evaluate_retrieval,
    load_qrels,
    load_queries,
)
from indexer.index import IndexVersion
from indexer.retrieval import Retriever

SPARSE_FT = "composable-sparse-fine-tuning-for-cross-lingual-transfer-27123fb7"
JCOLA = "jcola-japanese-corpus-of-linguistic-acceptability-06dece5f"
QUERIES = {
    "sparse": "combining sparse fine-tuning masks for cross-lingual transfer of a multilingual "
    "model",
    "jcola": "a Japanese corpus of linguistic acceptability judgements",
    "unjudged": "anything at all",
}
QRELS = {"sparse": {SPARSE_FT: 1}, "jcola": {JCOLA: 2, SPARSE_FT: 0}}


def test_evaluate_retrieval_averages_over_judged_queries_and_reports_each_with_per_query(
    corpus_index: IndexVersion, embedder: Embedder
) -> None:
    result = evaluate_retrieval(
        corpus_index, embedder, QUERIES, QRELS, ("hybrid", "bm25"), k=20, per_query=True
    )

    assert result["queries"] == 2 and result["documents"] == len(corpus_index.papers)
    assert set(result["modes"]) == {"hybrid", "bm25"}
    assert set(result["modes"]["hybrid"]) == {"nDCG@10", "MAP@20", "R@20", "MRR@10"}
    per_query = result["per_query"]["hybrid"]
    assert set(per_query) == {"sparse", "jcola"}  # the unjudged query is skipped
    for query_id, metrics in per_query.items():
        # One relevant paper each, named plainly: ranked first.
        assert metrics == {"nDCG@10": 1.0, "MAP@20": 1.0, "R@20": 1.0, "MRR@10": 1.0}, query_id
    assert result["modes"]["hybrid"]["MRR@10"] == 1.0
    assert set(result["timing"]) == {"embed_queries", "hybrid", "bm25"}


def test_evaluate_retrieval_takes_a_caller_s_retriever_and_embeds_nothing_for_bm25_alone(
    corpus_index: IndexVersion, embedder: Embedder
) -> None:
    retriever = Retriever(corpus_index, embedder)
    result = evaluate_retrieval(
        corpus_index, embedder, QUERIES, QRELS, ("bm25",), retriever=retriever
    )
    assert "embed_queries" not in result["timing"]
    assert result["modes"]["bm25"]["MRR@10"] == 1.0


def test_evaluate_retrieval_refuses_a_depth_below_the_nDCG_cut_off(
    corpus_index: IndexVersion, embedder: Embedder
) -> None:
    with pytest.raises(ValueError, match="k must be at least 10"):
        evaluate_retrieval(corpus_index, embedder, QUERIES, QRELS, ("bm25",), k=5)


def test_qrels_without_a_header_load_and_scores_keep_their_grades(tmp_path: Path) -> None:
    path = tmp_path / "test.tsv"
    path.write_text("1\t10\t2\n1\t11\t0\n\n2\t10\t1\n")
    assert load_qrels(path) == {"1": {"10": 2, "11": 0}, "2": {"10": 1}}


def test_query_ids_may_be_numbers_and_a_repeated_id_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "queries.jsonl"
    path.write_text('{"_id": 1, "text": "one"}\n{"_id": "2", "text": "two"}\n')
    assert load_queries(path) == {"1": "one", "2": "two"}
    path.write_text('{"_id": 1, "text": "one"}\n{"_id": "1", "text": "again"}\n')
    with pytest.raises(EvaluationInputError, match=r"line 2: query id '1' appears twice"):
        load_queries(path)


def test_empty_files_are_errors_naming_them(tmp_path: Path) -> None:
    queries, qrels = tmp_path / "queries.jsonl", tmp_path / "test.tsv"
    queries.write_text("\n")
    qrels.write_text("query-id\tcorpus-id\tscore\n")
    with pytest.raises(EvaluationInputError, match=f"{queries}: no queries"):
        load_queries(queries)
    with pytest.raises(EvaluationInputError, match=f"{qrels}: no judgements"):
        load_qrels(qrels)
