"""The BM25 index of a version: bm25s over chunk texts, English stop words, Snowball stems."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from indexer.quiet import silence_library_output

BM25_DIR = "bm25"
_DOC_IDS = "doc_ids.npy"


@cache
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


def tokenize(texts: list[str]) -> list[list[str]]:
    import bm25s

    return bm25s.tokenize(
        texts, stopwords="en", stemmer=_stemmer(), return_ids=False, show_progress=False
    )


class BM25Index:
    """Scores documents (chunks) for a query; document i is the chunk with FAISS id ``ids[i]``."""

    def __init__(self, retriever: Any, ids: np.ndarray) -> None:
        self._retriever = retriever
        self.ids = ids
        self._row_of = {int(chunk_id): row for row, chunk_id in enumerate(ids.tolist())}

    @classmethod
    def build(cls, texts: list[str], ids: list[int]) -> BM25Index:
        silence_library_output()
        import bm25s

        retriever = bm25s.BM25()
        tokens = tokenize(texts)
        # bm25s cannot index a corpus whose every document is empty; a placeholder keeps shapes.
        retriever.index(tokens if any(tokens) else [["\x00"]] * len(tokens), show_progress=False)
        return cls(retriever, np.asarray(ids, dtype=np.int64))

    def save(self, directory: Path) -> list[Path]:
        target = directory / BM25_DIR
        self._retriever.save(str(target), show_progress=False)
        np.save(target / _DOC_IDS, self.ids)
        return sorted(p for p in target.iterdir() if p.is_file())

    @classmethod
    def load(cls, directory: Path) -> BM25Index:
        silence_library_output()
        import bm25s

        target = directory / BM25_DIR
        retriever = bm25s.BM25.load(str(target))
        return cls(retriever, np.load(target / _DOC_IDS))

    def term_weights(self, text: str) -> dict[str, float]:
        """IDF of each distinct stemmed term of ``text`` over the chunks; a term the index has
        never seen gets the highest weight (it is as rare as a term can be)."""
        scores = self._retriever.scores
        indptr, n = scores["indptr"], scores["num_docs"]
        vocab = self._retriever.vocab_dict
        weights = {}
        for term in dict.fromkeys(tokenize([text])[0]):
            df = int(indptr[vocab[term] + 1] - indptr[vocab[term]]) if term in vocab else 0
            weights[term] = float(np.log((n + 1) / (df + 0.5)))
        return weights

    def rows_of(self, chunk_ids: np.ndarray) -> np.ndarray:
        return np.array([self._row_of[int(i)] for i in chunk_ids.tolist()], dtype=np.int64)

    def search(
        self, query: str, k: int, allowed_rows: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (scores, chunk ids) with a positive score, best first."""
        vocab = self._retriever.vocab_dict
        tokens = [t for t in tokenize([query])[0] if t in vocab]
        if not tokens or len(self.ids) == 0:
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        scores = self._retriever.get_scores(tokens)
        if allowed_rows is not None:
            mask = np.zeros(len(scores), dtype=bool)
            mask[allowed_rows] = True
            scores = np.where(mask, scores, 0.0)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        top = top[scores[top] > 0]
        return scores[top].astype(np.float32), self.ids[top]
