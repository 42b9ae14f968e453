"""Retrieval for the service: ranked papers with the sentences that best match the query."""

from __future__ import annotations

import time
from dataclasses import dataclass

import anyio
import numpy as np

from indexer import Filters, PaperHit
from indexer import SearchMode as Mode
from service.answering.abstain import answerability, coverage
from service.observability.metrics import Metrics
from service.runtime.state import Loaded, ServiceState
from service.search.models import PaperResult, Scope, SearchRequest, SearchResponse
from service.settings import Settings


@dataclass
class Retrieved:
    """Papers retrieved for a query, with the query's vector and each paper's sentence scores."""

    hits: list[PaperHit]
    query_vector: np.ndarray
    sentence_scores: dict[str, np.ndarray]

    def dense_similarity(self, hit: PaperHit, loaded: Loaded) -> float:
        """The paper's dense cosine score, computed when only BM25 found it."""
        if hit.dense_score is not None:
            return hit.dense_score
        chunk_ids = [c.chunk_id for c in loaded.index.chunks_of(hit.paper.paper_id)]
        return float((loaded.index.vectors.vectors_of(chunk_ids) @ self.query_vector).max())

    def answerabilities(self, loaded: Loaded, query: str, coverage_weight: float) -> list[float]:
        """Each hit's answerability (answering/abstain.py): its dense similarity plus the weighted
        coverage of the query's terms. Answering abstains when the best is under the threshold
        (``Settings.abstain_threshold``)."""
        weights = loaded.index.bm25.term_weights(query)
        return [
            answerability(
                self.dense_similarity(hit, loaded), coverage(weights, hit.paper), coverage_weight
            )
            for hit in self.hits
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
) -> Retrieved:
    """``query_vector`` comes from ``ServiceState.query_encoder``, which batches concurrent
    requests' queries; nothing here embeds a query."""
    filters: Filters | None = None
    paper_ids = None
    if scope is not None:
        paper_ids = scope.paper_ids
        filters = scope.filters.to_filters() if scope.filters else None
    hits = loaded.retriever.search(
        query, top_k, mode, paper_ids, filters, query_vector=query_vector
    )
    vectors = loaded.sentences.get([h.paper.paper_id for h in hits])
    scores = {
        paper_id: v @ query_vector if len(v) else np.zeros(0) for paper_id, v in vectors.items()
    }
    return Retrieved(hits, query_vector, scores)


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
) -> Retrieved:
    """``retrieve`` for coroutines: inline when quick, else in a worker thread."""
    if len(loaded.index.chunks) <= INLINE_MAX_CHUNKS and loaded.sentences.complete:
        return retrieve(loaded, query, query_vector, top_k, mode, scope)
    return await anyio.to_thread.run_sync(retrieve, loaded, query, query_vector, top_k, mode, scope)


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
            retrieved = retrieve(
                loaded, request.query, vector, request.top_k, request.mode, request
            )
        return _response(request, retrieved, loaded, self._state.settings, started)

    async def asearch(self, request: SearchRequest) -> SearchResponse:
        started = time.perf_counter()
        loaded = self._state.loaded
        with self._metrics.time_retrieval("search"):
            vector = await self._state.query_encoder.encode(request.query)
            retrieved = await retrieve_async(
                loaded, request.query, vector, request.top_k, request.mode, request
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
