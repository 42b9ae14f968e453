"""Numbered sources for an answer, packed into a token budget, and the chat messages."""

from __future__ import annotations

import prompts
from indexer import count_tokens_many
from service.answering.references import drop_references
from service.backends.base import Source, SourceSentence


def pack_sources(candidates: list[Source], budget_tokens: int) -> list[Source]:
    """Keep sources in rank order while the budget lasts, each with whole sentences only:
    all of its abstract when it fits, else its most question-like sentences that fit (in
    abstract order). Sources with no room left are dropped; kept ones are renumbered 1..n."""
    kept: list[Source] = []
    left = budget_tokens
    for source in candidates:
        overhead = count_tokens_many([_render(len(kept) + 1, source.title, "")])[0]
        sizes = count_tokens_many([s.text for s in source.sentences]) if source.sentences else []
        if left - overhead <= 0:
            break
        room = left - overhead
        chosen: list[SourceSentence] = []
        for sentence, size in sorted(
            zip(source.sentences, sizes, strict=True), key=lambda p: -p[0].score
        ):
            if size + 1 <= room:
                chosen.append(sentence)
                room -= size + 1
        if not chosen:
            continue
        chosen.sort(key=lambda s: s.index)
        kept.append(
            Source(
                len(kept) + 1,
                source.paper_id,
                source.title,
                chosen,
                source.answerability,
                source.url,
            )
        )
        left = room
    return kept


def _quote(text: str) -> str:
    # Abstracts are data: they must not be able to close the <source> element around them.
    return text.replace("</source", "</ source").replace("<source", "< source")


def _render(n: int, title: str, text: str) -> str:
    return prompts.render("source", n=n, title=_quote(title).replace('"', "'"), text=_quote(text))


def chat_messages(question: str, sources: list[Source], max_sentences: int) -> list[dict[str, str]]:
    no_answer = prompts.render("no_answer").strip()
    # Without the abstracts' reference numbers, which the LLM would copy as source markers.
    blocks = "\n\n".join(
        _render(s.n, s.title, " ".join(drop_references(x.text) for x in s.sentences))
        for s in sources
    )
    return [
        {
            "role": "system",
            "content": prompts.render("system", max_sentences=max_sentences, no_answer=no_answer),
        },
        {
            "role": "user",
            "content": prompts.render(
                "answer", sources=blocks, question=question, max_sentences=max_sentences
            ),
        },
    ]
