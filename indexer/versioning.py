"""What a new version consists of (segments and tombstones), and writing it as the commit point."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from indexer.config import IndexerSettings
from indexer.embedders import Embedder
from indexer.index import IndexVersion
from indexer.segment import CHUNK_PAPER_FILE, DB_FILE
from indexer.storage import FORMAT_VERSION, TOMBSTONES, IndexDir, now_iso
from indexer.text import TIKTOKEN_ENCODING


@dataclass
class VersionPlan:
    """The segments (in order), the rows deleted from each, and the manifest's other fields."""

    segments: list[dict[str, Any]]
    tombstones: dict[str, set[int]]
    embedder: dict[str, Any]
    settings: dict[str, Any]
    sources: dict[str, Any] = field(default_factory=dict)
    next_chunk_id: int = 0

    @classmethod
    def empty(
        cls, previous: dict[str, Any] | None, embedder: Embedder, settings: IndexerSettings
    ) -> VersionPlan:
        return cls(
            segments=[],
            tombstones={},
            embedder={
                "name": embedder.name,
                "dimension": embedder.dimension,
                "max_input_tokens": embedder.max_input_tokens,
            },
            settings=_settings(settings),
            sources=dict(previous.get("sources", {})) if previous else {},
            next_chunk_id=int(previous.get("next_chunk_id", 0)) if previous else 0,
        )

    def add_segments(self, metas: Iterable[dict[str, Any]], next_chunk_id: int) -> None:
        for meta in metas:
            self.segments.append({k: meta[k] for k in ("name", "papers", "chunks", "sentences")})
        self.next_chunk_id = max(self.next_chunk_id, next_chunk_id)

    def delete_rows(self, rows: Iterable[tuple[str, int]]) -> None:
        for name, row in rows:
            self.tombstones.setdefault(name, set()).add(int(row))

    def drop_segments(self, names: set[str]) -> None:
        self.segments = [s for s in self.segments if s["name"] not in names]
        for name in names:
            self.tombstones.pop(name, None)


def plan_from(
    current: IndexVersion | None, embedder: Embedder | None, settings: IndexerSettings
) -> VersionPlan:
    """A plan that starts as ``current`` (or empty, for a first build)."""
    if current is None:
        assert embedder is not None
        return VersionPlan.empty(None, embedder, settings)
    manifest = current.manifest
    plan = VersionPlan(
        segments=[dict(s) for s in manifest["segments"]],
        tombstones={s.name: set(s.deleted_rows.tolist()) for s in current.segments},
        embedder=dict(manifest["embedder"]),
        settings=_settings(settings),
        sources=dict(manifest.get("sources", {})),
        next_chunk_id=int(manifest.get("next_chunk_id", 0)),
    )
    if embedder is not None:
        plan.embedder = VersionPlan.empty(None, embedder, settings).embedder
    return plan


def _settings(settings: IndexerSettings) -> dict[str, Any]:
    return {
        "chunk_tokens": settings.chunking.tokens,
        "chunk_overlap_sentences": settings.chunking.overlap_sentences,
        "tokenizer": f"tiktoken:{TIKTOKEN_ENCODING}",
        "vector_index_rule": settings.index.vector_index,
        "hnsw_min_vectors": settings.index.hnsw_min_vectors,
        "ivf_min_vectors": settings.index.ivf_min_vectors,
        "segment_max_papers": settings.index.segment_max_papers,
    }


def _deleted_counts(root: IndexDir, name: str, rows: set[int]) -> tuple[int, int]:
    """Chunks and sentences of the deleted ``rows`` of segment ``name``."""
    import sqlite3

    directory = root.segment_dir(name)
    chunk_paper = np.load(directory / CHUNK_PAPER_FILE, mmap_mode="r")
    chunks = int(np.isin(chunk_paper, np.fromiter(rows, np.int64, len(rows))).sum())
    db = sqlite3.connect(f"file:{directory / DB_FILE}?mode=ro&immutable=1", uri=True)
    try:
        sentences = 0
        ordered = sorted(rows)
        for start in range(0, len(ordered), 500):
            part = ordered[start : start + 500]
            sql = f"SELECT SUM(n_sentences) FROM papers WHERE row IN ({','.join('?' * len(part))})"
            sentences += int(db.execute(sql, part).fetchone()[0] or 0)
    finally:
        db.close()
    return chunks, sentences


def commit_version(
    root: IndexDir, plan: VersionPlan, operation: dict[str, Any], parent: str | None
) -> str:
    """Write ``plan`` as the next version and make it current (call with the write lock)."""
    # A segment whose every paper is removed is dropped here: nothing to rewrite.
    empty = {
        s["name"] for s in plan.segments if len(plan.tombstones.get(s["name"], ())) >= s["papers"]
    }
    plan.drop_segments(empty)
    papers = chunks = sentences = 0
    kinds: dict[str, int] = {}
    for entry in plan.segments:
        deleted = plan.tombstones.get(entry["name"], set())
        dead_chunks, dead_sentences = (
            _deleted_counts(root, entry["name"], deleted) if deleted else (0, 0)
        )
        entry["deleted"] = len(deleted)
        papers += entry["papers"] - len(deleted)
        chunks += entry["chunks"] - dead_chunks
        sentences += entry["sentences"] - dead_sentences
        kind = root.read_segment_meta(entry["name"]).get("vector_index", "flat")
        kinds[kind] = kinds.get(kind, 0) + 1
    build = root.new_build_dir()
    tombstones = {k: sorted(v) for k, v in sorted(plan.tombstones.items()) if v}
    (build / TOMBSTONES).write_text(json.dumps(tombstones), encoding="utf-8")
    name = root.next_name()
    settings = dict(plan.settings)
    settings["vector_index"] = "+".join(sorted(kinds)) if kinds else "flat"
    manifest = {
        "format_version": FORMAT_VERSION,
        "version": name,
        "parent": parent,
        "created": now_iso(),
        "embedder": plan.embedder,
        "settings": settings,
        "segments": plan.segments,
        "next_chunk_id": plan.next_chunk_id,
        "counts": {
            "papers": papers,
            "chunks": chunks,
            "vectors": chunks,
            "sentences": sentences,
            "segments": len(plan.segments),
            "deleted": sum(len(v) for v in plan.tombstones.values()),
        },
        "sources": plan.sources,
        "operation": operation,
    }
    root.commit(build, manifest)
    return name
