"""``AbstractQARetriever`` inside real llama-index query engines: over HTTP against a real
abstractqa server on 127.0.0.1 and over the bundled corpus's index in this process, with a
real ``OpenAILike`` LLM pointed at a real OpenAI-compatible server (tests/fakes)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.core.schema import NodeWithScore
from llama_index.llms.openai_like import OpenAILike

from indexer.embedders.base import Embedder
from service.app import create_app
from service.errors import InvalidRequestError, RemoteServiceError
from service.integrations import AbstractQARetriever
from service.settings import Settings
from tests.fakes.openai_server import FakeOpenAIServer
from tests.service.conftest import ready_server

QUESTION = "How do the authors make sparse fine-tuning composable across languages and tasks?"
PAPER = "composable-sparse-fine-tuning-for-cross-lingual-transfer-27123fb7"
OFF_TOPIC = "How long should I roast a whole chicken?"
REPLY = "Sparse fine-tuning masks are composed across languages and tasks."
CHAT = "/v1/chat/completions"
SOURCES = ["http", "index"]


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh_fake(fake: FakeOpenAIServer) -> None:
    fake.reset()
    fake.reply_with(REPLY, chunk_delay=0.0)


@pytest.fixture(scope="module")
def local(corpus_index_dir: Path, embedder: Embedder) -> Iterator[AbstractQARetriever]:
    # Reads only: the shared index needs no copy.
    with AbstractQARetriever.over_index(corpus_index_dir, embedder=embedder) as retriever:
        yield retriever


@pytest.fixture(scope="module")
def remote(server_url: str) -> Iterator[AbstractQARetriever]:
    with AbstractQARetriever.over_http(server_url, timeout_s=120) as retriever:
        yield retriever


@pytest.fixture
def retrievers(
    local: AbstractQARetriever, remote: AbstractQARetriever
) -> dict[str, AbstractQARetriever]:
    return {"http": remote, "index": local}


def llm(fake: FakeOpenAIServer) -> OpenAILike:
    return OpenAILike(
        model="fake-chat",
        api_base=fake.base_url,
        api_key="sk-test",
        is_chat_model=True,
        max_retries=0,
        timeout=60.0,
    )


def search(server_url: str, query: str, **body: Any) -> dict[str, Any]:
    response = httpx.post(
        f"{server_url}/v1/search", json={"query": query, "top_k": 5, **body}, timeout=120
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def user_prompt(fake: FakeOpenAIServer) -> str:
    (request,) = fake.requests_to(CHAT)
    return "\n".join(str(m["content"]) for m in request.json["messages"])


def ids(nodes: list[NodeWithScore]) -> list[str]:
    return [n.node.node_id for n in nodes]


# -- nodes -----------------------------------------------------------------------------------


@pytest.mark.parametrize("source", SOURCES)
def test_each_retrieved_paper_is_one_node_with_its_best_sentences_and_metadata(
    retrievers: dict[str, AbstractQARetriever], server_url: str, source: str
) -> None:
    nodes = retrievers[source].retrieve(QUESTION)

    results = search(server_url, QUESTION)["results"]
    assert ids(nodes) == [r["paper_id"] for r in results] and ids(nodes)[0] == PAPER
    for node, result in zip(nodes, results, strict=True):
        assert node.node.get_content() == result["snippet"]
        assert node.score == pytest.approx(result["score"], abs=1e-4)
        metadata = node.node.metadata
        assert metadata["paper_id"] == result["paper_id"] and metadata["title"] == result["title"]
        assert metadata["score"] == node.score
        for field in ("url", "published"):
            assert metadata.get(field) == result[field]
        assert metadata.get("authors") == (", ".join(result["authors"]) or None)


@pytest.mark.parametrize("source", SOURCES)
def test_a_query_the_papers_do_not_answer_retrieves_no_nodes(
    retrievers: dict[str, AbstractQARetriever], server_url: str, source: str
) -> None:
    assert search(server_url, OFF_TOPIC)["answerable"] is False

    assert retrievers[source].retrieve(OFF_TOPIC) == []


def test_without_abstention_an_off_topic_query_still_retrieves_the_nearest_papers(
    server_url: str,
) -> None:
    with AbstractQARetriever.over_http(server_url, abstain=False, timeout_s=120) as retriever:
        nodes = retriever.retrieve(OFF_TOPIC)

    assert ids(nodes) == [r["paper_id"] for r in search(server_url, OFF_TOPIC)["results"]]


@pytest.mark.parametrize("source", SOURCES)
async def test_async_retrieval_returns_the_same_nodes(
    retrievers: dict[str, AbstractQARetriever], source: str
) -> None:
    retriever = retrievers[source]

    nodes = await retriever.aretrieve(QUESTION)

    assert ids(nodes) == ids(retriever.retrieve(QUESTION))
    assert await retriever.aretrieve(OFF_TOPIC) == []


def test_options_narrow_the_search_like_the_requests_fields(
    server_url: str, local: AbstractQARetriever
) -> None:
    with AbstractQARetriever.over_http(
        server_url, top_k=2, mode="bm25", paper_ids=[PAPER], timeout_s=120
    ) as retriever:
        assert ids(retriever.retrieve(QUESTION)) == [PAPER]
    with AbstractQARetriever.over_http(server_url, top_k=2, mode="bm25", timeout_s=120) as two:
        nodes = two.retrieve(QUESTION)
    assert ids(nodes) == [
        r["paper_id"] for r in search(server_url, QUESTION, top_k=2, mode="bm25")["results"]
    ]


@pytest.mark.parametrize(
    ("options", "problem"),
    [({"top_k": 0}, "top_k"), ({"mode": "fuzzy"}, "mode"), ({"filters": {"nope": 1}}, "filters")],
)
def test_options_the_search_api_refuses_fail_when_the_retriever_is_built(
    server_url: str, options: dict[str, Any], problem: str
) -> None:
    with pytest.raises(InvalidRequestError, match=problem):
        AbstractQARetriever.over_http(server_url, **options)


def test_a_server_with_api_keys_needs_the_key_and_says_so_in_a_remote_error(
    corpus_index_dir: Path, embedder: Embedder
) -> None:
    settings = Settings(index_dir=corpus_index_dir, api_keys="key-one")
    with ready_server(create_app(settings, embedder=embedder)) as url:
        with (
            AbstractQARetriever.over_http(url, timeout_s=120) as keyless,
            pytest.raises(RemoteServiceError) as raised,
        ):
            keyless.retrieve(QUESTION)
        assert raised.value.status == 401 and raised.value.code == "api_key_required"
        assert f"{url}/v1/search answered HTTP 401" in raised.value.message

        with AbstractQARetriever.over_http(url, "key-one", timeout_s=120) as keyed:
            assert ids(keyed.retrieve(QUESTION))[0] == PAPER


def test_a_server_that_cannot_be_reached_is_a_remote_error() -> None:
    with (
        AbstractQARetriever.over_http("http://127.0.0.1:9", timeout_s=5) as retriever,
        pytest.raises(RemoteServiceError, match="ConnectError") as raised,
    ):
        retriever.retrieve(QUESTION)
    assert raised.value.status == 502 and raised.value.code == "remote_error"


# -- inside a query engine ---------------------------------------------------------------------


@pytest.mark.parametrize("source", SOURCES)
def test_a_query_engine_answers_from_the_papers_the_retriever_found(
    retrievers: dict[str, AbstractQARetriever], fake: FakeOpenAIServer, source: str
) -> None:
    engine = RetrieverQueryEngine.from_args(retrievers[source], llm=llm(fake))

    response = engine.query(QUESTION)

    assert str(response) == REPLY
    assert ids(response.source_nodes) == ids(retrievers[source].retrieve(QUESTION))
    assert ids(response.source_nodes)[0] == PAPER
    prompt = user_prompt(fake)
    assert QUESTION in prompt
    for node in response.source_nodes:
        assert node.node.get_content() in prompt
        assert f"title: {node.node.metadata['title']}" in prompt


@pytest.mark.parametrize("source", SOURCES)
async def test_an_async_streaming_query_engine_answers_from_the_same_papers(
    retrievers: dict[str, AbstractQARetriever], fake: FakeOpenAIServer, source: str
) -> None:
    engine = RetrieverQueryEngine.from_args(retrievers[source], llm=llm(fake), streaming=True)

    response = await engine.aquery(QUESTION)
    text = "".join([piece async for piece in response.async_response_gen()])  # type: ignore[union-attr]

    assert text == REPLY
    assert ids(response.source_nodes)[0] == PAPER
    assert response.source_nodes[0].node.get_content() in user_prompt(fake)


@pytest.mark.parametrize("source", SOURCES)
def test_an_off_topic_question_gets_an_empty_response_without_asking_the_llm(
    retrievers: dict[str, AbstractQARetriever], fake: FakeOpenAIServer, source: str
) -> None:
    engine = RetrieverQueryEngine.from_args(retrievers[source], llm=llm(fake))

    response = engine.query(OFF_TOPIC)

    assert response.source_nodes == []
    assert str(response) == "Empty Response"
    assert fake.requests_to(CHAT) == []
