"""Citation verification: markers that name no source are removed, and each answer sentence
is checked against the sentences of the papers it cites (cosine similarity with the index's
embedder). The quote of a citation is the sentences of the abstract that support it, verbatim,
with " … " where it skips sentences of the abstract.

Every bracketed number in an answer is read as a marker the backend placed: abstracts' own
reference numbers never reach an answer (answering/references.py). One the LLM copied anyway
from elsewhere names no source or is a range ("[2-4]"), and is removed and counted."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from indexer import clean, split_sentences
from service.answering.references import REFERENCE, drop_references
from service.backends.base import Source

_MARKER = re.compile(r"\[\s*(\d{1,3}(?:\s*[,;]\s*\d{1,3})*)\s*\]")
_LEADING_MARKERS = re.compile(r"^(?:\s*\[\s*\d{1,3}(?:\s*[,;]\s*\d{1,3})*\s*\])+")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([.,;:!?])")
# Markers after a sentence's final punctuation, and a sentence opening after them: a boundary
# Punkt can miss (after "..", a sentence of the synthetic 1M corpus's: the claim then holds two
# verbatim sentences, matches none, and its paper's sentences are embedded to check it).
_MARKED_END = re.compile(r"(?<=[.!?])(\s*\[\s*\d{1,3}(?:\s*[,;]\s*\d{1,3})*\s*\])+\s+(?=[A-Z])")
GAP = " … "  # between quoted sentences that are not adjacent in the abstract

Embed = Callable[[list[str]], np.ndarray]


@dataclass
class CheckedSentence:
    text: str  # as shown in the answer, with its markers
    cited: list[int]
    # For each cited source n: (similarity, index) of its sentence most similar to this one.
    evidence: dict[int, tuple[float, int]] = field(default_factory=dict)
    supported: bool = False

    @property
    def score(self) -> float | None:
        return max((score for score, _ in self.evidence.values()), default=None)


@dataclass
class Citation:
    n: int
    source: Source
    sentence_indices: list[int]
    quote: str
    score: float
    supported: bool


@dataclass
class Verified:
    answer: str
    sentences: list[CheckedSentence]
    citations: list[Citation]
    removed_markers: int = 0
    unsupported: int = field(init=False)

    def __post_init__(self) -> None:
        self.unsupported = sum(1 for s in self.sentences if not s.supported)


def _numbers(group: str) -> list[int]:
    return [int(x) for x in re.split(r"[,;]", group)]


def remove_unknown_markers(text: str, valid: set[int]) -> tuple[str, int]:
    """Drop every ``[n]`` whose n names no source (``[1, 9]`` keeps ``[1]``), and every
    bracketed range (``[2-4]``: a reference copied from an abstract, never a marker), each
    counted once."""
    removed = 0

    def keep(reference: re.Match[str]) -> str:
        nonlocal removed
        match = _MARKER.fullmatch(reference.group(0))
        if match is None:
            removed += 1
            return ""
        numbers = _numbers(match.group(1))
        good = [n for n in numbers if n in valid]
        removed += len(numbers) - len(good)
        return "".join(f"[{n}]" for n in dict.fromkeys(good))

    cleaned = REFERENCE.sub(keep, text)
    return _SPACE_BEFORE_PUNCT.sub(r"\1", clean(cleaned)), removed


def segment(text: str) -> list[tuple[str, list[int]]]:
    """Answer sentences with the source numbers each cites; markers that open a sentence
    (``... end. [2] Next``) belong to the sentence before."""
    pieces: list[list[str]] = []
    for sentence in _marked_ends(split_sentences(text)):
        lead = _LEADING_MARKERS.match(sentence)
        if lead and pieces:
            pieces[-1].append(lead.group(0).strip())
            sentence = sentence[lead.end() :].strip()
        if sentence:
            pieces.append([sentence])
    out = []
    for parts in pieces:
        shown = " ".join(parts)
        cited = list(
            dict.fromkeys(n for m in _MARKER.finditer(shown) for n in _numbers(m.group(1)))
        )
        out.append((shown, cited))
    return out


def _marked_ends(sentences: list[str]) -> list[str]:
    """``sentences`` split again after each ``_MARKED_END`` inside one."""
    out = []
    for sentence in sentences:
        start = 0
        for end in _MARKED_END.finditer(sentence):
            out.append(sentence[start : end.end()].strip())
            start = end.end()
        out.append(sentence[start:].strip())
    return [s for s in out if s]


def claim_of(sentence: str) -> str:
    return _SPACE_BEFORE_PUNCT.sub(r"\1", clean(_MARKER.sub(" ", sentence)))


def verify(
    answer: str,
    sources: list[Source],
    sentence_vectors: Callable[[list[str]], dict[str, np.ndarray]],
    paper_sentences: dict[str, list[str]],
    embed: Embed,
    threshold: float,
) -> Verified:
    """``sentence_vectors``: the papers' sentence vectors, asked only for the papers cited by
    a claim that is not one of their sentences verbatim (an extractive answer needs none: on
    an index too large for the sentence cache they are embedded on demand)."""
    by_n = {s.n: s for s in sources}
    text, removed = remove_unknown_markers(answer, set(by_n))
    segments = segment(text)
    claims = [claim_of(shown) for shown, _ in segments]
    # Sentences as answers copy them: without the abstract's own reference numbers.
    copied = {
        s.paper_id: [drop_references(x) for x in paper_sentences[s.paper_id]] for s in sources
    }
    # A claim that is a verbatim sentence of a cited abstract needs no embedding.
    to_embed = [
        i
        for i, (_, cited) in enumerate(segments)
        if cited and not any(claims[i] in copied[by_n[n].paper_id] for n in cited)
    ]
    vectors = embed([claims[i] for i in to_embed]) if to_embed else None
    claim_vectors = dict(zip(to_embed, vectors, strict=True)) if vectors is not None else {}
    needed = list(dict.fromkeys(by_n[n].paper_id for i in to_embed for n in segments[i][1]))
    paper_vectors = sentence_vectors(needed) if needed else {}

    checked: list[CheckedSentence] = []
    for i, (shown, cited) in enumerate(segments):
        sentence = CheckedSentence(shown, cited)
        for n in cited:
            paper_id = by_n[n].paper_id
            if claims[i] in copied[paper_id]:
                sentence.evidence[n] = (1.0, copied[paper_id].index(claims[i]))
            elif i in claim_vectors and len(paper_vectors[paper_id]):
                similarities = paper_vectors[paper_id] @ claim_vectors[i]
                best = int(np.argmax(similarities))
                sentence.evidence[n] = (float(similarities[best]), best)
        sentence.supported = (sentence.score or 0.0) >= threshold if cited else False
        checked.append(sentence)
    return Verified(text, checked, _citations(checked, by_n, paper_sentences, threshold), removed)


def _citations(
    checked: list[CheckedSentence],
    by_n: dict[int, Source],
    paper_sentences: dict[str, list[str]],
    threshold: float,
) -> list[Citation]:
    citations = []
    for n in dict.fromkeys(n for s in checked for n in s.cited):
        evidence = [s.evidence[n] for s in checked if n in s.evidence]
        # Quote only sentences that support some claim citing n; the nearest neighbour of an
        # unsupported claim is not evidence. With no support at all, show the closest ones.
        supporting = [e for e in evidence if e[0] >= threshold]
        indices = sorted({index for _, index in supporting or evidence})
        score = max((sim for sim, _ in evidence), default=0.0)
        sentences = paper_sentences[by_n[n].paper_id]
        citations.append(
            Citation(
                n=n,
                source=by_n[n],
                sentence_indices=indices,
                quote=join_quote(sentences, indices),
                score=score,
                supported=score >= threshold,
            )
        )
    return citations


def join_quote(sentences: list[str], indices: list[int]) -> str:
    """The sentences at ``indices`` (ascending), verbatim: adjacent ones joined by a space,
    with ``GAP`` wherever abstract sentences are left out between them."""
    parts: list[str] = []
    for position, i in enumerate(indices):
        if position:
            parts.append(" " if i == indices[position - 1] + 1 else GAP)
        parts.append(sentences[i])
    return "".join(parts)
