"""Retrieval over an index version: dense (FAISS, best chunk per paper), BM25 (per paper),
and hybrid (a weighted sum of standardised scores), with results per paper.

llama-index's ``QueryFusionRetriever`` fuses node lists and needs an LLM object even for one
query; here fusion happens after grouping per paper, so it is a few lines of our own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from indexer.config import SEARCH_MODES, IndexerSettings, SearchMode
from indexer.embedders.base import Embedder
from indexer.feedback import Feedback, rm3_query, rocchio
from indexer.index import IndexVersion
from indexer.lexical import paper_text, tokenize
from indexer.models import Chunk, Paper
from indexer.smoothing import Smoothing, TokenCache, smooth, term_matrix

Mode = SearchMode
MODES = SEARCH_MODES


@dataclass(frozen=True)
class Filters:
    """Equality on paper fields or metadata keys (a list field matches when it contains the
    value), and an inclusive ISO-date range on ``published``."""

    equals: dict[str, Any] = field(default_factory=dict)
    published_from: str | None = None
    published_to: str | None = None

    def accepts(self, paper: Paper) -> bool:
        for key, wanted in self.equals.items():
            value = getattr(paper, key, None) if key in _PAPER_FIELDS else paper.metadata.get(key)
            if isinstance(value, list):
                if wanted not in value:
                    return False
            elif value != wanted:
                return False
        if self.published_from or self.published_to:
            if not paper.published:
                return False
            if self.published_from and paper.published < self.published_from:
                return False
            if self.published_to and paper.published > self.published_to:
                return False
        return True


_PAPER_FIELDS = {"paper_id", "title", "authors", "url", "published"}


@dataclass
class PaperHit:
    """A retrieved paper: its score in the chosen mode, the per-retriever evidence, and the
    chunk that matched best (None when the search was asked for papers only)."""

    paper: Paper
    score: float
    chunk: Chunk | None
    dense_score: float | None = None
    bm25_score: float | None = None
    dense_rank: int | None = None
    bm25_rank: int | None = None
    location: tuple[int, int] | None = None  # (segment position, row): no look-up by id

    @property
    def sentences(self) -> list[str]:
        """The best chunk's sentences (the whole abstract's without a chunk)."""
        if self.chunk is None:
            return self.paper.sentences
        return self.paper.sentences[self.chunk.first : self.chunk.end]


@dataclass
class _Ranked:
    score: float
    chunk_id: int | None
    rank: int = 0
    location: tuple[int, int] | None = None  # where the paper lives (segment position, row)


@dataclass
class Candidates:
    """What each retriever found for a query (paper id -> its ranking), and the query's cosine
    to the titles of those papers that have a title vector (hybrid with a title weight)."""

    dense: dict[str, _Ranked]
    lexical: dict[str, _Ranked]
    titles: Mapping[str, float] = field(default_factory=dict)

    @cached_property
    def located(self) -> dict[str, tuple[int, int]]:
        """Where the candidates' papers live, as the retrievers found them: reading those papers
        again needs no look-up of their ids in SQLite (several a search, ~0.4 ms at 1M papers,
        ad hoc). Once per query: the title list, smoothing and the hits' reads all use it."""
        return {
            p: r.location
            for ranking in (self.dense, self.lexical)
            for p, r in ranking.items()
            if r.location
        }


def _group_by_paper(
    index: IndexVersion, scores: np.ndarray, ids: np.ndarray, limit: int
) -> dict[str, _Ranked]:
    """Best chunk per paper, in descending score order, with 1-based ranks: the first
    ``limit`` papers."""
    found = index.first_papers_of_chunks(ids, limit)
    score_of, id_of = scores.tolist(), ids.tolist()
    return {
        paper_id: _Ranked(score_of[at], id_of[at], rank, location)
        for rank, (at, paper_id, location) in enumerate(found, 1)
    }


def _standardised(ranking: dict[str, _Ranked]) -> dict[str, float]:
    """Scores as z-scores over the candidates one retriever returned: BM25 and cosine scores
    live on unrelated scales, and a z-score keeps how far a paper stands out of its list."""
    return _z_scores({p: r.score for p, r in ranking.items()})


