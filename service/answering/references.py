"""Bracketed reference numbers that abstracts carry ("... when sea otters decline [2].",
"[12, 13]", "[2-4]"): they point into the paper's own bibliography, which no answer has, and
they look exactly like the ``[n]`` markers by which an answer cites its numbered sources. So an
answer never carries them: the extractive backend drops them from the sentences it copies and
the LLM's prompt shows the abstracts without them, so every bracketed number in an answer is a
marker the backend placed. Quotes stay verbatim (they are shown as text, never parsed)."""

from __future__ import annotations

import re

# One to three digits each, joined by commas, semicolons or dashes (ranges): "[2]", "[12, 13]",
# "[2-4]", "[1; 3–5]". Markers use the same form without ranges, so every marker is one too.
_NUMBER_GROUP = r"\[\s*\d{1,3}(?:\s*[,;\-–—]\s*\d{1,3})*\s*\]"
REFERENCE = re.compile(_NUMBER_GROUP)
# With the spaces before it, so "decline [2]." becomes "decline.".
_REFERENCE_WITH_SPACE = re.compile(r"\s*" + _NUMBER_GROUP)
_SPACE = re.compile(r"\s+")


def drop_references(text: str) -> str:
    """``text`` without its bracketed reference numbers (spacing tidied)."""
    if "[" not in text:
        return text
    dropped = _REFERENCE_WITH_SPACE.sub("", text)
    return _SPACE.sub(" ", dropped).strip()
