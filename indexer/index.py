"""Opening an index version read-only: papers, chunks, FAISS vectors and BM25, checked."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

from indexer.bm25 import BM25_DIR, BM25Index, paper_text
from indexer.errors import EmbedderMismatchError, IndexCorruptError
from indexer.models import Chunk, Paper
from indexer.storage import IndexDir
from indexer.vector_store import INDEX_FILE, PaperVectorStore

PAPERS_FILE = "papers.jsonl"
CHUNKS_FILE = "chunks.jsonl"

T = TypeVar("T")


@dataclass
class IndexVersion:
    """One complete, immutable index version loaded in memory."""

    path: Path
    manifest: dict[str, Any]
    papers: dict[str, Paper]
    chunks: dict[int, Chunk]
    vectors: PaperVectorStore
    bm25: BM25Index

    @property
    def name(self) -> str:
        return str(self.manifest["version"])

    @property
    def embedder_name(self) -> str:
        return str(self.manifest["embedder"]["name"])

    @cached_property
    def _chunks_by_paper(self) -> dict[str, list[Chunk]]:
        # Derived once: the query path asks for one paper's chunks per hit and per scope.
        by_paper: dict[str, list[Chunk]] = {}
        for chunk in self.chunks.values():
            by_paper.setdefault(chunk.paper_id, []).append(chunk)
        return by_paper

    def chunks_of(self, paper_id: str) -> list[Chunk]:
        return list(self._chunks_by_paper.get(paper_id, []))


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def _load(path: Path, what: str, loader: Callable[[], T]) -> T:
    try:
        return loader()
    except IndexCorruptError:
        raise
    except Exception as exc:
        raise IndexCorruptError(f"{path}: cannot load the {what}: {exc}") from exc


def check_embedder(manifest: dict[str, Any], expected: str | None, where: Path) -> None:
    built_with = manifest["embedder"]["name"]
    if expected is not None and built_with != expected:
        raise EmbedderMismatchError(
            f"the index at {where} was built with embedder {built_with!r} "
            f"(dimension {manifest['embedder']['dimension']}), but the configured embedder is "
            f"{expected!r}; configure {built_with!r} again, or run `abstractqa index rebuild` "
            "to re-embed every paper with the new one"
        )


def open_version(version: Path, manifest: dict[str, Any]) -> IndexVersion:
    papers_path, chunks_path = version / PAPERS_FILE, version / CHUNKS_FILE
    papers = _load(
        papers_path,
        "papers",
        lambda: {p["paper_id"]: Paper.from_json(p) for p in read_jsonl(papers_path)},
    )
    chunks = _load(
        chunks_path,
        "chunks",
        lambda: {c["chunk_id"]: Chunk.from_json(c) for c in read_jsonl(chunks_path)},
    )
    vectors = _load(version / INDEX_FILE, "FAISS index", lambda: PaperVectorStore.load(version))
    if manifest.get("format_version") == 1:
        ids = sorted(papers)
        texts = [paper_text(papers[p].title, papers[p].abstract) for p in ids]
        bm25 = BM25Index.build(texts, ids)
    else:
        bm25 = _load(version / BM25_DIR, "BM25 index", lambda: BM25Index.load(version))
    counts = manifest["counts"]
    if (
        len(papers) != counts["papers"]
        or len(chunks) != counts["chunks"]
        or len(vectors) != len(chunks)
    ):
        raise IndexCorruptError(
            f"{version}: holds {len(papers)} papers, {len(chunks)} chunks and "
            f"{len(vectors)} vectors; "
            f"the manifest says {counts['papers']} papers and {counts['chunks']} chunks"
        )
    return IndexVersion(version, manifest, papers, chunks, vectors, bm25)


def open_index(
    index_dir: Path, expected_embedder: str | None = None, verify_hashes: bool = True
) -> IndexVersion:
    """Open the current version of ``index_dir``; raises an ``IndexStoreError`` that names
    the missing or damaged file, or the embedder mismatch."""
    root = IndexDir(index_dir)
    version = root.current()
    manifest = root.read_manifest(version)
    check_embedder(manifest, expected_embedder, index_dir)
    root.verify(version, manifest, hashes=verify_hashes)
    return open_version(version, manifest)
