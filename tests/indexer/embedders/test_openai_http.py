"""OpenAIEmbedder against a real OpenAI-compatible HTTP server on 127.0.0.1."""

from __future__ import annotations

import math
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest
from starlette.responses import JSONResponse, Response

from indexer.embedders.base import normalise
from indexer.embedders.openai_http import OpenAIEmbedder
from indexer.errors import EmbedderError
from tests.fakes.openai_server import FakeOpenAIServer, RecordedRequest, hashed_embedding

API_KEY = "sk-test-5ecr3t-never-print-me"


@pytest.fixture(scope="module")
def _shared_server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as fake:
        yield fake


@pytest.fixture
def server(_shared_server: FakeOpenAIServer) -> FakeOpenAIServer:
    # One server for the module keeps the file fast; each test starts from a clean slate.
    _shared_server.reset()
    _shared_server.dimension = 64
    _shared_server.shuffle = False
    return _shared_server


@pytest.fixture
def own_server() -> Iterator[FakeOpenAIServer]:
    """A server of the test's own, for tests that replace a route."""
    with FakeOpenAIServer() as fake:
        yield fake


def _embedder(base_url: str, **overrides: Any) -> OpenAIEmbedder:
    options: dict[str, Any] = {
        "model": "text-embedding-test",
        "api_key": API_KEY,
        "batch_size": 8,
        "timeout_s": 2.0,
        "max_retries": 3,
        "backoff_s": 0.01,
    }
    options.update(overrides)
    return OpenAIEmbedder(base_url=base_url, **options)


def _answer_with(server: FakeOpenAIServer, body: Any) -> None:
    async def handler(request: RecordedRequest) -> Response:
        return JSONResponse(body)

    server.add_route("POST", "/v1/embeddings", handler)


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_vectors_are_unit_length_and_ordered_by_index_even_when_the_server_shuffles_them(
    server: FakeOpenAIServer,
) -> None:
    server.shuffle = True
    texts = [f"abstract number {i} about topic {i * 7}" for i in range(6)]
    raw = httpx.post(f"{server.base_url}/embeddings", json={"model": "m", "input": texts}).json()
    assert [item["index"] for item in raw["data"]] != list(range(6))

    vectors = _embedder(server.base_url).embed_documents(texts)

    assert vectors.shape == (6, 64)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    expected = normalise(np.array([hashed_embedding(t, 64) for t in texts]))
    np.testing.assert_allclose(vectors, expected, rtol=1e-5, atol=1e-6)


def test_vectors_asked_as_base64_equal_a_server_that_still_answers_float_lists(
    server: FakeOpenAIServer, own_server: FakeOpenAIServer
) -> None:
    texts = ["sparse retrieval for rare terms", "graph networks forecast traffic"]
    from_base64 = _embedder(server.base_url).embed_documents(texts)
    assert [r.json["encoding_format"] for r in server.requests_to("/v1/embeddings")] == ["base64"]
    lists = {
        "data": [{"index": i, "embedding": hashed_embedding(t, 64)} for i, t in enumerate(texts)]
    }
    _answer_with(own_server, lists)

    from_lists = _embedder(own_server.base_url).embed_documents(texts)

    np.testing.assert_array_equal(from_base64, from_lists)


def test_a_base64_embedding_that_is_not_float32_is_refused(own_server: FakeOpenAIServer) -> None:
    _answer_with(own_server, {"data": [{"index": 0, "embedding": "AAE="}]})  # 2 bytes

    with pytest.raises(EmbedderError, match="not a list of numbers"):
        _embedder(own_server.base_url).embed_documents(["a text"])


