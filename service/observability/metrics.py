"""The service's Prometheus metrics: one ``Metrics`` object per app, on its own registry.

A per-app ``CollectorRegistry`` (not prometheus_client's global default) lets several apps live
in one process (tests, benchmarks) without their metric names clashing. Label values are
bounded sets only: route templates (``/v1/papers/{paper_id}``, never the raw path), status
codes, backend names, failure kinds; a free-form message never becomes a label.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from indexer import IndexVersion, count_tokens
from service.ask.models import AskResponse
from service.backends.base import TokenUsage
from service.errors import BackendError, BackendProtocolError, BackendUnavailableError

CONTENT_TYPE = CONTENT_TYPE_LATEST
UNMATCHED_ROUTE = "unmatched"  # the route label of requests no route matched (404s)
# The method label's values: any other method name a client sends is counted as OTHER, so the
# label set stays bounded whatever arrives (a random method per request once grew /metrics
# to hundreds of megabytes).
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})
OTHER = "other"

_HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
_RETRIEVAL_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
_LLM_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120)

CurrentIndex = Callable[[], IndexVersion | None]
EncoderStats = Callable[[], Mapping[str, int] | None]
# The query encoder's counters (service/runtime/query_encoder.py EncoderStats) as exported.
_ENCODER_COUNTERS = {
    "batches": "Batches of queries the embedder encoded.",
    "encoded": "Distinct queries sent to the embedder.",
    "requested": "Queries asked for, cache hits included.",
    "cache_hits": "Queries answered from the query-vector cache.",
    "failed_batches": "Batches the embedder failed on.",
}


def degraded_reason(failure: BackendError) -> str:
    """The bounded label of a backend failure (its message stays in ``degraded_reason``)."""
    if isinstance(failure, BackendUnavailableError):
        return "unavailable"  # connect errors, timeouts, 429/5xx after the retries
    if isinstance(failure, BackendProtocolError):
        return "protocol"  # a reply that is not OpenAI-compatible JSON or SSE
    return "rejected"  # the LLM refused the request (4xx) or the request failed outright


class _IndexCollector(Collector):
    """The index version and size, read at scrape time so a reload shows at once."""

    def __init__(self, current: CurrentIndex) -> None:
        self._current = current

    def collect(self) -> Iterator[Metric]:
        index = self._current()
        ready = GaugeMetricFamily(
            "abstractqa_index_ready", "1 once an index version is loaded and queries are answered."
        )
        ready.add_metric([], 1.0 if index is not None else 0.0)
        yield ready
        if index is None:
            return
        info = InfoMetricFamily("abstractqa_index", "The loaded index version.")
        info.add_metric([], {"version": index.name, "embedder": index.embedder_name})
        yield info
        papers = GaugeMetricFamily("abstractqa_index_papers", "Papers in the loaded index.")
        papers.add_metric([], float(len(index.papers)))
        yield papers
        chunks = GaugeMetricFamily("abstractqa_index_chunks", "Chunks in the loaded index.")
        chunks.add_metric([], float(len(index.chunks)))
        yield chunks


class _EncoderCollector(Collector):
    """The query encoder's batching counters, read at scrape time."""

    def __init__(self, stats: EncoderStats) -> None:
        self._stats = stats

    def collect(self) -> Iterator[Metric]:
        stats = self._stats()
        if stats is None:
            return
        for name, documentation in _ENCODER_COUNTERS.items():
            family = CounterMetricFamily(f"abstractqa_query_encoder_{name}", documentation)
            family.add_metric([], float(stats.get(name, 0)))
            yield family
        largest = GaugeMetricFamily(
            "abstractqa_query_encoder_largest_batch", "Most queries encoded in one batch so far."
        )
        largest.add_metric([], float(stats.get("largest_batch", 0)))
        yield largest


class LLMCall:
    """Times one answer from an LLM backend: first piece, total, tokens. Records nothing
    unless ``enabled`` (a backend that calls no model)."""

    def __init__(self, metrics: Metrics, backend: str, enabled: bool = True) -> None:
        self._metrics = metrics
        self._backend = backend
        self._enabled = enabled
        self._started = time.perf_counter()
        self._first_piece = False
        self.usage = TokenUsage()  # filled by the backend when the LLM reports its usage

    def piece(self) -> None:
        if self._enabled and not self._first_piece:
            self._first_piece = True
            elapsed = time.perf_counter() - self._started
            self._metrics.llm_first_token.labels(self._backend).observe(elapsed)

    def finish(self, messages: list[dict[str, str]], completion: str) -> None:
        """The answer is complete: its time and tokens (counted with tiktoken when the LLM
        did not report them)."""
        if not self._enabled:
            return
        self._observe("ok")
        tokens = self._metrics.llm_tokens
        prompt, answer = self.usage.prompt_tokens, self.usage.completion_tokens
        if prompt is None:
            prompt = sum(count_tokens(m.get("content", "")) for m in messages)
        if answer is None:
            answer = count_tokens(completion)
        tokens.labels(self._backend, "prompt", _source(self.usage.prompt_tokens)).inc(prompt)
        tokens.labels(self._backend, "completion", _source(self.usage.completion_tokens)).inc(
            answer
        )

    def fail(self) -> None:
        if self._enabled:
            self._observe("error")

    def _observe(self, outcome: str) -> None:
        elapsed = time.perf_counter() - self._started
        self._metrics.llm_duration.labels(self._backend, outcome).observe(elapsed)


