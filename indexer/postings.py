"""A segment's BM25 postings: written once when the segment is sealed, memory-mapped after.

Each segment stores a term -> papers postings matrix as CSC arrays in ``.npy`` files (term
``t``'s papers are ``rows[indptr[t]:indptr[t + 1]]``, ascending, with their term frequencies in
``tfs``) and every paper's length in tokens; its vocabulary (term -> id, document frequency) is
in the segment's SQLite file. ``indexer/lexical.py`` scores them.
"""

from __future__ import annotations

import sqlite3
from array import array
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

INDPTR, ROWS, TFS, LENGTHS = "bm25_indptr.npy", "bm25_rows.npy", "bm25_tf.npy", "doc_len.npy"
POSTING_FILES = (INDPTR, ROWS, TFS, LENGTHS)


@dataclass(frozen=True)
class TermCounts:
    """One paper's BM25 terms, counted: the distinct terms in order of first use, joined by
    spaces (one string pickles ~8x faster than a list, and a worker process sends these),
    their counts and the paper's length in tokens."""

    terms_text: str
    counts: array  # float32, as the postings store them
    length: int

    @classmethod
    def of(cls, tokens: list[str]) -> TermCounts:
        counted = Counter(tokens)
        # bm25s's tokens are runs of word characters, so they never hold a space.
        return cls(" ".join(counted), array("f", counted.values()), len(tokens))

    @property
    def terms(self) -> list[str]:
        # split(" ") keeps the terms in step with ``counts`` (split() would drop an empty one)
        return self.terms_text.split(" ") if len(self.counts) else []


class PostingsWriter:
    """Collects the term counts of a segment's papers, in row order."""

    def __init__(self) -> None:
        self._vocab: dict[str, int] = {}
        self._tids = array("i")
        self._rows = array("i")
        self._tfs = array("f")
        self._lengths = array("i")

    def add(self, papers: Sequence[TermCounts]) -> None:
        vocab = self._vocab
        for paper in papers:
            row = len(self._lengths)
            self._lengths.append(paper.length)
            # One extend per paper and array, not three appends per term.
            self._tids.extend([vocab.setdefault(term, len(vocab)) for term in paper.terms])
            self._rows.extend(array("i", [row]) * len(paper.counts))
            self._tfs.extend(paper.counts)

    def write(self, directory: Path, db: sqlite3.Connection) -> list[Path]:
        tids = np.frombuffer(self._tids, dtype=np.int32)
        order = np.argsort(tids, kind="stable")  # rows stay ascending within each term
        counts = np.bincount(tids, minlength=len(self._vocab))
        indptr = np.zeros(len(self._vocab) + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        arrays: dict[str, np.ndarray] = {
            INDPTR: indptr,
            ROWS: np.frombuffer(self._rows, dtype=np.int32)[order],
            TFS: np.frombuffer(self._tfs, dtype=np.float32)[order],
            LENGTHS: np.frombuffer(self._lengths, dtype=np.int32),
        }
        for name, values in arrays.items():
            np.save(directory / name, values)
        db.executemany(
            "INSERT INTO terms(term, tid, df) VALUES (?, ?, ?)",
            ((term, tid, int(counts[tid])) for term, tid in self._vocab.items()),
        )
        return [directory / name for name in arrays]

    @property
    def total_length(self) -> int:
        return int(np.frombuffer(self._lengths, dtype=np.int32).sum(dtype=np.int64))


@dataclass
class SegmentPostings:
    """One segment's postings, memory-mapped."""

    indptr: np.ndarray
    rows: np.ndarray
    tfs: np.ndarray
    lengths: np.ndarray

    @classmethod
    def open(cls, directory: Path) -> SegmentPostings:
        # Plain arrays over the mapped memory: slicing a memmap costs ~0.1 ms a time in its
        # subclass hooks, and a query slices every term's postings in every segment.
        loaded = [np.asarray(np.load(directory / name, mmap_mode="r")) for name in POSTING_FILES]
        return cls(*loaded)

    @cached_property
    def unsigned_rows(self) -> np.ndarray:
        """``rows`` as uint32 (a view: rows are never negative), as the BM25 loops index with
        them (``indexer/lexical_top.py``, ``accumulate``). Rows of another type than the int32
        ``PostingsWriter`` writes are left as they are: a uint32 view of them would misread
        every row, and the loops index with any integer type, only more slowly."""
        return self.rows.view(np.uint32) if self.rows.dtype == np.int32 else self.rows

    def postings(self, tid: int) -> tuple[np.ndarray, np.ndarray]:
        start, end = int(self.indptr[tid]), int(self.indptr[tid + 1])
        return self.rows[start:end], self.tfs[start:end]
