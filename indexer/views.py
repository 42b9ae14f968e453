"""How an opened version is read: its papers and chunks (from each segment's SQLite file, on
demand), dense search merged over segments, and BM25 by paper id. ``IndexVersion`` holds one
of each; nothing here loads the corpus into Python objects."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterator, Mapping, Sequence
from math import isnan
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from indexer.ann import AnnParams
from indexer.fanout import map_segments
from indexer.lexical import LexicalIndex, tokenize
from indexer.lexical_impacts import ImpactCache
from indexer.models import Chunk, Paper
from indexer.title_vectors import cosines

if TYPE_CHECKING:
    from indexer.index import IndexVersion
    from indexer.segment import Segment


# paper id -> (segment position, row) of its live copy, as PapersView.locate finds them.
Located = Mapping[str, tuple[int, int]]


def _by_segment(located: Located) -> dict[int, dict[int, str]]:
    """Located papers grouped for one read per segment: position -> {row: paper id}."""
    grouped: dict[int, dict[int, str]] = {}
    for paper_id, (position, row) in located.items():
        grouped.setdefault(position, {})[row] = paper_id
    return grouped


class LexicalHits(NamedTuple):
    """BM25's best papers, best first: scores, ids and where each lives."""

    scores: np.ndarray
    paper_ids: list[str]
    locations: list[tuple[int, int]]


class PapersView(Mapping[str, Paper]):
    """The live papers of a version, read from the segments on demand."""

    def __init__(self, version: IndexVersion) -> None:
        self._version = version

    def locate(
        self, paper_ids: Sequence[str], known: Located | None = None
    ) -> dict[str, tuple[int, int]]:
        """paper id -> (segment position, row) of the live copy (newest segment wins).

        ``known``: locations already found (a search's candidates carry theirs), taken as they
        are; only the others are looked up in SQLite."""
        wanted = list(dict.fromkeys(paper_ids))
        found = {p: known[p] for p in wanted if p in known} if known else {}
        for position in reversed(range(len(self._version.segments))):
            missing = [p for p in wanted if p not in found]
            if not missing:
                break
            rows = self._version.segments[position].rows_of(missing)
            found.update({p: (position, row) for p, row in rows.items()})
        return found

    def many(self, paper_ids: Sequence[str], known: Located | None = None) -> dict[str, Paper]:
        """The live ones of ``paper_ids`` (``known``: as for ``locate``).

        A large version's segments are read side by side: their SQLite files are bigger than
        what the page cache keeps of them, a record out of it is a read from disk, and SQLite
        waits for it without the GIL."""
        segments = self._version.segments
        groups = list(_by_segment(self.locate(paper_ids, known)).items())

        def read(group: tuple[int, dict[int, str]]) -> dict[int, Paper]:
            return segments[group[0]].papers_at(list(group[1]))

        size = sum(s.n_papers for s in segments)
        out: dict[str, Paper] = {}
        for found in map_segments(read, groups, size, self._version.params.parallel_min_rows):
            for paper in found.values():
                out[paper.paper_id] = paper
        return out

    def page(self, offset: int, limit: int, words: Sequence[str] = ()) -> tuple[int, list[Paper]]:
        """(how many live papers contain every word, the page ``[offset, offset + limit)`` of
        them ordered by casefolded title then id), read with SQL per segment."""
        total, runs = 0, []
        for segment in self._version.segments:
            count, rows = segment.page(words, offset + limit)
            total += count
            runs.append(rows)
        merged = heapq.merge(*runs, key=lambda row: (row[0], row[1]))
        return total, [paper for _, _, paper in itertools.islice(merged, offset, offset + limit)]

    def matching(
        self, equals: Mapping[str, Any], published_from: str | None, published_to: str | None
    ) -> set[str]:
        """Ids of the live papers that pass these filters (as ``Filters.accepts`` reads them),
        evaluated by SQLite over each segment's records rather than in Python."""
        clauses, params = ["1"], []
        for key, wanted in equals.items():
            if key in ("title", "url", "published", "paper_id"):
                clauses.append(f"json_extract(data, '$.{key}') = ?")
                params.append(wanted)
                continue
            if '"' in key or "\\" in key:
                return set()  # no such metadata key can be named in a JSON path
            path = "$.authors" if key == "authors" else f'$.metadata."{key}"'
            # json_each of a scalar is the scalar itself: list fields match by membership.
            clauses.append("EXISTS (SELECT 1 FROM json_each(data, ?) WHERE value = ?)")
            params += [path, wanted]
        if published_from or published_to:
            clauses.append("json_extract(data, '$.published') IS NOT NULL")
        if published_from:
            clauses.append("json_extract(data, '$.published') >= ?")
            params.append(published_from)
        if published_to:
            clauses.append("json_extract(data, '$.published') <= ?")
            params.append(published_to)
        sql = f"SELECT row, paper_id FROM papers WHERE {' AND '.join(clauses)}"
        found: set[str] = set()
        for segment in self._version.segments:
            found.update(pid for row, pid in segment.query(sql, params) if segment.is_live(row))
        return found

    def __getitem__(self, paper_id: str) -> Paper:
        found = self.many([paper_id])
        if paper_id not in found:
            raise KeyError(paper_id)
        return found[paper_id]

    def __contains__(self, paper_id: object) -> bool:
        return isinstance(paper_id, str) and bool(self.locate([paper_id]))

    def __len__(self) -> int:
        return sum(s.n_live for s in self._version.segments)

    def __iter__(self) -> Iterator[str]:
        for segment in self._version.segments:
            for start in range(0, segment.n_papers, 10_000):
                sql = "SELECT row, paper_id FROM papers WHERE row >= ? AND row < ? ORDER BY row"
                for row, paper_id in segment.query(sql, (start, start + 10_000)):
                    if segment.is_live(row):
                        yield paper_id

    def values(self) -> Iterator[Paper]:  # type: ignore[override]
        for segment in self._version.segments:
            live = segment.live_rows()
            for start in range(0, len(live), 2_000):
                yield from segment.papers_at(live[start : start + 2_000]).values()


