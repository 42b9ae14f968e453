"""A BERT model's tokenization: word-piece ids truncated to the model's limit, packed or padded.

One object serves every thread (each thread gets a Rust tokenizer of its own: ``tokenizers``
does not document its ``Tokenizer`` as thread-safe) and crosses into worker processes by its
settings alone (``__getstate__``), so that the document pipeline can tokenize in processes where
the GIL would serialize threads (``bert_pipeline``). Plain-ASCII texts go through
``FastWordPiece`` (the same ids, several times faster); the rest through the Rust tokenizer.
Imports numpy and tokenizers only: a tokenizer process does not load torch.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from itertools import chain
from typing import Any

import numpy as np

from indexer.embedders.wordpiece import FastWordPiece

# Ids and lengths of texts, unpadded: what crosses a process boundary (a quarter of padded
# int64 rows with their mask).
Packed = tuple[np.ndarray, np.ndarray]  # int32 ids one text after another, int64 lengths


@dataclass(frozen=True)
class TokenSettings:
    tokenizer_file: str
    max_length: int
    pad_id: int
    lowercase: bool  # sentence-transformers' do_lower_case, applied before the tokenizer's own
    fast: bool = True


def _encode_batch(tokenizer: Any, texts: list[str], add_special_tokens: bool = True) -> Any:
    """``encode_batch`` without character offsets, which nothing here reads: the same ids in
    less time. ``encode_batch_fast`` is tokenizers >= 0.21."""
    fast = getattr(tokenizer, "encode_batch_fast", None) or tokenizer.encode_batch
    return fast(texts, add_special_tokens=add_special_tokens)


class BertTokens:
    """Tokenizes for one model; safe to call from several threads."""

    def __init__(self, settings: TokenSettings) -> None:
        self.settings = settings
        self.pad_id = settings.pad_id
        self._fast = FastWordPiece.load(settings.tokenizer_file) if settings.fast else None
        self._local = threading.local()

    def __getstate__(self) -> TokenSettings:
        return self.settings

    def __setstate__(self, settings: TokenSettings) -> None:
        self.__init__(settings)  # type: ignore[misc]

    def by_word_cache(self, text: str) -> bool:
        """Whether ``text`` is tokenized by the word cache (else by the Rust tokenizer)."""
        if self.settings.lowercase:
            text = text.lower()
        return self._fast is not None and self._fast.pieces(text) is not None

    def packed(self, texts: list[str]) -> Packed:
        """Each text's ids with special tokens, truncated to the model's limit, unpadded."""
        rows = self._rows(texts, self.settings.max_length)
        lengths = np.fromiter(map(len, rows), np.int64, len(rows))
        flat = np.fromiter(chain.from_iterable(rows), np.int32, int(lengths.sum()))
        return flat, lengths

    def padded(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Token ids (int64) and attention mask (bool) of ``texts``, padded on the right to
        the longest."""
        return pad(self.packed(texts), self.pad_id)

    def count(self, texts: list[str]) -> list[int]:
        """Word pieces per text, without special tokens or truncation."""
        return [len(ids) for ids in self._rows(texts, None)]

    def _rows(self, texts: list[str], limit: int | None) -> list[list[int]]:
        """Each text's ids -- with special tokens and truncated to ``limit``, or bare pieces
        when None: by the fast path where it takes the text, else by the Rust tokenizer."""
        if self.settings.lowercase:
            texts = [text.lower() for text in texts]
        rows: list[list[int]] = []
        rest: list[int] = []
        fast = self._fast
        for i, text in enumerate(texts):
            pieces = fast.pieces(text) if fast is not None else None
            if fast is None or pieces is None:
                rest.append(i)
                rows.append([])
            elif limit is None:
                rows.append(pieces)
            else:
                rows.append(fast.framed(pieces, limit))
        if rest:
            tokenizer = self._tokenizer(truncating=limit is not None)
            encodings = _encode_batch(
                tokenizer, [texts[i] for i in rest], add_special_tokens=limit is not None
            )
            for i, encoding in zip(rest, encodings, strict=True):
                rows[i] = encoding.ids
        return rows

    def _tokenizer(self, truncating: bool) -> Any:
        """This thread's Rust tokenizer: truncating to the model's limit (encoding) or not
        (counting); never padding (``pad`` pads)."""
        from tokenizers import Tokenizer

        name = "truncating" if truncating else "counting"
        tokenizer = getattr(self._local, name, None)
        if tokenizer is None:
            tokenizer = Tokenizer.from_file(self.settings.tokenizer_file)
            tokenizer.no_padding()
            if truncating:
                tokenizer.enable_truncation(max_length=self.settings.max_length)
            else:
                tokenizer.no_truncation()
            setattr(self._local, name, tokenizer)
        return tokenizer


def pad(packed: Packed, pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    """Packed texts as right-padded int64 ids and their bool attention mask."""
    flat, lengths = packed
    width = int(lengths.max()) if len(lengths) else 0
    mask = np.arange(width) < lengths[:, None]
    ids = np.full((len(lengths), width), pad_id, dtype=np.int64)
    # Row-major order of the mask's true cells is the texts' ids one after another.
    ids[mask] = flat
    return ids, mask


def join(pieces: list[Packed]) -> Packed:
    """Packed batches one after another as one."""
    if len(pieces) == 1:
        return pieces[0]
    return np.concatenate([flat for flat, _ in pieces]), np.concatenate([n for _, n in pieces])


# A tokenizer process's own BertTokens (set by ``start_worker``), for ``packed_in_worker``.
_WORKER: BertTokens | None = None


def start_worker(tokens: BertTokens) -> None:
    global _WORKER
    _WORKER = tokens


def packed_in_worker(texts: list[str]) -> Packed:
    assert _WORKER is not None, "start_worker runs first, as the pool's initializer"
    return _WORKER.packed(texts)
