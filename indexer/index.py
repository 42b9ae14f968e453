"""Opening an index version read-only: its segments, tombstones, vectors and BM25.

The one code path that opens a version (the service, the CLI, the builder and evaluation all
come here). Opening maps files and reads small headers; nothing proportional to the corpus is
loaded into Python objects: papers and chunks are read from each segment's SQLite file on
demand, vectors stay memory-mapped, and only hnsw / ivf_sq8 structures are held in RAM.
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from indexer.ann import AnnParams
from indexer.errors import EmbedderMismatchError, IndexCorruptError, PaperNotFoundError
from indexer.lexical import LexicalIndex, tokenize
from indexer.models import Chunk, Paper
from indexer.segment import Segment
from indexer.storage import TOMBSTONES, IndexDir, read_json

# Below this many bytes an open checks every file's sha256 (a fraction of a second); above
# it only sizes, and `abstractqa index verify` reads everything.
HASH_ON_OPEN_MAX_BYTES = 512 * 1024 * 1024


class PapersView(Mapping[str, Paper]):
    """The live papers of a version, read from the segments on demand."""

    def __init__(self, version: IndexVersion) -> None:
        self._version = version

    def locate(self, paper_ids: Sequence[str]) -> dict[str, tuple[int, int]]:
        """paper id -> (segment position, row) of the live copy (newest segment wins)."""
        found: dict[str, tuple[int, int]] = {}
        wanted = list(dict.fromkeys(paper_ids))
        for position in reversed(range(len(self._version.segments))):
            missing = [p for p in wanted if p not in found]
            if not missing:
                break
            rows = self._version.segments[position].rows_of(missing)
            found.update({p: (position, row) for p, row in rows.items()})
        return found

    def many(self, paper_ids: Sequence[str]) -> dict[str, Paper]:
        by_segment: dict[int, list[int]] = {}
        for position, row in self.locate(paper_ids).values():
            by_segment.setdefault(position, []).append(row)
        out: dict[str, Paper] = {}
        for position, rows in by_segment.items():
            for paper in self._version.segments[position].papers_at(rows).values():
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
            for start in range(0, segment.n_papers, 2_000):
                rows = [r for r in range(start, min(start + 2_000, segment.n_papers))]
                live = [r for r in rows if segment.is_live(r)]
                yield from segment.papers_at(live).values()


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
        all_scores, all_ids = [], []
        for query in np.asarray(queries, dtype=np.float32):
            parts_s, parts_i = [], []
            for segment in self._version.segments:
                local = None
                if allowed is not None:
                    inside = allowed[
                        (allowed >= segment.base) & (allowed < segment.base + segment.n_chunks)
                    ]
                    if not len(inside):
                        continue
                    local = (inside - segment.base).astype(np.int64)
                scores, ids = segment.search(query, k, local, self.params)
                parts_s.append(scores)
                parts_i.append(ids)
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
        rows = []
        for chunk_id in chunk_ids:
            segment = self._version.segment_of_chunk(int(chunk_id))
            if segment is None:
                raise KeyError(chunk_id)
            rows.append(np.asarray(segment.vectors[int(chunk_id) - segment.base]))
        return np.vstack(rows)


class LexicalView:
    """BM25 over the version's papers, by paper id."""

    def __init__(self, version: IndexVersion) -> None:
        self._version = version
        segments = version.segments
        self._index = LexicalIndex(segments, [s.postings for s in segments])

    def term_weights(self, text: str) -> dict[str, float]:
        return self._index.term_weights(text)

    def search(
        self, query: str, k: int, paper_ids: set[str] | None = None
    ) -> tuple[np.ndarray, list[str]]:
        """Top-``k`` (scores, paper ids) with a positive score, best first."""
        return self._top(self._index.score(query, self._allowed(paper_ids)), k)

    def search_weighted(
        self, terms: Mapping[str, float], k: int, paper_ids: set[str] | None = None
    ) -> tuple[np.ndarray, list[str]]:
        """As ``search``, for stemmed ``terms`` with a weight each (``tokenize``'s terms)."""
        return self._top(self._index.score_weighted(terms, self._allowed(paper_ids)), k)

    def _allowed(self, paper_ids: set[str] | None) -> list[np.ndarray] | None:
        if paper_ids is None:
            return None
        located = self._version.papers.locate(sorted(paper_ids))
        return [
            np.array([r for s, r in located.values() if s == i], dtype=np.int64)
            for i in range(len(self._version.segments))
        ]

    def _top(
        self, per_segment: Sequence[np.ndarray | None], k: int
    ) -> tuple[np.ndarray, list[str]]:
        candidates: list[tuple[float, int, int]] = []
        for position, scores in enumerate(per_segment):
            if scores is None:
                continue
            n = min(k, len(scores))
            top = np.argpartition(-scores, n - 1)[:n] if n else np.zeros(0, np.int64)
            candidates.extend((float(scores[r]), position, int(r)) for r in top if scores[r] > 0)
        candidates.sort(key=lambda c: (-c[0], c[1], c[2]))
        candidates = candidates[:k]
        names: dict[tuple[int, int], str] = {}
        for position in {c[1] for c in candidates}:
            rows = [c[2] for c in candidates if c[1] == position]
            ids = self._version.segments[position].paper_ids_at(rows)
            names.update({(position, r): p for r, p in ids.items()})
        return (
            np.array([c[0] for c in candidates], dtype=np.float32),
            [names[(c[1], c[2])] for c in candidates],
        )

    @staticmethod
    def tokenize(text: str) -> list[str]:
        return tokenize([text])[0]