class ChunksView(Mapping[int, Chunk]):
    """The live chunks of a version by global chunk id."""

    def __init__(self, version: IndexVersion) -> None:
        self._version = version

    def __getitem__(self, chunk_id: int) -> Chunk:
        segment = self._version.segment_of_chunk(int(chunk_id))
        found = segment.chunk(int(chunk_id) - segment.base) if segment else None
        if segment is None or found is None or not segment.is_live(found[0]):
            raise KeyError(chunk_id)
        row, chunk = found
        chunk.paper_id = segment.paper_ids_at([row])[row]
        return chunk

    def many(self, chunk_ids: Sequence[int]) -> dict[int, Chunk]:
        """The live ones of ``chunk_ids`` (ids of this version's segments) with their paper
        ids: two queries per segment involved, however many ids."""
        out: dict[int, Chunk] = {}
        for segment, _, local in self._version.locate_chunks(chunk_ids):
            found = segment.chunks_at(local.tolist())
            live = [pc for pc in found.values() if segment.is_live(pc[0])]
            names = segment.paper_ids_at(sorted({paper_row for paper_row, _ in live}))
            for paper_row, chunk in live:
                chunk.paper_id = names[paper_row]
                out[chunk.chunk_id] = chunk
        return out

    def first_of(self, paper_ids: Sequence[str], known: Located | None = None) -> dict[str, Chunk]:
        """The first chunk of each live paper of ``paper_ids``, one query per segment
        (``known``: as for ``PapersView.locate``)."""
        out: dict[str, Chunk] = {}
        located = self._version.papers.locate(paper_ids, known)
        for position, rows in _by_segment(located).items():
            for row, chunk in self._version.segments[position].first_chunks(list(rows)).items():
                chunk.paper_id = rows[row]
                out[rows[row]] = chunk
        return out

    def __len__(self) -> int:
        return self._version.n_live_chunks

    def __iter__(self) -> Iterator[int]:
        for segment in self._version.segments:
            dead = segment.deleted_chunks()
            dead_set = set(dead.tolist()) if dead is not None else set()
            for local in range(segment.n_chunks):
                if local not in dead_set:
                    yield segment.base + local


