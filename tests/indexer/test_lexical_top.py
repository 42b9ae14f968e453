"""The compiled BM25 top-k (indexer/lexical_top.py) against every paper's full score, on CISI
split over two segments with deleted rows: the same rows and bit-identical scores; the full
scores against BM25 computed independently."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from indexer.ann import AnnParams
from indexer.chunking import ChunkSpec
from indexer.lexical import K1, B, LexicalIndex, tokenize
from indexer.models import Paper
from indexer.postings import SegmentPostings
from indexer.segment import Segment, SegmentWriter

ROOT = Path(__file__).resolve().parents[2]
CISI = ROOT.parent / "shared" / "benchmarks" / "cisi"
DELETED = [3, 17, 400, 401]  # rows of the first segment


def _papers() -> list[Paper]:
    papers = []
    for line in (CISI / "corpus.jsonl").open(encoding="utf-8"):
        doc = json.loads(line)
        text = doc["text"]
        papers.append(Paper(f"cisi-{doc['_id']}", doc["title"], text, [text], doc["_id"]))
    return papers


def _segment(directory: Path, papers: list[Paper], base: int, deleted: list[int]) -> Segment:
    writer = SegmentWriter(directory, dimension=4, base=base)
    specs = [[ChunkSpec(0, 1, p.abstract)] for p in papers]
    writer.add(papers, specs, np.zeros((len(papers), 4), dtype=np.float32))
    meta = writer.seal("flat", AnnParams())
    return Segment(directory, meta, deleted)


@pytest.fixture(
    scope="module",
    params=[(100_000, 0), (0, 0), (0, 64 << 20)],
    ids=["one thread", "segments on threads", "impacts remembered"],
)
def cisi(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[tuple[LexicalIndex, list[Segment]]]:
    if not CISI.exists():
        pytest.skip("needs the shared CISI corpus")
    papers = _papers()
    root = tmp_path_factory.mktemp("cisi-segments")
    half = len(papers) // 2
    segments = [
        _segment(root / "s1", papers[:half], 0, DELETED),
        _segment(root / "s2", papers[half:], half, []),
    ]
    parallel, remembered = request.param
    postings = [s.postings for s in segments]
    yield LexicalIndex(segments, postings, parallel, remembered, impact_min_postings=0), segments
    for segment in segments:
        segment.close()


def _queries() -> list[str]:
    lines = (CISI / "queries.jsonl").open(encoding="utf-8")
    return [json.loads(line)["text"] for line in lines]


def _expected(scores: np.ndarray | None, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k best positive rows of a full scoring, lowest rows first among equal scores."""
    if scores is None:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    positive = np.flatnonzero(scores > 0)
    best = np.sort(positive[np.lexsort((positive, -scores[positive]))[:k]])
    return best, scores[best]


def _assert_same(index: LexicalIndex, full: list[np.ndarray | None], top: list, k: int) -> None:
    for scores, (rows, values) in zip(full, top, strict=True):
        expected_rows, expected_scores = _expected(scores, k)
        np.testing.assert_array_equal(rows, expected_rows)
        assert values.dtype == np.float32
        np.testing.assert_array_equal(values, expected_scores)  # bit for bit


@pytest.mark.parametrize("k", [1, 10, 100, 5000])
def test_the_top_k_of_every_cisi_query_equals_the_best_of_its_full_scores(
    cisi: tuple[LexicalIndex, list[Segment]], k: int
) -> None:
    index, _ = cisi
    for query in _queries():
        _assert_same(index, index.score(query), index.top(query, k), k)


def test_the_loops_read_a_segments_rows_unsigned_from_the_mapped_file_without_a_copy(
    cisi: tuple[LexicalIndex, list[Segment]],
) -> None:
    for segment in cisi[1]:
        postings = segment.postings
        unsigned = postings.unsigned_rows
        assert unsigned.dtype == np.uint32
        assert np.shares_memory(unsigned, postings.rows)
        np.testing.assert_array_equal(unsigned.astype(np.int64), postings.rows.astype(np.int64))


