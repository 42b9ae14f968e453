"""Retrieval for the service: ranked papers with the sentences that best match the query."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

import anyio
import numpy as np

from indexer import Filters, PaperHit
from indexer import SearchMode as Mode
from service.answering.abstain import answerability, coverage, text_terms
from service.observability.metrics import Metrics
from service.runtime.state import Loaded, ServiceState
from service.search.models import PaperResult, Scope, SearchRequest, SearchResponse
from service.settings import Settings, SnippetScoring

SentenceScoring = Literal["dense", "lexical"]


@dataclass
class Retrieved:
    """Papers retrieved for a query, with the query's vector and each paper's sentence scores."""

    hits: list[PaperHit]
    query_vector: np.ndarray
    sentence_scores: dict[str, np.ndarray]
    term_weights: dict[str, float] | None = None  # the query's, when already looked up

    def dense_similarities(self, loaded: Loaded) -> list[float]:
        """Each hit's dense cosine score; computed for the hits only BM25 found, from their
        chunk vectors in one pass."""
        missing = [h.paper.paper_id for h in self.hits if h.dense_score is None]
        known = {h.paper.paper_id: h.location for h in self.hits if h.location}
        scores = loaded.index.vectors.best_scores(missing, self.query_vector, known)
        computed = dict(zip(missing, scores.tolist(), strict=True))
        return [
            h.dense_score if h.dense_score is not None else computed[h.paper.paper_id]
            for h in self.hits
        ]

    def answerabilities(self, loaded: Loaded, query: str, coverage_weight: float) -> list[float]:
        """Each hit's answerability (answering/abstain.py): its dense similarity plus the weighted
        coverage of the query's terms. Answering abstains when the best is under the threshold
        (``Settings.abstain_threshold``)."""
        weights = self.term_weights or loaded.index.bm25.term_weights(query)
        return [
            answerability(similarity, coverage(weights, hit.paper), coverage_weight)
            for similarity, hit in zip(self.dense_similarities(loaded), self.hits, strict=True)
        ]

    def best_sentences(self, hit: PaperHit, n: int = 2) -> list[int]:
        """Indices of the ``n`` sentences most similar to the query, in abstract order."""
        scores = self.sentence_scores[hit.paper.paper_id]
        return sorted(np.argsort(-scores, kind="stable")[:n].tolist())


def retrieve(
    loaded: Loaded,
    query: str,
    query_vector: np.ndarray,
    top_k: int,
    mode: Mode = "hybrid",
    scope: Scope | None = None,
    sentences: SentenceScoring = "dense",
) -> Retrieved:
    """``query_vector`` comes from ``ServiceState.query_encoder``, which batches concurrent
    requests' queries; nothing here embeds a query. ``sentences``: how each hit's sentences
    are scored against the query, dense (cosine of their vectors) or lexical
    (``lexical_scores`` over the query's total weight: no sentence vectors needed)."""
    filters: Filters | None = None
    paper_ids = None
    if scope is not None:
        paper_ids = scope.paper_ids
        filters = scope.filters.to_filters() if scope.filters else None
    hits = loaded.retriever.search(
        query, top_k, mode, paper_ids, filters, query_vector=query_vector, chunks=False
    )
    if sentences == "dense":
        vectors = loaded.sentences.get([h.paper.paper_id for h in hits])
        scores = {p: v @ query_vector if len(v) else np.zeros(0) for p, v in vectors.items()}
        return Retrieved(hits, query_vector, scores)
    weights = loaded.index.bm25.term_weights(query)
    # A share of the query's weight, 0 to 1: the extractive backend's margin between a
    # paper's best sentence and the next it quotes is on the scale of a cosine.
    total = sum(weights.values()) or 1.0
    scores = {h.paper.paper_id: lexical_scores(weights, h.paper.sentences) / total for h in hits}
    return Retrieved(hits, query_vector, scores, weights)


def lexical_scores(weights: dict[str, float], sentences: list[str]) -> np.ndarray:
    """Each sentence's sum of the IDF weights of the query terms it holds: a snippet picked
    without the model, as Lucene's highlighters pick fragments. Ties (no term at all) go to
    the earlier sentences, an abstract's lead."""
    scores = []
    for sentence in sentences:
        terms = text_terms(sentence)  # once per sentence, not once per query term
        scores.append(sum(w for t, w in weights.items() if t in terms))
    return np.array(scores, dtype=np.float64)


# Retrieval runs on the event loop when it is sure to be quick: a small index (hybrid search
# over CISI's 1,858 chunks takes 0.8 ms) whose sentence vectors are all embedded (else
# ``SentenceVectors.get`` may call the model). Handing it to a worker thread and back costs
# more than that: inline, /v1/search served ~15% more requests at 16 clients
# (docs/benchmarks.md, "Service latency"). Larger indexes go to a thread.
INLINE_MAX_CHUNKS = 5_000


async def retrieve_async(
    loaded: Loaded,
    query: str,
    query_vector: np.ndarray,
    top_k: int,
    mode: Mode = "hybrid",
    scope: Scope | None = None,
    sentences: SentenceScoring = "dense",
) -> Retrieved:
    """``retrieve`` for coroutines: inline when quick, else in a worker thread."""
    args = (loaded, query, query_vector, top_k, mode, scope, sentences)
    no_model = sentences == "lexical" or loaded.sentences.complete
    if len(loaded.index.chunks) <= INLINE_MAX_CHUNKS and no_model:
        return retrieve(*args)
    return await anyio.to_thread.run_sync(retrieve, *args)


def snippet_scoring(
    settings: Settings, papers: int, chosen: SnippetScoring | None = None
) -> SentenceScoring:
    """``chosen`` (default: ``search_snippets``) for an index of ``papers``, auto resolved:
    dense only when the index fits the sentence cache (and so is warmed at start); else
    embedding each hit's sentences would be most of a search's time (a model call per request
    on a large index)."""
    chosen = chosen or settings.retrieval.search_snippets
    if chosen != "auto":
        return chosen
    return "dense" if papers <= settings.runtime.sentence_cache_papers else "lexical"


class SearchService:
    def __init__(self, state: ServiceState, metrics: Metrics | None = None) -> None:
        self._state = state
        self._metrics = metrics or Metrics()

    def search(self, request: SearchRequest) -> SearchResponse:
        """For threads and scripts; the route awaits ``asearch``."""
        started = time.perf_counter()
        loaded = self._state.loaded
        with self._metrics.time_retrieval("search"):
            vector = self._state.query_encoder.encode_sync(request.query)
            snippets = snippet_scoring(self._state.settings, len(loaded.index.papers))
            retrieved = retrieve(
                loaded, request.query, vector, request.top_k, request.mode, request, snippets
            )
        return _response(request, retrieved, loaded, self._state.settings, started)

    async def asearch(self, request: SearchRequest) -> SearchResponse:
        started = time.perf_counter()
        loaded = self._state.loaded
        with self._metrics.time_retrieval("search"):
            vector = await self._state.query_encoder.encode(request.query)
            snippets = snippet_scoring(self._state.settings, len(loaded.index.papers))
            retrieved = await retrieve_async(
                loaded, request.query, vector, request.top_k, request.mode, request, snippets
            )
        return _response(request, retrieved, loaded, self._state.settings, started)


def _response(
    request: SearchRequest,
    retrieved: Retrieved,
    loaded: Loaded,
    settings: Settings,
    started: float,
) -> SearchResponse:
    results = [
        PaperResult(
            paper_id=hit.paper.paper_id,
            title=hit.paper.title,
            score=hit.score,
            snippet=" ".join(hit.paper.sentences[i] for i in retrieved.best_sentences(hit)),
            url=hit.paper.url,
            authors=hit.paper.authors,
            published=hit.paper.published,
            metadata=hit.paper.metadata,
        )
        for hit in retrieved.hits
    ]
    # The abstention test of /v1/ask, on the papers returned: whether they answer the query.
    scores = retrieved.answerabilities(
        loaded, request.query, settings.answering.abstain_coverage_weight
    )
    best = max(scores, default=0.0)
    answerable = bool(scores) and best >= settings.abstain_threshold(request.paper_ids is not None)
    took = (time.perf_counter() - started) * 1000
    return SearchResponse(
        query=request.query,
        mode=request.mode,
        results=results,
        answerable=answerable,
        answerability=best,
        took_ms=took,
    )
