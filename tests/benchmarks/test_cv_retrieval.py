"""The held-out tuning of the hybrid retrieval (benchmarks/cv_retrieval.py): the folds and the
choice per fold on score tables worked out by hand, and a whole run on two small BEIR
collections written here, indexed with the real model and searched with the real Retriever."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from benchmarks import cv_retrieval as cv
from benchmarks._results import read_results
from indexer.embedders.base import Embedder


def test_folds_are_disjoint_and_cover_every_query_once() -> None:
    parts = cv.folds(23, 5, seed=13)

    assert len(parts) == 5
    assert sorted(np.concatenate(parts).tolist()) == list(range(23))
    assert {len(p) for p in parts} == {4, 5}
    assert [p.tolist() for p in parts] == [p.tolist() for p in cv.folds(23, 5, seed=13)]


def test_a_point_best_on_every_query_scores_the_same_in_sample_and_held_out() -> None:
    scores = {"a": np.array([0.2, 0.4, 0.6, 0.8, 1.0]), "b": np.array([0.1, 0.3, 0.5, 0.7, 0.9])}

    out = cv.cross_validate(scores, cv.folds(5, 5, seed=0))

    assert cv.best(scores) == "a"
    assert out["ndcg10"] == pytest.approx(0.6)
    assert out["chosen_per_fold"] == ["a"] * 5


def test_each_fold_is_scored_with_the_point_best_on_the_other_folds() -> None:
    # "lucky" is perfect on query 0 only: in-sample it wins (mean 0.44 > 0.4), but no fold
    # without query 0 picks it, and the fold holding query 0 is scored with "steady".
    scores = {"steady": np.full(5, 0.4), "lucky": np.array([1.0, 0.3, 0.3, 0.3, 0.3])}
    parts = [np.array([i]) for i in range(5)]

    out = cv.cross_validate(scores, parts)

    assert cv.best(scores) == "lucky"
    assert out["chosen_per_fold"] == ["steady", "lucky", "lucky", "lucky", "lucky"]
    assert out["ndcg10"] == pytest.approx((0.4 + 4 * 0.3) / 5)


def test_ties_go_to_the_first_point_and_the_default_comes_first_in_the_grid() -> None:
    assert cv.best({"x": np.array([0.5]), "y": np.array([0.5])}) == "x"
    assert cv.grid([0.4, 0.5], [50, 100])[0] == cv.DEFAULT


def test_points_without_feedback_come_before_those_with_it() -> None:
    points = cv.grid([0.4, 0.5], [100], [cv.OFF, cv.rm3_option("10/20/0.5")], [cv.OFF])

    labels = [fb.label() for _, _, fb in points]
    assert labels == ["off", "off", "rm3 10d/20t/0.5", "rm3 10d/20t/0.5"]
    assert points[0] == cv.DEFAULT


TOPICS = [
    ("Glacier retreat measured by satellite radar", ""),  # title only
    ("Coral reef bleaching", "Ocean heat waves bleach corals. Reefs recover slowly after."),
    ("Honey bee navigation", "Bees use the sun as a compass. They dance to share directions."),
    ("Volcanic ash and aviation", "Ash clouds damage jet engines. Flights are rerouted."),
    ("Sourdough fermentation", "Wild yeast and lactic bacteria leaven the bread dough."),
    ("Chess endgame tablebases", "Computers solved every position with seven pieces."),
    ("Urban heat islands", "Cities stay warmer than the countryside at night."),
    ("Deep sea anglerfish", "A glowing lure attracts prey in the dark ocean depths."),
]
QUERIES = [
    ("satellite radar measurements of retreating glaciers", ["d0"]),
    ("why do corals bleach in warm water", ["d1"]),
    ("how bees find their way and communicate directions", ["d2"]),
    ("volcanic ash effects on jet engines", ["d3"]),
    ("bread rising with wild yeast", ["d4", "d9"]),  # d9 is the empty document
    ("computer solved chess endgames", ["d5"]),
]


def _collection(root: Path, shift: int) -> Path:
    """A BEIR directory: the topics (ids rotated by ``shift`` so the two collections differ),
    one empty document d9, the queries and their judgements."""
    root.mkdir()
    rows = [
        {"_id": f"d{i}", "title": title, "text": text} for i, (title, text) in enumerate(TOPICS)
    ]
    rows = rows[shift:] + rows[:shift] + [{"_id": "d9", "title": "", "text": " "}]
    (root / "corpus.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    queries = "".join(
        json.dumps({"_id": f"q{i}", "text": q}) + "\n" for i, (q, _) in enumerate(QUERIES)
    )
    (root / "queries.jsonl").write_text(queries, "utf-8")
    (root / "qrels").mkdir()
    judged = [f"q{i}\t{doc}\t1" for i, (_, docs) in enumerate(QUERIES) for doc in docs]
    (root / "qrels/test.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "\n".join(judged), "utf-8"
    )
    return root


def test_a_run_on_two_small_collections_tunes_per_fold_and_across_collections(
    tmp_path: Path, embedder: Embedder
) -> None:
    first, second = _collection(tmp_path / "first", 0), _collection(tmp_path / "second", 3)
    cache, results = tmp_path / "cache", tmp_path / "results"
    argv = ["--beir", str(first), "--beir", str(second), "--cache-dir", str(cache)]
    argv += ["--results-dir", str(results), "--weights", "0.3,0.5", "--depths", "10,100"]
    argv += ["--rm3", "off,2/5/0.5", "--rocchio", "off,2/0.3", "--smoothing", "off,3/1/0.5/0.5"]

    assert cv.main(argv, embedder=embedder) == 0

    document = read_results("cv_retrieval", results)
    assert document["command"][-len(argv) :] == argv
    assert document["params"]["grid"][0] == {"dense_weight": 0.5, "depth": 100, "feedback": "off"}
    assert len(document["params"]["grid"]) == 2 * 2 * 2 * 2
    for name, other in (("first", "second"), ("second", "first")):
        c = document["metrics"]["collections"][name]
        assert (c["documents"], c["title_only"], c["skipped_empty"], c["indexed"]) == (9, 1, 1, 8)
        assert (c["queries"], c["relevant_not_indexed"]) == (6, 1)
        for family in cv.FAMILIES:
            f = c[family]
            assert len(f["held_out_folds"]["chosen_per_fold"]) == 5
            assert f["tuned_on_other"]["tuned_on"] == other
            assert 0 < f["held_out_folds"]["ndcg10"] <= 1
        assert c["single_no_feedback"]["in_sample"]["chosen"] in ("dense", "bm25")
        assert c["single"]["in_sample"]["chosen"].split(" + ")[0] in ("dense", "bm25")
        assert c["hybrid"]["in_sample"]["ndcg10"] >= c["hybrid_no_feedback"]["in_sample"]["ndcg10"]
        assert set(c["default_settings"]["modes"]) == {"hybrid", "dense", "bm25"}
        per_query = document["samples"][name]["ndcg10"]
        # The title-only paper is retrievable by its title: first for the query about it.
        assert per_query["dense"][0] == pytest.approx(1.0)
        assert per_query["hybrid w=0.5 depth=100"][0] == pytest.approx(1.0)
        assert "hybrid w=0.5 depth=100 rm3 2d/5t/0.5 + rocchio 2d/0.3" in per_query
        assert "bm25 + rm3 2d/5t/0.5" in per_query and "dense + rocchio 2d/0.3" in per_query
        assert "hybrid w=0.5 depth=100 smooth 3p/1n/0.5/lex0.5" in per_query
    assert set(document["metrics"]["recommended"]["in_sample_ndcg10"]) == {"first", "second"}
    assert set(document["metrics"]["recommended_smoothing"]["in_sample_ndcg10"]) == {
        "first",
        "second",
    }
    assert document["params"]["smoothing_grid"] == ["off", "smooth 3p/1n/0.5/lex0.5"]

    built = sorted(p.name for p in cache.iterdir())
    assert len(built) == 2 and not any(name.endswith(".partial") for name in built)
    assert cv.main(argv, embedder=embedder) == 0  # the second run reuses both indexes
    assert sorted(p.name for p in cache.iterdir()) == built
