"""How /v1/search picks snippet sentences: by sentence vectors (dense) or, where embedding every
hit's sentences would dominate a search, by the query terms they hold (lexical)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from indexer import open_index, tokenize
from indexer.embedders.base import Embedder
from service.app import create_app
from service.search.service import lexical_scores, snippet_scoring
from service.settings import Settings
from tests.service.conftest import ready_server

QUERY = "a Japanese benchmark for judging whether sentences are grammatical"
JCOLA = "jcola-japanese-corpus-of-linguistic-acceptability-06dece5f"


@pytest.fixture(scope="module")
def small_cache_app(corpus_index_dir: Path, embedder: Embedder) -> Iterator[tuple[Any, str]]:
    # 54 bundled papers, a cache of 10: the index does not fit, as a 10^6-paper one would not.
    app = create_app(
        Settings(index_dir=corpus_index_dir, sentence_cache_papers=10), embedder=embedder
    )
    with ready_server(app) as url:
        yield app, url


def test_lexical_scores_weigh_each_sentence_by_the_idf_of_the_query_terms_it_holds() -> None:
    weights = dict(zip(tokenize(["rare common"])[0], (3.0, 0.5), strict=True))
    sentences = ["Nothing to see.", "A common word.", "A rare and common word.", "Rare only."]

    assert lexical_scores(weights, sentences).tolist() == [0.0, 0.5, 3.5, 3.0]
    assert lexical_scores(weights, []).shape == (0,)


def test_auto_snippets_are_dense_exactly_when_the_index_fits_the_sentence_cache() -> None:
    settings = Settings(sentence_cache_papers=100)

    assert snippet_scoring(settings, 100) == "dense"
    assert snippet_scoring(settings, 101) == "lexical"
    assert snippet_scoring(Settings(search_snippets="dense"), 10**7) == "dense"
    assert snippet_scoring(Settings(search_snippets="lexical"), 1) == "lexical"


def test_a_search_on_an_index_larger_than_the_sentence_cache_embeds_no_sentences(
    small_cache_app: tuple[Any, str], corpus_index_dir: Path
) -> None:
    app, url = small_cache_app
    body = httpx.post(f"{url}/v1/search", json={"query": QUERY, "top_k": 10}, timeout=30).json()

    assert body["results"][0]["paper_id"] == JCOLA
    assert len(app.state.service.loaded.sentences) == 0
    # Each snippet is the paper's two sentences of most query-term IDF, in abstract order.
    index = open_index(corpus_index_dir)
    weights = index.bm25.term_weights(QUERY)
    for result in body["results"]:
        sentences = index.papers.many([result["paper_id"]])[result["paper_id"]].sentences
        best = sorted(np.argsort(-lexical_scores(weights, sentences), kind="stable")[:2])
        assert result["snippet"] == " ".join(sentences[i] for i in best)
    top = set(tokenize([body["results"][0]["snippet"]])[0])
    assert top & set(tokenize([QUERY])[0])


def test_dense_snippets_can_be_chosen_for_an_index_larger_than_the_cache(
    corpus_index_dir: Path, embedder: Embedder
) -> None:
    settings = Settings(
        index_dir=corpus_index_dir, sentence_cache_papers=10, search_snippets="dense"
    )
    app = create_app(settings, embedder=embedder)
    with ready_server(app) as url:
        body = httpx.post(f"{url}/v1/search", json={"query": QUERY, "top_k": 3}, timeout=30)

        assert body.json()["results"][0]["paper_id"] == JCOLA
        assert len(app.state.service.loaded.sentences) == 3


def test_an_extractive_answer_on_an_index_larger_than_the_cache_embeds_no_sentences(
    small_cache_app: tuple[Any, str], corpus_index_dir: Path
) -> None:
    app, url = small_cache_app
    body = httpx.post(f"{url}/v1/ask", json={"question": f"{QUERY}?"}, timeout=30).json()

    assert not body["abstained"]
    assert body["citations"] and body["citations"][0]["paper_id"] == JCOLA
    assert all(c["supported"] for c in body["citations"])
    # Each quote holds its abstract's sentence of most question-term IDF.
    index = open_index(corpus_index_dir)
    weights = index.bm25.term_weights(f"{QUERY}?")
    for citation in body["citations"]:
        sentences = index.papers.many([citation["paper_id"]])[citation["paper_id"]].sentences
        best = int(np.argmax(lexical_scores(weights, sentences)))
        assert best in citation["sentence_indices"]
        assert sentences[best] in citation["quote"]
    assert len(app.state.service.loaded.sentences) == 0
