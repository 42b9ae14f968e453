"""BERT WordPiece tokenization of plain-ASCII texts by a word cache: the ids of ``tokenizers``,
several times faster per core.

On the GPU the forward pass of the bundled model outruns the Rust tokenizer: on the H200 it
encoded ~1,400 chunk-sized texts/s per core (docs/benchmarks.md, "GPU bulk embedding"), most of
it spent normalizing and splitting with character-offset bookkeeping that an embedder never
reads. For a text of printable ASCII (plus tab and line breaks) a BERT normalizer only lowercases
(accents and CJK handling touch no ASCII character; control characters are outside the set), and
the BERT pre-tokenizer splits at whitespace and isolates each punctuation mark: one regular
expression. Each distinct word is then handed to the tokenizer's own WordPiece model once and
its pieces kept, so the result is the Rust tokenizer's by construction; abstracts repeat their
words (Zipf), so nearly every word is a dictionary look-up.

Anything else -- a character outside that set, a text containing an added token such as
"[MASK]", a tokenizer whose layout is not normalizer BertNormalizer + pre-tokenizer
BertPreTokenizer + WordPiece + a CLS/SEP template -- goes to the Rust tokenizer (``FastWordPiece``
answers None for such a text, ``load`` None for such a tokenizer). Tests compare the ids with
the Rust tokenizer's over the development collections and generated texts.
"""

from __future__ import annotations

import json
import re
import threading
from itertools import chain
from pathlib import Path
from typing import Any

# Printable ASCII, tab and line breaks: what a BERT normalizer passes through unchanged except
# for case (and tab/line breaks, which become spaces and so separate words just the same).
_OUTSIDE = re.compile(r"[^\x20-\x7e\t\n\r]")
# Words: runs of letters and digits; every other printable character is ASCII punctuation,
# which the BERT pre-tokenizer isolates.
_WORDS_LOWER = re.compile(r"[a-z0-9]+|[^a-z0-9 \t\n\r]")
_WORDS_CASED = re.compile(r"[A-Za-z0-9]+|[^A-Za-z0-9 \t\n\r]")
# Distinct whitespace-separated tokens kept ("model," and "model" apart); past it the cache
# starts again. An entry costs ~400 bytes, and every tokenizer process has its own cache: at
# 262,144 entries ~100 MB each. Abstracts' frequent tokens, nearly all of a text's, fit.
_CACHE_TOKENS = 1 << 18


class FastWordPiece:
    """Word pieces of eligible texts; thread-safe (the cache is a dict, each update atomic,
    and a look-up that misses learns the token again)."""

    def __init__(
        self,
        model: Any,
        lowercase: bool,
        prefix: list[int],
        suffix: list[int],
        added: list[str],
        cache_tokens: int = _CACHE_TOKENS,
    ) -> None:
        self._model = model
        self._cache_tokens = cache_tokens
        self._model_lock = threading.Lock()
        self._lowercase = lowercase
        self._words = _WORDS_LOWER if lowercase else _WORDS_CASED
        self.prefix = prefix
        self.suffix = suffix
        # Added tokens are matched before normalization, case-sensitively or not: a text that
        # contains any of them in any case is left to the Rust tokenizer.
        self._added = sorted({token.lower() for token in added if token})
        self._marks = sorted({token[0] for token in self._added})
        self._cache: dict[str, list[int]] = {}

    @classmethod
    def load(
        cls, tokenizer_json: str | Path, cache_tokens: int = _CACHE_TOKENS
    ) -> FastWordPiece | None:
        """The fast path for this ``tokenizer.json``, or None where its layout is another."""
        from tokenizers import Tokenizer

        try:
            spec = json.loads(Path(tokenizer_json).read_text(encoding="utf-8"))
            normalizer = spec.get("normalizer") or {}
            pre = spec.get("pre_tokenizer") or {}
            model = spec.get("model") or {}
            if normalizer.get("type") != "BertNormalizer" or pre.get("type") != "BertPreTokenizer":
                return None
            if model.get("type") != "WordPiece" or not normalizer.get("clean_text", False):
                return None
            template = _template(spec.get("post_processor"))
            if template is None:
                return None
            added = [str(token["content"]) for token in spec.get("added_tokens") or []]
            tokenizer = Tokenizer.from_file(str(tokenizer_json))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None
        prefix, suffix = template
        lowercase = bool(normalizer.get("lowercase", True))
        return cls(tokenizer.model, lowercase, prefix, suffix, added, cache_tokens)

    def pieces(self, text: str) -> list[int] | None:
        """The word-piece ids of ``text`` without special tokens or truncation, or None when the
        text is not eligible."""
        if not text.isascii() or _OUTSIDE.search(text) is not None:
            return None
        folded = text.lower()
        if any(mark in folded for mark in self._marks) and any(
            token in folded for token in self._added
        ):
            return None
        # str.split() cuts at exactly the whitespace of an eligible text (space, tab, line
        # breaks); the look-ups and the flattening then run in C, not in a Python loop.
        tokens = (folded if self._lowercase else text).split()
        cache = self._cache
        try:
            return list(chain.from_iterable(map(cache.__getitem__, tokens)))
        except KeyError:
            # Token by token: learning may start the cache again (here or in another thread),
            # so no token is taken to be there because it was a moment ago.
            out: list[int] = []
            for token in tokens:
                ids = cache.get(token)
                if ids is None:
                    ids = self._learn(token)
                out += ids
            return out

    def framed(self, pieces: list[int], max_length: int) -> list[int]:
        """``pieces`` as the Rust tokenizer truncating to ``max_length`` (special tokens
        included) gives them: the special tokens around as many pieces as leave room for them."""
        room = max(0, max_length - len(self.prefix) - len(self.suffix))
        return [*self.prefix, *pieces[:room], *self.suffix]

    def _learn(self, token: str) -> list[int]:
        """The pieces of a whitespace-free ``token`` (its words' pieces in order), cached."""
        # The binding does not document its models as thread-safe; misses are rare once a
        # corpus's words are in, so taking turns costs nothing measurable.
        with self._model_lock:
            ids = [
                piece.id
                for word in self._words.findall(token)
                for piece in self._model.tokenize(word)
            ]
        if len(self._cache) >= self._cache_tokens:
            self._cache.clear()
        self._cache[token] = ids
        return ids


def _template(processor: Any) -> tuple[list[int], list[int]] | None:
    """Special-token ids before and after a single text, for a CLS/SEP post-processor."""
    if not processor:
        return None
    kind = processor.get("type")
    if kind == "BertProcessing":
        return [int(processor["cls"][1])], [int(processor["sep"][1])]
    if kind != "TemplateProcessing":
        return None
    specials = processor.get("special_tokens") or {}
    prefix: list[int] = []
    suffix: list[int] = []
    seen_sequence = False
    for item in processor.get("single") or []:
        if "Sequence" in item:
            if seen_sequence:
                return None
            seen_sequence = True
            continue
        ids = [int(i) for i in specials[item["SpecialToken"]["id"]]["ids"]]
        (suffix if seen_sequence else prefix).extend(ids)
    return (prefix, suffix) if seen_sequence else None
