"""Writes the state of an index (papers, chunks, vectors) as a new version, atomically."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from indexer.bm25 import BM25Index, paper_text
from indexer.index import CHUNKS_FILE, PAPERS_FILE
from indexer.models import Chunk, Paper
from indexer.storage import FORMAT_VERSION, IndexDir
from indexer.vector_store import PaperVectorStore


@dataclass
class IndexState:
    """Everything a version holds, in memory, while it is being changed."""

    papers: dict[str, Paper]
    chunks: dict[int, Chunk]
    vectors: PaperVectorStore
    sources: dict[str, Any] = field(default_factory=dict)


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")))
            handle.write("\n")


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def write_version(
    root: IndexDir,
    state: IndexState,
    embedder: dict[str, Any],
    settings: dict[str, Any],
    operation: dict[str, Any],
    parent: str | None,
) -> tuple[str, Path]:
    """Write ``state`` as the next version and make it current (call with the write lock)."""
    build = root.new_build_dir()
    chunk_ids = sorted(state.chunks)
    _write_jsonl(build / PAPERS_FILE, [state.papers[p].to_json() for p in sorted(state.papers)])
    _write_jsonl(build / CHUNKS_FILE, [state.chunks[c].to_json() for c in chunk_ids])
    state.vectors.save(build)
    paper_ids = sorted(state.papers)
    texts = [paper_text(state.papers[p].title, state.papers[p].abstract) for p in paper_ids]
    BM25Index.build(texts, paper_ids).save(build)
    name = root.next_name()
    manifest = {
        "format_version": FORMAT_VERSION,
        "version": name,
        "parent": parent,
        "created": now_iso(),
        "embedder": embedder,
        "settings": settings,
        "counts": {
            "papers": len(state.papers),
            "chunks": len(state.chunks),
            "vectors": len(state.vectors),
            "sentences": sum(len(p.sentences) for p in state.papers.values()),
        },
        "sources": state.sources,
        "operation": operation,
    }
    return name, root.commit(build, manifest)
