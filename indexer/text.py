"""Sentence splitting and token counting, with the data llama-index-core ships (no downloads)."""

from __future__ import annotations

import importlib.util
import os
import re
from functools import cache
from pathlib import Path
from typing import Any

_SPACE = re.compile(r"\s+")
# Abbreviations common in abstracts that punkt's English model would end a sentence at.
_ABBREVIATIONS = {
    "e.g",
    "i.e",
    "cf",
    "vs",
    "etc",
    "al",
    "approx",
    "resp",
    "fig",
    "figs",
    "eq",
    "eqs",
    "sec",
    "tab",
    "ref",
    "refs",
    "no",
    "vol",
    "pp",
    "ca",
    "viz",
    "dr",
    "prof",
    "inc",
    "ltd",
}
TIKTOKEN_ENCODING = "cl100k_base"


def clean(text: str) -> str:
    """Collapse runs of whitespace; the stored abstract and its sentences share this form."""
    return _SPACE.sub(" ", text).strip()


@cache
def llama_index_static_dir() -> Path:
    """llama-index-core's bundled NLTK and tiktoken data, found without importing llama-index
    (its import costs over a second of start-up)."""
    spec = importlib.util.find_spec("llama_index.core")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("llama-index-core is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "_static"


@cache
def _punkt() -> Any:
    import nltk.data
    from nltk.tokenize.punkt import PunktParameters, PunktTokenizer

    nltk_dir = str(llama_index_static_dir() / "nltk_cache")
    if nltk_dir not in nltk.data.path:
        nltk.data.path.append(nltk_dir)
    tokenizer = PunktTokenizer("english")
    params: PunktParameters = tokenizer._params
    params.abbrev_types.update(_ABBREVIATIONS)
    return tokenizer


def split_sentences(text: str) -> list[str]:
    """Split text into sentences that are verbatim substrings of ``clean(text)``, in order."""
    return split_cleaned(clean(text))


def split_cleaned(text: str) -> list[str]:
    """``split_sentences`` of a text already in ``clean`` form (cleaning twice costs ~10% of
    an add's sentence splitting)."""
    if not text:
        return []
    return [text[start:end].strip() for start, end in _punkt().span_tokenize(text)]


@cache
def _tiktoken() -> Any:
    os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(llama_index_static_dir() / "tiktoken_cache"))
    import tiktoken

    return tiktoken.get_encoding(TIKTOKEN_ENCODING)


def count_tokens(text: str) -> int:
    """Length of ``text`` in tiktoken tokens (``cl100k_base``, as llama-index counts)."""
    return len(_tiktoken().encode(text, disallowed_special=()))


def count_tokens_many(texts: list[str]) -> list[int]:
    # Not encode_batch: it starts a thread pool on every call, which for the dozen sentences of
    # one paper costs several times the encoding itself. encode_ordinary is tiktoken's
    # documented equivalent of encode(text, disallowed_special=()).
    encoding = _tiktoken()
    return [len(encoding.encode_ordinary(text)) for text in texts]
