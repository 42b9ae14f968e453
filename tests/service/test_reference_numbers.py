"""Abstracts that carry their own bracketed reference numbers ("... when sea otters decline
[2].", "[12, 13]", "[2-4]"): answers never read those as citation markers. A real index of such
abstracts (real model, real FAISS, built by the Indexer in tmp_path) behind a real server,
answering extractively and through the ``openai`` backend talking to a fake OpenAI server."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from indexer.builder import Indexer
from indexer.config import IndexerSettings
from indexer.embedders.base import Embedder
from service.app import create_app
from service.settings import Settings
from tests.fakes.openai_server import FakeOpenAIServer
from tests.service.conftest import ready_server

QUESTION = "What happens to kelp forests when sea otters decline?"
OTTERS = "otters-and-kelp"
CORPUS = [
    {
        "id": OTTERS,
        "title": "Sea Otters, Urchins and the Collapse of Kelp Forests",
        "abstract": "Kelp forests collapse when sea otters decline [2]. "
        "We surveyed otter numbers along the Pacific coast from 1990 to 2020 [12, 13]. "
        "Sea urchins then graze the kelp unchecked, as earlier surveys found [3, 4]. "
        "Urchin barrens spread fastest where otter counts fell most [2-4].",
    },
    {
        "id": "wolves-and-elk",
        "title": "Wolves Reshape Elk Grazing in Yellowstone",
        "abstract": "Wolves reintroduced to Yellowstone changed where elk graze [1]. "
        "Willows recovered along streams that elk now avoid [5]. "
        "Such trophic cascades are debated [6-8].",
    },
    {
        "id": "coral-bleaching",
        "title": "Marine Heatwaves and Coral Bleaching",
        "abstract": "Marine heatwaves bleach reef-building corals [1, 2]. "
        "Reefs that bleached twice in five years recovered less [9].",
    },
    {
        "id": "bee-pesticides",
        "title": "Neonicotinoids and Wild Bee Decline",
        "abstract": "Wild bee populations decline near fields treated with neonicotinoids [3]. "
        "Bumblebee colonies produced fewer queens after exposure [4; 7].",
    },
]
MARKER = re.compile(r"\[(\d+(?:\s*[,;]\s*\d+)*)\]")
NUMBER_GROUP = re.compile(r"\[\s*\d+(?:\s*[,;\-–]\s*\d+)*\s*\]")


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture(scope="module")
def url(
    tmp_path_factory: pytest.TempPathFactory, embedder: Embedder, fake: FakeOpenAIServer
) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("references")
    papers = folder / "papers.jsonl"
    papers.write_text("".join(json.dumps(p) + "\n" for p in CORPUS), encoding="utf-8")
    index_dir = folder / "index"
    Indexer(IndexerSettings(index_dir=index_dir), embedder=embedder).add([papers])
    settings = Settings(
        index_dir=index_dir,
        answer_backend="openai",
        llm_base_url=fake.base_url,
        llm_model="fake-chat",
        llm_timeout_s=5.0,
        llm_max_retries=0,
    )
    with ready_server(create_app(settings, embedder=embedder)) as served:
        yield served


def ask(url: str, **body: Any) -> dict[str, Any]:
    response = httpx.post(f"{url}/v1/ask", json={"question": QUESTION, **body}, timeout=60)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    assert answer["abstained"] is False and answer["degraded"] is False, answer
    return answer


def sentences_of(url: str, paper_id: str) -> list[str]:
    response = httpx.get(f"{url}/v1/papers/{paper_id}", timeout=30)
    assert response.status_code == 200, response.text
    sentences: list[str] = response.json()["sentences"]
    return sentences


def markers(answer: str) -> set[int]:
    return {int(n) for group in MARKER.findall(answer) for n in re.split(r"[,;]", group)}


def test_an_extractive_answer_drops_the_abstracts_reference_numbers_and_cites_only_what_it_used(
    url: str,
) -> None:
    body = ask(url, backend="extractive")

    sources = {s["n"]: s["paper_id"] for s in body["sources"]}
    assert len(sources) == len(CORPUS) and sources[1] == OTTERS
    # Every bracketed number left in the answer is a marker the backend placed: the abstract's
    # "[2]", "[12, 13]", "[2-4]" are gone, and no other source is cited because of them.
    assert markers(body["answer"]) == {c["n"] for c in body["citations"]} == {1}
    assert len(NUMBER_GROUP.findall(body["answer"])) == len(body["sentences"])
    assert body["removed_markers"] == 0 and body["unsupported_sentences"] == 0
    otters = sentences_of(url, OTTERS)
    for sentence in body["sentences"]:
        assert sentence["citations"] == [1] and sentence["supported"] is True
        copied = sentence["text"].removesuffix(" [1]")
        (original,) = [s for s in otters if NUMBER_GROUP.sub("", s).replace(" .", ".") == copied]
        assert original != copied  # the abstract's sentence had reference numbers
    (citation,) = body["citations"]
    assert citation["paper_id"] == OTTERS and citation["supported"] is True
    # The quote stays verbatim, its reference numbers included.
    quoted = [otters[i] for i in citation["sentence_indices"]]
    assert all(q in citation["quote"] for q in quoted) and "[" in citation["quote"]


def test_an_llm_that_copies_reference_numbers_gets_them_removed_and_counted(
    url: str, fake: FakeOpenAIServer
) -> None:
    otters = sentences_of(url, OTTERS)
    prompts: list[str] = []

    def copy_the_abstract(body: dict[str, Any]) -> str:
        user = next(m["content"] for m in body["messages"] if m["role"] == "user")
        prompts.append(user)
        # An LLM echoing the abstract's references as they were published: "[12, 13]" and
        # "[2-4]" name no source of this answer.
        return (
            "Kelp forests collapse when sea otters decline [1]. "
            "Otter numbers were surveyed from 1990 to 2020 [12, 13] [1]. "
            "Urchin barrens spread fastest where otter counts fell most [2-4] [1]."
        )

    fake.reset()
    fake.reply_with(copy_the_abstract, chunk_delay=0.0)

    body = ask(url)

    assert body["backend"] == "openai"
    (prompt,) = prompts
    # The LLM is shown the abstracts without their reference numbers.
    for paper in CORPUS:
        assert paper["title"] in prompt
    assert "Kelp forests collapse when sea otters decline." in prompt
    assert NUMBER_GROUP.search(prompt.split("Question:")[0]) is None
    assert body["removed_markers"] == 3  # 12, 13 and the range
    assert body["answer"] == (
        "Kelp forests collapse when sea otters decline [1]. "
        "Otter numbers were surveyed from 1990 to 2020 [1]. "
        "Urchin barrens spread fastest where otter counts fell most [1]."
    )
    assert [s["citations"] for s in body["sentences"]] == [[1], [1], [1]]
    (citation,) = body["citations"]
    assert citation["n"] == 1 and citation["paper_id"] == OTTERS
    first = body["sentences"][0]
    assert first["supported"] is True and first["score"] == pytest.approx(1.0)
    assert citation["quote"].startswith(otters[0]) and otters[0].endswith("[2].")
