"""OpenAIChatBackend against a real OpenAI-compatible HTTP server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from starlette.responses import JSONResponse, Response, StreamingResponse

from service.backends import build_backend
from service.backends.base import AnswerPrompt
from service.backends.openai_chat import OpenAIChatBackend
from service.errors import BackendError, BackendProtocolError, BackendUnavailableError
from service.settings import Settings
from tests.fakes.openai_server import FakeOpenAIServer, RecordedRequest

API_KEY = "sk-test-ch4t-never-print-me"
REPLY = "Dense retrieval beats BM25 on paraphrased questions [1] but not on rare terms [2]."
PROMPT = AnswerPrompt(
    question="Does dense retrieval beat BM25?",
    sources=[],
    messages=[
        {"role": "system", "content": "Answer only from the numbered sources; cite them as [n]."},
        {"role": "user", "content": "Does dense retrieval beat BM25?"},
    ],
)


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as fake:
        fake.reply_with(REPLY)
        yield fake


@asynccontextmanager
async def _backend(base_url: str, **overrides: Any) -> AsyncIterator[OpenAIChatBackend]:
    options: dict[str, Any] = {
        "model": "fake-chat",
        "api_key": API_KEY,
        "timeout_s": 2.0,
        "connect_timeout_s": 1.0,
        "max_retries": 2,
        "backoff_s": 0.01,
        "temperature": 0.2,
        "max_tokens": 123,
    }
    options.update(overrides)
    backend = OpenAIChatBackend(base_url=base_url, **options)
    try:
        yield backend
    finally:
        await backend.aclose()


async def _answer(base_url: str, **overrides: Any) -> list[str]:
    async with _backend(base_url, **overrides) as backend:
        return [piece async for piece in backend.stream(PROMPT)]


def _serve(server: FakeOpenAIServer, response: Response) -> None:
    async def handler(request: RecordedRequest) -> Response:
        return response

    server.add_route("POST", "/v1/chat/completions", handler)


def _sse(*events: str) -> StreamingResponse:
    async def body() -> AsyncIterator[str]:
        for event in events:
            yield event

    return StreamingResponse(body(), media_type="text/event-stream")


def _chunk(choices: list[dict[str, Any]], **extra: Any) -> str:
    return "data: " + json.dumps({"object": "chat.completion.chunk", "choices": choices, **extra})


async def test_the_reply_streams_in_several_pieces_that_join_to_the_scripted_text(
    server: FakeOpenAIServer,
) -> None:
    pieces = await _answer(server.base_url)

    assert len(pieces) > 5
    assert all(pieces)
    assert "".join(pieces) == REPLY
    assert len(server.requests) == 1
    assert server.disconnects == 0


async def test_the_request_carries_model_messages_stream_temperature_max_tokens_and_the_key(
    server: FakeOpenAIServer,
) -> None:
    await _answer(server.base_url + "/")
    await _answer(server.base_url, api_key=None)

    with_key, without_key = server.requests
    assert with_key.path == "/v1/chat/completions"
    assert with_key.json == {
        "model": "fake-chat",
        "messages": PROMPT.messages,
        "stream": True,
        "temperature": 0.2,
        "max_tokens": 123,
    }
    assert with_key.headers["authorization"] == f"Bearer {API_KEY}"
    assert "authorization" not in without_key.headers


async def test_the_reply_can_be_scripted_from_the_request_body(server: FakeOpenAIServer) -> None:
    server.reply_with(lambda body: f"You asked: {body['messages'][-1]['content']}")

    assert "".join(await _answer(server.base_url)) == "You asked: Does dense retrieval beat BM25?"


async def test_a_usage_only_final_chunk_and_keep_alive_comments_are_skipped(
    server: FakeOpenAIServer,
) -> None:
    server.send_usage = True
    server.keep_alive = True

    assert "".join(await _answer(server.base_url)) == REPLY


async def test_a_stream_that_ends_after_its_finish_reason_without_done_ends_cleanly(
    server: FakeOpenAIServer,
) -> None:
    server.send_done = False

    assert "".join(await _answer(server.base_url)) == REPLY
    assert len(server.requests) == 1


async def test_a_non_streaming_json_reply_is_accepted_as_one_piece(
    server: FakeOpenAIServer,
) -> None:
    completion = {
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": REPLY}}],
    }
    _serve(server, JSONResponse(completion))

    assert await _answer(server.base_url) == [REPLY]


async def test_two_500s_then_success_gives_one_answer_after_three_requests(
    server: FakeOpenAIServer,
) -> None:
    server.fail_next(500, times=2)

    assert "".join(await _answer(server.base_url)) == REPLY
    assert len(server.requests) == 3


async def test_a_429_with_retry_after_is_retried_after_the_advertised_delay(
    server: FakeOpenAIServer,
) -> None:
    server.fail_next(429, retry_after=0.3)
    started = time.monotonic()

    assert "".join(await _answer(server.base_url, backoff_s=0.001)) == REPLY
    assert time.monotonic() - started >= 0.3
    assert len(server.requests) == 2


async def test_a_401_raises_backend_error_naming_the_status_and_is_not_retried(
    server: FakeOpenAIServer,
) -> None:
    server.fail_next(401, body='{"error": {"message": "invalid api key"}}')

    with pytest.raises(BackendError) as caught:
        await _answer(server.base_url)

    assert type(caught.value) is BackendError
    assert "HTTP 401" in str(caught.value)
    assert "invalid api key" in str(caught.value)
    assert len(server.requests) == 1


async def test_5xx_until_the_retries_run_out_raises_backend_unavailable_naming_the_attempts(
    server: FakeOpenAIServer,
) -> None:
    server.fail_next(503, times=10, body="upstream overloaded")

    with pytest.raises(BackendUnavailableError) as caught:
        await _answer(server.base_url, max_retries=2)

    assert str(caught.value) == (
        f"LLM at {server.base_url}/chat/completions unavailable after 3 attempts: "
        "HTTP 503: upstream overloaded"
    )
    assert len(server.requests) == 3


async def test_connection_refused_raises_backend_unavailable_after_the_retries() -> None:
    # A bound socket that never listens: connecting to its port is refused, and no one can take it.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
        with pytest.raises(BackendUnavailableError) as caught:
            await _answer(url, max_retries=2)

    assert str(caught.value) == (
        f"LLM at {url}/chat/completions unavailable after 3 attempts: connection refused"
    )
    assert isinstance(caught.value.__cause__, httpx.ConnectError)


async def test_a_response_delayed_beyond_the_timeout_raises_backend_unavailable_naming_it(
    server: FakeOpenAIServer,
) -> None:
    server.delay_next(1.0, times=2)

    with pytest.raises(BackendUnavailableError) as caught:
        await _answer(server.base_url, timeout_s=0.3, max_retries=1)

    assert str(caught.value).endswith("unavailable after 2 attempts: timed out after 0.3 s")
    assert isinstance(caught.value.__cause__, httpx.TimeoutException | TimeoutError)
    assert len(server.requests) == 2


async def test_a_garbage_stream_raises_backend_protocol_error_without_retrying(
    server: FakeOpenAIServer,
) -> None:
    server.garbage_next()

    with pytest.raises(BackendProtocolError, match="not JSON: <html>not json"):
        await _answer(server.base_url)

    assert len(server.requests) == 1


@pytest.mark.parametrize(
    ("events", "problem"),
    [
        ([_chunk([], error={"message": "model overloaded"})], "error in its stream chunk"),
        (['data: {"object": "chat.completion.chunk"}'], "without a 'choices' list"),
        ([_chunk([{"index": 0, "delta": {"content": 7}}])], "content is not a string"),
        ([_chunk([{"index": 0, "delta": {"content": "cut"}}])], "before a finish_reason or"),
    ],
)
async def test_a_malformed_stream_raises_backend_protocol_error_naming_what_was_wrong(
    server: FakeOpenAIServer, events: list[str], problem: str
) -> None:
    _serve(server, _sse(*(event + "\n\n" for event in events)))

    with pytest.raises(BackendProtocolError, match=problem):
        await _answer(server.base_url)


async def test_a_reply_that_is_neither_sse_nor_json_raises_backend_protocol_error(
    server: FakeOpenAIServer,
) -> None:
    _serve(server, Response("<html>hello</html>", media_type="text/html"))

    with pytest.raises(BackendProtocolError, match="content type 'text/html'"):
        await _answer(server.base_url)


async def test_a_stream_broken_after_two_chunks_raises_after_yielding_them_without_retrying(
    server: FakeOpenAIServer,
) -> None:
    server.break_stream_after(2)
    pieces: list[str] = []

    async with _backend(server.base_url) as backend:
        with pytest.raises(BackendUnavailableError, match="failed mid-answer: connection lost"):
            async for piece in backend.stream(PROMPT):
                pieces.append(piece)

    assert pieces == ["Dense ", "retrieval "]
    assert len(server.requests) == 1
    assert server.disconnects == 0  # the server hung up, not the client


async def test_a_stream_broken_before_any_content_is_retried(server: FakeOpenAIServer) -> None:
    server.break_stream_after(0)

    assert "".join(await _answer(server.base_url)) == REPLY
    assert len(server.requests) == 2


async def test_a_stall_after_one_chunk_beyond_the_timeout_raises_instead_of_hanging(
    server: FakeOpenAIServer,
) -> None:
    server.stall_after(1, seconds=10.0)
    pieces: list[str] = []

    async with _backend(server.base_url, timeout_s=0.3) as backend:
        with pytest.raises(BackendUnavailableError, match=r"mid-answer: timed out after 0\.3 s"):
            async for piece in backend.stream(PROMPT):
                pieces.append(piece)

    assert pieces == ["Dense "]
    assert len(server.requests) == 1


async def test_closing_the_stream_after_the_first_piece_makes_the_server_see_the_disconnect(
    server: FakeOpenAIServer,
) -> None:
    server.reply_with(" ".join(["word"] * 50), chunk_delay=0.05)

    async with _backend(server.base_url) as backend:
        stream = backend.stream(PROMPT)
        assert await anext(stream) == "word "
        await stream.aclose()  # type: ignore[attr-defined]

        assert await asyncio.to_thread(server.wait_for_disconnect, 5.0)
    assert server.disconnects == 1


async def test_cancelling_the_consuming_task_makes_the_server_see_the_disconnect(
    server: FakeOpenAIServer,
) -> None:
    server.reply_with(" ".join(["word"] * 50), chunk_delay=0.05)
    first_piece = asyncio.Event()

    async def consume(backend: OpenAIChatBackend) -> None:
        async for _ in backend.stream(PROMPT):
            first_piece.set()

    async with _backend(server.base_url) as backend:
        task = asyncio.create_task(consume(backend))
        await asyncio.wait_for(first_piece.wait(), 5.0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

        assert await asyncio.to_thread(server.wait_for_disconnect, 5.0)


async def test_the_api_key_never_appears_in_error_messages_or_logs(
    server: FakeOpenAIServer, caplog: pytest.LogCaptureFixture
) -> None:
    # Some proxies echo the credentials they rejected.
    server.fail_next(503, body=f"bad gateway for Bearer {API_KEY}")
    server.fail_next(401, body=f"invalid key {API_KEY}")

    with pytest.raises(BackendError) as caught:
        await _answer(server.base_url)

    assert "HTTP 401" in str(caught.value)
    assert API_KEY not in str(caught.value)
    assert "retrying" in caplog.text
    assert API_KEY not in caplog.text


async def test_aclose_closes_an_owned_client_but_not_an_injected_one(
    server: FakeOpenAIServer,
) -> None:
    owned = OpenAIChatBackend(base_url=server.base_url, model="fake-chat")
    await owned.aclose()
    with pytest.raises(RuntimeError, match="closed"):
        [piece async for piece in owned.stream(PROMPT)]

    async with httpx.AsyncClient() as client:
        injected = OpenAIChatBackend(base_url=server.base_url, model="fake-chat", client=client)
        await injected.aclose()

        assert "".join([piece async for piece in injected.stream(PROMPT)]) == REPLY


async def test_the_registry_builds_it_from_the_llm_settings(server: FakeOpenAIServer) -> None:
    settings = Settings.model_validate(
        {
            "llm_base_url": server.base_url,
            "llm_model": "fake-chat",
            "llm_api_key": API_KEY,
            "llm_max_tokens": 99,
        }
    )
    async with httpx.AsyncClient() as client:
        backend = build_backend("openai", settings, client)

        assert backend.name == "openai"
        assert "".join([piece async for piece in backend.stream(PROMPT)]) == REPLY

    sent = server.requests[0]
    assert sent.json["model"] == "fake-chat"
    assert sent.json["max_tokens"] == 99
    assert sent.headers["authorization"] == f"Bearer {API_KEY}"
