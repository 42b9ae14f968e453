"""The query encoder: concurrent queries are embedded together, repeated ones come from the cache,
and a failing batch fails only its own requests — in-process and through a real server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path

import httpx
import numpy as np
import pytest

from indexer.embedders.base import Embedder
from indexer.errors import EmbedderError
from service.app import create_app
from service.errors import QueryEncodingError
from service.runtime.query_encoder import QueryEncoder
from service.runtime.state import ServiceState
from service.settings import Settings
from tests.fakes.embedders import CountingEmbedder, GatedEmbedder
from tests.service.conftest import ready_server

ROOT = Path(__file__).resolve().parents[3]
QUESTIONS = [
    json.loads(line)["question"]
    for line in (ROOT / "data/dev/questions.jsonl").read_text(encoding="utf-8").splitlines()
    if line.strip()
]


@pytest.fixture
def gated(float32_embedder: Embedder) -> GatedEmbedder:
    return GatedEmbedder(float32_embedder)


@pytest.fixture
def encoder_of() -> Iterator:  # type: ignore[type-arg]
    started: list[QueryEncoder] = []

    def make(embedder: Embedder, **options: float) -> QueryEncoder:
        encoder = QueryEncoder(embedder, **options)  # type: ignore[arg-type]
        started.append(encoder)
        return encoder

    yield make
    for encoder in started:
        encoder.close()


def _hold_first_batch(gated: GatedEmbedder, encoder: QueryEncoder) -> Future[np.ndarray]:
    """Send one query and keep it inside the embedder, so the next ones queue behind it."""
    gated.close_gate()
    first = encoder.submit("the first query")
    gated.wait_inside()
    return first


def test_queries_that_arrive_while_a_batch_is_encoded_are_encoded_together(
    gated: GatedEmbedder, float32_embedder: Embedder, encoder_of
) -> None:
    encoder = encoder_of(gated, wait_ms=0, max_batch=3, cache_size=0)
    first = _hold_first_batch(gated, encoder)
    queries = QUESTIONS[:4]
    asked = [queries[0], queries[1], queries[0], queries[2], queries[3]]
    futures = [encoder.submit(q) for q in asked]
    gated.open_gate()
    vectors = [f.result(timeout=30) for f in futures]

    # Batches take at most max_batch requests; a query asked twice in a batch is embedded once.
    assert gated.query_batches == [["the first query"], queries[:2], queries[2:]]
    assert first.result(timeout=30).shape == (float32_embedder.dimension,)
    expected = dict(zip(queries, float32_embedder.embed_queries(queries), strict=True))
    for query, vector in zip(asked, vectors, strict=True):
        np.testing.assert_allclose(vector, expected[query], atol=1e-5)
    stats = encoder.stats
    assert (stats.batches, stats.encoded, stats.requested, stats.largest_batch) == (3, 5, 6, 2)


def test_several_workers_encode_batches_at_the_same_time(
    gated: GatedEmbedder, float32_embedder: Embedder, encoder_of
) -> None:
    encoder = encoder_of(gated, wait_ms=0, max_batch=2, cache_size=0, workers=2)
    gated.close_gate()
    futures = [encoder.submit(q) for q in QUESTIONS[:4]]
    gated.wait_inside(batches=2)  # both workers are inside the model at once
    gated.open_gate()
    vectors = [f.result(timeout=30) for f in futures]
    expected = float32_embedder.embed_queries(QUESTIONS[:4])
    for vector, want in zip(vectors, expected, strict=True):
        np.testing.assert_allclose(vector, want, atol=1e-5)
    assert sorted(q for batch in gated.query_batches for q in batch) == sorted(QUESTIONS[:4])
    encoder.close()
    assert not encoder.alive


def test_under_concurrent_load_the_wait_lets_queries_sent_one_after_another_join_one_batch(
    gated: GatedEmbedder, encoder_of
) -> None:
    # 10 s is far longer than the submits take, and a full batch does not wait at all.
    encoder = encoder_of(gated, wait_ms=10_000, max_batch=4, cache_size=0, workers=2)
    first = _hold_first_batch(gated, encoder)  # one worker is busy: there is load
    futures = [encoder.submit(q) for q in QUESTIONS[:4]]
    gated.wait_inside(batches=2)
    gated.open_gate()
    for future in [first, *futures]:
        future.result(timeout=30)
    # Both batches pass the gate at once: they are recorded in either order.
    assert sorted(gated.query_batches) == sorted([["the first query"], QUESTIONS[:4]])


def test_a_lone_client_is_not_kept_waiting_for_batch_mates(
    gated: GatedEmbedder, encoder_of
) -> None:
    encoder = encoder_of(gated, wait_ms=10_000, max_batch=4, cache_size=0)
    for query in QUESTIONS[:3]:
        encoder.submit(query).result(timeout=5)  # well before the 10 s wait would end
    assert gated.query_batches == [[q] for q in QUESTIONS[:3]]


def test_a_large_batch_is_encoded_in_groups_of_similar_length(
    gated: GatedEmbedder, float32_embedder: Embedder, encoder_of
) -> None:
    encoder = encoder_of(gated, wait_ms=0, max_batch=32, cache_size=0)
    first = _hold_first_batch(gated, encoder)
    queries = [" ".join(["word"] * n) for n in (12, 3, 7, 1, 9, 5, 2, 11, 4, 10)]
    futures = [encoder.submit(q) for q in queries]
    gated.open_gate()
    vectors = [f.result(timeout=30) for f in futures]

    # One batch of 10, embedded as the 8 shortest then the 2 longest (a model pads each call
    # to its longest text); every query still gets its own vector.
    by_length = sorted(queries, key=len)
    assert gated.query_batches == [["the first query"], by_length[:8], by_length[8:]]
    expected = float32_embedder.embed_queries(queries)
    for vector, want in zip(vectors, expected, strict=True):
        np.testing.assert_allclose(vector, want, atol=1e-5)
    assert first.done()
    assert (encoder.stats.batches, encoder.stats.calls) == (2, 3)


def test_a_repeated_query_returns_the_identical_vector_without_calling_the_embedder(
    float32_embedder: Embedder, encoder_of
) -> None:
    counting = CountingEmbedder(float32_embedder)
    encoder = encoder_of(counting, wait_ms=0, cache_size=2)
    first = encoder.encode_sync("retrieval augmented generation")
    again = encoder.encode_sync("retrieval augmented generation")
    assert again is first
    assert not again.flags.writeable  # shared through the cache, so nobody may change it
    assert counting.query_batches == [["retrieval augmented generation"]]
    assert (encoder.stats.cache_hits, encoder.stats.requested) == (1, 2)

    # Least recently used goes first: "a" was used after "b", so "b" is dropped for "c".
    for query in ["a", "b", "a", "c", "a", "b"]:
        encoder.encode_sync(query)
    assert counting.query_batches[1:] == [["a"], ["b"], ["c"], ["b"]]


def test_a_cache_of_size_zero_sends_every_query_to_the_embedder(
    float32_embedder: Embedder, encoder_of
) -> None:
    counting = CountingEmbedder(float32_embedder)
    encoder = encoder_of(counting, wait_ms=0, cache_size=0)
    encoder.encode_sync("speech")
    encoder.encode_sync("speech")
    assert counting.query_batches == [["speech"], ["speech"]]
    assert encoder.stats.cache_hits == 0


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (
            EmbedderError("the embedding endpoint answered 500"),
            "the query could not be embedded: the embedding endpoint answered 500",
        ),
        (
            RuntimeError("CUDA-free torch died in /opt/secret/path.py"),
            "the query could not be embedded (RuntimeError); the server log has the details",
        ),
    ],
)
def test_an_embedder_failure_fails_only_the_queries_of_its_batch(
    float32_embedder: Embedder, encoder_of, error: Exception, message: str
) -> None:
    gated = GatedEmbedder(float32_embedder, fail_on="poison", error=error)
    encoder = encoder_of(gated, wait_ms=0, cache_size=0)
    first = _hold_first_batch(gated, encoder)
    same_batch = [encoder.submit("poison"), encoder.submit("innocent bystander")]
    gated.open_gate()

    assert first.result(timeout=30).shape == (float32_embedder.dimension,)
    for future in same_batch:
        with pytest.raises(QueryEncodingError) as caught:
            future.result(timeout=30)
        assert caught.value.message == message
        assert (caught.value.status, caught.value.code) == (503, "embedding_failed")
    # The encoder goes on with the next batch.
    assert encoder.encode_sync("a later query").shape == (float32_embedder.dimension,)
    assert gated.query_batches == [
        ["the first query"],
        ["poison", "innocent bystander"],
        ["a later query"],
    ]
    assert (encoder.stats.batches, encoder.stats.failed_batches) == (3, 1)


async def test_a_coroutine_awaits_its_vector_while_the_event_loop_keeps_running(
    gated: GatedEmbedder, encoder_of
) -> None:
    encoder = encoder_of(gated, wait_ms=0)
    gated.close_gate()
    task = asyncio.create_task(encoder.encode("a query held at the gate"))
    await asyncio.to_thread(gated.wait_inside)
    ticks = 0
    for _ in range(5):  # the loop is free while the embedder works
        await asyncio.sleep(0)
        ticks += 1
    assert ticks == 5 and not task.done()
    gated.open_gate()
    assert (await task).shape == (gated.dimension,)


def test_closing_finishes_the_queued_queries_then_refuses_new_ones(
    gated: GatedEmbedder, encoder_of
) -> None:
    encoder = encoder_of(gated, wait_ms=0)
    first = _hold_first_batch(gated, encoder)
    queued = encoder.submit("queued before closing")
    gated.open_gate()
    encoder.close()
    assert first.done() and queued.result(timeout=0) is not None
    with pytest.raises(QueryEncodingError, match="shutting down"):
        encoder.encode_sync("too late")


def test_the_service_state_stops_the_encoder_thread_when_closed(
    corpus_index_dir: Path, float32_embedder: Embedder
) -> None:
    state = ServiceState(Settings(index_dir=corpus_index_dir), float32_embedder)
    state.load()
    encoder = state.query_encoder
    assert encoder.encode_sync("memory").shape == (float32_embedder.dimension,)
    state.close()
    assert not encoder.alive


# -- through a real server ---------------------------------------------------------------------


def _search_results(body: dict) -> list[tuple[str, float]]:  # type: ignore[type-arg]
    return [(r["paper_id"], r["score"]) for r in body["results"]]


async def test_sixteen_concurrent_searches_get_the_sequential_results_in_fewer_encoder_calls(
    corpus_index_dir: Path, float32_embedder: Embedder
) -> None:
    counting = CountingEmbedder(float32_embedder)
    settings = Settings(
        index_dir=corpus_index_dir, query_batch_wait_ms=50, query_batch_max=32, query_cache_size=0
    )
    app = create_app(settings, embedder=counting)
    queries = QUESTIONS[:16]
    with ready_server(app) as url:
        limits = httpx.Limits(max_connections=16)
        async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
            sequential = []
            for query in queries:
                response = await client.post("/v1/search", json={"query": query})
                assert response.status_code == 200
                sequential.append(_search_results(response.json()))
            before = app.state.service.query_encoder.stats
            responses = await asyncio.gather(
                *(client.post("/v1/search", json={"query": q}) for q in queries)
            )
            after = app.state.service.query_encoder.stats

    assert [r.status_code for r in responses] == [200] * 16
    for response, expected in zip(responses, sequential, strict=True):
        got = _search_results(response.json())
        assert [p for p, _ in got] == [p for p, _ in expected]
        # A batch pads queries to a common length: the same vectors up to float rounding.
        np.testing.assert_allclose([s for _, s in got], [s for _, s in expected], atol=1e-4)
    assert after.encoded - before.encoded == 16
    assert after.batches - before.batches < 16
    assert after.calls - before.calls < 16
    batched = [b for b in counting.query_batches[16:] if len(b) > 1]
    assert batched, counting.query_batches[16:]


def test_a_repeated_search_is_answered_from_the_cache(
    corpus_index_dir: Path, float32_embedder: Embedder
) -> None:
    counting = CountingEmbedder(float32_embedder)
    app = create_app(Settings(index_dir=corpus_index_dir), embedder=counting)
    with ready_server(app) as url, httpx.Client(base_url=url, timeout=60) as client:
        first = client.post("/v1/search", json={"query": "Japanese acceptability"}).json()
        again = client.post("/v1/search", json={"query": "Japanese acceptability"}).json()
        asked = client.post(
            "/v1/ask", json={"question": "Japanese acceptability", "backend": "extractive"}
        )
        stats = app.state.service.query_encoder.stats
    assert first["results"] == again["results"]
    assert asked.status_code == 200
    assert counting.query_batches == [["Japanese acceptability"]]
    assert (stats.requested, stats.cache_hits) == (3, 2)


def test_an_embedder_failure_reaches_its_client_as_a_clear_503_and_the_server_keeps_serving(
    corpus_index_dir: Path, float32_embedder: Embedder
) -> None:
    gated = GatedEmbedder(
        float32_embedder, fail_on="poison", error=RuntimeError("/srv/model.bin broke")
    )
    app = create_app(Settings(index_dir=corpus_index_dir), embedder=gated)
    with ready_server(app) as url, httpx.Client(base_url=url, timeout=60) as client:
        failed = client.post("/v1/search", json={"query": "poison"})
        asked = client.post("/v1/ask", json={"question": "poison"})
        fine = client.post("/v1/search", json={"query": "speech language model"})
    for response in (failed, asked):
        assert response.status_code == 503
        assert response.json() == {
            "error": {
                "code": "embedding_failed",
                "message": "the query could not be embedded (RuntimeError); "
                "the server log has the details",
            }
        }
    assert fine.status_code == 200 and fine.json()["results"]