@dataclass
class IndexVersion:
    """One complete, immutable index version, opened read-only."""

    path: Path
    manifest: dict[str, Any]
    segments: list[Segment]
    params: AnnParams = field(default_factory=AnnParams)

    def __post_init__(self) -> None:
        self._bases = np.array([s.base for s in self.segments], dtype=np.int64)
        self.papers = PapersView(self)
        self.chunks = ChunksView(self)
        self.vectors = VectorsView(self, self.params)
        self.bm25 = LexicalView(self)

    @property
    def name(self) -> str:
        return str(self.manifest["version"])

    @property
    def embedder_name(self) -> str:
        return str(self.manifest["embedder"]["name"])

    @property
    def n_live_chunks(self) -> int:
        return sum(
            s.n_chunks - (len(d) if (d := s.deleted_chunks()) is not None else 0)
            for s in self.segments
        )

    def segment_of_chunk(self, chunk_id: int) -> Segment | None:
        position = int(np.searchsorted(self._bases, chunk_id, side="right")) - 1
        if position < 0:
            return None
        segment = self.segments[position]
        return segment if chunk_id < segment.base + segment.n_chunks else None

    def chunks_of(self, paper_id: str) -> list[Chunk]:
        located = self.papers.locate([paper_id])
        if paper_id not in located:
            return []
        position, row = located[paper_id]
        return self.segments[position].chunks_of_row(row, paper_id)

    def paper_ids_of_chunks(self, chunk_ids: Sequence[int]) -> list[str]:
        """The paper id of each chunk id, in order (one SQLite query per segment involved)."""
        ids = np.asarray(chunk_ids, dtype=np.int64)
        positions = np.searchsorted(self._bases, ids, side="right") - 1
        rows = np.empty(len(ids), dtype=np.int64)
        names: dict[tuple[int, int], str] = {}
        for position in np.unique(positions).tolist():
            segment = self.segments[position] if position >= 0 else None
            inside = positions == position
            local = ids[inside] - (segment.base if segment else 0)
            if segment is None or (local >= segment.n_chunks).any():
                raise KeyError(int(ids[inside][0]))
            rows[inside] = segment.chunk_paper[local]
            wanted = np.unique(rows[inside]).tolist()
            names.update({(position, r): p for r, p in segment.paper_ids_at(wanted).items()})
        return [names[(p, r)] for p, r in zip(positions.tolist(), rows.tolist(), strict=True)]

    def paper(self, paper_id: str) -> Paper:
        try:
            return self.papers[paper_id]
        except KeyError:
            raise PaperNotFoundError(f"no paper with id {paper_id!r} in the index") from None

    def close(self) -> None:
        for segment in self.segments:
            segment.close()


def check_embedder(manifest: dict[str, Any], expected: str | None, where: Path) -> None:
    built_with = manifest["embedder"]["name"]
    if expected is not None and built_with != expected:
        raise EmbedderMismatchError(
            f"the index at {where} was built with embedder {built_with!r} "
            f"(dimension {manifest['embedder']['dimension']}), but the configured embedder is "
            f"{expected!r}; configure {built_with!r} again, or run `abstractqa index rebuild` "
            "to re-embed every paper with the new one"
        )


def read_tombstones(version: Path) -> dict[str, list[int]]:
    path = version / TOMBSTONES
    data = read_json(path, "the version is incomplete")
    if not isinstance(data, dict):
        raise IndexCorruptError(f"{path}: not a mapping of segment names to rows")
    return {str(k): [int(r) for r in v] for k, v in data.items()}


