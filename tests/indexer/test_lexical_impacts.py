"""BM25 impacts remembered per version (indexer/lexical_impacts.py): what a query stores, the
next reads; the cap holds; and searches give the same rows and scores, bit for bit, as
computing every impact each time, from one thread or several, with the cap forcing resets."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from indexer.ann import AnnParams
from indexer.chunking import ChunkSpec
from indexer.lexical import LexicalIndex, tokenize
from indexer.lexical_impacts import COMPUTE, READ, STORE, ImpactCache
from indexer.models import Paper
from indexer.postings import SegmentPostings
from indexer.segment import Segment, SegmentWriter

ROOT = Path(__file__).resolve().parents[2]
CISI = ROOT.parent / "shared" / "benchmarks" / "cisi"


def _postings(term_sizes: list[int]) -> SegmentPostings:
    """A segment whose term ``t`` has ``term_sizes[t]`` postings."""
    indptr = np.concatenate(([0], np.cumsum(term_sizes))).astype(np.int64)
    total = int(indptr[-1])
    rows = np.concatenate([np.arange(n, dtype=np.int32) for n in term_sizes])
    return SegmentPostings(indptr, rows, np.ones(total, np.float32), np.ones(total, np.int32))


def _spans(postings: SegmentPostings, tids: list[int]) -> np.ndarray:
    return np.array([[postings.indptr[t], postings.indptr[t + 1]] for t in tids], np.int64)


def test_a_term_is_stored_by_its_first_query_and_read_by_the_next_once_the_first_is_done() -> None:
    postings = _postings([10, 20, 30])
    cache = ImpactCache([postings], cap_bytes=1 << 20, min_postings=0)
    tids = np.array([0, 2], np.int64)
    first = cache.plan(0, tids, _spans(postings, [0, 2]))
    assert first.states.tolist() == [STORE, STORE] and first.starts.tolist() == [0, 10]
    # Not yet done: a query at the same time stores its own copy, never reads this one.
    early = cache.plan(0, tids, _spans(postings, [0, 2]))
    assert early.states.tolist() == [STORE, STORE] and early.starts.tolist() == [40, 50]
    first.done()
    later = cache.plan(0, np.array([2, 1], np.int64), _spans(postings, [2, 1]))
    assert later.states.tolist() == [READ, STORE] and later.starts.tolist() == [10, 80]
    assert later.impacts is first.impacts and cache.remembered_bytes == 100 * 4


def test_a_full_buffer_forgets_everything_at_once_and_the_cap_is_never_exceeded() -> None:
    postings = _postings([100, 100, 100, 1000])  # 400 bytes of impacts a small term
    cache = ImpactCache([postings], cap_bytes=900, min_postings=0)
    for tid in (0, 1):
        plan = cache.plan(0, np.array([tid]), _spans(postings, [tid]))
        assert plan.states.tolist() == [STORE]
        plan.done()
    assert cache.remembered_bytes == 800
    plan = cache.plan(0, np.array([2]), _spans(postings, [2]))  # 1,200 > 900: a new buffer
    plan.done()
    assert plan.states.tolist() == [STORE] and plan.starts.tolist() == [0]
    assert cache.remembered_bytes == 400
    plan = cache.plan(0, np.array([0, 2]), _spans(postings, [0, 2]))
    assert plan.states.tolist() == [STORE, READ]  # term 0 was forgotten, term 2 is kept
    plan.done()
    # A query too large for any buffer stores what fits, computes the rest, forgets nothing.
    plan = cache.plan(0, np.array([3, 2, 1]), _spans(postings, [3, 2, 1]))
    assert plan.states.tolist() == [COMPUTE, READ, COMPUTE]
    assert cache.remembered_bytes == 800 and len(plan.impacts) == 900 // 4


def test_small_segments_and_a_zero_cap_compute_every_impact() -> None:
    postings = _postings([10, 20])
    tids = np.array([0, 1], np.int64)
    for cache in (
        ImpactCache([postings], cap_bytes=1 << 20, min_postings=31),
        ImpactCache([postings], cap_bytes=0, min_postings=0),
    ):
        plan = cache.plan(0, tids, _spans(postings, [0, 1]))
        assert plan.states.tolist() == [COMPUTE, COMPUTE] and len(plan.impacts) == 0


@pytest.fixture(scope="module")
def cisi_segments(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Segment]]:
    if not CISI.exists():
        pytest.skip("needs the shared CISI corpus")
    papers = []
    for line in (CISI / "corpus.jsonl").open(encoding="utf-8"):
        doc = json.loads(line)
        papers.append(Paper(f"cisi-{doc['_id']}", doc["title"], doc["text"], [doc["text"]], "x"))
    root = tmp_path_factory.mktemp("impacts")
    segments = []
    for name, part, base, deleted in (
        ("s1", papers[:700], 0, [5, 9]),
        ("s2", papers[700:], 700, []),
    ):
        writer = SegmentWriter(root / name, dimension=4, base=base)
        specs = [[ChunkSpec(0, 1, p.abstract)] for p in part]
        writer.add(part, specs, np.zeros((len(part), 4), dtype=np.float32))
        segments.append(Segment(root / name, writer.seal("flat", AnnParams()), deleted))
    yield segments
    for segment in segments:
        segment.close()


def _queries() -> list[str]:
    lines = (CISI / "queries.jsonl").open(encoding="utf-8")
    return [json.loads(line)["text"] for line in lines]


def _index(segments: list[Segment], cap: int) -> LexicalIndex:
    postings = [s.postings for s in segments]
    return LexicalIndex(segments, postings, 0, cap, impact_min_postings=0)


def _same(a: list[tuple[np.ndarray, np.ndarray]], b: list[tuple[np.ndarray, np.ndarray]]) -> None:
    for (rows_a, scores_a), (rows_b, scores_b) in zip(a, b, strict=True):
        np.testing.assert_array_equal(rows_a, rows_b)
        np.testing.assert_array_equal(scores_a, scores_b)  # bit for bit


def test_searches_reading_remembered_impacts_equal_those_computing_them(
    cisi_segments: list[Segment],
) -> None:
    computed, remembering = _index(cisi_segments, 0), _index(cisi_segments, 64 << 20)
    queries = _queries()
    expected = [computed.top(q, 100) for q in queries]
    for _ in range(2):  # stored by the first pass, read by the second
        for query, want in zip(queries, expected, strict=True):
            _same(remembering.top(query, 100), want)
    # What the passes stored is read now: a query of their terms stores nothing new.
    lookups, weights = remembering._weights({t: 1.0 for t in tokenize([queries[0]])[0]})
    for position in range(len(cisi_segments)):
        tids, spans, _ = remembering._spans(position, lookups[position], weights, weights)
        plan = remembering.impacts.plan(position, tids, spans)
        assert set(plan.states.tolist()) == {READ}


def test_a_search_for_no_results_remembers_nothing_it_did_not_compute(
    cisi_segments: list[Segment],
) -> None:
    computed, remembering = _index(cisi_segments, 0), _index(cisi_segments, 64 << 20)
    query = _queries()[0]
    assert all(not len(rows) for rows, _ in remembering.top(query, 0))
    _same(remembering.top(query, 10), computed.top(query, 10))


def test_threads_sharing_a_small_cap_get_the_same_results_as_computing(
    cisi_segments: list[Segment],
) -> None:
    computed = _index(cisi_segments, 0)
    queries = _queries() * 3
    expected = [computed.top(q, 50) for q in queries]
    cap = 40_000  # a few terms' impacts: resets all the time, while other threads read
    remembering = _index(cisi_segments, cap)
    with ThreadPoolExecutor(4) as pool:
        found = list(pool.map(lambda q: remembering.top(q, 50), queries))
    for got, want in zip(found, expected, strict=True):
        _same(got, want)
    assert remembering.impacts.remembered_bytes <= cap
