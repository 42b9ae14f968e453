"""/v1/ask with the extractive backend over the real server."""

from __future__ import annotations

import itertools
import re

import httpx
import pytest

from tests.service.sse import stream_ask

QUESTION = "How do the authors make sparse fine-tuning composable across languages and tasks?"
UNANSWERABLE = [
    "How long should I roast a whole chicken?",
    "How does AlphaFold predict protein structures?",
]


def ask(client: httpx.Client, **body: object) -> dict:
    response = client.post("/v1/ask", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def test_ask_cites_the_supporting_sentence_verbatim(client: httpx.Client) -> None:
    body = ask(client, question=QUESTION)
    assert not body["abstained"] and body["backend"] == "extractive" and not body["degraded"]
    markers = {int(n) for n in re.findall(r"\[(\d+)\]", body["answer"])}
    assert markers and markers == {c["n"] for c in body["citations"]}
    sources = {s["n"]: s for s in body["sources"]}
    assert (
        sources[1]["paper_id"]
        == "composable-sparse-fine-tuning-for-cross-lingual-transfer-27123fb7"
    )
    for citation in body["citations"]:
        paper = client.get(f"/v1/papers/{citation['paper_id']}").json()
        indices = citation["sentence_indices"]
        quoted = [paper["sentences"][i] for i in indices]
        # Verbatim sentences; " … " where the quote skips sentences of the abstract.
        joints = [" " if b == a + 1 else " … " for a, b in itertools.pairwise(indices)]
        assert citation["quote"] == quoted[0] + "".join(
            j + q for j, q in zip(joints, quoted[1:], strict=True)
        )
        assert all(q in paper["abstract"] for q in quoted)
        assert citation["supported"] and citation["paper_id"] == sources[citation["n"]]["paper_id"]
    assert body["unsupported_sentences"] == 0
    assert all(s["supported"] and s["citations"] for s in body["sentences"])


def test_extractive_answer_is_deterministic_and_bounded(client: httpx.Client) -> None:
    first, second = ask(client, question=QUESTION), ask(client, question=QUESTION)
    assert first["answer"] == second["answer"]
    assert 1 <= len(first["sentences"]) <= 4


def test_extractive_answer_draws_on_several_papers_when_several_are_relevant(
    client: httpx.Client,
) -> None:
    body = ask(client, question="Which papers distill large language models into smaller models?")
    per_paper: dict[int, int] = {}
    for sentence in body["sentences"]:
        for n in sentence["citations"]:
            per_paper[n] = per_paper.get(n, 0) + 1
    assert max(per_paper.values()) <= 2
    cited = {c["paper_id"] for c in body["citations"]}
    assert {
        "i2d2-inductive-knowledge-distillation-with-neurologic-and-8482e9a5",
        "neural-symbolic-collaborative-distillation-advancing-small-5e10c3b6",
    } <= cited


@pytest.mark.parametrize("question", UNANSWERABLE)
def test_an_unanswerable_question_abstains_and_offers_related_papers(
    client: httpx.Client, question: str
) -> None:
    body = ask(client, question=question)
    assert body["abstained"] is True
    assert body["answer"] == "The indexed papers do not cover this question."
    assert body["citations"] == [] and body["related"]
    assert "[" not in body["answer"]


def test_the_stream_has_the_documented_event_order_and_reassembles_to_the_answer(
    client: httpx.Client,
) -> None:
    events = stream_ask(client, {"question": QUESTION, "stream": True})
    names = [name for name, _ in events]
    assert names[0] == "sources" and names[-2:] == ["citations", "done"]
    assert set(names[1:-2]) == {"delta"}
    streamed = "".join(data["text"] for name, data in events if name == "delta")
    final = events[-2][1]
    assert streamed == final["answer"] == ask(client, question=QUESTION)["answer"]
    assert [s["paper_id"] for s in events[0][1]["sources"]] == [
        s["paper_id"] for s in final["sources"]
    ]


def test_accept_event_stream_selects_the_stream(client: httpx.Client) -> None:
    events = stream_ask(client, {"question": QUESTION}, headers={"accept": "text/event-stream"})
    assert next(n for n, _ in events) == "sources"


def test_an_abstention_streams_too(client: httpx.Client) -> None:
    events = stream_ask(client, {"question": UNANSWERABLE[0], "stream": True})
    assert events[0][1]["abstained"] is True and events[0][1]["related"]
    assert events[-2][1]["abstained"] is True


def test_asking_about_one_paper_only_cites_that_paper(client: httpx.Client) -> None:
    paper_id = "wavllm-towards-robust-and-adaptive-speech-large-language-4ea23832"
    body = ask(client, question="What does this paper propose?", paper_ids=[paper_id])
    assert not body["abstained"]
    assert {c["paper_id"] for c in body["citations"]} == {paper_id}
