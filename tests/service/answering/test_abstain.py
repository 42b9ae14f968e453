"""Coverage counts a question's term as present when the paper has it, or (with a prefix
length) a word sharing its first letters."""

from __future__ import annotations

from indexer import IndexVersion, tokenize
from service.answering.abstain import occurs, paper_terms


def _stems(text: str) -> frozenset[str]:
    return frozenset(tokenize([text])[0])


def test_a_paraphrase_with_another_ending_of_the_same_root_counts_as_covered() -> None:
    abstract = _stems("The student model shows deceptive behavior and hallucinatory content.")
    for word in ("behaviour", "hallucinations"):
        (stem,) = _stems(word)
        assert occurs(stem, abstract, prefix=7), word
        assert not occurs(stem, abstract), word  # the default compares whole stems


def test_the_prefix_length_decides_how_much_of_a_root_two_terms_must_share() -> None:
    abstract = _stems("The student model shows deceptive behavior and syntactic critics.")
    for word in ("behave", "syntax", "critiques"):
        (stem,) = _stems(word)
        assert occurs(stem, abstract, prefix=5), word
        assert not occurs(stem, abstract, prefix=7), word
        assert not occurs(stem, abstract, prefix=0), word


def test_short_terms_must_match_exactly_and_other_roots_do_not_count() -> None:
    abstract = _stems("Models run on GPUs and decode tokens.")
    (gpus,) = _stems("GPUs")
    assert occurs(gpus, abstract)
    (gpu,) = _stems("GPU")
    assert not occurs(gpu, _stems("Models run on CPUs."))
    (speculative,) = _stems("speculative")
    assert not occurs(speculative, abstract)


def test_a_papers_terms_from_its_sentences_are_those_of_its_whole_title_and_abstract(
    corpus_index: IndexVersion,
) -> None:
    papers = corpus_index.papers.many(list(corpus_index.papers))
    assert len(papers) == 54
    for paper in papers.values():
        assert paper_terms(paper) == _stems(f"{paper.title} {paper.abstract}"), paper.paper_id
