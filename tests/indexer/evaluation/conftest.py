"""A tiny collection in the BEIR layout, made of papers of the bundled corpus."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from indexer.readers import read_file

ROOT = Path(__file__).resolve().parents[3]
CORPUS = ROOT / "data" / "daily-papers.txt"
DOCUMENTS = 9  # eight papers of the bundled corpus and one more under a repeated title


def write_beir(
    root: Path,
    corpus: Sequence[Mapping[str, object]],
    queries: Sequence[Mapping[str, object]],
    qrels: Sequence[tuple[str, str, int]],
) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "qrels").mkdir(exist_ok=True)
    (root / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in corpus))
    (root / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries))
    lines = ["query-id\tcorpus-id\tscore", *(f"{q}\t{d}\t{s}" for q, d, s in qrels)]
    (root / "qrels" / "test.tsv").write_text("\n".join(lines) + "\n")
    return root


@pytest.fixture(scope="session")
def beir_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Eight papers ``d0``..``d7`` plus ``d8``, a different abstract under ``d7``'s title (a
    separate document: its id differs); two judged queries that name their paper almost
    verbatim, one query without judgements, and a judgement of a query id that queries.jsonl
    does not hold, naming a document the corpus does not hold."""
    records = read_file(CORPUS).records[: DOCUMENTS - 1]
    corpus: list[dict[str, object]] = [
        {"_id": f"d{i}", "title": r.title, "text": r.abstract, "metadata": {"n": i}}
        for i, r in enumerate(records)
    ]
    corpus.append({"_id": "d8", "title": records[7].title, "text": "Another abstract entirely."})
    queries = [
        {"_id": "q1", "text": "composable sparse fine-tuning for cross-lingual transfer"},
        {"_id": "q2", "text": "a practical survey on faster and lighter transformers"},
        {"_id": "q3", "text": "a query nobody judged"},
    ]
    qrels = [("q1", "d0", 2), ("q1", "d4", 0), ("q2", "d4", 1), ("q2", "d6", 0), ("q9", "d99", 1)]
    return write_beir(tmp_path_factory.mktemp("beir") / "tiny", corpus, queries, qrels)