def test_rows_of_another_integer_type_are_not_reinterpreted_as_unsigned() -> None:
    rows = np.array([0, 3, 7], dtype=np.int64)
    ones = np.ones(3, dtype=np.float32)
    postings = SegmentPostings(np.array([0, 3]), rows, ones, np.ones(8, dtype=np.int32))
    np.testing.assert_array_equal(postings.unsigned_rows, rows)


def test_the_top_k_never_holds_a_deleted_row(cisi: tuple[LexicalIndex, list[Segment]]) -> None:
    index, _ = cisi
    for query in _queries()[:20]:
        rows, _ = index.top(query, 1000)[0]
        assert not set(rows.tolist()) & set(DELETED)


def test_weighted_terms_long_queries_and_a_negative_weight_give_the_full_scores_best_too(
    cisi: tuple[LexicalIndex, list[Segment]],
) -> None:
    index, _ = cisi
    queries = _queries()
    long = " ".join(queries[:6])  # many common terms: the case pruning skips most postings of
    terms = tokenize([long])[0]
    weighted = {t: 0.1 + (i % 7) / 3 for i, t in enumerate(dict.fromkeys(terms))}
    negative = dict(weighted)
    negative[next(iter(negative))] = -0.5  # bounds no longer hold: every term is scored
    _assert_same(index, index.score(long), index.top(long, 50), 50)
    for chosen in (weighted, negative):
        _assert_same(index, index.score_weighted(chosen), index.top_weighted(chosen, 50), 50)


def test_a_scope_gives_the_best_of_its_rows_full_scores(
    cisi: tuple[LexicalIndex, list[Segment]],
) -> None:
    index, segments = cisi
    rng = np.random.default_rng(0)
    allowed = [np.sort(rng.choice(s.n_papers, 200, replace=False)) for s in segments]
    for query in _queries()[:30]:
        full = index.score(query, allowed)
        _assert_same(index, full, index.top(query, 10, allowed), 10)


def test_ties_within_and_across_segments_go_to_the_lowest_rows_as_full_scoring_does(
    tmp_path: Path,
) -> None:
    # Few words and many duplicate texts: most scores tie, at every k.
    rng = np.random.default_rng(7)
    words = ["retrieval", "memory", "attention", "graph", "sparse", "kernel", "diffusion"]
    texts = [" ".join(rng.choice(words, size=rng.integers(2, 6))) for _ in range(40)]
    papers = [
        Paper(f"p{n}", f"t{n}", text, [text], str(n))
        for n, text in enumerate(texts[int(i)] for i in rng.integers(0, len(texts), 600))
    ]
    segments = [
        _segment(tmp_path / "s1", papers[:300], 0, [0, 5, 299]),
        _segment(tmp_path / "s2", papers[300:], 300, []),
    ]
    index = LexicalIndex(segments, [s.postings for s in segments])
    try:
        for query in ["memory attention", "graph graph kernel", "sparse diffusion retrieval"]:
            for k in (1, 3, 25, 150, 1000):
                _assert_same(index, index.score(query), index.top(query, k), k)
        empty = [np.zeros(0, np.int64), np.arange(0, 300, 7)]
        full = index.score("memory attention", empty)
        _assert_same(index, full, index.top("memory attention", 10, empty), 10)
    finally:
        for segment in segments:
            segment.close()


