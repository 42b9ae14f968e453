"""Whether the retrieved papers answer a question at all.

A paper's answerability score is its dense (cosine) relevance plus a weighted *coverage*:
the IDF-weighted share of the question's terms (stemmed, stop words removed) that occur in
the paper's title or abstract, each term weighing its IDF to the power ``IDF_POWER``: the
rare, distinctive terms decide ("AlphaFold", "speculative decoding"), so a paper sharing only
a question's common words is not its answer. Dense similarity alone confuses on-topic
questions the corpus does not answer with paraphrased ones it does; a question whose
distinctive terms appear nowhere in the paper is rarely answered by it. With ``prefix`` > 0 a
term also counts as occurring when a term of the paper starts with the same ``prefix`` letters
(truncation, a classic light stemmer: the Snowball stems of a paraphrase and the abstract's
wording may differ only in their ending, "behavior" / "behaviour"). On the grown dev set it
did not separate better than exact stems, so the default is off (``PREFIX`` = 0).

Threshold (settings.answering.abstain_min_score), coverage weight
(settings.answering.abstain_coverage_weight), IDF power and prefix length are chosen together
by 5-fold cross-validation over the bundled dev questions (benchmarks/cv_abstention.py,
service/answering/tuning.py; the held-out rates are in benchmarks/results/cv_abstention.json).
"""

from __future__ import annotations

from functools import lru_cache

from indexer import Paper, distinct_terms

PREFIX = 0  # letters two stems share to count as one term (0: exact stems only)
IDF_POWER = 1.0  # a term's share of the question is its IDF to this power


@lru_cache(maxsize=65536)
def text_terms(text: str) -> frozenset[str]:
    """The distinct stemmed terms (stop words removed) of ``text``, as BM25 indexes them."""
    return distinct_terms([text])[0]


@lru_cache(maxsize=65536)
def _prefixes(terms: frozenset[str], prefix: int) -> frozenset[str]:
    return frozenset(term[:prefix] for term in terms if len(term) >= prefix)


def paper_terms(paper: Paper) -> frozenset[str]:
    """The terms of the paper's title and abstract, as the union of its title's and sentences'
    terms: the same set (the sentences are verbatim and cover the abstract, and no term spans
    the space between two), and search snippets score those sentences, so each is tokenized
    once per request."""
    return text_terms(paper.title).union(*(text_terms(s) for s in paper.sentences))


def occurs(term: str, terms: frozenset[str], prefix: int = PREFIX) -> bool:
    """``term`` is one of ``terms``, or shares its first ``prefix`` letters with one."""
    if term in terms:
        return True
    return 0 < prefix <= len(term) and term[:prefix] in _prefixes(terms, prefix)


def coverage(
    weights: dict[str, float], paper: Paper, idf_power: float = IDF_POWER, prefix: int = PREFIX
) -> float:
    """Share of the question's term weight (IDF to ``idf_power``) that occurs in the paper
    (0..1)."""
    powered = {term: max(w, 0.0) ** idf_power for term, w in weights.items()}
    total = sum(powered.values())
    if total <= 0:
        return 0.0
    terms = paper_terms(paper)
    return sum(w for term, w in powered.items() if occurs(term, terms, prefix)) / total


def answerability(relevance: float, covered: float, coverage_weight: float) -> float:
    return relevance + coverage_weight * covered
