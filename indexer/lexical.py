"""BM25 over segments, scored with statistics of the whole index (as Lucene does).

Each segment stores a term -> papers postings matrix (``indexer/postings.py``: CSC arrays
memory-mapped from ``.npy`` files) and its vocabulary in the segment's SQLite file, so opening
costs nothing per paper. A query is scored in every segment with the document frequencies,
paper count and mean length summed over all segments; tombstoned papers still count in those
statistics until a merge drops them (Lucene's choice too: exact until the next merge, never
stale by more than the deletions).

Tokens: bm25s's tokenizer with English stop words and Snowball stems; scores: the Lucene BM25
variant bm25s uses by default (k1 1.5, b 0.75), so a one-segment index ranks as bm25s did.
Papers rather than chunks: on CISI and on the bundled questions a paper-level BM25 ranks
better than the best chunk of each paper (docs/benchmarks.md).
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from typing import Any, Protocol

import numpy as np

from indexer.fanout import map_segments
from indexer.lexical_impacts import ImpactCache, computed
from indexer.lexical_top import accumulate, best_k, compile_kernels, find_rows, scored_top
from indexer.postings import SegmentPostings

K1, B = 1.5, 0.75


_local = threading.local()


def _stemmer() -> Any:
    """This thread's Snowball stemmer (PyStemmer's objects are not safe to share)."""
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        import Stemmer

        stemmer = _local.stemmer = Stemmer.Stemmer("english")
    return stemmer


# bm25s's (and scikit-learn's) token pattern is r"(?u)\b\w\w+\b". Without the \b: the same
# tokens (a greedy run of word characters starts and ends at word boundaries, and a match can
# only start where a word starts), found in about half the time (tests/indexer/test_lexical.py).
_WORDS = re.compile(r"\w\w+").findall
_STEM_CACHE_MAX = 500_000  # distinct words: a field's vocabulary fits, a flood of junk does not
_TERM_CACHE_MAX = 200_000  # distinct query terms remembered per version (LexicalIndex._lookup)
_stems: dict[str, str] = {}


@cache
def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN)


def tokenize(texts: list[str]) -> list[list[str]]:
    """Each text's BM25 terms: the tokens ``bm25s.tokenize(texts, stopwords="en",
    stemmer=<Snowball English>, return_ids=False)`` gives (lower-cased words of two or more
    word characters, English stop words dropped, Snowball stems), made here with each word's
    stem remembered. bm25s builds three progress bars and a stop-word set per call, which made
    it ~0.7 ms per call whatever the text: most of a search that scores snippet sentences."""
    stop = _stopwords()
    words = [[w for w in _WORDS(text.lower()) if w not in stop] for text in texts]
    stems = _stems_of({w for ws in words for w in ws})
    return [[stems[w] for w in ws] for ws in words]


def distinct_terms(texts: Sequence[str]) -> list[frozenset[str]]:
    """Each text's distinct BM25 terms, ``frozenset(tokenize([text])[0])``, made from a set of
    its words rather than their list: ~6 us a sentence of an abstract against ~8.5 (ad hoc), for
    search snippets, which score the sentences of papers a query has just found."""
    stop = _stopwords()
    words = [set(_WORDS(text.lower())) - stop for text in texts]
    stems = _stems_of(set().union(*words))
    return [frozenset(map(stems.__getitem__, ws)) for ws in words]


def _stems_of(distinct: set[str]) -> dict[str, str]:
    """word -> Snowball stem for ``distinct`` words, remembered ones read in one pass."""
    words = list(distinct)
    found = list(map(_stems.get, words))
    stems = dict(zip(words, found, strict=True))
    if None in found:
        unknown = [w for w, stem in stems.items() if stem is None]
        fresh = dict(zip(unknown, _stemmer().stemWords(unknown), strict=True))
        stems.update(fresh)
        if len(_stems) + len(fresh) > _STEM_CACHE_MAX:
            _stems.clear()
        _stems.update(fresh)
    return stems  # type: ignore[return-value]  # no None is left


def paper_text(title: str, abstract: str) -> str:
    return f"{title}. {abstract}" if abstract else title


class SegmentLike(Protocol):
    n_papers: int
    total_length: int
    deleted_rows: np.ndarray

    def in_query(self, sql: str, values: Sequence[Any]) -> list[tuple[Any, ...]]: ...

    def live_mask(self) -> np.ndarray | None: ...


class LexicalIndex:
    """BM25 over the segments of one version (``segments`` and ``postings`` in step)."""

    def __init__(
        self,
        segments: Sequence[SegmentLike],
        postings: Sequence[SegmentPostings],
        parallel_min_rows: int = 100_000,
        impact_cache_bytes: int = 0,
        impact_min_postings: int = 1_000_000,
    ):
        self._segments = list(segments)
        self._parallel_min_rows = parallel_min_rows
        self._postings = list(postings)
        self.n_docs = sum(s.n_papers for s in segments)
        total = sum(s.total_length for s in segments)
        self.avg_length = total / self.n_docs if self.n_docs else 1.0
        self._norms: dict[int, np.ndarray] = {}
        self._impacts = ImpactCache(self._postings, impact_cache_bytes, impact_min_postings)
        compile_kernels()
        self._terms: dict[str, list[tuple[int, int] | None]] = {}

    @property
    def impacts(self) -> ImpactCache:
        """The impacts this version's queries remembered (``indexer/lexical_impacts.py``)."""
        return self._impacts

    def _norm(self, position: int) -> np.ndarray:
        """k1 (1 - b + b dl / avgdl) of every paper of a segment: the same for every query of
        this version, so computed once (a pass over the segment's lengths per query cost ~1 ms
        per 100k papers)."""
        if position not in self._norms:
            lengths = np.asarray(self._postings[position].lengths, dtype=np.float32)
            self._norms[position] = K1 * ((1 - B) + B * lengths / self.avg_length)
        return self._norms[position]

    def _lookup(self, terms: Iterable[str]) -> list[dict[str, tuple[int, int]]]:
        """Per segment: term -> (term id, document frequency) for the terms it holds.

        Remembered per term (segments never change): a query's lookups were a SQLite query
        per segment, ~2 ms a search on a four-segment version, and queries share terms."""
        wanted = list(dict.fromkeys(terms))
        # One read of the shared cache: another thread may clear it meanwhile.
        per_term = {t: self._terms.get(t) for t in wanted}
        unknown = [t for t, where in per_term.items() if where is None]
        if unknown:
            fresh: dict[str, list[tuple[int, int] | None]] = {t: [] for t in unknown}
            for segment in self._segments:
                sql = "SELECT term, tid, df FROM terms WHERE term IN ({})"
                hits = {t: (int(tid), int(df)) for t, tid, df in segment.in_query(sql, unknown)}
                for t in unknown:
                    fresh[t].append(hits.get(t))
            if len(self._terms) + len(fresh) > _TERM_CACHE_MAX:
                self._terms.clear()
            self._terms.update(fresh)
            per_term.update(fresh)
        found: list[dict[str, tuple[int, int]]] = [{} for _ in self._segments]
        for t, where in per_term.items():
            for hits, entry in zip(found, where or (), strict=False):
                if entry is not None:
                    hits[t] = entry
        return found

    def document_frequencies(self, terms: Iterable[str]) -> dict[str, int]:
        df: Counter[str] = Counter()
        for hits in self._lookup(terms):
            for term, (_, n) in hits.items():
                df[term] += n
        return dict(df)

    def idf(self, df: int) -> float:
        return float(np.log(1 + (self.n_docs - df + 0.5) / (df + 0.5)))

    def term_weights(self, text: str) -> dict[str, float]:
        """IDF of each distinct stemmed term of ``text`` over the papers; a term the index has
        never seen gets the highest weight (it is as rare as a term can be)."""
        return self.idf_of(tokenize([text])[0])

    def idf_of(self, terms: Iterable[str]) -> dict[str, float]:
        """``term_weights`` of already stemmed ``terms``."""
        wanted = list(dict.fromkeys(terms))
        df = self.document_frequencies(wanted)
        counts = np.array([df.get(t, 0) for t in wanted], dtype=np.float64)
        idf = np.log((self.n_docs + 1) / (counts + 0.5))
        return dict(zip(wanted, idf.tolist(), strict=True))

    def score(
        self, query: str, allowed: Sequence[np.ndarray | None] | None = None
    ) -> list[np.ndarray | None]:
        """Per segment, every paper row's BM25 score (None: no query term in that segment).

        ``allowed``: per segment, the rows a request may see (None: all live rows)."""
        # A repeated query term counts again: its weight is its count.
        counts = Counter(tokenize([query])[0])
        return self.score_weighted({t: float(n) for t, n in counts.items()}, allowed)

    def _weights(
        self, terms: Mapping[str, float]
    ) -> tuple[list[dict[str, tuple[int, int]]], dict[str, float]]:
        lookups = self._lookup(terms)
        df: Counter[str] = Counter()
        for hits in lookups:
            for term, (_, n) in hits.items():
                df[term] += n
        return lookups, {t: terms[t] * self.idf(n) for t, n in df.items()}

    def top(
        self, query: str, k: int, allowed: Sequence[np.ndarray | None] | None = None
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per segment, (rows ascending, their ``score`` scores) holding its ``k`` best rows
        with a positive score (of rows tied with the k-th, the lowest), in compiled loops
        (``indexer/lexical_top.py``) without a score array per segment in Python."""
        counts = Counter(tokenize([query])[0])
        return self.top_weighted({t: float(n) for t, n in counts.items()}, k, allowed)

    def top_weighted(
        self, terms: Mapping[str, float], k: int, allowed: Sequence[np.ndarray | None] | None = None
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """As ``top``, for ``score_weighted``'s weighted stemmed terms."""
        if k <= 0:
            return [(np.zeros(0, np.int64), np.zeros(0, np.float32)) for _ in self._segments]
        lookups, weights = self._weights(terms)

        def one(i: int) -> tuple[np.ndarray, np.ndarray]:
            segment = self._segments[i]
            rows_allowed = allowed[i] if allowed is not None else None
            if rows_allowed is not None:
                return self._scoped_top(i, lookups[i], terms, weights, rows_allowed, k)
            tids, spans, term_weights = self._spans(i, lookups[i], terms, weights)
            if not len(spans):
                return np.zeros(0, np.int64), np.zeros(0, np.float32)
            postings = self._postings[i]
            norm = self._norm(i)
            plan = self._impacts.plan(i, tids, spans)
            found = (postings.unsigned_rows, postings.tfs, spans, term_weights, norm)
            best = scored_top(
                *found, plan.impacts, plan.starts, plan.states, segment.deleted_rows, k
            )
            plan.done()
            return best

        if allowed is None:
            rows = sum(s.n_papers for s in self._segments)
        else:
            rows = sum(len(a) for a in allowed if a is not None)
        return map_segments(one, range(len(self._segments)), rows, self._parallel_min_rows)

    def _spans(
        self,
        position: int,
        hits: Mapping[str, tuple[int, int]],
        terms: Iterable[str],
        weights: Mapping[str, float],
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The term ids of ``terms`` present in segment ``position``, in the terms' order, where
        their postings lie as (start, end) rows, and their weights (float32, as numpy multiplies
        a float32 array by a Python float)."""
        present = [t for t in terms if t in hits]
        indptr = self._postings[position].indptr
        tids = np.array([hits[t][0] for t in present], dtype=np.int64)
        spans = np.stack([indptr[tids], indptr[tids + 1]], axis=1).astype(np.int64)
        return tids, spans, np.array([weights[t] for t in present], dtype=np.float32)

    def _segment_scores(
        self,
        position: int,
        hits: Mapping[str, tuple[int, int]],
        terms: Iterable[str],
        weights: Mapping[str, float],
    ) -> np.ndarray | None:
        """Every paper row's score in segment ``position`` (None: no term of the query in it),
        summed over ``terms`` in their order."""
        _, spans, term_weights = self._spans(position, hits, terms, weights)
        if not len(spans):
            return None
        postings, norm = self._postings[position], self._norm(position)
        scores = np.zeros(len(postings.lengths), dtype=np.float32)
        plan = computed(len(spans))  # full scores: no impacts remembered
        found = (postings.unsigned_rows, postings.tfs, spans, term_weights, norm)
        accumulate(scores, *found, plan.impacts, plan.starts, plan.states)
        return scores

    def _scoped_top(
        self,
        position: int,
        hits: Mapping[str, tuple[int, int]],
        terms: Iterable[str],
        weights: Mapping[str, float],
        allowed: np.ndarray,
        k: int,
    ) -> tuple[np.ndarray, np.ndarray]:
        """``top_weighted`` within the ``allowed`` rows that are not deleted: a scope of a few
        papers is scored at its rows only, with the same float32 arithmetic as the whole
        segment's scores."""
        if k <= 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        deleted = self._segments[position].deleted_rows
        rows = np.setdiff1d(np.asarray(allowed, dtype=np.intp), deleted)
        postings, norm = self._postings[position], self._norm(position)
        scores = np.zeros(len(rows), dtype=np.float32)
        for term in (t for t in terms if t in hits):
            stored, tfs = postings.postings(hits[term][0])
            hit, at = find_rows(np.asarray(stored), rows)
            tf = np.asarray(tfs[at], dtype=np.float32)
            scores[hit] += weights[term] * (tf / (np.take(norm, rows[hit]) + tf))
        positive = scores > 0
        return best_k(rows[positive], scores[positive], k)

    def score_weighted(
        self, terms: Mapping[str, float], allowed: Sequence[np.ndarray | None] | None = None
    ) -> list[np.ndarray | None]:
        """As ``score``, for a query of stemmed ``terms`` each weighted (the BM25 term score
        times its weight): expanded queries (RM3) score through here."""
        lookups, weights = self._weights(terms)
        out: list[np.ndarray | None] = []
        for i, (segment, hits) in enumerate(zip(self._segments, lookups, strict=True)):
            scores = self._segment_scores(i, hits, terms, weights)
            if scores is None:
                out.append(None)
                continue
            live = segment.live_mask()
            if live is not None:
                scores[~live] = 0.0
            rows_allowed = allowed[i] if allowed is not None else None
            if rows_allowed is not None:
                mask = np.zeros(segment.n_papers, dtype=bool)
                mask[rows_allowed] = True
                scores[~mask] = 0.0
            out.append(scores)
        return out
