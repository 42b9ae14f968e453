"""Turning the latest message of a conversation into a standalone question for retrieval.

The first user message of a conversation is its own standalone question. For a later one, with
an LLM backend the condensation prompt (``prompts/condense.txt``) asks the same OpenAI-compatible
LLM for the standalone question (``condense``); if the LLM fails or answers something unusable
(empty, or longer than the question limit), the deterministic rewrite below is used instead
and the reason is reported. The extractive backend always uses the rewrite.

The deterministic rewrite (``rewrite``)
---------------------------------------
User turns are rewritten in order, each against the turn before it and the assistant answer in
between, so a chain of follow-ups keeps its subject. Each turn is a *base* question (what is
asked) and a *subject* (what it is asked about: paper titles or key words); the standalone
question is ``base`` when there is no subject, else ``base (about: "subject"; "subject")``.

The first user turn is its own standalone question. A later turn is a *follow-up* when it

1. refers to a numbered source of the previous answer: ``the second one``, ``the 2nd paper``,
   ``the last one``, ``paper 2``, ``source #2``, ``[2]``, or an ordinal at its end (``and the
   second?``) -- its subject is the title of source [n] (the n-th listed source when no source
   is numbered n; ``the last one``: the last listed);
2. has an anaphoric word or phrase (they, them, their, it, its, this, these, those, he, she,
   that paper/method/..., the authors, the paper, the study, the work, the same, the latter...);
3. starts with an ellipsis cue (``and``, ``also``, ``then``, ``what about``, ``how about``,
   ``same for``); or
4. is short -- at most 2 content words -- and names nothing of its own (no word after the first
   with a capital letter or a digit, such as ``BERT`` or ``UL2``).

Any other turn is standalone. For a follow-up that is not a numbered reference, the subject is
the titles of the papers the previous answer cited (at most 3), else the previous turn's own
subject, else the content words of the previous turn's base question. What is asked: the turn
itself, except that a turn with no content words of its own (``and the second one?``) asks the
previous turn's base question again, and ``what about X`` / ``how about X`` / ``and X?`` (X not
a question) asks the previous base question with X as the subject.

The previous answer's sources come from the ``abstractqa`` field of the assistant message when
the client echoes it (numbered ``sources`` and ``citations``), else from the ``Sources:`` list at
the end of its text (``[n] Title — link``), which this service appends to every answer. When the
result would be longer than the question limit, subjects are dropped from the end.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import prompts
from service.backends.base import AnswerBackend, AnswerPrompt

_WORD = re.compile(r"\w[\w'\-]*")
_MAX_SUBJECTS = 3
_SHORT = 2  # content words at most, for a question to count as short

_STOPWORDS = frozenset(
    """a an the and or but nor so of in on at to for from by with about as into onto over under
    than then that this these those there here it its they them their he she his her we our us
    you your i me my what which who whom whose when where why how whether is are was were be been
    being am do does did done doing have has had having can could will would shall should may
    might must not no yes also too very just only any some all each both either neither more most
    other such same one ones own please tell explain describe give show me list again else ok
    okay well now really much many""".split()  # noqa: SIM905 - a word list reads best as text
)
_ANAPHORA = re.compile(
    r"\b(?:they|them|their|theirs|themselves|it|its|itself|he|she|him|his|her|this|these|those"
    r"|that\s+(?:one|paper|work|study|method|model|approach|technique|system|framework|dataset"
    r"|benchmark|result|idea)"
    r"|the\s+(?:authors?|papers?|study|work|article|same|former|latter|proposed))\b",
    re.IGNORECASE,
)
_CUE = re.compile(r"^\s*(?:and|also|what\s+about|how\s+about|same\s+for|then)\b[\s,]*", re.I)
_QUESTION_START = re.compile(
    r"^(?:what|which|who|whom|whose|when|where|why|how|is|are|was|were|do|does|did|can|could"
    r"|would|should|will|has|have|had|tell|explain|describe|give|list|show)\b",
    re.IGNORECASE,
)
_ORDINALS = {
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
    "ninth": 9,
    "tenth": 10,
    "last": -1,
}
_ORDINAL = (
    r"(first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|last"
    r"|\d{1,2}(?:st|nd|rd|th))"
)
_NOUN = r"(?:one|paper|source|reference|citation|article|study|work|result|link|entry)"
_REFERENCES = (
    re.compile(rf"\bthe\s+{_ORDINAL}\s+{_NOUN}\b", re.I),
    re.compile(rf"\bthe\s+{_ORDINAL}\s*[?.!]*\s*$", re.I),
    re.compile(r"\[\s*(\d{1,2})\s*\]"),
    re.compile(
        r"\b(?:paper|source|reference|citation|article|result)\s*(?:no\.?\s*|number\s*|#\s*)?"
        r"(\d{1,2})\b",
        re.I,
    ),
    re.compile(r"#\s*(\d{1,2})\b"),
)
_SOURCES_HEADER = re.compile(r"^\s*sources?\s*:\s*$", re.I)
_SOURCE_LINE = re.compile(r"^\s*\[(\d{1,3})\]\s*(.+?)\s*$")
_LINK = re.compile(r"\s+—\s+\S+$")  # " — https://..." or " — paper-id" after a title
_PREFIX = re.compile(r"^\s*(?:standalone\s+question|question|rewritten\s+question)\s*:\s*", re.I)


# -- the conversation as the rewrite sees it ---------------------------------------------------


@dataclass(frozen=True)
class Shown:
    """The numbered sources an assistant answer showed: n -> title, and the cited n in order."""

    titles: dict[int, str] = field(default_factory=dict)
    cited: list[int] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.titles)

    def title(self, n: int) -> str | None:
        """Source [n], else the n-th cited source (-1: the last cited)."""
        if n == -1:
            return self.titles[self.cited[-1]] if self.cited else None
        if n in self.titles:
            return self.titles[n]
        return self.titles[self.cited[n - 1]] if 0 < n <= len(self.cited) else None

    def cited_titles(self) -> list[str]:
        return list(dict.fromkeys(self.titles[n] for n in self.cited if n in self.titles))


@dataclass(frozen=True)
class Turn:
    role: Literal["user", "assistant"]
    text: str
    shown: Shown = field(default_factory=Shown)

    @classmethod
    def user(cls, text: str) -> Turn:
        return cls("user", text)

    @classmethod
    def assistant(cls, text: str, echoed: Mapping[str, Any] | None = None) -> Turn:
        return cls("assistant", text, shown_sources(text, echoed))


def shown_sources(text: str, echoed: Mapping[str, Any] | None = None) -> Shown:
    """The sources of an assistant answer: its echoed ``abstractqa`` data, else its
    ``Sources:`` list."""
    titles: dict[int, str] = {}
    cited: list[int] = []
    if echoed:
        for key in ("sources", "citations"):
            for item in echoed.get(key) or []:
                if isinstance(item, Mapping):
                    n, title = item.get("n"), item.get("title")
                    if isinstance(n, int) and isinstance(title, str) and title.strip():
                        titles.setdefault(n, title.strip())
                        if key == "citations" and n not in cited:
                            cited.append(n)
        if titles:
            return Shown(titles, cited or sorted(titles))
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if _SOURCES_HEADER.match(line)]
    if not starts:
        return Shown()
    for line in lines[starts[-1] + 1 :]:
        match = _SOURCE_LINE.match(line)
        if match is None:
            if line.strip():
                break
            continue
        n, title = int(match.group(1)), _LINK.sub("", match.group(2)).strip()
        if title and n not in titles:
            titles[n] = title
            cited.append(n)
    return Shown(titles, cited)


# -- the deterministic rewrite -----------------------------------------------------------------


@dataclass(frozen=True)
class _Asked:
    base: str
    subjects: tuple[str, ...] = ()


def content_words(text: str) -> list[str]:
    return [w for w in _WORD.findall(text) if w.lower() not in _STOPWORDS]


def references(text: str) -> list[int]:
    """The source numbers a question refers to (-1: the last one), in order of appearance."""
    found: list[tuple[int, int]] = []
    for pattern in _REFERENCES:
        for match in pattern.finditer(text):
            token = match.group(1).lower()
            n = _ORDINALS.get(token)
            if n is None:
                n = int(re.sub(r"\D", "", token))
            found.append((match.start(), n))
    return list(dict.fromkeys(n for _, n in sorted(found)))


def _strip_references(text: str) -> str:
    for pattern in _REFERENCES:
        text = pattern.sub(" ", text)
    return text


def _names_something(text: str) -> bool:
    words = _WORD.findall(text)[1:]
    return any(any(c.isupper() or c.isdigit() for c in w) for w in words)


def _resolve(text: str, previous: _Asked | None, shown: Shown) -> _Asked:
    text = " ".join(text.split())
    if previous is None:
        return _Asked(text)
    refs = references(text)
    cue = _CUE.match(text)
    rest = text[cue.end() :] if cue else text
    own = content_words(_ANAPHORA.sub(" ", _strip_references(rest)))
    titles = [t for t in (shown.title(n) for n in refs if n != 0) if t]
    anaphora = bool(_ANAPHORA.search(text))
    short = len(own) <= _SHORT and not _names_something(text)
    if not (titles or anaphora or cue or short):
        return _Asked(text)
    base = text if own else previous.base
    if titles:
        return _Asked(base, tuple(titles[:_MAX_SUBJECTS]))
    if cue and own and not anaphora and not _QUESTION_START.match(rest):
        # "what about adapters?": the previous question, about something else.
        return _Asked(previous.base, (rest.strip().rstrip("?.! ").strip(),))
    subjects = tuple(shown.cited_titles()[:_MAX_SUBJECTS]) or previous.subjects
    if not subjects and (words := content_words(previous.base)):
        subjects = (" ".join(words),)
    return _Asked(base, subjects)


def _compose(asked: _Asked, max_chars: int) -> str:
    for keep in range(len(asked.subjects), 0, -1):
        about = "; ".join(f'"{s}"' for s in asked.subjects[:keep])
        text = f"{asked.base} (about: {about})"
        if len(text) <= max_chars:
            return text
    return asked.base[:max_chars]


def rewrite(history: Sequence[Turn], question: str, max_chars: int = 2000) -> str:
    """The standalone form of ``question``, asked after ``history`` (oldest first)."""
    previous: _Asked | None = None
    shown = Shown()
    for turn in history:
        if turn.role == "user":
            previous, shown = _resolve(turn.text, previous, shown), Shown()
        elif turn.shown:
            shown = turn.shown
    return _compose(_resolve(question, previous, shown), max_chars)


# -- the LLM condensation ----------------------------------------------------------------------


class CondenseError(Exception):
    """The LLM's reply is not a usable standalone question."""


