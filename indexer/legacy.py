"""Upgrading a format 1 or 2 index (one full copy of papers, chunks and vectors per version)
into one segment, keeping every vector: nothing is re-embedded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from indexer.chunking import ChunkSpec
from indexer.config import IndexerSettings
from indexer.errors import IndexCorruptError
from indexer.models import Chunk, Paper
from indexer.progress import Progress
from indexer.segment_sink import SegmentSink
from indexer.storage import IndexDir, verify_files
from indexer.versioning import VersionPlan, commit_version

PAPERS_FILE, CHUNKS_FILE, INDEX_FILE = "papers.jsonl", "chunks.jsonl", "vectors.faiss"


def _rows(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def upgrade(root: IndexDir, settings: IndexerSettings, progress: Progress) -> str:
    """Write the current legacy version as one segment and a format 3 version (call with the
    write lock held); the legacy version directories are pruned like any old version."""
    version = root.current()
    manifest = root.read_legacy_manifest(version)
    verify_files(version, manifest.get("files", {}), hashes=True)
    try:
        papers = [Paper.from_json(p) for p in _rows(version / PAPERS_FILE)]
        chunks = [Chunk.from_json(c) for c in _rows(version / CHUNKS_FILE)]
        index = faiss.read_index(str(version / INDEX_FILE))
    except Exception as exc:
        raise IndexCorruptError(
            f"{version}: cannot read the format {manifest.get('format_version')} version: {exc}"
        ) from exc
    by_paper: dict[str, list[Chunk]] = {}
    for chunk in sorted(chunks, key=lambda c: c.chunk_id):
        by_paper.setdefault(chunk.paper_id, []).append(chunk)
    dimension = int(manifest["embedder"]["dimension"])
    sink = SegmentSink(root, settings, dimension, 0, progress)
    papers.sort(key=lambda p: p.paper_id)
    for paper in papers:
        own = by_paper.get(paper.paper_id, [])
        vectors = (
            np.vstack([index.reconstruct(int(c.chunk_id)) for c in own])
            if own
            else np.zeros((0, dimension), np.float32)
        )
        sink.add([paper], [[ChunkSpec(c.first, c.end, c.text) for c in own]], vectors)
    sink.seal()
    plan = VersionPlan(
        segments=[],
        tombstones={},
        embedder=dict(manifest["embedder"]),
        settings={"upgraded_from_format": manifest.get("format_version")},
        sources=dict(manifest.get("sources", {})),
    )
    plan.add_segments(sink.sealed, sink.next_chunk_id)
    return commit_version(root, plan, {"operation": "upgrade"}, version.name)
