"""/v1/chat/completions and /v1/models through the official ``openai`` SDK, against the real
service on 127.0.0.1 (the bundled corpus, the real model); the LLM model against a real
OpenAI-compatible fake (tests/fakes/openai_server.py)."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import openai
import pytest
from openai import OpenAI

from indexer.embedders.base import Embedder
from indexer.text import count_tokens, split_sentences
from service.app import create_app
from service.chat.models import ChatCompletionChunk, ChunkChoice, Delta
from service.chat.router import sse_chunks
from service.errors import BackendError
from service.settings import Settings
from tests.fakes.live_server import LiveServer
from tests.fakes.openai_server import DEFAULT_REPLY, FakeOpenAIServer
from tests.service.conftest import ready_server

CHAT = "/v1/chat/completions"
HEADER = "x-abstractqa-standalone-question"
QUESTION = "How do the authors make sparse fine-tuning composable across languages and tasks?"
COMPOSABLE = "composable-sparse-fine-tuning-for-cross-lingual-transfer-27123fb7"
COMPOSABLE_TITLE = "Composable Sparse Fine-Tuning for Cross-Lingual Transfer"
CODE_QUESTION = (
    "Which papers do information extraction by having an LLM generate code that fills in schema "
    "classes?"
)
CODE_PAPERS = {
    "knowcoder-coding-structured-knowledge-into-llms-for-e24cdb3b",
    "retrieval-augmented-code-generation-for-universal-f197fa6a",
}
CONDENSED = (
    "Which datasets is Composable Sparse Fine-Tuning for Cross-Lingual Transfer evaluated on?"
)
TIMEOUT_S = 1.0
MAX_RETRIES = 1
_SOURCE = re.compile(r'<source n="(\d+)" title="([^"]*)">\n(.*?)\n</source>', re.S)
_SOURCES_LIST = re.compile(r"\n\nSources:\n((?:\[\d+\] .+ — \S+\n?)+)$")

Messages = list[Any]


def sdk(url: str) -> OpenAI:
    return OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0, timeout=60)


def user(text: str) -> Any:  # Any: the SDK's message TypedDicts would refuse extra keys
    return {"role": "user", "content": text}


def assistant(text: str) -> Any:
    return {"role": "assistant", "content": text}


def extra(response: Any) -> dict[str, Any]:
    data: dict[str, Any] = response.model_extra["abstractqa"]
    return data


def paper_sentences(url: str, paper_id: str) -> list[str]:
    response = httpx.get(f"{url}/v1/papers/{paper_id}")
    assert response.status_code == 200, response.text
    sentences: list[str] = response.json()["sentences"]
    return sentences


@pytest.fixture
def chat(server_url: str) -> Iterator[OpenAI]:
    with sdk(server_url) as client:
        yield client


# -- answers -----------------------------------------------------------------------------------


def test_a_non_streamed_completion_has_markers_a_sources_list_and_verified_verbatim_quotes(
    chat: OpenAI, server_url: str
) -> None:
    completion = chat.chat.completions.create(model="abstractqa", messages=[user(QUESTION)])

    assert completion.object == "chat.completion" and completion.id.startswith("chatcmpl-")
    assert completion.model == "abstractqa" and completion.created > 0
    (choice,) = completion.choices
    assert choice.finish_reason == "stop" and choice.message.role == "assistant"
    content = choice.message.content
    assert content is not None
    data = extra(completion)
    answer, listed = content.split("\n\nSources:\n")
    assert answer == data["answer"] and re.search(r"\[\d+\]", answer)
    assert _SOURCES_LIST.search(content)
    citations = {c["n"]: c for c in data["citations"]}
    assert citations and data["abstained"] is False and data["degraded"] is False
    assert set(citations) == {int(n) for n in re.findall(r"\[(\d+)\]", answer)}
    assert listed.splitlines() == [
        f"[{n}] {c['title']} — {c['url'] or c['paper_id']}" for n, c in sorted(citations.items())
    ]
    assert citations[1]["paper_id"] == COMPOSABLE
    for citation in citations.values():
        sentences = paper_sentences(server_url, citation["paper_id"])
        assert citation["quote"] in sentences
        assert [sentences[i] for i in citation["sentence_indices"]] == [citation["quote"]]
        assert citation["supported"] is True
    assert {s["n"] for s in data["sources"]} >= set(citations)
    assert data["backend"] == "extractive" and data["standalone_question"] == QUESTION
    assert data["rewrite"] == "none" and data["dropped_messages"] == 0
    usage = completion.usage
    assert usage is not None
    assert usage.prompt_tokens == count_tokens(QUESTION)
    assert usage.completion_tokens == count_tokens(content)
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


def test_a_stream_arrives_in_chunks_that_reassemble_to_the_completion_and_only_the_last_has_abstractqa(
    chat: OpenAI,
) -> None:
    messages = [user(CODE_QUESTION)]
    completion = chat.chat.completions.create(model="abstractqa", messages=messages)

    with chat.chat.completions.create(model="abstractqa", messages=messages, stream=True) as stream:
        chunks = list(stream)

    assert {c.id for c in chunks} == {chunks[0].id} and chunks[0].id.startswith("chatcmpl-")
    assert all(c.object == "chat.completion.chunk" and c.model == "abstractqa" for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    pieces = [c.choices[0].delta.content for c in chunks if c.choices[0].delta.content]
    assert len(pieces) >= 3  # the answer's sentences, then the sources list
    assert "".join(pieces) == completion.choices[0].message.content
    assert [c.choices[0].finish_reason for c in chunks] == [None] * (len(chunks) - 1) + ["stop"]
    assert [bool(c.model_extra and "abstractqa" in c.model_extra) for c in chunks] == [False] * (
        len(chunks) - 1
    ) + [True]
    streamed, final = extra(chunks[-1]), extra(completion)
    for field in ("answer", "citations", "sources", "abstained", "degraded", "standalone_question"):
        assert streamed[field] == final[field]
    assert {c["paper_id"] for c in final["citations"]} >= CODE_PAPERS


def test_a_stream_with_include_usage_ends_with_a_usage_chunk_that_carries_abstractqa(
    chat: OpenAI,
) -> None:
    stream = chat.chat.completions.create(
        model="abstractqa-extractive",
        messages=[user(QUESTION)],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)

    *answer, last = chunks
    assert last.choices == [] and last.usage is not None
    assert answer[-1].choices[0].finish_reason == "stop" and answer[-1].usage is None
    assert all(not (c.model_extra or {}).get("abstractqa") for c in answer)
    content = "".join(c.choices[0].delta.content or "" for c in answer)
    assert last.usage.completion_tokens == count_tokens(content)
    assert last.usage.prompt_tokens == count_tokens(QUESTION)
    assert extra(last)["answer"] in content


def test_the_models_list_has_the_three_model_names_and_an_unknown_model_raises_not_found(
    chat: OpenAI,
) -> None:
    models = chat.models.list()

    assert [m.id for m in models] == ["abstractqa", "abstractqa-extractive", "abstractqa-llm"]
    assert all(m.object == "model" and m.owned_by == "abstractqa" for m in models)
    assert chat.models.retrieve("abstractqa-llm").id == "abstractqa-llm"
    with pytest.raises(openai.NotFoundError) as raised:
        chat.chat.completions.create(model="gpt-4o", messages=[user(QUESTION)])
    error = raised.value.body
    assert isinstance(error, dict)
    assert error["code"] == "model_not_found" and error["type"] == "invalid_request_error"
    assert "gpt-4o" in error["message"] and "abstractqa-extractive" in error["message"]
    with pytest.raises(openai.NotFoundError):
        chat.models.retrieve("gpt-4o")


def test_the_extractive_model_answers_extractively_even_on_a_server_whose_default_is_the_llm(
    llm_client: OpenAI, fake: FakeOpenAIServer
) -> None:
    completion = llm_client.chat.completions.create(
        model="abstractqa-extractive", messages=[user(QUESTION)]
    )

    assert extra(completion)["backend"] == "extractive"
    assert fake.requests_to(CHAT) == []


# -- multi-turn --------------------------------------------------------------------------------


@pytest.mark.parametrize("follow_up", ["What dataset did they use?", "What did they find?"])
def test_a_pronoun_follow_up_retrieves_the_paper_of_the_first_turn_and_reports_its_rewrite(
    chat: OpenAI, follow_up: str
) -> None:
    first = chat.chat.completions.create(model="abstractqa", messages=[user(QUESTION)])
    assert extra(first)["citations"][0]["paper_id"] == COMPOSABLE
    messages = [user(QUESTION), assistant(first.choices[0].message.content or ""), user(follow_up)]

    raw = chat.chat.completions.with_raw_response.create(model="abstractqa", messages=messages)
    second = raw.parse()

    data = extra(second)
    assert data["abstained"] is False
    assert COMPOSABLE in {c["paper_id"] for c in data["citations"]}
    standalone = data["standalone_question"]
    assert standalone == f'{follow_up} (about: "{COMPOSABLE_TITLE}")'
    assert data["rewrite"] == "rule"
    assert unquote(raw.headers[HEADER]) == standalone and "\n" not in raw.headers[HEADER]
    # The same question on its own is not about that paper.
    alone = chat.chat.completions.create(model="abstractqa", messages=[user(follow_up)])
    assert extra(alone)["standalone_question"] == follow_up
    assert [c["paper_id"] for c in extra(alone)["citations"]][:1] != [COMPOSABLE]


def test_the_second_one_resolves_to_source_2_of_the_previous_answer(chat: OpenAI) -> None:
    first = chat.chat.completions.create(model="abstractqa", messages=[user(CODE_QUESTION)])
    sources = {c["n"]: c for c in extra(first)["citations"]}
    assert {s["paper_id"] for s in sources.values()} >= CODE_PAPERS and 2 in sources
    follow_up = "How does the second one work?"
    messages = [
        user(CODE_QUESTION),
        assistant(first.choices[0].message.content or ""),
        user(follow_up),
    ]

    with chat.chat.completions.with_streaming_response.create(
        model="abstractqa", messages=messages, stream=True
    ) as response:
        header = unquote(response.headers[HEADER])
        chunks = list(response.parse())

    data = extra(chunks[-1])
    assert data["standalone_question"] == header
    assert header == f'{follow_up} (about: "{sources[2]["title"]}")'
    assert data["citations"][0]["paper_id"] == sources[2]["paper_id"]


def test_an_echoed_abstractqa_field_resolves_a_source_the_answer_did_not_cite(
    chat: OpenAI,
) -> None:
    first = chat.chat.completions.create(model="abstractqa", messages=[user(QUESTION)])
    offered = {s["n"]: s for s in extra(first)["sources"]}
    uncited = max(set(offered) - {c["n"] for c in extra(first)["citations"]})
    echoed: Any = {**assistant(first.choices[0].message.content or ""), "abstractqa": extra(first)}
    follow_up = f"What does paper {uncited} propose?"

    second = chat.chat.completions.create(
        model="abstractqa", messages=[user(QUESTION), echoed, user(follow_up)]
    )

    data = extra(second)
    assert data["standalone_question"] == f'{follow_up} (about: "{offered[uncited]["title"]}")'
    assert offered[uncited]["paper_id"] in {s["paper_id"] for s in data["sources"]}


# -- bounds ------------------------------------------------------------------------------------

BOUNDED_MESSAGES = 4
BOUNDED_TOKENS = 300


@pytest.fixture(scope="module")
def bounded_url(corpus_index_dir: Path, embedder: Embedder) -> Iterator[str]:
    settings = Settings(
        index_dir=corpus_index_dir,
        chat_max_messages=BOUNDED_MESSAGES,
        chat_max_tokens=BOUNDED_TOKENS,
    )
    with ready_server(create_app(settings, embedder=embedder)) as url:
        yield url


@pytest.fixture
def bounded(bounded_url: str) -> Iterator[OpenAI]:
    with sdk(bounded_url) as client:
        yield client


def filler(i: int) -> Messages:
    return [user(f"Tell me about topic number {i}."), assistant(f"Here is answer number {i}.")]


def test_more_messages_than_the_bound_drop_the_oldest_turns_and_still_answer(
    bounded: OpenAI,
) -> None:
    messages = [
        {"role": "system", "content": "You are a helpful assistant."},
        *filler(1),
        *filler(2),
        user(QUESTION),
        assistant(f"It learns sparse masks [1].\n\nSources:\n[1] {COMPOSABLE_TITLE} — x"),
        user("What did they find?"),
    ]

    completion = bounded.chat.completions.create(model="abstractqa", messages=messages)

    data = extra(completion)
    assert data["dropped_messages"] == len(messages) - BOUNDED_MESSAGES
    assert data["standalone_question"] == f'What did they find? (about: "{COMPOSABLE_TITLE}")'
    assert COMPOSABLE in {c["paper_id"] for c in data["citations"]}
    usage = completion.usage
    assert usage is not None
    assert usage.prompt_tokens == sum(
        count_tokens(m["content"]) for m in messages[-BOUNDED_MESSAGES:]
    )


def test_more_tokens_than_the_bound_drop_the_oldest_turns_and_still_answer(
    bounded: OpenAI,
) -> None:
    long_answer = "Sparse masks compose across languages. " * 60  # about 420 tokens
    assert count_tokens(long_answer) > BOUNDED_TOKENS
    messages = [user("What about dense retrieval?"), assistant(long_answer), user(QUESTION)]

    completion = bounded.chat.completions.create(model="abstractqa", messages=messages)

    data = extra(completion)
    assert data["dropped_messages"] == 2 and data["rewrite"] == "none"
    assert data["standalone_question"] == QUESTION
    assert data["citations"][0]["paper_id"] == COMPOSABLE


def test_a_latest_message_over_the_token_bound_is_a_400_naming_the_limit(bounded: OpenAI) -> None:
    question = "Why " + "does sparse fine-tuning compose " * 60 + "?"
    assert count_tokens(question) > BOUNDED_TOKENS and len(question) < 2000

    with pytest.raises(openai.BadRequestError) as raised:
        bounded.chat.completions.create(model="abstractqa", messages=[user(question)])

    error = raised.value.body
    assert isinstance(error, dict) and error["type"] == "invalid_request_error"
    assert f"the limit is {BOUNDED_TOKENS} tokens" in error["message"]
    assert "chat_max_tokens" in error["message"]


def test_on_the_default_bounds_sixty_one_messages_are_answered_from_the_newest_fifty(
    chat: OpenAI,
) -> None:
    messages = [*(m for i in range(30) for m in filler(i)), user(QUESTION)]
    assert len(messages) == 61

    completion = chat.chat.completions.create(model="abstractqa", messages=messages)

    assert extra(completion)["dropped_messages"] == 11
    assert extra(completion)["citations"][0]["paper_id"] == COMPOSABLE


def test_a_latest_message_longer_than_the_question_limit_is_a_400_naming_it(
    chat: OpenAI,
) -> None:
    with pytest.raises(openai.BadRequestError, match=r"the limit is 2000 characters"):
        chat.chat.completions.create(model="abstractqa", messages=[user("why? " * 500)])


# -- validation --------------------------------------------------------------------------------

INVALID: dict[str, tuple[dict[str, Any], str]] = {
    "no messages": ({"messages": []}, "messages"),
    "messages not a list": ({"messages": "hello"}, "messages"),
    "no model": ({"model": None}, "model"),
    "last message from the assistant": (
        {"messages": [user(QUESTION), assistant("An answer.")]},
        "the last message must be the user's, not the assistant's",
    ),
    "a tool message": (
        {"messages": [{"role": "tool", "content": "x", "tool_call_id": "1"}, user(QUESTION)]},
        "messages[0].role",
    ),
    "an image part": (
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": QUESTION},
                        {"type": "image_url", "image_url": {"url": "http://x/y.png"}},
                    ],
                }
            ]
        },
        "part 1 ('image_url') is not text",
    ),
    "an empty question": ({"messages": [user("   ")]}, "has no text"),
    "no content": ({"messages": [{"role": "user"}]}, "has no text"),
    "two choices": ({"n": 2}, "only n=1 is supported"),
}


@pytest.mark.parametrize("case", list(INVALID))
def test_an_invalid_request_is_a_400_in_openai_error_shape(server_url: str, case: str) -> None:
    change, words = INVALID[case]
    body = {"model": "abstractqa", "messages": [user(QUESTION)], **change}
    if body["model"] is None:
        del body["model"]

    response = httpx.post(f"{server_url}{CHAT}", json=body, timeout=30)

    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error" and error["code"] == "invalid_request"
    assert words in error["message"]


def test_the_sdk_raises_bad_request_for_an_invalid_request(chat: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="only n=1 is supported"):
        chat.chat.completions.create(model="abstractqa", messages=[user(QUESTION)], n=3)


def test_a_body_that_is_not_json_is_a_400_in_openai_error_shape(server_url: str) -> None:
    response = httpx.post(
        f"{server_url}{CHAT}",
        content=b"{not json",
        headers={"content-type": "application/json"},
        timeout=30,
    )

    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert "not valid JSON" in response.json()["error"]["message"]


def test_fields_that_do_not_apply_and_the_other_content_forms_are_accepted(
    chat: OpenAI,
) -> None:
    completion = chat.chat.completions.create(
        model="abstractqa",
        messages=[
            {"role": "developer", "content": "Answer briefly."},
            {"role": "user", "content": [{"type": "text", "text": QUESTION}]},
        ],
        temperature=0.3,
        max_tokens=50,
        top_p=0.9,
        n=1,
        user="someone",
        seed=7,
        stop=["\n\n\n"],
        presence_penalty=0.0,
        extra_body={"an_unknown_field": True},
    )

    assert extra(completion)["citations"][0]["paper_id"] == COMPOSABLE


# -- the LLM model -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture(scope="module")
def llm_url(corpus_index_dir: Path, embedder: Embedder, fake: FakeOpenAIServer) -> Iterator[str]:
    settings = Settings(
        index_dir=corpus_index_dir,
        answer_backend="openai",
        llm_base_url=fake.base_url,
        llm_model="fake-chat",
        llm_timeout_s=TIMEOUT_S,
        llm_connect_timeout_s=0.5,
        llm_max_retries=MAX_RETRIES,
        llm_backoff_s=0.01,
    )
    with ready_server(create_app(settings, embedder=embedder)) as url:
        yield url


@pytest.fixture
def llm_client(llm_url: str, fake: FakeOpenAIServer) -> Iterator[OpenAI]:
    fake.reset()
    fake.reply_with(DEFAULT_REPLY, chunk_delay=0.0)
    with sdk(llm_url) as client:
        yield client


def is_condensation(body: dict[str, Any]) -> bool:
    return "standalone question" in body["messages"][0]["content"]


def first_sentence(body: dict[str, Any]) -> str:
    """The first sentence of source [1] in an answer prompt, cited."""
    user_message = next(m["content"] for m in body["messages"] if m["role"] == "user")
    sources = {int(n): text for n, _, text in _SOURCE.findall(user_message)}
    return f"{split_sentences(sources[1])[0].rstrip('.')} [1]."


def llm_reply(condensed: str) -> Any:
    def reply(body: dict[str, Any]) -> str:
        return condensed if is_condensation(body) else first_sentence(body)

    return reply


def first_turn() -> Messages:
    return [
        user(QUESTION),
        assistant(f"It learns sparse masks [1].\n\nSources:\n[1] {COMPOSABLE_TITLE} — x"),
    ]


def test_the_llm_model_condenses_the_conversation_with_the_prompt_and_answers_its_question(
    llm_client: OpenAI, fake: FakeOpenAIServer
) -> None:
    fake.reply_with(llm_reply(f"Standalone question: {CONDENSED}\n"))

    raw = llm_client.chat.completions.with_raw_response.create(
        model="abstractqa-llm", messages=[*first_turn(), user("What dataset did they use?")]
    )
    completion = raw.parse()

    condensation, answering = (r.json for r in fake.requests_to(CHAT))
    assert is_condensation(condensation) and not is_condensation(answering)
    prompt = condensation["messages"][0]["content"]
    assert f"User: {QUESTION}" in prompt and f"[1] {COMPOSABLE_TITLE}" in prompt
    assert "Last question: What dataset did they use?" in prompt
    assert f"Question: {CONDENSED}" in answering["messages"][1]["content"]
    data = extra(completion)
    assert data["standalone_question"] == CONDENSED == unquote(raw.headers[HEADER])
    assert data["rewrite"] == "llm" and data["rewrite_note"] is None
    assert data["backend"] == "openai" and data["degraded"] is False
    assert data["citations"][0]["paper_id"] == COMPOSABLE
    content = completion.choices[0].message.content or ""
    assert content.startswith(first_sentence(answering) + "\n\nSources:\n[1] " + COMPOSABLE_TITLE)


@pytest.mark.parametrize("failure", ["http 500", "an empty reply"])
def test_when_the_llm_condensation_fails_the_rule_rewrite_is_used(
    llm_client: OpenAI, fake: FakeOpenAIServer, failure: str
) -> None:
    if failure == "http 500":
        fake.fail_next(500, times=MAX_RETRIES + 1)
        fake.reply_with(llm_reply(CONDENSED))
    else:
        fake.reply_with(llm_reply("   "))

    completion = llm_client.chat.completions.create(
        model="abstractqa-llm", messages=[*first_turn(), user("What dataset did they use?")]
    )

    data = extra(completion)
    assert data["rewrite"] == "rule" and "condensation failed" in data["rewrite_note"]
    assert (
        data["standalone_question"] == f'What dataset did they use? (about: "{COMPOSABLE_TITLE}")'
    )
    assert data["backend"] == "openai" and data["degraded"] is False
    assert data["citations"][0]["paper_id"] == COMPOSABLE


def test_the_llm_streams_many_deltas_that_reassemble_to_the_completion(
    llm_client: OpenAI, fake: FakeOpenAIServer
) -> None:
    fake.reply_with(llm_reply(CONDENSED))
    messages = [user(QUESTION)]

    completion = llm_client.chat.completions.create(model="abstractqa-llm", messages=messages)
    chunks = list(
        llm_client.chat.completions.create(model="abstractqa-llm", messages=messages, stream=True)
    )

    pieces = [c.choices[0].delta.content for c in chunks if c.choices[0].delta.content]
    assert len(pieces) > 5
    assert "".join(pieces) == completion.choices[0].message.content
    assert extra(chunks[-1])["answer"] == extra(completion)["answer"]
    assert [r.json["stream"] for r in fake.requests_to(CHAT)] == [True, True]


def test_an_llm_that_fails_mid_stream_ends_with_the_extractive_answer_and_its_sources(
    llm_client: OpenAI, fake: FakeOpenAIServer
) -> None:
    fake.reply_with(lambda body: " ".join([first_sentence(body)] * 3))
    fake.break_stream_after(3)

    chunks = list(
        llm_client.chat.completions.create(
            model="abstractqa-llm", messages=[user(QUESTION)], stream=True
        )
    )

    content = "".join(c.choices[0].delta.content or "" for c in chunks)
    data = extra(chunks[-1])
    assert data["degraded"] is True and data["backend"] == "extractive"
    extractive = llm_client.chat.completions.create(
        model="abstractqa-extractive", messages=[user(QUESTION)]
    )
    partial, rest = content.split("\n\nThe language model failed mid-answer; ", 1)
    assert partial and first_sentence(fake.requests_to(CHAT)[0].json).startswith(partial.strip())
    assert rest.split("\n\n", 1)[1] == extractive.choices[0].message.content
    assert data["answer"] == extra(extractive)["answer"]
    assert data["citations"] == extra(extractive)["citations"]


# -- failures ----------------------------------------------------------------------------------


def test_a_service_that_is_not_ready_answers_503_in_openai_error_shape(tmp_path: Path) -> None:
    app = create_app(Settings(index_dir=tmp_path / "no-index"))
    with LiveServer(app) as server, sdk(server.url) as client:
        with pytest.raises(openai.InternalServerError) as raised:
            client.chat.completions.create(model="abstractqa", messages=[user(QUESTION)])
        assert raised.value.status_code == 503
        error = raised.value.body
        assert isinstance(error, dict)
        assert error["code"] == "index_not_ready" and error["type"] == "server_error"


async def test_a_failure_after_the_stream_started_is_an_error_line_and_no_done() -> None:
    async def chunks() -> AsyncIterator[ChatCompletionChunk]:
        role = ChunkChoice(delta=Delta(role="assistant", content=""))
        yield ChatCompletionChunk(id="chatcmpl-1", created=1, model="abstractqa", choices=[role])
        raise BackendError("the LLM went away")

    lines = [line async for line in sse_chunks(chunks())]

    first, last = lines
    assert json.loads(first.removeprefix("data: "))["choices"][0]["delta"] == {
        "role": "assistant",
        "content": "",
    }
    assert json.loads(last.removeprefix("data: ")) == {
        "error": {
            "message": "the LLM went away",
            "type": "server_error",
            "param": None,
            "code": "backend_error",
        }
    }