def _z_scores(scores: dict[str, float]) -> dict[str, float]:
    if not scores:
        return {}
    values = np.array(list(scores.values()), dtype=np.float64)
    spread = float(values.std())
    if spread < 1e-9:
        return dict.fromkeys(scores, 0.0)
    mean = float(values.mean())
    return {p: (score - mean) / spread for p, score in scores.items()}


class Retriever:
    """Searches one index version with the embedder it was built with.

    Hybrid search is a convex combination of z-scored dense and BM25 scores over each
    retriever's ``depth`` best papers, ``dense_weight`` for the dense side; a paper one
    retriever did not return gets that retriever's lowest z-score among its candidates. On
    CISI this beats reciprocal-rank fusion (nDCG@10 0.465 vs 0.452 at k=60) and both
    retrievers alone, and the bundled questions' hit@1 rises from 0.953 to 0.984
    (docs/benchmarks.md). Equal weights: the optimum was flat between 0.4 and 0.6.

    ``feedback``: pseudo-relevance feedback, RM3 on the BM25 side and Rocchio on the dense
    side, each a second pass after its own first one (off by default). ``smoothing``: the
    hybrid's best papers re-scored from their neighbours among them (``indexer/smoothing.py``).
    ``title_weight``: the weight of a third z-scored list, the query's cosine to the titles of
    the candidates that have a title vector (``indexer/title_vectors.py``; the others count as
    its mean, z = 0); added before smoothing (0: off, the default here; served: 0.1).
    """

    def __init__(
        self,
        index: IndexVersion,
        embedder: Embedder,
        dense_weight: float = 0.5,
        depth: int = 100,
        feedback: Feedback | None = None,
        smoothing: Smoothing | None = None,
        title_weight: float = 0.0,
    ) -> None:
        self.index = index
        self.embedder = embedder
        self.dense_weight = dense_weight
        self.depth = depth
        self.feedback = feedback or Feedback()
        self.smoothing = smoothing or Smoothing()
        self.title_weight = title_weight
        self._tokens = TokenCache()
        chunks_per_paper = len(index.chunks) / max(1, len(index.papers))
        self._chunk_factor = max(2, int(np.ceil(chunks_per_paper)) + 1)

    @classmethod
    def from_settings(
        cls, index: IndexVersion, embedder: Embedder, settings: IndexerSettings
    ) -> Retriever:
        """The served retrieval: feedback and smoothing as ``settings`` say."""
        return cls(
            index,
            embedder,
            feedback=Feedback.from_settings(settings),
            smoothing=Smoothing.from_settings(settings),
            title_weight=settings.feedback.title_weight,
        )

    def allowed_papers(
        self, paper_ids: Iterable[str] | None, filters: Filters | None
    ) -> set[str] | None:
        """The papers a request may see (None: all of them)."""
        if paper_ids is None and (filters is None or filters == Filters()):
            return None
        papers = self.index.papers
        if paper_ids is None and filters is not None:
            return papers.matching(filters.equals, filters.published_from, filters.published_to)
        found = papers.many(list(dict.fromkeys(paper_ids or ())))
        return {p for p, paper in found.items() if filters is None or filters.accepts(paper)}

    def allowed_chunks(self, papers: set[str] | None) -> np.ndarray | None:
        """FAISS ids of the chunks of ``papers`` (None: all chunks)."""
        if papers is None:
            return None
        ids = [c.chunk_id for p in papers for c in self.index.chunks_of(p)]
        return np.array(sorted(ids), dtype=np.int64)

    def embed_query(self, query: str) -> np.ndarray:
        return self.embedder.embed_queries([query])[0]

    def dense(
        self, query_vector: np.ndarray, depth: int, papers: set[str] | None
    ) -> dict[str, _Ranked]:
        k = depth * self._chunk_factor
        allowed = self.allowed_chunks(papers)
        ranking = self._dense_pass(query_vector, k, depth, allowed)
        fb = self.feedback
        if fb.rocchio_docs and ranking:
            top = [r.chunk_id for r in list(ranking.values())[: fb.rocchio_docs]]
            vectors = self.index.vectors.vectors_of([c for c in top if c is not None])
            moved = rocchio(query_vector, vectors, fb.rocchio_beta)
            ranking = self._dense_pass(moved, k, depth, allowed)
        return ranking

    def _dense_pass(
        self, vector: np.ndarray, k: int, depth: int, allowed: np.ndarray | None
    ) -> dict[str, _Ranked]:
        scores, ids = self.index.vectors.search(vector[np.newaxis, :], k, allowed)
        return _group_by_paper(self.index, scores[0], ids[0], depth)

    def lexical(self, query: str, depth: int, papers: set[str] | None) -> dict[str, _Ranked]:
        bm25, fb = self.index.bm25, self.feedback
        if fb.rm3_docs:
            first = bm25.search(query, fb.rm3_docs, papers)
            top = first.paper_ids
            found = self.index.papers.many(top, dict(zip(top, first.locations, strict=True)))
            docs = [paper_text(found[p].title, found[p].abstract) for p in top]
            expanded = rm3_query(
                bm25.tokenize(query),
                tokenize(docs) if docs else [],
                first.scores.tolist(),
                fb.rm3_terms,
                fb.rm3_query_weight,
            )
            hits = bm25.search_weighted(expanded, depth, papers)
        else:
            hits = bm25.search(query, depth, papers)
        ranked = zip(hits.scores.tolist(), hits.paper_ids, hits.locations, strict=True)
        return {
            paper_id: _Ranked(score, None, rank, location)
            for rank, (score, paper_id, location) in enumerate(ranked, 1)
        }

    def search(
        self,
        query: str,
        k: int = 10,
        mode: Mode = "hybrid",
        paper_ids: Iterable[str] | None = None,
        filters: Filters | None = None,
        query_vector: np.ndarray | None = None,
        chunks: bool = True,
    ) -> list[PaperHit]:
        """The ``k`` best papers for ``query``; ``query_vector`` skips embedding the query.

        ``chunks=False``: the hits come without their best chunk, for callers that show or
        score the paper's sentences themselves (the service, evaluation). The chunks are read
        from the segments' SQLite files: at 1,000,000 papers ~0.3 ms of a search with those
        pages in the page cache, ~0.7-1.5 ms with them out of it (ad hoc)."""
        if mode not in MODES:
            raise ValueError(f"unknown search mode {mode!r}; use one of {', '.join(MODES)}")
        allowed = self.allowed_papers(paper_ids, filters)
        if allowed is not None and not allowed:
            return []
        found = self.candidates(query, max(k, self.depth), mode, allowed, query_vector)
        fused = self.ranked(found, mode, k)
        dense, lexical, located = found.dense, found.lexical, found.located
        papers = self.index.papers.many(list(fused), located)
        best: Mapping[str, Chunk | None] = (
            self._best_chunks(list(fused), dense, located) if chunks else dict.fromkeys(fused)
        )
        return [
            self._hit(papers[p], s, best[p], dense.get(p), lexical.get(p), located.get(p))
            for p, s in fused.items()
        ]

    def _best_chunks(
        self, paper_ids: list[str], dense: dict[str, _Ranked], located: dict[str, tuple[int, int]]
    ) -> dict[str, Chunk]:
        """Each paper's best dense chunk; a paper only BM25 found has none, and its first chunk
        stands for it. Batched: a query per hit was most of a search's SQLite time."""
        best = {p: dense[p].chunk_id for p in paper_ids if p in dense}
        by_id = self.index.chunks.many([c for c in best.values() if c is not None])
        chunks = {p: by_id[c] for p, c in best.items() if c is not None}
        rest = [p for p in paper_ids if p not in chunks]
        chunks.update(self.index.chunks.first_of(rest, located))
        return chunks

    def candidates(
        self,
        query: str,
        depth: int,
        mode: Mode = "hybrid",
        papers: set[str] | None = None,
        query_vector: np.ndarray | None = None,
    ) -> Candidates:
        """Each retriever's ``depth`` best papers (dense, BM25) that ``mode`` uses, and for a
        hybrid with a title weight the query's cosine to their titles."""
        found = Candidates({}, {})
        vector = None
        if mode in ("hybrid", "dense"):
            vector = query_vector if query_vector is not None else self.embed_query(query)
            found.dense = self.dense(vector, depth, papers)
        if mode in ("hybrid", "bm25"):
            found.lexical = self.lexical(query, depth, papers)
        if vector is not None and mode == "hybrid" and self.title_weight > 0:
            found.titles = self.index.vectors.title_similarities(vector, found.located)
        return found

    def ranked(self, found: Candidates, mode: Mode, k: int) -> dict[str, float]:
        """The ``k`` best papers of ``candidates`` in ``mode`` with their scores, best first
        (the hybrid fused with this retriever's ``dense_weight`` and ``title_weight``)."""
        if mode == "dense":
            fused = {p: r.score for p, r in found.dense.items()}
        elif mode == "bm25":
            fused = {p: r.score for p, r in found.lexical.items()}
        else:
            fused = self._fuse(found.dense, found.lexical)
            if self.title_weight > 0:
                # Over the candidates' titles only: a paper without a title vector is neutral.
                titles = found.titles
                z = _z_scores({p: titles[p] for p in fused if p in titles})
                fused = {p: s + self.title_weight * z.get(p, 0.0) for p, s in fused.items()}
        order = sorted(fused, key=lambda p: (-fused[p], p))
        if mode == "hybrid" and self.smoothing.on:
            fused, order = self._smoothed(fused, order, found.located)
        return {p: fused[p] for p in order[:k]}

    def _smoothed(
        self, fused: dict[str, float], order: list[str], located: dict[str, tuple[int, int]]
    ) -> tuple[dict[str, float], list[str]]:
        """``fused`` with its ``smoothing.papers`` best re-scored from their neighbours; the
        rest keep their scores and follow them (a smoothed score is a weighted mean of scores of
        the best papers, so none falls below the rest's and scores still descend)."""
        top = order[: self.smoothing.papers]
        share = self.smoothing.lexical_share
        terms = None
        if share > 0:
            tokens = self._tokens.get(top, lambda ids: self._tokenize(ids, located))
            terms = term_matrix(tokens, self.index.bm25.idf_of([t for w in tokens for t in w]))
        vectors = self.index.vectors.of_papers(top, located) if share < 1 else None
        scores = smooth(np.array([fused[p] for p in top]), vectors, terms, self.smoothing)
        rescored = dict(zip(top, scores.tolist(), strict=True))
        head = sorted(top, key=lambda p: (-rescored[p], p))
        return fused | rescored, head + order[len(top) :]

    def _tokenize(
        self, paper_ids: list[str], located: dict[str, tuple[int, int]]
    ) -> list[list[str]]:
        papers = self.index.papers.many(paper_ids, located)
        found = [papers.get(p) for p in paper_ids]
        return tokenize([paper_text(p.title, p.abstract) if p else "" for p in found])

    def _fuse(self, dense: dict[str, _Ranked], lexical: dict[str, _Ranked]) -> dict[str, float]:
        papers = list(dict.fromkeys([*dense, *lexical]))
        fused = np.zeros(len(papers))
        sides = ((dense, self.dense_weight), (lexical, 1.0 - self.dense_weight))
        for ranking, weight in sides:
            if not ranking:
                continue  # one side found nothing (e.g. no query term is in the index)
            z = _standardised(ranking)
            floor = min(z.values())
            fused += weight * np.array([z.get(p, floor) for p in papers])
        return dict(zip(papers, fused.tolist(), strict=True))

    def _hit(
        self,
        paper: Paper,
        score: float,
        chunk: Chunk | None,
        dense: _Ranked | None,
        lexical: _Ranked | None,
        location: tuple[int, int] | None,
    ) -> PaperHit:
        return PaperHit(
            paper=paper,
            score=score,
            chunk=chunk,
            dense_score=dense.score if dense else None,
            bm25_score=lexical.score if lexical else None,
            dense_rank=dense.rank if dense else None,
            bm25_rank=lexical.rank if lexical else None,
            location=location,
        )
