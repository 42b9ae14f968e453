"""Faults of the LLM behind the ``openai`` backend, as /v1/ask and /v1/chat/completions meet
them: the real service and a real OpenAI-compatible server on 127.0.0.1 that misbehaves on
cue (tests/fakes/openai_server.py). Complements tests/service/test_ask_llm.py (HTTP errors,
garbage, a slow response, a refused connection, a stream broken mid-answer)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from indexer.embedders.base import Embedder
from service.app import create_app
from service.settings import Settings
from tests.fakes.openai_server import DEFAULT_REPLY, FakeOpenAIServer
from tests.service.conftest import ready_server
from tests.service.sse import read_events

QUESTION = "How do the authors make sparse fine-tuning composable across languages and tasks?"
CHAT = "/v1/chat/completions"
TIMEOUT_S = 1.0
MAX_RETRIES = 1
ATTEMPTS = MAX_RETRIES + 1
# How long the fake may take to notice that the service left its stream: a bound on a poll,
# generous for a busy machine; the service normally closes the stream at once.
DISCONNECT_WAIT_S = 10.0


def settings_for(index_dir: Path, base_url: str, timeout_s: float) -> Settings:
    return Settings(
        index_dir=index_dir,
        answer_backend="openai",
        llm_base_url=base_url,
        llm_model="fake-chat",
        llm_timeout_s=timeout_s,
        llm_connect_timeout_s=0.5,
        llm_max_retries=MAX_RETRIES,
        llm_backoff_s=0.01,
    )


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture(scope="module")
def impatient_url(
    corpus_index_dir: Path, embedder: Embedder, fake: FakeOpenAIServer
) -> Iterator[str]:
    """A service that waits at most TIMEOUT_S for the LLM's next bytes."""
    app = create_app(settings_for(corpus_index_dir, fake.base_url, TIMEOUT_S), embedder=embedder)
    with ready_server(app) as url:
        yield url


@pytest.fixture(scope="module")
def patient_url(
    corpus_index_dir: Path, embedder: Embedder, fake: FakeOpenAIServer
) -> Iterator[str]:
    """A service that would wait a minute for the LLM: only a client leaving ends a stalled
    stream early."""
    app = create_app(settings_for(corpus_index_dir, fake.base_url, 60.0), embedder=embedder)
    with ready_server(app) as url:
        yield url


@pytest.fixture(autouse=True)
def _fresh_fake(fake: FakeOpenAIServer) -> None:
    fake.reset()
    fake.reply_with(DEFAULT_REPLY, chunk_delay=0.0)


def extractive_answer(url: str) -> str:
    response = httpx.post(
        f"{url}/v1/ask", json={"question": QUESTION, "backend": "extractive"}, timeout=60
    )
    assert response.status_code == 200, response.text
    answer: str = response.json()["answer"]
    return answer


def ask_final(url: str, stream: bool) -> dict[str, Any]:
    """The final answer of /v1/ask: the JSON response, or the ``citations`` event of a stream
    that must end with ``done``."""
    body = {"question": QUESTION, "stream": stream}
    if not stream:
        response = httpx.post(f"{url}/v1/ask", json=body, timeout=60)
        assert response.status_code == 200, response.text
        final: dict[str, Any] = response.json()
        return final
    with httpx.stream("POST", f"{url}/v1/ask", json=body, timeout=60) as response:
        assert response.status_code == 200
        events = read_events(response)
    names = [name for name, _ in events]
    assert names[0] == "sources" and names[-2:] == ["citations", "done"], names
    assert set(names[1:-2]) == {"delta"}
    final = events[-2][1]
    return final


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_an_llm_that_stalls_before_its_first_token_degrades_to_the_extractive_answer_naming_the_timeout(
    impatient_url: str, fake: FakeOpenAIServer, stream: bool
) -> None:
    # Headers and the role chunk arrive, then nothing for longer than the timeout, every time.
    fake.stall_after(0, seconds=10 * TIMEOUT_S, times=ATTEMPTS)

    final = ask_final(impatient_url, stream)

    assert final["degraded"] is True and final["backend"] == "extractive"
    reason = final["degraded_reason"]
    assert f"unavailable after {ATTEMPTS} attempts" in reason
    assert f"timed out after {TIMEOUT_S} s" in reason
    assert final["answer"] == extractive_answer(impatient_url)
    assert final["citations"] and all(c["supported"] for c in final["citations"])
    assert len(fake.requests_to(CHAT)) == ATTEMPTS


@pytest.mark.parametrize("status", [429, 503])
def test_a_chat_completion_on_an_llm_that_keeps_failing_is_the_extractive_answer_with_the_reason(
    impatient_url: str, fake: FakeOpenAIServer, status: int
) -> None:
    fake.fail_next(status, times=ATTEMPTS)
    body = {"model": "abstractqa-llm", "messages": [{"role": "user", "content": QUESTION}]}

    response = httpx.post(f"{impatient_url}{CHAT}", json=body, timeout=60)

    assert response.status_code == 200, response.text
    extra = response.json()["abstractqa"]
    assert extra["degraded"] is True and extra["backend"] == "extractive"
    assert f"unavailable after {ATTEMPTS} attempts: HTTP {status}" in extra["degraded_reason"]
    assert extra["answer"] == extractive_answer(impatient_url)
    content = response.json()["choices"][0]["message"]["content"]
    assert content.startswith(extra["answer"] + "\n\nSources:\n[")


def _first_delta(path: str, line: str) -> bool:
    if path == "/v1/ask":
        return line == "event: delta"
    data = line.removeprefix("data:").strip()
    if not line.startswith("data:") or data == "[DONE]":
        return False
    return any(choice["delta"].get("content") for choice in json.loads(data)["choices"])


def _leave_after_the_first_delta(url: str, path: str, body: dict[str, Any]) -> None:
    # Leaving the block closes the connection with the answer unfinished.
    with httpx.stream("POST", f"{url}{path}", json=body, timeout=60) as response:
        assert response.status_code == 200
        assert any(_first_delta(path, line) for line in response.iter_lines())


@pytest.mark.parametrize("path", ["/v1/ask", CHAT])
def test_a_client_that_leaves_mid_stream_cancels_the_stalled_llm_request(
    patient_url: str, fake: FakeOpenAIServer, path: str
) -> None:
    # Three deltas, then the LLM goes silent for a minute: no further bytes will reach the
    # service, so only the client's leaving can end the upstream request early.
    fake.reply_with(" ".join(["Sparse masks compose across languages [1]."] * 20))
    fake.stall_after(3, seconds=60.0)
    body: dict[str, Any] = (
        {"question": QUESTION, "stream": True}
        if path == "/v1/ask"
        else {
            "model": "abstractqa-llm",
            "messages": [{"role": "user", "content": QUESTION}],
            "stream": True,
        }
    )

    _leave_after_the_first_delta(patient_url, path, body)

    assert fake.wait_for_disconnect(timeout_s=DISCONNECT_WAIT_S)
    assert fake.disconnects == 1
    assert len(fake.requests_to(CHAT)) == 1
    # The service is unharmed and answers the next question.
    fake.reset()
    assert httpx.get(f"{patient_url}/readyz", timeout=30).status_code == 200
    assert ask_final(patient_url, stream=False)["backend"] == "openai"
