"""/metrics on a real server: Prometheus text that parses, and counters that move with the
requests, retrievals and answers they count."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from indexer.embedders.base import Embedder
from indexer.text import count_tokens
from service.api_errors import install as install_errors
from service.app import create_app
from service.observability.install import install_observability
from service.observability.metrics import HTTP_METHODS, Metrics
from service.settings import Settings
from tests.fakes.live_server import LiveServer
from tests.fakes.openai_server import DEFAULT_REPLY, FakeOpenAIServer
from tests.service.conftest import ready_server
from tests.service.observability.scrape import label_values, scrape, value

QUESTION = "How do the authors make sparse fine-tuning composable across languages and tasks?"
UNANSWERABLE = "How long should I roast a whole chicken?"
PAPER = "wavllm-towards-robust-and-adaptive-speech-large-language-4ea23832"
REQUESTS = "abstractqa_http_requests_total"
LATENCY = "abstractqa_http_request_duration_seconds_count"
RETRIEVAL = "abstractqa_retrieval_duration_seconds_count"
ANSWERS = "abstractqa_answers_total"
DEGRADED = "abstractqa_degraded_answers_total"
TOKENS = "abstractqa_llm_tokens_total"


def test_metrics_parse_and_describe_the_loaded_index_and_the_process(
    client: httpx.Client,
) -> None:
    response = client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain; version=")
    samples = scrape(client)
    ready = client.get("/readyz").json()
    [(version, embedder)] = [
        (dict(labels)["version"], dict(labels)["embedder"])
        for name, labels in samples
        if name == "abstractqa_index_info"
    ]
    assert version == ready["index_version"] and embedder
    assert value(samples, "abstractqa_index_info", version=version, embedder=embedder) == 1
    assert value(samples, "abstractqa_index_ready") == 1
    assert value(samples, "abstractqa_index_papers") == ready["papers"]
    assert value(samples, "abstractqa_index_chunks") >= ready["papers"]
    assert value(samples, "process_resident_memory_bytes") > 0


def test_a_search_and_an_answer_move_the_request_retrieval_and_answer_counters(
    client: httpx.Client,
) -> None:
    before = scrape(client)
    assert client.post("/v1/search", json={"query": "speech language model"}).status_code == 200
    answer = client.post("/v1/ask", json={"question": QUESTION}).json()
    assert not answer["abstained"] and answer["sentences"]
    after = scrape(client)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved(REQUESTS, method="POST", route="/v1/search", status="200") == 1
    assert moved(REQUESTS, method="POST", route="/v1/ask", status="200") == 1
    assert moved(LATENCY, method="POST", route="/v1/ask") == 1
    assert moved(RETRIEVAL, endpoint="search") == 1
    assert moved(RETRIEVAL, endpoint="ask") == 1
    assert moved(ANSWERS, backend="extractive") == 1
    assert moved("abstractqa_abstentions_total") == 0
    assert moved("abstractqa_answer_sentences_total") == len(answer["sentences"])
    assert moved("abstractqa_unsupported_sentences_total") == answer["unsupported_sentences"]
    # The extractive backend calls no LLM.
    assert moved("abstractqa_llm_duration_seconds_count", backend="extractive", outcome="ok") == 0


def test_an_unanswerable_question_counts_an_abstention(client: httpx.Client) -> None:
    before = scrape(client)
    assert client.post("/v1/ask", json={"question": UNANSWERABLE}).json()["abstained"]
    after = scrape(client)
    assert (
        value(after, "abstractqa_abstentions_total") - value(before, "abstractqa_abstentions_total")
        == 1
    )
    assert (
        value(after, ANSWERS, backend="extractive") - value(before, ANSWERS, backend="extractive")
        == 1
    )


def test_an_openai_chat_completion_is_counted_as_an_answer(client: httpx.Client) -> None:
    before = scrape(client)
    body = {"model": "abstractqa", "messages": [{"role": "user", "content": QUESTION}]}
    assert client.post("/v1/chat/completions", json=body).status_code == 200
    after = scrape(client)
    route = {"method": "POST", "route": "/v1/chat/completions", "status": "200"}
    assert value(after, REQUESTS, **route) - value(before, REQUESTS, **route) == 1
    assert (
        value(after, ANSWERS, backend="extractive") - value(before, ANSWERS, backend="extractive")
        == 1
    )


def test_requests_are_labelled_by_route_template_never_by_raw_path(client: httpx.Client) -> None:
    assert client.get(f"/v1/papers/{PAPER}").status_code == 200
    assert client.get("/v1/papers/no-such-paper").status_code == 404
    assert client.get("/no/such/page/12345").status_code == 404
    assert client.post("/v1/search", json={"query": ""}).status_code == 422
    samples = scrape(client)
    routes = label_values(samples, REQUESTS, "route")
    assert "/v1/papers/{paper_id}" in routes and "unmatched" in routes
    assert not [r for r in routes if PAPER in r or "no-such" in r or "12345" in r]
    template = {"method": "GET", "route": "/v1/papers/{paper_id}"}
    assert value(samples, REQUESTS, **template, status="200") >= 1
    assert value(samples, REQUESTS, **template, status="404") >= 1
    assert value(samples, REQUESTS, method="GET", route="unmatched", status="404") >= 1
    assert value(samples, REQUESTS, method="POST", route="/v1/search", status="422") >= 1


def test_an_unhandled_error_is_a_counted_500_with_a_request_id() -> None:
    app = FastAPI()

    @app.get("/boom/{n}")
    def boom(n: int) -> None:
        raise RuntimeError("/secret/internal/path exploded")

    install_errors(app)
    metrics = Metrics()
    install_observability(app, metrics)
    with LiveServer(app, "boom") as server, httpx.Client(base_url=server.url) as http:
        response = http.get("/boom/7", headers={"X-Request-ID": "boom-1"})
        samples = scrape(http)
    assert response.status_code == 500
    assert response.headers["x-request-id"] == "boom-1"
    assert response.json()["error"]["code"] == "internal_error"
    assert "secret" not in response.text and "Traceback" not in response.text
    assert value(samples, REQUESTS, method="GET", route="/boom/{n}", status="500") == 1


# -- the openai backend ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture(scope="module")
def llm(
    corpus_index_dir: Path, embedder: Embedder, fake: FakeOpenAIServer
) -> Iterator[httpx.Client]:
    settings = Settings(
        index_dir=corpus_index_dir,
        answer_backend="openai",
        llm_base_url=fake.base_url,
        llm_model="fake-chat",
        llm_timeout_s=2.0,
        llm_connect_timeout_s=0.5,
        llm_max_retries=0,
        llm_backoff_s=0.0,
    )
    app = create_app(settings, embedder=embedder)
    with ready_server(app) as url, httpx.Client(base_url=url, timeout=30) as http:
        yield http


@pytest.fixture(autouse=True)
def _fresh_fake(request: pytest.FixtureRequest) -> None:
    if "fake" in request.fixturenames:
        fake = request.getfixturevalue("fake")
        fake.reset()
        fake.reply_with(DEFAULT_REPLY, chunk_delay=0.0)
        fake.send_usage = False


def test_an_llm_answer_records_its_timings_and_estimates_tokens_it_was_not_told(
    llm: httpx.Client, fake: FakeOpenAIServer
) -> None:
    before = scrape(llm)
    answer = llm.post("/v1/ask", json={"question": QUESTION}).json()
    after = scrape(llm)
    assert answer["backend"] == "openai" and not answer["degraded"]

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    [sent] = fake.requests_to("/v1/chat/completions")
    prompt = sum(count_tokens(m["content"]) for m in sent.json["messages"])
    assert moved("abstractqa_llm_first_token_seconds_count", backend="openai") == 1
    assert moved("abstractqa_llm_duration_seconds_count", backend="openai", outcome="ok") == 1
    assert moved(TOKENS, backend="openai", kind="prompt", source="estimated") == prompt
    assert moved(TOKENS, backend="openai", kind="completion", source="estimated") == count_tokens(
        DEFAULT_REPLY
    )
    assert moved(ANSWERS, backend="openai") == 1


def test_tokens_the_llm_reports_are_counted_as_reported(
    llm: httpx.Client, fake: FakeOpenAIServer
) -> None:
    fake.send_usage = True  # a usage-only chunk ends the stream, as OpenAI's include_usage does
    before = scrape(llm)
    assert llm.post("/v1/ask", json={"question": QUESTION}).json()["backend"] == "openai"
    after = scrape(llm)
    for kind in ("prompt", "completion"):
        labels = {"backend": "openai", "kind": kind}
        assert value(after, TOKENS, **labels, source="reported") > value(
            before, TOKENS, **labels, source="reported"
        )
        assert value(after, TOKENS, **labels, source="estimated") == value(
            before, TOKENS, **labels, source="estimated"
        )


@pytest.mark.parametrize(
    ("fault", "reason"),
    [("status 500", "unavailable"), ("garbage", "protocol"), ("status 400", "rejected")],
)
def test_a_failing_llm_counts_a_degraded_answer_by_reason(
    llm: httpx.Client, fake: FakeOpenAIServer, fault: str, reason: str
) -> None:
    if fault == "garbage":
        fake.garbage_next()
    else:
        fake.fail_next(int(fault.split()[1]))
    before = scrape(llm)
    answer = llm.post("/v1/ask", json={"question": QUESTION}).json()
    after = scrape(llm)
    assert answer["degraded"] and answer["backend"] == "extractive"

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved(DEGRADED, reason=reason) == 1
    assert sum(moved(DEGRADED, reason=r) for r in ("unavailable", "protocol", "rejected")) == 1
    assert moved(ANSWERS, backend="extractive") == 1
    assert moved("abstractqa_llm_duration_seconds_count", backend="openai", outcome="error") == 1
    assert moved(TOKENS, backend="openai", kind="completion", source="estimated") == 0


def test_the_query_encoders_batching_counters_are_published(client: httpx.Client) -> None:
    before = scrape(client)
    assert client.post("/v1/search", json={"query": "encoder counters probe"}).status_code == 200
    after = scrape(client)

    def moved(name: str) -> float:
        full = f"abstractqa_query_encoder_{name}_total"
        return value(after, full) - value(before, full)

    assert moved("requested") == 1
    assert moved("encoded") + moved("cache_hits") == 1
    assert moved("batches") == moved("encoded")  # one query alone: a batch of one, or a hit
    assert value(after, "abstractqa_query_encoder_largest_batch") >= 1


def test_unknown_method_names_are_counted_as_other_so_the_label_set_stays_bounded(
    client: httpx.Client,
) -> None:
    before = scrape(client)
    methods = [f"M{secrets.token_hex(6).upper()}" for _ in range(40)] + ["X" * 4001]
    for n, method in enumerate(methods):
        path = "/healthz" if n % 2 else f"/no/such/{n}"
        assert client.request(method, path).status_code in {404, 405}
    after = scrape(client)
    assert label_values(after, REQUESTS, "method") <= HTTP_METHODS | {"other"}
    assert label_values(after, LATENCY, "method") <= HTTP_METHODS | {"other"}
    moved = sum(
        value(after, REQUESTS, method="other", route=route, status=status)
        - value(before, REQUESTS, method="other", route=route, status=status)
        for route in ("/healthz", "unmatched")
        for status in ("404", "405")
    )
    assert moved == len(methods)
    assert not [r for r in label_values(after, REQUESTS, "route") if "no/such" in r]