def _source(reported: int | None) -> str:
    return "estimated" if reported is None else "reported"


class Metrics:
    """Every metric the service exports; ``render()`` is the ``/metrics`` body."""

    def __init__(
        self, current_index: CurrentIndex | None = None, encoder_stats: EncoderStats | None = None
    ) -> None:
        registry = self.registry = CollectorRegistry()
        self.requests = Counter(
            "abstractqa_http_requests",
            "HTTP requests by method, route template and status code.",
            ["method", "route", "status"],
            registry=registry,
        )
        self.request_duration = Histogram(
            "abstractqa_http_request_duration_seconds",
            "HTTP request latency by route template, until the response's last byte "
            "(a whole stream for SSE).",
            ["method", "route"],
            buckets=_HTTP_BUCKETS,
            registry=registry,
        )
        self.in_flight = Gauge(
            "abstractqa_http_requests_in_flight",
            "HTTP requests being handled (streams included).",
            registry=registry,
        )
        self.retrieval_duration = Histogram(
            "abstractqa_retrieval_duration_seconds",
            "Hybrid retrieval (query embedding, dense + BM25 search, sentence scores), by "
            "endpoint.",
            ["endpoint"],
            buckets=_RETRIEVAL_BUCKETS,
            registry=registry,
        )
        self.llm_first_token = Histogram(
            "abstractqa_llm_first_token_seconds",
            "Time from the LLM request to the answer's first text, retries included.",
            ["backend"],
            buckets=_LLM_BUCKETS,
            registry=registry,
        )
        self.llm_duration = Histogram(
            "abstractqa_llm_duration_seconds",
            "Time of a whole LLM answer, by outcome (ok, or error: the answer degraded).",
            ["backend", "outcome"],
            buckets=_LLM_BUCKETS,
            registry=registry,
        )
        self.llm_tokens = Counter(
            "abstractqa_llm_tokens",
            "Tokens of completed LLM answers: kind prompt or completion; source reported (by "
            "the LLM's usage) or estimated (tiktoken cl100k_base).",
            ["backend", "kind", "source"],
            registry=registry,
        )
        self.answers = Counter(
            "abstractqa_answers",
            "Final answers (/v1/ask and /v1/chat/completions) by the backend that produced "
            "them (extractive when the requested LLM failed).",
            ["backend"],
            registry=registry,
        )
        self.abstentions = Counter(
            "abstractqa_abstentions",
            "Answers that abstained: the indexed papers do not cover the question.",
            registry=registry,
        )
        self.degraded = Counter(
            "abstractqa_degraded_answers",
            "Answers where the LLM failed and the extractive answer replaced it, by failure "
            "kind: unavailable, protocol or rejected.",
            ["reason"],
            registry=registry,
        )
        self.answer_sentences = Counter(
            "abstractqa_answer_sentences",
            "Verified answer sentences (abstentions excluded).",
            registry=registry,
        )
        self.unsupported_sentences = Counter(
            "abstractqa_unsupported_sentences",
            "Answer sentences that no cited abstract supports.",
            registry=registry,
        )
        ProcessCollector(registry=registry)  # process_resident_memory_bytes, CPU, open fds
        PlatformCollector(registry=registry)
        if current_index is not None:
            registry.register(_IndexCollector(current_index))
        if encoder_stats is not None:
            registry.register(_EncoderCollector(encoder_stats))

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count a request; ``route`` must come from a bounded set (route templates)."""
        method = method if method in HTTP_METHODS else OTHER
        code = str(status) if 100 <= status <= 599 else OTHER
        self.requests.labels(method, route, code).inc()
        self.request_duration.labels(method, route).observe(seconds)

    def time_retrieval(self, endpoint: str) -> AbstractContextManager[object]:
        return self.retrieval_duration.labels(endpoint).time()

    def llm_call(self, backend: str, is_llm: bool = True) -> LLMCall:
        return LLMCall(self, backend, is_llm)

    def observe_answer(self, answer: AskResponse, failure: BackendError | None) -> None:
        self.answers.labels(answer.backend).inc()
        if answer.abstained:
            self.abstentions.inc()
        if failure is not None:
            self.degraded.labels(degraded_reason(failure)).inc()
        self.answer_sentences.inc(len(answer.sentences))
        self.unsupported_sentences.inc(answer.unsupported_sentences)
