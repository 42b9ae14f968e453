"""The MCP tools and the paper resource, through the SDK's client, over both transports (a
``python -m service.cli mcp`` subprocess and a live server's ``/mcp``)."""

from __future__ import annotations

import json
from itertools import combinations

import pytest
from mcp.shared.exceptions import MCPError
from mcp_types import TextContent

from indexer.index import IndexVersion
from tests.service.mcp.conftest import Connected

TITANS = "titans-learning-to-memorize-at-test-time-ba030557"
QUESTION = "How can a model learn to memorize at test time?"
UNANSWERABLE = "How long should I roast a whole chicken?"


def error_text(result: object) -> str:
    assert getattr(result, "is_error", False), result
    content = result.content  # type: ignore[attr-defined]
    return " ".join(c.text for c in content if isinstance(c, TextContent))


def test_the_tools_are_listed_with_input_and_output_schemas(mcp: Connected) -> None:
    tools = {t.name: t for t in mcp.tools()}
    assert set(tools) == {"search_papers", "ask", "get_paper"}
    search = tools["search_papers"]
    assert search.input_schema["required"] == ["query"]
    assert search.input_schema["properties"]["k"]["maximum"] == 50
    assert set(search.output_schema["properties"]) >= {"query", "results"}  # type: ignore[index]
    assert set(tools["ask"].output_schema["properties"]) >= {"answer", "citations", "abstained"}  # type: ignore[index]
    assert set(tools["get_paper"].output_schema["properties"]) >= {"paper_id", "abstract"}  # type: ignore[index]
    assert mcp.templates() == ["paper://{paper_id}"]


def test_a_search_for_a_bundled_papers_topic_returns_that_paper(
    mcp: Connected, corpus_index: IndexVersion
) -> None:
    result = mcp.call(
        "search_papers", {"query": "neural long-term memory that memorizes at test time", "k": 3}
    )
    assert not result.is_error
    structured = result.structured_content
    assert structured is not None
    results = structured["results"]
    assert len(results) == 3
    best = results[0]
    assert best["paper_id"] == TITANS
    assert best["title"] == "Titans: Learning to Memorize at Test Time"
    assert best["score"] >= results[1]["score"]
    # The snippet is the paper's own two best sentences, in the abstract's order.
    sentences = corpus_index.papers[TITANS].sentences
    assert best["snippet"] in {" ".join(pair) for pair in combinations(sentences, 2)}


def test_an_answer_cites_papers_with_quotes_from_their_abstracts(
    mcp: Connected, corpus_index: IndexVersion
) -> None:
    result = mcp.call("ask", {"question": QUESTION})
    assert not result.is_error
    answer = result.structured_content
    assert answer is not None
    assert answer["abstained"] is False
    assert answer["citations"]
    assert TITANS in {c["paper_id"] for c in answer["citations"]}
    for citation in answer["citations"]:
        abstract = corpus_index.papers[citation["paper_id"]].abstract
        for part in citation["quote"].split(" … "):
            assert part in abstract
        assert f"[{citation['n']}]" in answer["answer"]


def test_an_answer_scoped_to_papers_cites_only_those(mcp: Connected) -> None:
    result = mcp.call("ask", {"question": QUESTION, "paper_ids": [TITANS]})
    answer = result.structured_content
    assert answer is not None and not answer["abstained"]
    assert {c["paper_id"] for c in answer["citations"]} == {TITANS}


def test_an_off_topic_question_abstains(mcp: Connected) -> None:
    answer = mcp.call("ask", {"question": UNANSWERABLE}).structured_content
    assert answer is not None
    assert answer["abstained"] is True
    assert answer["citations"] == []


def test_get_paper_and_the_paper_resource_return_the_full_record(
    mcp: Connected, corpus_index: IndexVersion
) -> None:
    paper = corpus_index.papers[TITANS]
    record = mcp.call("get_paper", {"paper_id": TITANS}).structured_content
    assert record is not None
    assert record["paper_id"] == TITANS
    assert record["title"] == paper.title
    assert record["abstract"] == paper.abstract
    assert record["sentences"] == paper.sentences
    read = mcp.read(f"paper://{TITANS}")
    (content,) = read.contents
    assert content.mime_type == "application/json"
    assert str(content.uri) == f"paper://{TITANS}"
    assert json.loads(content.text) == record  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("tool", "arguments", "says"),
    [
        ("search_papers", {"query": ""}, "query"),
        ("search_papers", {"query": "   "}, "query: Value error, must not be blank"),
        ("search_papers", {"query": "memory", "k": 0}, "k"),
        ("search_papers", {"query": "memory", "k": 51}, "less than or equal to 50"),
        ("search_papers", {"query": "memory", "mode": "fuzzy"}, "mode"),
        ("ask", {"question": " "}, "question: Value error, must not be blank"),
        ("ask", {"question": QUESTION, "k": 21}, "less than or equal to 20"),
        (
            "ask",
            {"question": QUESTION, "paper_ids": ["no-such-paper"]},
            "no paper with id 'no-such-paper'",
        ),
        (
            "get_paper",
            {"paper_id": "no-such-paper"},
            "no paper with id 'no-such-paper' in the index",
        ),
    ],
)
def test_bad_arguments_are_tool_errors_that_say_what_is_wrong(
    mcp: Connected, tool: str, arguments: dict[str, object], says: str
) -> None:
    assert says in error_text(mcp.call(tool, arguments))
    # The session carries on.
    assert not mcp.call("get_paper", {"paper_id": TITANS}).is_error


def test_an_unknown_paper_resource_is_a_not_found_error(mcp: Connected) -> None:
    with pytest.raises(MCPError, match="no paper with id 'no-such-paper'"):
        mcp.read("paper://no-such-paper")
