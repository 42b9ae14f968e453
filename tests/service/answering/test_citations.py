"""Citation verification with the real embedder."""

from __future__ import annotations

import numpy as np

from indexer.embedders.base import Embedder
from service.answering.citations import remove_unknown_markers, segment, verify
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


def check(answer: str, embedder: Embedder, threshold: float = 0.525):
    vectors = {pid: embedder.embed_documents(s) for pid, s in PAPERS.items()}
    return verify(answer, sources(), vectors, PAPERS, embedder.embed_documents, threshold)


def test_markers_naming_no_source_are_removed() -> None:
    assert remove_unknown_markers("A [1]. B [3]. C [2, 9].", {1, 2}) == ("A [1]. B. C [2].", 2)


def test_markers_after_the_full_stop_belong_to_the_sentence_before() -> None:
    assert segment("First claim. [1] Second claim [2]. Third. [1][2]") == [
        ("First claim. [1]", [1]),
        ("Second claim [2].", [2]),
        ("Third. [1][2]", [1, 2]),
    ]


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
