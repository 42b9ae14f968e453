"""The BM25 index of a version: bm25s over whole papers (title + abstract), English stop
words, Snowball stems.

Papers rather than chunks: on CISI and on the bundled questions a paper-level BM25 ranks
better than the best chunk of each paper (nDCG@10 0.396 vs 0.390; hit@1 0.984 vs 0.953, see
docs/benchmarks.md), since a chunk loses the terms of its neighbours and length
normalisation then punishes the chunking rather than the paper.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from indexer.quiet import silence_library_output

BM25_DIR = "bm25"
_PAPER_IDS = "paper_ids.json"


@cache
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


def tokenize(texts: list[str]) -> list[list[str]]:
    import bm25s

    return bm25s.tokenize(
        texts, stopwords="en", stemmer=_stemmer(), return_ids=False, show_progress=False
    )


def paper_text(title: str, abstract: str) -> str:
    return f"{title}. {abstract}" if abstract else title


class BM25Index:
    """Scores papers for a query; document i is the paper ``paper_ids[i]``."""

    def __init__(self, retriever: Any, paper_ids: list[str]) -> None:
        self._retriever = retriever
        self.paper_ids = paper_ids
        self._row_of = {paper_id: row for row, paper_id in enumerate(paper_ids)}

    @classmethod
    def build(cls, texts: list[str], paper_ids: list[str]) -> BM25Index:
        silence_library_output()
        import bm25s

        retriever = bm25s.BM25()
        tokens = tokenize(texts)
        # bm25s cannot index a corpus whose every document is empty; a placeholder keeps shapes.
        retriever.index(tokens if any(tokens) else [["\x00"]] * len(tokens), show_progress=False)
        return cls(retriever, list(paper_ids))

    def save(self, directory: Path) -> list[Path]:
        target = directory / BM25_DIR
        self._retriever.save(str(target), show_progress=False)
        (target / _PAPER_IDS).write_text(json.dumps(self.paper_ids), encoding="utf-8")
        return sorted(p for p in target.iterdir() if p.is_file())

    @classmethod
    def load(cls, directory: Path) -> BM25Index:
        silence_library_output()
        import bm25s

        target = directory / BM25_DIR
        retriever = bm25s.BM25.load(str(target))
        return cls(retriever, json.loads((target / _PAPER_IDS).read_text(encoding="utf-8")))

    def term_weights(self, text: str) -> dict[str, float]:
        """IDF of each distinct stemmed term of ``text`` over the papers; a term the index has
        never seen gets the highest weight (it is as rare as a term can be)."""
        scores = self._retriever.scores
        indptr, n = scores["indptr"], scores["num_docs"]
        vocab = self._retriever.vocab_dict
        weights = {}
        for term in dict.fromkeys(tokenize([text])[0]):
            df = int(indptr[vocab[term] + 1] - indptr[vocab[term]]) if term in vocab else 0
            weights[term] = float(np.log((n + 1) / (df + 0.5)))
        return weights

    def rows_of(self, paper_ids: Iterable[str]) -> np.ndarray:
        return np.array([self._row_of[p] for p in paper_ids if p in self._row_of], dtype=np.int64)

    def search(
        self, query: str, k: int, allowed_rows: np.ndarray | None = None
    ) -> tuple[np.ndarray, list[str]]:
        """Top-``k`` (scores, paper ids) with a positive score, best first."""
        vocab = self._retriever.vocab_dict
        tokens = [t for t in tokenize([query])[0] if t in vocab]
        if not tokens or not self.paper_ids:
            return np.zeros(0, dtype=np.float32), []
        scores = self._retriever.get_scores(tokens)
        if allowed_rows is not None:
            mask = np.zeros(len(scores), dtype=bool)
            mask[allowed_rows] = True
            scores = np.where(mask, scores, 0.0)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        top = top[scores[top] > 0]
        return scores[top].astype(np.float32), [self.paper_ids[i] for i in top.tolist()]
