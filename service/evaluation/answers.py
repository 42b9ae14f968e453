"""Evaluation of answering on a question set: retrieval, citations, abstention, verification.

A question set is JSON Lines of ``{"question", "gold"}`` (gold: paper ids or titles; empty
means the corpus cannot answer it; other keys are ignored). A claim set, for tuning citation
verification, is JSON Lines of ``{"claim", "paper_id", "supported"}``.

Retrieval metrics (hit@1, recall@5, MRR over the top 10 of hybrid search) count answerable
questions; citation precision counts every paper cited by a non-abstaining answer, so a
citation answering an unanswerable question counts against it; the supported share counts
the sentences of non-abstaining answers.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from indexer import EvaluationInputError, json_objects, mrr_at_k, normalise_title, recall_at_k
from service.answering.tuning import Case
from service.ask.models import AskRequest
from service.ask.service import AskService
from service.runtime.state import ServiceState
from service.search.models import SearchRequest
from service.search.service import SearchService, retrieve


@dataclass
class QuestionResult:
    question: str
    gold: list[str]
    ranked: list[str]
    abstained: bool
    answerability: float
    cited: list[str]
    sentences: int
    supported: int
    degraded: bool = False


@dataclass
class AnswerReport:
    questions: int
    answerable: int
    unanswerable: int
    hit_at_1: float
    recall_at_5: float
    mrr: float
    citation_precision: float
    supported_share: float
    abstention_accuracy: float
    false_abstentions: int
    degraded: int = 0
    results: list[QuestionResult] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("results")
        return out


def read_questions(path: Path) -> list[dict[str, Any]]:
    """A question set, checked: raises ``EvaluationInputError`` naming the file and line."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise EvaluationInputError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise EvaluationInputError(f"{path}: cannot read: {exc}") from exc
    questions = []
    for where, row in json_objects(path, lines, "question and gold"):
        question, gold = row.get("question"), row.get("gold", [])
        if not isinstance(question, str) or not question.strip():
            raise EvaluationInputError(f"{where}: no question (a non-empty string)")
        if gold is None:
            gold = []
        if not isinstance(gold, list) or not all(isinstance(g, str) for g in gold):
            raise EvaluationInputError(
                f"{where}: gold must be a list of paper ids or titles (empty: unanswerable)"
            )
        questions.append(row | {"gold": gold})
    if not questions:
        raise EvaluationInputError(f"{path}: no questions")
    return questions


def _resolve_gold(state: ServiceState, gold: list[str]) -> list[str]:
    """Gold entries may be paper ids or titles (matched after ``normalise_title``)."""
    papers = state.loaded.index.papers
    by_title = {normalise_title(p.title): p.paper_id for p in papers.values()}
    return [g if g in papers else by_title.get(normalise_title(g), g) for g in gold]


def unknown_gold(state: ServiceState, questions: list[dict[str, Any]]) -> list[str]:
    """Gold entries naming no paper of the index (neither an id nor a title), as they are
    written; such an entry can never be retrieved or cited."""
    papers = state.loaded.index.papers
    return [
        g
        for item in questions
        for g, resolved in zip(item["gold"], _resolve_gold(state, item["gold"]), strict=True)
        if resolved not in papers
    ]


async def evaluate_answers(
    state: ServiceState, questions: list[dict[str, Any]], backend: str | None = None
) -> AnswerReport:
    search, ask = SearchService(state), AskService(state)
    results = []
    try:
        for item in questions:
            gold = _resolve_gold(state, list(item.get("gold") or []))
            ranked = [
                r.paper_id
                for r in search.search(SearchRequest(query=item["question"], top_k=10)).results
            ]
            prepared = await ask.prepare(AskRequest(question=item["question"], backend=backend))
            answer = await ask.complete(prepared)
            results.append(
                QuestionResult(
                    question=item["question"],
                    gold=gold,
                    ranked=ranked,
                    abstained=answer.abstained,
                    answerability=answer.answerability,
                    cited=[c.paper_id for c in answer.citations],
                    sentences=len(answer.sentences),
                    supported=sum(1 for s in answer.sentences if s.supported),
                    degraded=answer.degraded,
                )
            )
    finally:
        await ask.aclose()
    return _report(results)


def abstention_cases(state: ServiceState, questions: list[dict[str, Any]]) -> list[Case]:
    """Each question as /v1/ask sees it before deciding to abstain: its terms' IDF and its
    retrieved papers (the ask path's top-k of hybrid search) with their dense relevance."""
    loaded, top_k = state.loaded, state.settings.retrieval.ask_top_k
    cases = []
    for item in questions:
        question = item["question"].strip()
        vector = state.query_encoder.encode_sync(question)
        retrieved = retrieve(loaded, question, vector, top_k, "hybrid")
        cases.append(
            Case(
                answerable=bool(item.get("gold")),
                weights=loaded.index.bm25.term_weights(question),
                hits=[
                    (similarity, hit.paper)
                    for similarity, hit in zip(
                        retrieved.dense_similarities(loaded), retrieved.hits, strict=True
                    )
                ],
            )
        )
    return cases


def _report(results: list[QuestionResult]) -> AnswerReport:
    answerable = [r for r in results if r.gold]
    unanswerable = [r for r in results if not r.gold]

    def judged(r: QuestionResult) -> dict[str, int]:
        return dict.fromkeys(r.gold, 1)

    cited = [p in r.gold for r in results if not r.abstained for p in r.cited]
    sentences = sum(r.sentences for r in results if not r.abstained)
    return AnswerReport(
        questions=len(results),
        answerable=len(answerable),
        unanswerable=len(unanswerable),
        # hit@1 is MRR cut at rank 1; MRR itself is over the whole ranking.
        hit_at_1=_mean([mrr_at_k(r.ranked, judged(r), 1) for r in answerable]),
        recall_at_5=_mean([recall_at_k(r.ranked, judged(r), 5) for r in answerable]),
        mrr=_mean([mrr_at_k(r.ranked, judged(r), len(r.ranked)) for r in answerable]),
        citation_precision=_mean(cited),
        supported_share=sum(r.supported for r in results) / sentences if sentences else 0.0,
        abstention_accuracy=_mean([r.abstained for r in unanswerable]),
        false_abstentions=sum(1 for r in answerable if r.abstained),
        degraded=sum(1 for r in results if r.degraded),
        results=results,
    )


def _mean(values: list[float] | list[bool]) -> float:
    return float(np.mean(values)) if values else 0.0


def claim_similarities(
    state: ServiceState, claims: list[dict[str, Any]]
) -> list[tuple[float, bool]]:
    """For each claim: its best cosine with a sentence of the named paper, and its label."""
    loaded = state.loaded
    vectors = loaded.embedder.embed_documents([c["claim"] for c in claims])
    sentences = loaded.sentences.get(list(dict.fromkeys(c["paper_id"] for c in claims)))
    return [
        (float((sentences[c["paper_id"]] @ v).max()), bool(c["supported"]))
        for c, v in zip(claims, vectors, strict=True)
    ]


def best_threshold(pairs: list[tuple[float, bool]]) -> tuple[float, float]:
    """The threshold (midpoint between neighbouring scores) with the highest accuracy."""
    scores = sorted({s for s, _ in pairs})
    candidates = [(a + b) / 2 for a, b in itertools.pairwise(scores)] or scores
    best = max(candidates, key=lambda t: (accuracy(pairs, t), -abs(t - 0.5)))
    return best, accuracy(pairs, best)


def accuracy(pairs: list[tuple[float, bool]], threshold: float) -> float:
    return _mean([(score >= threshold) == label for score, label in pairs])
