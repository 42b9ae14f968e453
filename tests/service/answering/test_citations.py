"""Citation verification with the real embedder."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from indexer.embedders.base import Embedder
from service.answering.citations import GAP, join_quote, remove_unknown_markers, segment, verify
from service.backends.base import Source, SourceSentence

PAPERS = {
    "a": ["We propose a sparse fine-tuning method for cross-lingual transfer.",
          "It outperforms adapters on MasakhaNER by a large margin."],
    "b": ["Titans add a neural long-term memory that learns at test time.",
          "The memory scales to context windows beyond two million tokens."],
}  # fmt: skip


def sources() -> list[Source]:
    return [
        Source(
            n, pid, pid.upper(), [SourceSentence(i, s, 0.5) for i, s in enumerate(PAPERS[pid])], 0.9
        )
        for n, pid in ((1, "a"), (2, "b"))
    ]


def lookup(vectors: dict[str, np.ndarray]) -> Callable[[list[str]], dict[str, np.ndarray]]:
    return lambda ids: {p: vectors[p] for p in ids}


def check(answer: str, embedder: Embedder, threshold: float = 0.525):
    vectors = {pid: embedder.embed_documents(s) for pid, s in PAPERS.items()}
    return verify(answer, sources(), lookup(vectors), PAPERS, embedder.embed_documents, threshold)


def test_markers_naming_no_source_are_removed() -> None:
    assert remove_unknown_markers("A [1]. B [3]. C [2, 9].", {1, 2}) == ("A [1]. B. C [2].", 2)


def test_markers_after_the_full_stop_belong_to_the_sentence_before() -> None:
    assert segment("First claim. [1] Second claim [2]. Third. [1][2]") == [
        ("First claim. [1]", [1]),
        ("Second claim [2].", [2]),
        ("Third. [1][2]", [1, 2]),
    ]


def test_a_marker_after_an_abbreviation_leaves_the_claim_whole(embedder: Embedder) -> None:
    answer = "Sparse fine-tuning, e.g. [1] MasakhaNER's results, beats adapters [1]."
    verified = check(answer, embedder)
    assert [s.text for s in verified.sentences] == [answer]
    assert verified.sentences[0].cited == [1]


def test_quoted_sentences_are_claims_of_their_own_however_punkt_splits_them() -> None:
    papers = {"a": ["Costs matter less to decision makers..", "Budgets grew."],
              "b": ["A correlation predicts index terms.", "Nine indexes were studied."]}  # fmt: skip
    cited = [
        Source(n, p, p, [SourceSentence(i, s, 0.5) for i, s in enumerate(papers[p])], 0.9)
        for n, p in ((1, "a"), (2, "b"))
    ]

    def no_model(_: list[str]) -> np.ndarray:
        raise AssertionError("a verbatim quote was embedded")

    answer = f"{papers['a'][0]} [1] {papers['b'][0]} [2]"
    assert len(segment(answer)) == 1  # Punkt keeps going after ".."
    verified = verify(answer, cited, lambda ids: {}, papers, no_model, 0.5)
    assert [s.text for s in verified.sentences] == [
        f"{papers['a'][0]} [1]",
        f"{papers['b'][0]} [2]",
    ]
    assert [s.supported for s in verified.sentences] == [True, True]
    assert [(c.n, c.sentence_indices) for c in verified.citations] == [(1, [0]), (2, [0])]


def test_a_verbatim_sentence_is_supported_and_quoted(embedder: Embedder) -> None:
    verified = check(PAPERS["b"][1] + " [2]", embedder)
    assert verified.unsupported == 0
    (citation,) = verified.citations
    assert (
        citation.quote == PAPERS["b"][1] and citation.sentence_indices == [1] and citation.supported
    )


def test_a_paraphrase_is_supported_by_its_best_sentence(embedder: Embedder) -> None:
    verified = check(
        "The sparse method beats adapters on MasakhaNER by a wide margin [1].", embedder
    )
    assert verified.sentences[0].supported
    assert verified.citations[0].quote == PAPERS["a"][1]


def test_a_claim_the_cited_paper_does_not_make_is_unsupported(embedder: Embedder) -> None:
    verified = check(
        "Titans add a neural long-term memory that learns at test time [2]. "
        "The authors won a cooking contest in Paris [1].",
        embedder,
    )
    assert [s.supported for s in verified.sentences] == [True, False]
    assert verified.unsupported == 1
    assert {c.n: c.supported for c in verified.citations} == {2: True, 1: False}


def test_a_sentence_without_a_citation_is_counted_unsupported(embedder: Embedder) -> None:
    verified = check("Here is some framing. " + PAPERS["a"][0] + " [1]", embedder)
    assert [s.cited for s in verified.sentences] == [[], [1]]
    assert verified.unsupported == 1


def test_a_wrongly_attributed_claim_is_checked_against_the_cited_paper_only(
    embedder: Embedder,
) -> None:
    verified = check(PAPERS["b"][0] + " [1]", embedder)
    assert not verified.sentences[0].supported
    assert np.isclose(verified.sentences[0].score or 0, verified.citations[0].score)


def test_a_quote_of_the_first_and_third_sentences_marks_the_gap_between_them() -> None:
    sentences = ["One.", "Two.", "Three.", "Four."]
    assert join_quote(sentences, [0, 2]) == "One." + GAP + "Three." == "One. … Three."
    assert join_quote(sentences, [0, 1, 3]) == "One. Two. … Four."
    assert join_quote(sentences, [2]) == "Three."


def test_a_citation_of_two_non_adjacent_sentences_quotes_both_with_the_gap(
    embedder: Embedder,
) -> None:
    papers = {
        "a": ["Sparse fine-tuning composes masks across languages.", "We thank reviewers.",
              "It outperforms adapters on MasakhaNER by a large margin."],
        "b": PAPERS["b"],
    }  # fmt: skip
    numbered = [
        Source(n, pid, pid, [SourceSentence(i, x, 0.5) for i, x in enumerate(papers[pid])], 0.9)
        for n, pid in ((1, "a"), (2, "b"))
    ]
    vectors = {pid: embedder.embed_documents(s) for pid, s in papers.items()}
    answer = f"{papers['a'][0]} [1] {papers['a'][2]} [1]"
    verified = verify(answer, numbered, lookup(vectors), papers, embedder.embed_documents, 0.525)
    (citation,) = verified.citations
    assert citation.sentence_indices == [0, 2]
    assert citation.quote == f"{papers['a'][0]} … {papers['a'][2]}"


def test_a_copied_reference_range_is_no_marker_and_is_removed_and_counted() -> None:
    assert remove_unknown_markers("Otters decline [2-4] [1]. Kelp grows [2–3].", {1, 2, 3}) == (
        "Otters decline [1]. Kelp grows.",
        2,
    )


def test_an_abstract_sentence_with_reference_numbers_supports_the_answer_without_them(
    embedder: Embedder,
) -> None:
    papers = {"a": ["Kelp forests collapse when sea otters decline [2].", "We model it [12, 13]."]}
    sentences = [SourceSentence(i, x, 0.5) for i, x in enumerate(papers["a"])]
    numbered = [Source(1, "a", "A", sentences, 0.9)]
    vectors = {"a": embedder.embed_documents(papers["a"])}
    answer = "Kelp forests collapse when sea otters decline [1]."
    verified = verify(answer, numbered, lookup(vectors), papers, embedder.embed_documents, 0.525)
    assert verified.removed_markers == 0
    assert verified.sentences[0].evidence == {1: (1.0, 0)}
    (citation,) = verified.citations
    assert citation.quote == papers["a"][0]  # verbatim, its [2] included


def test_an_answer_of_verbatim_sentences_asks_for_no_sentence_vectors(embedder: Embedder) -> None:
    asked: list[list[str]] = []

    def vectors(ids: list[str]) -> dict[str, np.ndarray]:
        asked.append(ids)
        return {p: embedder.embed_documents(PAPERS[p]) for p in ids}

    verbatim = f"{PAPERS['a'][0]} [1] {PAPERS['b'][1]} [2]"
    verified = verify(verbatim, sources(), vectors, PAPERS, embedder.embed_documents, 0.525)
    assert asked == [] and all(s.supported for s in verified.sentences)

    reworded = "Adapters are beaten on named-entity recognition by sparse fine-tuning [1]."
    verify(reworded, sources(), vectors, PAPERS, embedder.embed_documents, 0.525)
    assert asked == [["a"]]