def open_version(
    root: IndexDir, version: Path, manifest: dict[str, Any], params: AnnParams | None = None
) -> IndexVersion:
    """Open ``version``'s segments (files already checked by ``IndexDir.verify``)."""
    tombstones = read_tombstones(version)
    segments: list[Segment] = []
    dimension = manifest["embedder"]["dimension"]
    try:
        for entry in manifest["segments"]:
            name = entry["name"]
            meta = root.read_segment_meta(name)
            if meta.get("dimension") != dimension:
                raise IndexCorruptError(
                    f"{root.segment_dir(name) / 'segment.json'}: vectors of dimension "
                    f"{meta.get('dimension')}, the manifest's embedder has {dimension}"
                )
            segment = _open_segment(root.segment_dir(name), meta, tombstones.get(name, ()))
            if segment.vectors.shape[1:] != (dimension,):
                raise IndexCorruptError(
                    f"{segment.directory / 'vectors.npy'}: vectors of shape "
                    f"{segment.vectors.shape}, the manifest's embedder has dimension {dimension}"
                )
            segments.append(segment)
    except Exception:
        for segment in segments:
            segment.close()
        raise
    segments.sort(key=lambda s: s.base)
    opened = IndexVersion(version, manifest, segments, params or AnnParams())
    counts = manifest["counts"]
    if len(opened.papers) != counts["papers"] or opened.n_live_chunks != counts["chunks"]:
        opened.close()
        raise IndexCorruptError(
            f"{version}: its segments hold {len(opened.papers)} papers and "
            f"{opened.n_live_chunks} chunks; the manifest says {counts['papers']} papers "
            f"and {counts['chunks']} chunks"
        )
    return opened


def _open_segment(directory: Path, meta: dict[str, Any], deleted: Sequence[int]) -> Segment:
    try:
        return Segment(directory, meta, deleted)
    except IndexCorruptError:
        raise
    except Exception as exc:
        raise IndexCorruptError(f"{directory}: cannot open the segment: {exc}") from exc


def index_bytes(root: IndexDir, manifest: dict[str, Any]) -> int:
    total = 0
    for entry in manifest.get("segments", []):
        meta = root.read_segment_meta(entry["name"])
        total += sum(int(f["bytes"]) for f in meta["files"].values())
    return total


def check_version(
    index_dir: Path, expected_embedder: str | None, hashes: bool | None = None
) -> tuple[IndexDir, Path, dict[str, Any]]:
    """The current version's directory and manifest, after checking every file it names
    (sizes always; sha256 when ``hashes``, or by default when the index is small)."""
    root = IndexDir(index_dir)
    try:
        version = root.current()
        manifest = root.read_manifest(version)
        _check_manifest(version, manifest)
        check_embedder(manifest, expected_embedder, index_dir)
        if hashes is None:
            hashes = index_bytes(root, manifest) <= HASH_ON_OPEN_MAX_BYTES
        root.verify(version, manifest, hashes=hashes)
    except OSError as exc:  # e.g. a file we may not read, or CURRENT is a directory
        where = exc.filename or index_dir
        raise IndexCorruptError(f"{where}: cannot be read ({exc.strerror or exc})") from exc
    return root, version, manifest


def open_index(
    index_dir: Path,
    expected_embedder: str | None = None,
    hashes: bool | None = None,
    params: AnnParams | None = None,
) -> IndexVersion:
    """Check and open the current version of ``index_dir``; raises an ``IndexStoreError``
    that names the missing or damaged file, or the embedder mismatch."""
    started = time.perf_counter()
    root, version, manifest = check_version(index_dir, expected_embedder, hashes)
    opened = open_version(root, version, manifest, params)
    opened.manifest.setdefault("opened_in_s", round(time.perf_counter() - started, 3))
    return opened


def _require(path: Path, manifest: dict[str, Any], key: str, kind: type) -> Any:
    value = manifest.get(key)
    if not isinstance(value, kind):
        raise IndexCorruptError(f"{path}: no valid {key!r} field (the manifest is damaged)")
    return value


def _check_manifest(version: Path, manifest: dict[str, Any]) -> None:
    """The manifest fields every reader relies on are there and well-formed."""
    path = version / "manifest.json"
    if _require(path, manifest, "version", str) != version.name:
        raise IndexCorruptError(
            f"{path}: names version {manifest['version']!r} but lies in {version.name}"
        )
    counts = _require(path, manifest, "counts", dict)
    embedder = _require(path, manifest, "embedder", dict)
    files = _require(path, manifest, "files", dict)
    segments = _require(path, manifest, "segments", list)
    if not all(isinstance(counts.get(k), int) for k in ("papers", "chunks")):
        raise IndexCorruptError(f"{path}: no valid paper and chunk counts")
    if not isinstance(embedder.get("name"), str) or not isinstance(embedder.get("dimension"), int):
        raise IndexCorruptError(f"{path}: no valid embedder name and dimension")
    if not all(isinstance(s, dict) and isinstance(s.get("name"), str) for s in segments):
        raise IndexCorruptError(f"{path}: no valid segment list")
    for name, meta in files.items():
        if not (
            isinstance(meta, dict)
            and isinstance(meta.get("bytes"), int)
            and isinstance(meta.get("sha256"), str)
        ):
            raise IndexCorruptError(f"{path}: no valid size and sha256 for {name}")
    if TOMBSTONES not in files:
        raise IndexCorruptError(f"{path}: does not list {TOMBSTONES}")


def current_version_name(index_dir: Path) -> str:
    """The name ``CURRENT`` points at (raises ``IndexStoreError`` naming the file if it is
    missing or garbled); cheap enough to poll."""
    return IndexDir(index_dir).current_name()