def _independent_bm25(segments: list[Segment], query: str) -> list[np.ndarray]:
    """Lucene BM25 (without its constant k1 + 1) straight from the segments' stored postings,
    in float64: none of LexicalIndex's code."""
    counts: dict[str, int] = {}
    for term in tokenize([query])[0]:
        counts[term] = counts.get(term, 0) + 1
    sql = "SELECT term, tid, df FROM terms WHERE term IN ({})"
    found = [{t: (tid, df) for t, tid, df in s.in_query(sql, list(counts))} for s in segments]
    n = sum(s.n_papers for s in segments)
    avg = sum(s.total_length for s in segments) / n
    df = {t: sum(f[t][1] for f in found if t in f) for t in counts}
    out = []
    for segment, terms in zip(segments, found, strict=True):
        postings = segment.postings
        norm = K1 * ((1 - B) + B * np.asarray(postings.lengths, dtype=np.float64) / avg)
        scores = np.zeros(segment.n_papers)
        for term, (tid, _) in terms.items():
            rows = np.asarray(postings.rows[postings.indptr[tid] : postings.indptr[tid + 1]])
            tf = np.asarray(postings.tfs[postings.indptr[tid] : postings.indptr[tid + 1]], float)
            idf = np.log(1 + (n - df[term] + 0.5) / (df[term] + 0.5))
            scores[rows] += counts[term] * idf * tf / (norm[rows] + tf)
        scores[segment.deleted_rows] = 0.0
        out.append(scores)
    return out


def test_compiled_scores_equal_bm25_computed_in_float64_from_the_raw_postings(
    cisi: tuple[LexicalIndex, list[Segment]],
) -> None:
    index, segments = cisi
    for query in _queries()[:40]:
        full = zip(index.score(query), _independent_bm25(segments, query), strict=True)
        for got, expected in full:
            assert got is not None and got.dtype == np.float32
            np.testing.assert_allclose(got, expected, rtol=2e-6, atol=1e-6)


def test_compiled_scores_equal_numpys_float32_arithmetic_bit_for_bit(
    cisi: tuple[LexicalIndex, list[Segment]],
) -> None:
    # What the scores were before the loops were compiled: numpy's scatter of
    # weight * (tf / (norm + tf)) per term, in the query's order.
    index, segments = cisi
    for query in _queries()[:40]:
        counts: dict[str, float] = {}
        for term in tokenize([query])[0]:
            counts[term] = counts.get(term, 0.0) + 1.0
        lookups, weights = index._weights(counts)
        for position, (segment, hits) in enumerate(zip(segments, lookups, strict=True)):
            postings = segment.postings
            norm = index._norm(position)
            expected = np.zeros(segment.n_papers, dtype=np.float32)
            for term in (t for t in counts if t in hits):
                rows, tfs = postings.postings(hits[term][0])
                tf = np.asarray(tfs, dtype=np.float32)
                expected[rows] += weights[term] * (tf / (norm[rows] + tf))
            got = index.score_weighted(counts)[position]
            if got is None:
                assert not expected.any()
                continue
            expected[segment.deleted_rows] = 0.0
            np.testing.assert_array_equal(got, expected)


def test_the_heap_keeps_the_k_best_positive_scores_lowest_rows_first_whatever_the_ties() -> None:
    # Blocks are skipped below the k-th best block maximum (indexer/lexical_top.py): at k
    # below, at and above the number of blocks, with scores that tie in runs, a few values, or
    # none positive, the k best are what a full sort by (score, row) keeps.
    from indexer.lexical_top import _BLOCK, _top_k

    rng = np.random.default_rng(3)
    n = 37 * _BLOCK + 5
    arrays = [
        rng.random(n, dtype=np.float32),
        rng.integers(0, 4, n).astype(np.float32),  # few distinct values: ties everywhere
        np.repeat(rng.random(n // 50 + 1, dtype=np.float32), 50)[:n],  # runs of equal scores
        np.where(rng.random(n) < 0.01, rng.random(n), 0).astype(np.float32),  # sparse
        np.zeros(n, np.float32),
        -rng.random(n, dtype=np.float32),
    ]
    for scores in arrays:
        positive = np.flatnonzero(scores > 0)
        ranked = positive[np.lexsort((positive, -scores[positive]))]
        for k in (1, 10, 37, 38, 100, 3 * n):
            rows, found = _top_k(scores, k)
            expected = np.sort(ranked[:k])

            assert rows.tolist() == expected.tolist()
            assert found.tolist() == scores[expected].tolist()
