"""Sentence-aware chunks sized in tokens, each carrying the paper's title as context.

A chunk is a run of whole sentences ``[first, end)`` of one paper. Its size is bounded twice: by
``chunk_tokens`` counted with tiktoken, and by the embedder's own input limit counted with its
own tokenizer, so no chunk is silently truncated by the model. A single sentence longer than the
model's limit is cut at word boundaries into several chunks that all point at that sentence.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import accumulate

from indexer.text import count_tokens_many

# Room for the separator between title and text and for tokenizer merges at the joins.
_MARGIN = 4


@dataclass(frozen=True)
class ChunkSpec:
    """Where a chunk lies in its paper, and the text to embed."""

    first: int
    end: int
    text: str


@dataclass(frozen=True)
class ChunkLimits:
    chunk_tokens: int
    overlap_sentences: int
    model_max_tokens: int | None = None


ModelCounter = Callable[[list[str]], list[int] | None] | None


def chunk_text(title: str, body: str) -> str:
    return f"{title}\n{body}"


def chunk_paper(
    title: str,
    sentences: Sequence[str],
    limits: ChunkLimits,
    model_counter: ModelCounter = None,
    tiktoken_counts: Sequence[int] | None = None,
) -> list[ChunkSpec]:
    """Pack whole sentences greedily into chunks within both token budgets.

    ``tiktoken_counts``: ``count_tokens_many([title, *sentences])`` when already counted (an
    add counts them in its worker processes)."""
    if not sentences:
        return [ChunkSpec(0, 0, title)]
    tik = tiktoken_counts if tiktoken_counts is not None else count_tokens_many([title, *sentences])
    # Per budget: the title's count, running totals of the sentences' counts (a candidate
    # chunk's size is two look-ups, not a sum over its sentences for each sentence tried) and
    # the cap.
    budgets = [(tik[0], list(accumulate(tik[1:], initial=0)), limits.chunk_tokens)]
    model_counts = model_counter([title, *sentences]) if model_counter else None
    if model_counts is not None and limits.model_max_tokens:
        totals = list(accumulate(model_counts[1:], initial=0))
        budgets.append((model_counts[0], totals, limits.model_max_tokens))

    def fits(first: int, end: int) -> bool:
        # sentences first..end-1 together with the title (a loop: all() over a generator
        # cost more than the arithmetic)
        for head, totals, cap in budgets:
            if head + totals[end] - totals[first] + _MARGIN > cap:
                return False
        return True

    chunks: list[ChunkSpec] = []
    first = 0
    n = len(sentences)
    while first < n:
        end = first + 1
        while end < n and fits(first, end + 1):
            end += 1
        if end == first + 1 and not fits(first, end):
            chunks.extend(
                _split_long_sentence(title, sentences[first], first, limits, model_counter)
            )
        else:
            chunks.append(ChunkSpec(first, end, chunk_text(title, " ".join(sentences[first:end]))))
        if end >= n:
            break
        first = max(first + 1, end - limits.overlap_sentences)
    return chunks


def _split_long_sentence(
    title: str, sentence: str, index: int, limits: ChunkLimits, model_counter: ModelCounter
) -> list[ChunkSpec]:
    """Cut one over-long sentence into word windows that each fit, halving until they do."""
    words = sentence.split(" ")
    size = len(words)
    while True:
        size = max(1, size // 2)
        texts = [
            chunk_text(title, " ".join(words[i : i + size])) for i in range(0, len(words), size)
        ]
        fit = all(count + _MARGIN <= limits.chunk_tokens for count in count_tokens_many(texts))
        counts = model_counter(texts) if model_counter and limits.model_max_tokens else None
        if fit and counts is not None and limits.model_max_tokens:
            fit = all(c + _MARGIN <= limits.model_max_tokens for c in counts)
        if fit or size == 1:
            return [ChunkSpec(index, index + 1, text) for text in texts]