def test_batching_sends_ceil_n_over_batch_size_requests_of_at_most_batch_size_inputs(
    server: FakeOpenAIServer,
) -> None:
    texts = [f"text {i}" for i in range(10)]
    vectors = _embedder(server.base_url, batch_size=4).embed_queries(texts)

    bodies = [r.json for r in server.requests_to("/v1/embeddings")]
    assert len(bodies) == math.ceil(10 / 4)
    assert [len(b["input"]) for b in bodies] == [4, 4, 2]
    assert [t for b in bodies for t in b["input"]] == texts
    assert all(b["model"] == "text-embedding-test" for b in bodies)
    assert all(b["encoding_format"] == "base64" and "dimensions" not in b for b in bodies)
    assert vectors.shape == (10, 64)


def test_a_trailing_slash_in_the_base_url_is_tolerated(server: FakeOpenAIServer) -> None:
    _embedder(server.base_url + "/").embed_documents(["hello"])

    assert [r.path for r in server.requests] == ["/v1/embeddings"]


def test_two_500s_then_success_succeeds_after_three_requests(server: FakeOpenAIServer) -> None:
    server.fail_next(500, times=2)

    vectors = _embedder(server.base_url).embed_documents(["retry me"])

    assert vectors.shape == (1, 64)
    assert len(server.requests) == 3


def test_a_429_with_retry_after_is_retried_after_the_advertised_delay(
    server: FakeOpenAIServer,
) -> None:
    server.fail_next(429, retry_after=0.3)
    started = time.monotonic()

    _embedder(server.base_url, backoff_s=0.001).embed_documents(["rate limited"])

    assert time.monotonic() - started >= 0.3
    assert len(server.requests) == 2


def test_a_400_is_not_retried_and_the_error_names_the_status(server: FakeOpenAIServer) -> None:
    server.fail_next(400, body='{"error": {"message": "input too long"}}')

    with pytest.raises(EmbedderError) as caught:
        _embedder(server.base_url).embed_documents(["too long"])

    assert len(server.requests) == 1
    message = str(caught.value)
    assert "HTTP 400" in message
    assert "input too long" in message
    assert f"{server.base_url}/embeddings" in message


def test_5xx_until_retries_run_out_raises_an_error_naming_the_attempts_and_status(
    server: FakeOpenAIServer,
) -> None:
    server.fail_next(503, times=10, body="upstream overloaded")

    with pytest.raises(EmbedderError, match=r"after 3 attempts: HTTP 503: upstream overloaded"):
        _embedder(server.base_url, max_retries=2).embed_documents(["x"])

    assert len(server.requests) == 3


def test_connection_refused_raises_embedder_error_after_the_retries() -> None:
    # A bound socket that never listens: connecting to its port is refused, and no one can take it.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
        with pytest.raises(EmbedderError) as caught:
            _embedder(url, max_retries=2).embed_documents(["anyone there?"])

    assert str(caught.value) == (
        f"embeddings request to {url}/embeddings failed after 3 attempts: connection refused"
    )
    assert isinstance(caught.value.__cause__, httpx.ConnectError)


def test_a_response_slower_than_the_timeout_raises_embedder_error_mentioning_timeout(
    server: FakeOpenAIServer,
) -> None:
    server.delay_next(1.0, times=2)

    with pytest.raises(EmbedderError, match="timeout") as caught:
        _embedder(server.base_url, timeout_s=0.2, max_retries=1).embed_documents(["slow"])

    assert "after 2 attempts" in str(caught.value)
    assert isinstance(caught.value.__cause__, httpx.TimeoutException)


def test_a_body_that_is_not_json_raises_embedder_error(server: FakeOpenAIServer) -> None:
    server.garbage_next()

    with pytest.raises(EmbedderError, match="is not JSON"):
        _embedder(server.base_url).embed_documents(["x"])


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"object": "list"}, "lacks a 'data' list"),
        ({"data": []}, "has 0 embeddings for 2 inputs"),
        ({"data": [{"index": 0, "embedding": [1.0]}, {"index": 0, "embedding": [1.0]}]}, "indices"),
        ({"data": [{"index": 0, "embedding": ["a"]}, {"index": 1, "embedding": ["b"]}]}, "numbers"),
        ({"data": [{"index": 0, "embedding": [1.0]}, {"index": 1, "embedding": None}]}, "numbers"),
        (
            {"data": [{"index": 0, "embedding": [1.0]}, {"index": 1, "embedding": [1.0, 2.0]}]},
            "mixes embedding dimensions",
        ),
    ],
)
def test_a_malformed_response_raises_embedder_error_naming_what_was_wrong(
    own_server: FakeOpenAIServer, body: Any, problem: str
) -> None:
    _answer_with(own_server, body)

    with pytest.raises(EmbedderError, match=problem):
        _embedder(own_server.base_url).embed_documents(["one", "two"])


