"""Whether the retrieved papers answer a question at all.

A paper's answerability score is its dense (cosine) relevance plus a weighted *coverage*:
the IDF²-weighted share of the question's terms (stemmed, stop words removed) that occur in
the paper's title or abstract. Squaring lets the rare, distinctive terms decide ("AlphaFold",
"speculative decoding"): a paper sharing only a question's common words is not its answer.
Dense similarity alone confuses on-topic questions the corpus does not answer with
paraphrased ones it does; a question whose distinctive terms appear nowhere in the paper is
rarely answered by it. A term also counts as occurring when a term of the paper starts with
the same five letters (truncation to five characters, a classic light stemmer): the Snowball
stems of a question's paraphrase and the abstract's wording often differ only in their ending
("behav" / "behavior", "critiqu" / "critic", "syntax" / "syntact"). Weight and threshold are
tuned on the development question set (benchmarks/bench_answers.py, docs/benchmarks.md).
"""

from __future__ import annotations

from functools import lru_cache

from indexer import Paper, tokenize

PREFIX = 5  # letters two stems share to count as one term


@lru_cache(maxsize=65536)
def _terms(text: str) -> frozenset[str]:
    return frozenset(tokenize([text])[0])


@lru_cache(maxsize=65536)
def _prefixes(terms: frozenset[str]) -> frozenset[str]:
    return frozenset(term[:PREFIX] for term in terms if len(term) >= PREFIX)


def paper_terms(paper: Paper) -> frozenset[str]:
    return _terms(f"{paper.title} {paper.abstract}")


def occurs(term: str, terms: frozenset[str]) -> bool:
    """``term`` is one of ``terms``, or shares its first ``PREFIX`` letters with one."""
    return term in terms or (len(term) >= PREFIX and term[:PREFIX] in _prefixes(terms))


def coverage(weights: dict[str, float], paper: Paper) -> float:
    """Share of the question's squared term weight (IDF²) that occurs in the paper (0..1)."""
    total = sum(w * w for w in weights.values())
    if total <= 0:
        return 0.0
    terms = paper_terms(paper)
    return sum(w * w for term, w in weights.items() if occurs(term, terms)) / total


def answerability(relevance: float, covered: float, coverage_weight: float) -> float:
    return relevance + coverage_weight * covered
