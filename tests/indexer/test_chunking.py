"""Chunks: whole sentences, title as context, within tiktoken and model budgets."""

from __future__ import annotations

import itertools

from indexer.chunking import ChunkLimits, chunk_paper
from indexer.embedders.base import Embedder
from indexer.text import count_tokens, split_sentences

TITLE = "A Study of Things"


def test_long_abstract_is_split_into_chunks_the_model_reads_whole(embedder: Embedder) -> None:
    sentences = [
        f"Sentence number {i} describes a distinct experimental finding about things."
        for i in range(60)
    ]
    limits = ChunkLimits(
        chunk_tokens=400, overlap_sentences=1, model_max_tokens=embedder.max_input_tokens
    )
    chunks = chunk_paper(TITLE, sentences, limits, embedder.count_tokens_many)
    assert len(chunks) >= 3
    assert chunks[0].first == 0 and chunks[-1].end == 60
    for chunk in chunks:
        assert chunk.text == TITLE + "\n" + " ".join(sentences[chunk.first : chunk.end])
        assert embedder.count_tokens_many([chunk.text])[0] <= embedder.max_input_tokens
    for before, after in itertools.pairwise(chunks):
        assert after.first == before.end - 1  # one sentence of overlap


def test_chunks_respect_the_tiktoken_budget() -> None:
    sentences = [f"This is sentence {i} of a moderately long abstract." for i in range(40)]
    chunks = chunk_paper(TITLE, sentences, ChunkLimits(chunk_tokens=64, overlap_sentences=0))
    assert all(count_tokens(c.text) <= 64 for c in chunks)
    assert [c.first for c in chunks[1:]] == [c.end for c in chunks[:-1]]


def test_a_sentence_longer_than_the_budget_is_cut_into_windows_of_that_sentence() -> None:
    sentence = " ".join(f"word{i}" for i in range(300))
    chunks = chunk_paper(
        TITLE, ["Short one.", sentence], ChunkLimits(chunk_tokens=80, overlap_sentences=0)
    )
    long_parts = [c for c in chunks if c.first == 1]
    assert len(long_parts) > 1 and all(c.end == 2 for c in long_parts)
    assert all(count_tokens(c.text) <= 80 for c in chunks)
    assert " ".join(c.text.split("\n", 1)[1] for c in long_parts) == sentence


def test_sentences_are_verbatim_substrings_and_common_abbreviations_do_not_split() -> None:
    text = "We compare e.g. BERT and GPT (Smith et al. 2020).  Fig. 2 shows a 1.5x gain. It works."
    sentences = split_sentences(text)
    assert sentences == [
        "We compare e.g. BERT and GPT (Smith et al. 2020).",
        "Fig. 2 shows a 1.5x gain.",
        "It works.",
    ]
