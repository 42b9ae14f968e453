"""Opening an index version read-only: its segments, tombstones, vectors and BM25.

The one code path that opens a version (the service, the CLI, the builder and evaluation all
come here). Opening maps files and reads small headers; nothing proportional to the corpus is
loaded into Python objects: papers and chunks are read from each segment's SQLite file on
demand, vectors stay memory-mapped, and only hnsw / ivf_sq8 structures are held in RAM.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from indexer.ann import AnnParams
from indexer.errors import EmbedderMismatchError, IndexCorruptError, PaperNotFoundError
from indexer.models import Chunk, Paper
from indexer.segment import Segment
from indexer.storage import TOMBSTONES, IndexDir, read_json
from indexer.views import ChunksView, LexicalView, PapersView, VectorsView

# Below this many bytes an open checks every file's sha256 (a fraction of a second); above
# it only sizes, and `abstractqa index verify` reads everything.
HASH_ON_OPEN_MAX_BYTES = 512 * 1024 * 1024


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

    @property
    def dimension(self) -> int:
        return int(self.manifest["embedder"]["dimension"])

    def locate_chunks(
        self, chunk_ids: Sequence[int] | np.ndarray
    ) -> Iterator[tuple[Segment, np.ndarray, np.ndarray]]:
        """Per segment holding some of ``chunk_ids``: (the segment, a mask of the ids it holds,
        their local rows); ``KeyError`` for an id no segment holds."""
        ids = np.asarray(chunk_ids, dtype=np.int64)
        positions = np.searchsorted(self._bases, ids, side="right") - 1
        for position in np.unique(positions).tolist():
            inside = positions == position
            segment = self.segments[position] if position >= 0 else None
            local = ids[inside] - (segment.base if segment else 0)
            if segment is None or (local >= segment.n_chunks).any():
                raise KeyError(int(ids[inside][0]))
            yield segment, inside, local

    def segment_of_chunk(self, chunk_id: int) -> Segment | None:
        try:
            return next(segment for segment, _, _ in self.locate_chunks([chunk_id]))
        except KeyError:
            return None

    def chunks_of(self, paper_id: str) -> list[Chunk]:
        located = self.papers.locate([paper_id])
        if paper_id not in located:
            return []
        position, row = located[paper_id]
        return self.segments[position].chunks_of_row(row, paper_id)

    def first_papers_of_chunks(
        self, chunk_ids: Sequence[int] | np.ndarray, limit: int
    ) -> list[tuple[int, str, tuple[int, int]]]:
        """(position in ``chunk_ids``, paper id, (segment position, paper row)) of each distinct
        paper's first chunk there, in that order, for the first ``limit`` papers: a dense
        search's candidates hold several chunks per paper, and only the papers kept need their
        ids read."""
        ids = np.asarray(chunk_ids, dtype=np.int64)
        keys = np.empty(len(ids), dtype=np.int64)
        for segment, inside, local in self.locate_chunks(ids):
            rows = np.asarray(segment.chunk_paper[local], dtype=np.int64)
            keys[inside] = (self.segments.index(segment) << 32) | rows
        _, first = np.unique(keys, return_index=True)
        kept = np.sort(first)[:limit]
        positions = (keys[kept] >> 32).tolist()
        rows = (keys[kept] & 0xFFFFFFFF).tolist()
        wanted: dict[int, list[int]] = {}
        for position, row in zip(positions, rows, strict=True):
            wanted.setdefault(position, []).append(row)
        names = {
            position: self.segments[position].paper_ids_at(sorted(in_segment))
            for position, in_segment in wanted.items()
        }
        return [
            (at, names[position][row], (position, row))
            for at, position, row in zip(kept.tolist(), positions, rows, strict=True)
        ]

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
