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

_NUMBERS = r"\d{1,3}(?:\s*[,;]\s*\d{1,3})*"
_ONE_MARKER = rf"\[\s*{_NUMBERS}\s*\]"
_MARKER = re.compile(rf"\[\s*({_NUMBERS})\s*\]")
_LEADING_MARKERS = re.compile(rf"^(?:\s*{_ONE_MARKER})+")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([.,;:!?])")
# Markers after a sentence's final punctuation, and a capital after them: where an answer that
# quotes sentences ends one. Punkt can keep going (after "..", which sentences of the synthetic
# 1M corpus end with); ``_verbatim_pieces`` splits there when each piece is then a quote.
_MARKED_END = re.compile(rf"(?<=[.!?])(\s*{_ONE_MARKER})+\s+(?=[A-Z])")
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
    for sentence in split_sentences(text):
        lead = _LEADING_MARKERS.match(sentence)
        if lead and pieces:
            pieces[-1].append(lead.group(0).strip())
            sentence = sentence[lead.end() :].strip()
        if sentence:
            pieces.append([sentence])
    return [_with_cited(" ".join(parts)) for parts in pieces]


def _with_cited(shown: str) -> tuple[str, list[int]]:
    """(an answer sentence, the source numbers its markers name, in order)."""
    cited = dict.fromkeys(n for m in _MARKER.finditer(shown) for n in _numbers(m.group(1)))
    return shown, list(cited)


def _verbatim_pieces(
    segments: list[tuple[str, list[int]]], quoted: Callable[[str, list[int]], bool]
) -> list[tuple[str, list[int]]]:
    """``segments``, each that quotes none of its cited papers split after the marked sentence
    ends inside it (``_MARKED_END``) when every piece then quotes one of its own: an answer
    that quotes two sentences, each with its marker, is two claims, however Punkt split it.
    Anything else (an abbreviation before a marker: "e.g. [2] DPR") is left as it was."""
    out = []
    for shown, cited in segments:
        ends = [m.end() for m in _MARKED_END.finditer(shown)]
        bounds = zip([0, *ends], [*ends, len(shown)], strict=True)
        pieces = [_with_cited(shown[a:b].strip()) for a, b in bounds]
        if ends and not quoted(shown, cited) and all(quoted(*piece) for piece in pieces):
            out.extend(pieces)
        else:
            out.append((shown, cited))
    return out


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
    # Sentences as answers copy them: without the abstract's own reference numbers.
    copied = {
        s.paper_id: [drop_references(x) for x in paper_sentences[s.paper_id]] for s in sources
    }

    def quotes(claim: str, cited: list[int]) -> bool:
        return any(claim in copied[by_n[n].paper_id] for n in cited)

    segments = _verbatim_pieces(segment(text), lambda s, c: quotes(claim_of(s), c))
    claims = [claim_of(shown) for shown, _ in segments]
    # A claim that is a verbatim sentence of a cited abstract needs no embedding.
    to_embed = [
        i for i, (_, cited) in enumerate(segments) if cited and not quotes(claims[i], cited)
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
