"""``abstractqa eval answers`` through the real command (in-process ``main``) against an index
of the bundled corpus, with the real model and the extractive backend; and its input errors."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from service.cli import main

SPARSE_FT = "composable-sparse-fine-tuning-for-cross-lingual-transfer-27123fb7"
QUESTIONS = [
    # Gold by paper id.
    {
        "question": "How can I adapt a multilingual model to a new language and task by "
        "combining two sparse sets of weight changes, without adding parameters at inference "
        "time?",
        "gold": [SPARSE_FT],
    },
    # Gold by title, written with other case and punctuation than the paper's.
    {
        "question": "Is there an architecture that pairs attention as short-term memory with a "
        "learned long-term memory to handle contexts beyond 2 million tokens?",
        "gold": ["TITANS -- Learning to  Memorize at Test Time."],
    },
    # No paper answers it.
    {"question": "What is the best recipe for sourdough bread at high altitude?", "gold": []},
    # Gold naming no indexed paper: it can never be found.
    {"question": "What is UL2?", "gold": ["A Paper That Is Not Indexed"]},
]


def run(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def write_jsonl(path: Path, rows: Sequence[Mapping[str, object]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def test_eval_answers_reports_retrieval_citation_and_abstention_metrics_as_json(
    corpus_index_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    qa = write_jsonl(tmp_path / "qa.jsonl", QUESTIONS)

    code, out, err = run(
        capsys, "eval", "answers", "--qa", qa, "--index-dir", corpus_index_dir, "--json"
    )

    assert code == 0, err
    report = json.loads(out)
    assert report["questions"] == 4
    assert report["answerable"] == 3 and report["unanswerable"] == 1
    # The id and the title gold are ranked first; the unknown gold never is.
    assert report["hit_at_1"] == pytest.approx(2 / 3)
    assert report["mrr"] == pytest.approx(2 / 3)
    assert report["recall_at_5"] == pytest.approx(2 / 3)
    assert report["abstention_accuracy"] == 1.0
    # Extractive answers quote abstracts verbatim: every sentence is supported.
    assert report["supported_share"] == 1.0
    assert 0.0 <= report["citation_precision"] <= 1.0
    assert report["degraded"] == 0
    assert isinstance(report["false_abstentions"], int)
    assert "warning: " in err and "'A Paper That Is Not Indexed' names no indexed paper" in err
    assert "titans" not in err  # the title gold resolved


def test_eval_answers_prints_a_table_without_json(
    corpus_index_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    qa = write_jsonl(tmp_path / "qa.jsonl", QUESTIONS[:1] + QUESTIONS[2:3])

    code, out, err = run(
        capsys, "eval", "answers", "--qa", qa, "--index-dir", corpus_index_dir,
        "--backend", "extractive",
    )  # fmt: skip

    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == f"{qa}: 2 questions (1 answerable, 1 unanswerable)"
    assert lines[1].split() == ["hit@1", "1.000"]
    assert lines[6].split() == ["abstention", "accuracy", "1.000"]
    assert lines[7].split() == ["false", "abstentions", "0", "of", "1"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"question": "ok", "gold": []}\n{"question": \n', "line 2: invalid JSON"),
        ('["not", "an", "object"]\n', "line 1: expected a JSON object"),
        ('{"gold": []}\n', "line 1: no question"),
        ('{"question": "q", "gold": "Titans"}\n', "line 1: gold must be a list"),
        ("\n\n", "no questions"),
    ],
)
def test_a_malformed_question_file_is_an_error_naming_the_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    qa = tmp_path / "qa.jsonl"
    qa.write_text(content)

    code, out, err = run(capsys, "eval", "answers", "--qa", qa, "--index-dir", tmp_path)

    assert code == 2 and out == ""
    assert err.startswith(f"error: {qa}: {message}")


def test_a_missing_question_file_is_an_error_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "eval", "answers", "--qa", tmp_path / "none.jsonl")
    assert code == 2 and err == f"error: {tmp_path / 'none.jsonl'}: no such file\n"


def test_an_index_directory_without_an_index_is_an_error_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    qa = write_jsonl(tmp_path / "qa.jsonl", QUESTIONS[:1])
    code, _, err = run(capsys, "eval", "answers", "--qa", qa, "--index-dir", tmp_path / "nowhere")
    assert code == 1 and "error: " in err and "Traceback" not in err
