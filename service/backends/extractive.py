"""The default backend: an answer made of the abstracts' own most relevant sentences.

Needs no LLM and is deterministic. The most relevant paper always contributes; others
contribute only when they are about as relevant to the question (within ``paper_margin`` of
it: a tenth of the relevance scale, ``paper_margin_for``), at most ``max_per_source``
sentences each, taken round-robin so one paper cannot fill the answer while others are
relevant. Papers appear most relevant first, each with its sentences in
abstract order, each sentence followed by its [n]. A sentence's own reference numbers ("[2]",
"[12, 13]") are dropped: in the answer they would read as markers naming sources.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from service.answering.references import drop_references
from service.backends.base import (
    AnswerBackend,
    AnswerPrompt,
    Source,
    SourceSentence,
    TokenUsage,
)


def paper_margin_for(coverage_weight: float) -> float:
    """A tenth of the scale of a source's relevance (its answerability: a dense cosine up to 1
    plus up to ``coverage_weight`` of term coverage), so that "about as relevant" keeps its
    meaning when the coverage weight is retuned (0.15 at the weight of 0.5 it was set for)."""
    return 0.1 * (1 + coverage_weight)


class ExtractiveBackend(AnswerBackend):
    name = "extractive"

    def __init__(
        self,
        max_per_source: int = 2,
        paper_margin: float = paper_margin_for(0.5),
        sentence_margin: float = 0.1,
    ) -> None:
        self.max_per_source = max_per_source
        self.paper_margin = paper_margin
        self.sentence_margin = sentence_margin

    @classmethod
    def for_coverage_weight(cls, coverage_weight: float) -> ExtractiveBackend:
        """The backend with the paper margin that suits sources scored with this weight."""
        return cls(paper_margin=paper_margin_for(coverage_weight))

    def _candidates(self, source: Source) -> list[SourceSentence]:
        ranked = sorted(
            (s for s in source.sentences if drop_references(s.text)),
            key=lambda s: (-s.score, s.index),
        )
        if not ranked:
            return []
        cutoff = ranked[0].score - self.sentence_margin
        return [s for s in ranked if s.score >= cutoff][: self.max_per_source]

    def select(self, prompt: AnswerPrompt) -> list[tuple[Source, SourceSentence]]:
        """The chosen sentences, grouped by source (most relevant first), in abstract order."""
        sources = [s for s in prompt.sources if s.sentences]
        if not sources:
            return []
        sources.sort(key=lambda s: (-s.answerability, s.n))
        floor = sources[0].answerability - self.paper_margin
        eligible = [s for s in sources if s.answerability >= floor]
        candidates = {s.n: self._candidates(s) for s in eligible}
        chosen: dict[int, list[SourceSentence]] = {s.n: [] for s in eligible}
        taken = 0
        for round_ in range(self.max_per_source):
            for source in eligible:
                if taken < prompt.max_sentences and round_ < len(candidates[source.n]):
                    chosen[source.n].append(candidates[source.n][round_])
                    taken += 1
        return [(s, x) for s in eligible for x in sorted(chosen[s.n], key=lambda x: x.index)]

    def pieces(self, prompt: AnswerPrompt) -> list[str]:
        chosen = self.select(prompt)
        return [
            f"{drop_references(sentence.text)} [{source.n}]" + (" " if i < len(chosen) - 1 else "")
            for i, (source, sentence) in enumerate(chosen)
        ]

    def compose(self, prompt: AnswerPrompt) -> str:
        return "".join(self.pieces(prompt))

    async def stream(
        self, prompt: AnswerPrompt, usage: TokenUsage | None = None
    ) -> AsyncIterator[str]:
        for piece in self.pieces(prompt):
            yield piece