def test_a_dimension_change_between_calls_raises_embedder_error(server: FakeOpenAIServer) -> None:
    embedder = _embedder(server.base_url)
    embedder.embed_documents(["first"])
    server.dimension = 32

    with pytest.raises(EmbedderError, match="has dimension 32, expected 64"):
        embedder.embed_documents(["second"])


def test_the_authorization_header_carries_the_api_key(server: FakeOpenAIServer) -> None:
    _embedder(server.base_url).embed_documents(["x"])
    _embedder(server.base_url, api_key=None).embed_documents(["x"])

    with_key, without_key = server.requests
    assert with_key.headers["authorization"] == f"Bearer {API_KEY}"
    assert "authorization" not in without_key.headers


def test_the_api_key_never_appears_in_error_messages_or_the_repr(
    server: FakeOpenAIServer, caplog: pytest.LogCaptureFixture
) -> None:
    # Some proxies echo the credentials they rejected.
    server.fail_next(503, body=f"bad gateway for Bearer {API_KEY}")
    server.fail_next(401, body=f"invalid key {API_KEY}")
    embedder = _embedder(server.base_url)

    with pytest.raises(EmbedderError) as caught:
        embedder.embed_documents(["x"])

    assert "HTTP 401" in str(caught.value)
    assert API_KEY not in str(caught.value)
    assert API_KEY not in caplog.text
    assert "retrying" in caplog.text
    assert API_KEY not in repr(embedder)


def test_dimension_is_probed_once_and_cached(server: FakeOpenAIServer) -> None:
    embedder = _embedder(server.base_url)

    assert embedder.dimension == 64
    assert embedder.dimension == 64
    assert len(server.requests) == 1
    assert embedder.embed_documents(["x"]).shape == (1, 64)
    assert len(server.requests) == 2


def test_the_dimensions_argument_is_sent_and_answers_dimension_without_a_probe(
    server: FakeOpenAIServer,
) -> None:
    embedder = _embedder(server.base_url, dimensions=16)

    assert embedder.dimension == 16
    assert server.requests == []
    assert embedder.embed_documents(["x"]).shape == (1, 16)
    assert server.requests[0].json["dimensions"] == 16


def test_texts_sharing_words_are_more_similar_than_unrelated_ones(
    server: FakeOpenAIServer,
) -> None:
    query, related, unrelated = _embedder(server.base_url).embed_documents(
        [
            "graph neural networks predict molecular properties",
            "predicting molecular properties with graph networks",
            "medieval trade routes across the baltic sea",
        ]
    )

    assert _cosine(query, related) > _cosine(query, unrelated) + 0.3


def test_the_name_identifies_the_model_and_the_input_limit_is_left_to_the_chunker() -> None:
    embedder = _embedder("http://127.0.0.1:9/v1")

    assert embedder.name == "openai:text-embedding-test"
    assert embedder.max_input_tokens is None
    embedder.close()


def test_close_closes_an_owned_client_but_not_an_injected_one(server: FakeOpenAIServer) -> None:
    owned = _embedder(server.base_url)
    owned.close()
    with httpx.Client() as client:
        injected = _embedder(server.base_url, client=client)
        injected.close()

        assert injected.embed_documents(["still open"]).shape == (1, 64)
    with pytest.raises(RuntimeError):
        owned.embed_documents(["closed"])
