"""/v1/search over the real server."""

from __future__ import annotations

import httpx
import pytest

PARAPHRASES = [
    (
        "How can a model keep a long-term memory of the past and learn what to remember while it is "
        "being used?",
        "titans-learning-to-memorize-at-test-time-ba030557",
    ),
    (
        # "...that machines can verify" read as much like the constraint-verification paper.
        "Turning plain English instructions into rigorous formal specifications that work across "
        "application domains",
        "nl2tl-transforming-natural-languages-to-temporal-logics-cbe8f615",
    ),
    (
        "a Japanese benchmark for judging whether sentences are grammatical",
        "jcola-japanese-corpus-of-linguistic-acceptability-06dece5f",
    ),
    (
        "Do individual neurons in LLMs specialise in particular kinds of facts about entities?",
        "on-relation-specific-neurons-in-large-language-models-4ec2f3e5",
    ),
]


@pytest.mark.parametrize(("query", "paper_id"), PARAPHRASES)
def test_search_ranks_the_right_paper_first_for_a_paraphrased_question(
    client: httpx.Client, query: str, paper_id: str
) -> None:
    response = client.post("/v1/search", json={"query": query})
    assert response.status_code == 200
    body = response.json()
    assert body["results"][0]["paper_id"] == paper_id
    assert len(body["results"]) == 10
    assert body["took_ms"] > 0


@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_every_mode_returns_distinct_papers_with_snippets(client: httpx.Client, mode: str) -> None:
    body = client.post(
        "/v1/search", json={"query": "speech language model", "top_k": 5, "mode": mode}
    ).json()
    ids = [r["paper_id"] for r in body["results"]]
    assert len(ids) == len(set(ids)) == 5
    scores = [r["score"] for r in body["results"]]
    assert scores == sorted(scores, reverse=True)
    for result in body["results"]:
        paper = client.get(f"/v1/papers/{result['paper_id']}").json()
        assert result["snippet"] and all(
            part in paper["abstract"] for part in [result["snippet"][:40]]
        )
        assert result["title"] == paper["title"]
        assert result["metadata"] == {"listing_date": "Mar 13"}


def test_search_can_be_restricted_to_named_papers(client: httpx.Client) -> None:
    allowed = [
        "jcola-japanese-corpus-of-linguistic-acceptability-06dece5f",
        "the-consciousness-prior-6a422aac",
    ]
    body = client.post(
        "/v1/search", json={"query": "memory at test time", "paper_ids": allowed}
    ).json()
    assert sorted(r["paper_id"] for r in body["results"]) == sorted(allowed)


def test_search_filters_on_metadata_equality_and_published_range(client: httpx.Client) -> None:
    body = client.post(
        "/v1/search", json={"query": "language", "filters": {"equals": {"listing_date": "Mar 13"}}}
    ).json()
    assert len(body["results"]) == 10
    body = client.post(
        "/v1/search", json={"query": "language", "filters": {"equals": {"listing_date": "Apr 1"}}}
    ).json()
    assert body["results"] == []
    # The bundled corpus has no publication dates, so a date range excludes every paper.
    body = client.post(
        "/v1/search", json={"query": "language", "filters": {"published": {"from": "2024-01-01"}}}
    ).json()
    assert body["results"] == []


ANSWERED = "How do the authors make sparse fine-tuning composable across languages and tasks?"
NOT_ANSWERED = [
    "How long should I roast a whole chicken?",
    "How does AlphaFold predict protein structures?",
]


@pytest.mark.parametrize("question", [ANSWERED, *NOT_ANSWERED])
def test_answerable_says_whether_ask_would_answer_rather_than_abstain(
    client: httpx.Client, question: str
) -> None:
    searched = client.post("/v1/search", json={"query": question, "top_k": 5}).json()
    asked = client.post("/v1/ask", json={"question": question}).json()

    assert searched["answerable"] is (question == ANSWERED)
    assert searched["answerable"] is not asked["abstained"]
    # The same papers, scored by the same answerability test.
    assert [r["paper_id"] for r in searched["results"]] == [
        r["paper_id"] for r in asked["sources" if not asked["abstained"] else "related"]
    ]
    assert searched["answerability"] == pytest.approx(asked["answerability"])


@pytest.mark.parametrize("question", ["What does it propose?", ANSWERED])
def test_a_search_scoped_to_a_paper_is_answerable_exactly_when_ask_scoped_to_it_answers(
    client: httpx.Client, question: str
) -> None:
    scope = {"paper_ids": ["composable-sparse-fine-tuning-for-cross-lingual-transfer-27123fb7"]}
    searched = client.post("/v1/search", json={"query": question, **scope}).json()
    asked = client.post("/v1/ask", json={"question": question, **scope}).json()

    assert searched["answerable"] is not asked["abstained"]
    assert searched["answerability"] == pytest.approx(asked["answerability"])