def condense_messages(history: Sequence[Turn], question: str) -> list[dict[str, str]]:
    lines = [f"{turn.role.capitalize()}: {turn.text.strip()}" for turn in history]
    content = prompts.render("condense", history="\n\n".join(lines), question=question.strip())
    return [{"role": "user", "content": content}]


def parse_condensed(reply: str, max_chars: int) -> str:
    """The standalone question in an LLM reply: its first non-empty line, unquoted."""
    line = next((line for line in reply.splitlines() if line.strip()), "")
    question = _PREFIX.sub("", line).strip().strip("\"'`“”").strip()
    if not question:
        raise CondenseError("the LLM returned an empty standalone question")
    if len(question) > max_chars:
        raise CondenseError(
            f"the LLM's standalone question is {len(question)} characters long; "
            f"the limit is {max_chars}"
        )
    return question


async def condense(
    backend: AnswerBackend, history: Sequence[Turn], question: str, max_chars: int = 2000
) -> str:
    """Ask the LLM behind ``backend`` for the standalone question; raises ``BackendError`` when
    it cannot be reached and ``CondenseError`` when its reply is unusable."""
    prompt = AnswerPrompt(question, [], condense_messages(history, question), max_sentences=1)
    reply = "".join([piece async for piece in backend.stream(prompt)])
    return parse_condensed(reply, max_chars)