class VectorsView:
    """Dense search over every segment's live chunks, merged by score."""

    def __init__(self, version: IndexVersion, params: AnnParams) -> None:
        self._version = version
        self.params = params

    def __len__(self) -> int:
        return self._version.n_live_chunks

    @property
    def kind(self) -> str:
        kinds = sorted({s.kind for s in self._version.segments})
        return "+".join(kinds) if kinds else "flat"

    def search(
        self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (scores, chunk ids) per query row among ``allowed`` chunk ids (None: all).
        Rows are cut to the shortest result (k' <= k)."""
        work: list[tuple[Segment, np.ndarray | None]] = []
        for segment in self._version.segments:
            local = None
            if allowed is not None:
                inside = allowed[
                    (allowed >= segment.base) & (allowed < segment.base + segment.n_chunks)
                ]
                if not len(inside):
                    continue
                local = (inside - segment.base).astype(np.int64)
            work.append((segment, local))
        rows = sum(s.n_chunks if local is None else len(local) for s, local in work)
        all_scores, all_ids = [], []
        for query in np.asarray(queries, dtype=np.float32):

            def one(
                job: tuple[Segment, np.ndarray | None], q: np.ndarray = query
            ) -> tuple[np.ndarray, np.ndarray]:
                return job[0].search(q, k, job[1], self.params)

            found = map_segments(one, work, rows, self.params.parallel_min_rows)
            parts_s = [scores for scores, _ in found]
            parts_i = [ids for _, ids in found]
            scores = np.concatenate(parts_s) if parts_s else np.zeros(0, np.float32)
            ids = np.concatenate(parts_i) if parts_i else np.zeros(0, np.int64)
            order = np.argsort(-scores, kind="stable")[:k]
            all_scores.append(scores[order])
            all_ids.append(ids[order])
        width = min((len(s) for s in all_scores), default=0)
        return (
            np.array([s[:width] for s in all_scores], dtype=np.float32).reshape(
                len(all_scores), width
            ),
            np.array([i[:width] for i in all_ids], dtype=np.int64).reshape(len(all_ids), width),
        )

    def vectors_of(self, chunk_ids: Sequence[int]) -> np.ndarray:
        out = np.empty((len(chunk_ids), self._version.dimension), dtype=np.float32)
        for segment, inside, local in self._version.locate_chunks(chunk_ids):
            out[inside] = segment.vectors[local]
        return out

    def of_papers(self, paper_ids: Sequence[str], known: Located | None = None) -> np.ndarray:
        """The mean of each paper's chunk vectors, in order (zeros for a paper not live here;
        ``known``: as for ``PapersView.locate``)."""
        out = np.zeros((len(paper_ids), self._version.dimension), dtype=np.float32)
        for at, vectors, starts in self._chunk_runs(paper_ids, known):
            sizes = np.diff(np.append(starts, len(vectors)))
            out[at] = np.add.reduceat(vectors, starts) / sizes[:, np.newaxis]
        return out

    def best_scores(
        self, paper_ids: Sequence[str], query: np.ndarray, known: Located | None = None
    ) -> np.ndarray:
        """Each paper's best chunk score for ``query``, in order (-inf for a paper not live
        here): the dense score of a paper the dense search did not return."""
        out = np.full(len(paper_ids), -np.inf, dtype=np.float32)
        q = np.asarray(query, dtype=np.float32)
        for at, vectors, starts in self._chunk_runs(paper_ids, known):
            out[at] = np.maximum.reduceat(vectors @ q, starts)
        return out

    def title_similarities(self, query: np.ndarray, located: Located) -> dict[str, float]:
        """The query's cosine to the title of each ``located`` paper that has a title vector
        (``indexer/title_vectors.py``); papers without one are left out."""
        out: dict[str, float] = {}
        for position, found in _by_segment(located).items():
            titles = self._version.segments[position].title_vectors
            if titles is None:
                continue
            scores = cosines(titles, np.fromiter(found, np.int64, len(found)), query).tolist()
            out.update((p, s) for p, s in zip(found.values(), scores, strict=True) if not isnan(s))
        return out

    def _chunk_runs(
        self, paper_ids: Sequence[str], known: Located | None
    ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Per segment: (positions in ``paper_ids`` of its papers that have chunks, their chunk
        vectors one paper after another, where each paper's run starts in them).

        A segment writes its chunks in paper order, so a paper's chunks are the run of its row
        in the segment's chunk -> paper map: no SQLite query beyond locating the papers, and
        one gather per segment instead of one per paper."""
        located = self._version.papers.locate(paper_ids, known)
        by_segment: dict[int, list[tuple[int, int]]] = {}
        for at, paper_id in enumerate(paper_ids):
            if paper_id in located:
                position, row = located[paper_id]
                by_segment.setdefault(position, []).append((at, row))
        for position, found in by_segment.items():
            segment = self._version.segments[position]
            where = np.array([at for at, _ in found], dtype=np.int64)
            rows = np.array([r for _, r in found], dtype=np.int64)
            # In the map's own type: a mixed-type search would convert the whole map.
            keys = rows.astype(segment.chunk_paper.dtype)
            first = np.searchsorted(segment.chunk_paper, keys, side="left")
            end = np.searchsorted(segment.chunk_paper, keys, side="right")
            has = end > first
            if not has.any():
                continue
            first, end = first[has], end[has]
            sizes = end - first
            starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
            # Every chunk row of every run, in order: each run's first row plus 0..size-1.
            chunk_rows = np.repeat(first - starts, sizes) + np.arange(int(sizes.sum()))
            yield where[has], segment.vectors[chunk_rows], starts


class LexicalView:
    """BM25 over the version's papers, by paper id."""

    def __init__(self, version: IndexVersion) -> None:
        self._version = version
        segments = version.segments
        params = version.params
        self._index = LexicalIndex(
            segments,
            [s.postings for s in segments],
            params.parallel_min_rows,
            params.impact_cache_mb << 20,
        )

    @property
    def impacts(self) -> ImpactCache:
        """The BM25 impacts this version's queries remembered (``indexer/lexical_impacts.py``)."""
        return self._index.impacts

    def term_weights(self, text: str) -> dict[str, float]:
        return self._index.term_weights(text)

    def idf_of(self, terms: Sequence[str]) -> dict[str, float]:
        """``term_weights`` of stemmed ``terms`` (``tokenize``'s), without tokenizing again."""
        return self._index.idf_of(terms)

    def search(self, query: str, k: int, paper_ids: set[str] | None = None) -> LexicalHits:
        """The top ``k`` papers with a positive score, best first."""
        return self._top(self._index.top(query, k, self._allowed(paper_ids)), k)

    def search_weighted(
        self, terms: Mapping[str, float], k: int, paper_ids: set[str] | None = None
    ) -> LexicalHits:
        """As ``search``, for stemmed ``terms`` with a weight each (``tokenize``'s terms)."""
        return self._top(self._index.top_weighted(terms, k, self._allowed(paper_ids)), k)

    def _allowed(self, paper_ids: set[str] | None) -> list[np.ndarray] | None:
        if paper_ids is None:
            return None
        located = self._version.papers.locate(sorted(paper_ids))
        return [
            np.array([r for s, r in located.values() if s == i], dtype=np.int64)
            for i in range(len(self._version.segments))
        ]

    def _top(self, per_segment: Sequence[tuple[np.ndarray, np.ndarray]], k: int) -> LexicalHits:
        candidates: list[tuple[float, int, int]] = []
        for position, (found, scores) in enumerate(per_segment):
            candidates.extend(
                (score, position, row)
                for row, score in zip(found.tolist(), scores.tolist(), strict=True)
                if score > 0
            )
        candidates.sort(key=lambda c: (-c[0], c[1], c[2]))
        candidates = candidates[:k]
        names: dict[tuple[int, int], str] = {}
        for position in {c[1] for c in candidates}:
            rows = [c[2] for c in candidates if c[1] == position]
            ids = self._version.segments[position].paper_ids_at(rows)
            names.update({(position, r): p for r, p in ids.items()})
        return LexicalHits(
            np.array([c[0] for c in candidates], dtype=np.float32),
            [names[(c[1], c[2])] for c in candidates],
            [(c[1], c[2]) for c in candidates],
        )

    @staticmethod
    def tokenize(text: str) -> list[str]:
        return tokenize([text])[0]
