"""Shape of the development sets in data/dev: every line parses, ids are unique, every paper id
names a paper of the bundled corpus, and the sets are as large and as varied as promised.

Fast: reads the corpus with the reader and the id function the indexer uses, no model."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from indexer.identity import make_paper_id
from indexer.readers import read_file

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "data" / "daily-papers.txt"
DEV = ROOT / "data" / "dev"
QUESTIONS = DEV / "questions.jsonl"
CLAIMS = DEV / "claims.jsonl"

KINDS = {"paraphrase", "specific", "multi", "unanswerable"}
MIN_ANSWERABLE = 44
MIN_GOLD_PAPERS = 40
MIN_UNANSWERABLE = 10
MIN_CLAIMS = 40


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        assert line.strip(), f"{path.name} line {number} is blank"
        row = json.loads(line)
        assert isinstance(row, dict), f"{path.name} line {number} is not a JSON object"
        rows.append(row)
    return rows


@pytest.fixture(scope="module")
def corpus_ids() -> set[str]:
    result = read_file(CORPUS)
    assert not result.errors
    ids = [make_paper_id(record) for record in result.records]
    assert len(ids) == len(set(ids)), "the bundled corpus has duplicate paper ids"
    return set(ids)


@pytest.fixture(scope="module")
def questions() -> list[dict[str, Any]]:
    return _read_jsonl(QUESTIONS)


@pytest.fixture(scope="module")
def claims() -> list[dict[str, Any]]:
    return _read_jsonl(CLAIMS)


def _answerable(questions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [q for q in questions if q["gold"]]


# --- questions -------------------------------------------------------------------------------


def test_every_question_line_has_exactly_the_documented_fields_with_the_right_types(
    questions: list[dict[str, Any]],
) -> None:
    for q in questions:
        assert set(q) == {"id", "question", "gold", "kind"}, q
        assert isinstance(q["id"], str) and q["id"]
        assert isinstance(q["question"], str) and q["question"].strip()
        assert isinstance(q["gold"], list)
        assert all(isinstance(p, str) for p in q["gold"]), q
        assert q["kind"] in KINDS, q


def test_question_ids_are_unique_and_so_are_the_questions(questions: list[dict[str, Any]]) -> None:
    ids = Counter(q["id"] for q in questions)
    assert [i for i, n in ids.items() if n > 1] == []
    texts = Counter(q["question"].strip().casefold() for q in questions)
    assert [t for t, n in texts.items() if n > 1] == []


def test_every_gold_paper_exists_in_the_bundled_corpus_and_is_listed_once(
    questions: list[dict[str, Any]], corpus_ids: set[str]
) -> None:
    for q in questions:
        assert len(q["gold"]) == len(set(q["gold"])), q
        assert set(q["gold"]) <= corpus_ids, (q["id"], set(q["gold"]) - corpus_ids)


def test_the_kind_agrees_with_the_number_of_gold_papers(questions: list[dict[str, Any]]) -> None:
    for q in questions:
        if q["kind"] == "unanswerable":
            assert q["gold"] == [], q
        elif q["kind"] == "multi":
            assert 2 <= len(q["gold"]) <= 3, q
        else:
            assert len(q["gold"]) == 1, q


def test_there_are_enough_answerable_questions_covering_enough_different_papers(
    questions: list[dict[str, Any]],
) -> None:
    answerable = _answerable(questions)
    assert len(answerable) >= MIN_ANSWERABLE
    assert len({p for q in answerable for p in q["gold"]}) >= MIN_GOLD_PAPERS
    kinds = {q["kind"] for q in answerable}
    assert {"paraphrase", "specific", "multi"} <= kinds


def test_there_are_enough_unanswerable_questions(questions: list[dict[str, Any]]) -> None:
    assert sum(1 for q in questions if not q["gold"]) >= MIN_UNANSWERABLE


# --- claims ----------------------------------------------------------------------------------


def test_every_claim_line_has_exactly_the_documented_fields_with_the_right_types(
    claims: list[dict[str, Any]],
) -> None:
    for c in claims:
        assert set(c) == {"id", "claim", "paper_id", "supported"}, c
        assert isinstance(c["id"], str) and c["id"]
        assert isinstance(c["claim"], str) and c["claim"].strip()
        assert isinstance(c["paper_id"], str)
        assert isinstance(c["supported"], bool), c


def test_claim_ids_are_unique(claims: list[dict[str, Any]]) -> None:
    ids = Counter(c["id"] for c in claims)
    assert [i for i, n in ids.items() if n > 1] == []


def test_every_claim_names_a_paper_of_the_bundled_corpus(
    claims: list[dict[str, Any]], corpus_ids: set[str]
) -> None:
    assert {c["paper_id"] for c in claims} <= corpus_ids


def test_there_are_enough_claims_with_both_labels_present(claims: list[dict[str, Any]]) -> None:
    assert len(claims) >= MIN_CLAIMS
    labels = Counter(c["supported"] for c in claims)
    assert labels[True] >= 1 and labels[False] >= 1, labels
