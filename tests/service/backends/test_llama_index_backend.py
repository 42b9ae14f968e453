"""The ``llama-index`` answer backend: a real llama-index LLM (``OpenAILike``) talking to a real
OpenAI-compatible server on 127.0.0.1 (tests/fakes/openai_server.py), on its own and behind the
real service with the real model and index."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from llama_index.llms.openai_like import OpenAILike
from pydantic import ValidationError

from indexer.embedders.base import Embedder
from service.app import create_app
from service.backends import build_backend
from service.backends.base import AnswerPrompt, TokenUsage
from service.backends.llama_index import LlamaIndexBackend
from service.errors import BackendError
from service.settings import Settings, invalid_settings
from tests.fakes.openai_server import DEFAULT_REPLY, FakeOpenAIServer
from tests.service.chat.test_openai_sdk import CONDENSED, first_turn, is_condensation, llm_reply
from tests.service.conftest import ready_server
from tests.service.sse import stream_ask
from tests.service.test_ask_llm import Scripted, bare, sentence_of

QUESTION = "How do the authors make sparse fine-tuning composable across languages and tasks?"
CHAT = "/v1/chat/completions"
API_KEY = "sk-llama-never-print-me"
# Generous: the LLM's first request also builds its OpenAI client, slow on a loaded machine.
TIMEOUT_S = 20.0
PROMPT = AnswerPrompt(
    question="Does dense retrieval beat BM25?",
    sources=[],
    messages=[
        {"role": "system", "content": "Answer only from the numbered sources; cite them as [n]."},
        {"role": "user", "content": "Does dense retrieval beat BM25?"},
    ],
)
DISCONNECT_WAIT_S = 10.0


def llama_settings(base_url: str, index_dir: Path | None = None, **overrides: Any) -> Settings:
    options: dict[str, Any] = {
        "index_dir": index_dir or Path("unused-index"),
        "answer_backend": "llama-index",
        "llm_base_url": base_url,
        "llm_model": "fake-chat",
        "llm_api_key": API_KEY,
        "llm_timeout_s": TIMEOUT_S,
        "llm_max_retries": 0,
    }
    return Settings(**(options | overrides))


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh_fake(fake: FakeOpenAIServer) -> None:
    fake.reset()
    fake.send_usage = False
    fake.reply_with(DEFAULT_REPLY, chunk_delay=0.0)


@pytest.fixture(scope="module")
def service_url(
    corpus_index_dir: Path, embedder: Embedder, fake: FakeOpenAIServer
) -> Iterator[str]:
    app = create_app(llama_settings(fake.base_url, corpus_index_dir), embedder=embedder)
    with ready_server(app) as url:
        yield url


@pytest.fixture
def service(service_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=service_url, timeout=60) as http:
        yield http


def ask(http: httpx.Client, **body: object) -> dict[str, Any]:
    response = http.post("/v1/ask", json={"question": QUESTION, **body})
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def answer(settings: Settings, usage: TokenUsage | None = None) -> list[str]:
    backend = build_backend("llama-index", settings)
    return [piece async for piece in backend.stream(PROMPT, usage)]


# -- the LLM and its arguments -----------------------------------------------------------------


async def test_the_backend_streams_the_llms_deltas_through_the_configured_llm_class(
    fake: FakeOpenAIServer,
) -> None:
    settings = llama_settings(fake.base_url, llm_temperature=0.3, llm_max_tokens=77)
    backend = build_backend("llama-index", settings)

    pieces = [piece async for piece in backend.stream(PROMPT)]

    assert isinstance(backend, LlamaIndexBackend) and type(backend.llm) is OpenAILike
    assert "".join(pieces) == DEFAULT_REPLY and len(pieces) > 1
    (request,) = fake.requests_to(CHAT)
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    body = request.json
    assert body["stream"] is True and body["model"] == "fake-chat"
    assert body["temperature"] == 0.3 and body["max_tokens"] == 77
    assert body["messages"] == PROMPT.messages


async def test_the_kwargs_setting_overrides_the_arguments_taken_from_the_llm_settings(
    fake: FakeOpenAIServer,
) -> None:
    settings = llama_settings(
        fake.base_url,
        llama_index_llm_kwargs='{"model": "other-model", "temperature": 0.9, '
        '"additional_kwargs": {"seed": 7}}',
    )

    assert "".join(await answer(settings)) == DEFAULT_REPLY

    body = fake.requests_to(CHAT)[0].json
    assert body["model"] == "other-model" and body["temperature"] == 0.9 and body["seed"] == 7
    assert body["max_tokens"] == settings.llm.max_tokens
    assert API_KEY not in repr(settings)


async def test_the_token_usage_the_llm_reports_is_recorded(fake: FakeOpenAIServer) -> None:
    usage = TokenUsage()
    asks_for_usage = '{"additional_kwargs": {"stream_options": {"include_usage": true}}}'

    pieces = await answer(
        llama_settings(fake.base_url, llama_index_llm_kwargs=asks_for_usage), usage
    )

    assert usage.completion_tokens == len(pieces)
    words = sum(
        len(re.findall(r"\w+", m["content"])) for m in PROMPT.messages
    )  # as the fake counts
    assert usage.prompt_tokens == words
    assert fake.requests_to(CHAT)[0].json["stream_options"] == {"include_usage": True}


async def test_an_llm_that_reports_no_usage_leaves_it_unknown(fake: FakeOpenAIServer) -> None:
    usage = TokenUsage()

    assert "".join(await answer(llama_settings(fake.base_url), usage)) == DEFAULT_REPLY

    assert usage == TokenUsage()


async def test_a_consumer_that_stops_early_closes_the_llms_stream(
    fake: FakeOpenAIServer,
) -> None:
    fake.reply_with(" ".join(["Sparse retrieval helps with rare terms [1]."] * 20), chunk_delay=0.2)
    backend = build_backend("llama-index", llama_settings(fake.base_url))
    pieces = backend.stream(PROMPT)

    assert await anext(pieces)
    await pieces.aclose()  # type: ignore[attr-defined]

    assert await asyncio.to_thread(fake.wait_for_disconnect, DISCONNECT_WAIT_S)
    assert fake.disconnects == 1


async def test_a_consumer_cancelled_while_the_llm_is_silent_closes_the_llms_stream(
    fake: FakeOpenAIServer,
) -> None:
    fake.stall_after(2, seconds=60.0)
    backend = build_backend("llama-index", llama_settings(fake.base_url))
    first = asyncio.Event()

    async def consume() -> None:
        async for _ in backend.stream(PROMPT):
            first.set()

    task = asyncio.create_task(consume())
    await first.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert await asyncio.to_thread(fake.wait_for_disconnect, DISCONNECT_WAIT_S)
    assert fake.disconnects == 1


async def test_an_llm_silent_past_the_timeout_is_a_backend_error_and_its_stream_is_closed(
    fake: FakeOpenAIServer,
) -> None:
    # A warm-up answer first, so that the short timeout does not also cover building the
    # OpenAI client.
    backend = build_backend("llama-index", llama_settings(fake.base_url, llm_timeout_s=2.0))
    assert "".join([p async for p in backend.stream(PROMPT)]) == DEFAULT_REPLY
    fake.reset()
    fake.stall_after(0, seconds=60.0)

    with pytest.raises(BackendError, match=r"unavailable: timed out after 2\.0 s"):
        async for _ in backend.stream(PROMPT):
            pass

    assert await asyncio.to_thread(fake.wait_for_disconnect, DISCONNECT_WAIT_S)


# -- settings ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("no_such_package.llms.Model", "cannot import 'no_such_package.llms'"),
        ("llama_index.llms.openai_like.NoSuchLLM", "has no 'NoSuchLLM'"),
        ("pathlib.Path", "'pathlib.Path' is not a llama-index LLM class"),
        ("OpenAILike", "is not a dotted path"),
    ],
)
def test_an_llm_class_that_is_not_a_llama_index_llm_is_a_settings_error_naming_the_variable(
    path: str, problem: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        llama_settings("http://127.0.0.1:9/v1", llama_index_llm_class=path)

    message = invalid_settings(raised.value)
    assert message.startswith("error: invalid setting ABSTRACTQA_LLAMA_INDEX_LLM_CLASS: ")
    assert problem in message


def test_kwargs_the_llm_class_refuses_are_a_settings_error_that_does_not_show_the_key() -> None:
    with pytest.raises(ValidationError) as raised:
        llama_settings("http://127.0.0.1:9/v1", llama_index_llm_kwargs='{"temperature": "hot"}')

    message = invalid_settings(raised.value)
    assert "ABSTRACTQA_LLAMA_INDEX_LLM_CLASS" in message and "temperature" in message
    assert "ABSTRACTQA_LLAMA_INDEX_LLM_KWARGS" in message and API_KEY not in message


@pytest.mark.parametrize("kwargs", ["{not json", "[1, 2]"])
def test_kwargs_that_are_not_a_json_object_are_a_settings_error(kwargs: str) -> None:
    with pytest.raises(ValidationError) as raised:
        llama_settings("http://127.0.0.1:9/v1", llama_index_llm_kwargs=kwargs)

    assert "ABSTRACTQA_LLAMA_INDEX_LLM_KWARGS" in invalid_settings(raised.value)


def test_serve_refuses_to_start_with_an_llm_class_that_cannot_be_imported(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "ABSTRACTQA_ANSWER_BACKEND": "llama-index",
        "ABSTRACTQA_LLAMA_INDEX_LLM_CLASS": "no_such_package.Model",
        "ABSTRACTQA_INDEX_DIR": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, "-m", "service.cli", "serve"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: invalid setting ABSTRACTQA_LLAMA_INDEX_LLM_CLASS: cannot import "
        "'no_such_package' for 'no_such_package.Model': No module named 'no_such_package'"
    )


# -- behind the service ------------------------------------------------------------------------


def test_an_answer_with_markers_is_verified_against_the_cited_abstracts(
    service: httpx.Client, fake: FakeOpenAIServer
) -> None:
    script = Scripted(
        lambda body: f"{bare(sentence_of(body, 1))} [1]. {bare(sentence_of(body, 2))} [2]."
    )
    fake.reply_with(script)

    body = ask(service)

    assert body["backend"] == "llama-index" and body["degraded"] is False
    assert body["answer"] == script.reply
    assert body["removed_markers"] == 0 and body["unsupported_sentences"] == 0
    assert [s["citations"] for s in body["sentences"]] == [[1], [2]]
    (request,) = fake.requests_to(CHAT)
    sources = {s["n"]: s["paper_id"] for s in body["sources"]}
    for citation in body["citations"]:
        assert citation["supported"] is True
        assert citation["paper_id"] == sources[citation["n"]]
        assert citation["quote"] == sentence_of(request.json, citation["n"])


def test_the_stream_carries_the_llms_deltas_then_the_verified_answer(
    service: httpx.Client, fake: FakeOpenAIServer
) -> None:
    script = Scripted(lambda body: f"{bare(sentence_of(body, 1))} [1].")
    fake.reply_with(script)

    events = stream_ask(service, {"question": QUESTION, "stream": True})

    names = [name for name, _ in events]
    assert names[0] == "sources" and names[-2:] == ["citations", "done"]
    assert set(names[1:-2]) == {"delta"} and len(names) > 4
    streamed = "".join(data["text"] for name, data in events if name == "delta")
    final = events[-2][1]
    assert streamed == script.reply == final["answer"]
    assert final["backend"] == "llama-index" and final["citations"][0]["supported"] is True


FAULTS = {
    "HTTP 500": (lambda fake: fake.fail_next(500), "unavailable: HTTP 500"),
    "HTTP 400": (lambda fake: fake.fail_next(400), "rejected the request with HTTP 400"),
    "a garbage stream": (lambda fake: fake.garbage_next(), "not the protocol"),
    "a stream broken mid-answer": (
        lambda fake: fake.break_stream_after(3),
        "failed mid-answer: connection lost",
    ),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_an_llm_fault_degrades_to_the_extractive_answer(
    service: httpx.Client, fake: FakeOpenAIServer, fault: str
) -> None:
    inject, reason = FAULTS[fault]
    inject(fake)

    body = ask(service)

    assert body["degraded"] is True and body["backend"] == "extractive"
    assert reason in body["degraded_reason"] and API_KEY not in body["degraded_reason"]
    assert body["answer"] == ask(service, backend="extractive")["answer"] and body["answer"]
    assert body["citations"] and all(c["supported"] for c in body["citations"])


def test_a_client_that_leaves_mid_stream_cancels_the_stalled_llm_request(
    service_url: str, fake: FakeOpenAIServer
) -> None:
    # Three deltas, then silence for a minute; the backend's own timeout (20 s) is longer than
    # the wait below, so only the client's leaving can end the upstream request in time.
    fake.reply_with(" ".join(["Sparse masks compose across languages [1]."] * 20))
    fake.stall_after(3, seconds=60.0)
    body = {"question": QUESTION, "stream": True}

    with httpx.stream("POST", f"{service_url}/v1/ask", json=body, timeout=60) as response:
        assert response.status_code == 200
        lines = response.iter_lines()
        while next(lines) != "event: delta":
            pass

    assert fake.wait_for_disconnect(timeout_s=DISCONNECT_WAIT_S)
    assert fake.disconnects == 1
    assert len(fake.requests_to(CHAT)) == 1


def test_a_chat_follow_up_is_condensed_by_the_llama_index_llm_and_answered_by_it(
    service: httpx.Client, fake: FakeOpenAIServer
) -> None:
    fake.reply_with(llm_reply(f"Standalone question: {CONDENSED}\n"))
    messages = [
        *first_turn(),
        {"role": "user", "content": "What dataset did they use?"},
    ]

    response = service.post(
        "/v1/chat/completions", json={"model": "abstractqa", "messages": messages}
    )

    assert response.status_code == 200, response.text
    condensation, answering = (r.json for r in fake.requests_to(CHAT))
    assert is_condensation(condensation) and not is_condensation(answering)
    data = response.json()["abstractqa"]
    assert data["standalone_question"] == CONDENSED and data["rewrite"] == "llm"
    assert data["backend"] == "llama-index" and data["degraded"] is False
    assert data["citations"][0]["supported"] is True
