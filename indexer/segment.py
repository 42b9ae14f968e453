"""An immutable segment: papers, chunks, vectors and BM25 postings of one batch of papers.

Layout of ``segments/sNNNNNN/``::

    segment.json     written last: counts, chunk-id base, vector kind, every file's size+sha256
    papers.sqlite    papers (row, id, title key, hash, record), chunks (row, paper row, sentence
                     range, text) and the BM25 vocabulary (term, id, document frequency)
    vectors.npy      float32 chunk vectors, row = chunk row (memory-mapped when read)
    chunk_paper.npy  the paper row of every chunk row
    paper_ids.npy paper_id_ends.npy   the paper id of every row (indexer/row_ids.py)
    title_vectors.npy  float16 title vectors, row = paper row (indexer/title_vectors.py)
    ann.faiss        the FAISS structure of hnsw / ivf_sq8 segments
    bm25_*.npy doc_len.npy   postings (indexer/lexical.py)

A segment never changes once sealed; versions name the segments they consist of and the rows
deleted from each (tombstones), so adding papers writes only the new segment and removing one
writes only a version file.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from indexer.ann import (
    VECTORS_FILE,
    AnnParams,
    VectorIndexKind,
    build_ann,
    exclusion,
    load_ann,
    save_ann,
    search_segment,
)
from indexer.chunking import ChunkSpec
from indexer.errors import IndexCorruptError
from indexer.identity import normalise_title
from indexer.lexical import paper_text, tokenize
from indexer.models import Chunk, Paper
from indexer.npy_files import npy_header
from indexer.postings import PostingsWriter, SegmentPostings, TermCounts
from indexer.row_ids import RowIds, write_paper_ids
from indexer.title_vectors import TitleVectorsWriter, open_title_vectors

SEGMENT_FILE = "segment.json"
DB_FILE = "papers.sqlite"
CHUNK_PAPER_FILE = "chunk_paper.npy"
_SCHEMA = """
CREATE TABLE papers(row INTEGER PRIMARY KEY, paper_id TEXT NOT NULL UNIQUE,
                    title_key TEXT NOT NULL, title_sort TEXT NOT NULL, content_hash TEXT NOT NULL,
                    n_sentences INTEGER NOT NULL, data TEXT NOT NULL);
CREATE INDEX papers_title ON papers(title_key);
CREATE INDEX papers_order ON papers(title_sort, paper_id);
CREATE TABLE chunks(row INTEGER PRIMARY KEY, paper_row INTEGER NOT NULL,
                    first INTEGER NOT NULL, end INTEGER NOT NULL, text TEXT NOT NULL);
CREATE INDEX chunks_paper ON chunks(paper_row);
CREATE TABLE terms(term TEXT PRIMARY KEY, tid INTEGER NOT NULL, df INTEGER NOT NULL) WITHOUT ROWID;
"""


def record_json(paper: Paper) -> str:
    """A paper as its segment stores it (``papers.data``)."""
    return json.dumps(paper.to_json(), ensure_ascii=False, separators=(",", ":"))


class SegmentWriter:
    """Writes one segment; papers are appended in blocks, then ``seal`` makes it final."""

    def __init__(self, directory: Path, dimension: int, base: int) -> None:
        self.directory = directory
        self.dimension = dimension
        self.base = base
        directory.mkdir(parents=True)
        self._db = sqlite3.connect(directory / DB_FILE)
        self._db.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;" + _SCHEMA)
        self._vectors = (directory / VECTORS_FILE).open("wb")
        self._vectors.write(npy_header(0, dimension, "<f4"))
        self._titles = TitleVectorsWriter(directory, dimension)
        self._chunk_paper: list[int] = []
        self._paper_ids: list[str] = []
        self._postings = PostingsWriter()
        self.n_papers = 0
        self.n_sentences = 0

    @property
    def n_chunks(self) -> int:
        return len(self._chunk_paper)

    def add(
        self,
        papers: Sequence[Paper],
        chunks: Sequence[list[ChunkSpec]],
        vectors: Any,
        records: Sequence[str] | None = None,
        terms: Sequence[TermCounts] | None = None,
        titles: np.ndarray | None = None,
    ) -> None:
        """Append ``papers``, each with its chunk specs, and the chunks' vectors in order.
        ``records`` (``record_json`` of each paper) and ``terms`` (their counted BM25 tokens):
        when a worker process made them already, else made here. ``titles``: each paper's
        title vector, NaN for none (None: none for any of them)."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.shape != (sum(len(c) for c in chunks), self.dimension):
            raise ValueError(f"vectors of shape {vectors.shape} do not match the chunks")
        self._titles.check(titles, len(papers))
        paper_rows, chunk_rows = [], []
        if records is None:
            records = [record_json(p) for p in papers]
        for paper, specs, data in zip(papers, chunks, records, strict=True):
            row = self.n_papers
            self.n_papers += 1
            self.n_sentences += len(paper.sentences)
            self._paper_ids.append(paper.paper_id)
            paper_rows.append(
                (
                    row,
                    paper.paper_id,
                    normalise_title(paper.title),
                    paper.title.casefold(),
                    paper.content_hash,
                    len(paper.sentences),
                    data,
                )
            )
            for spec in specs:
                chunk_rows.append((len(self._chunk_paper), row, spec.first, spec.end, spec.text))
                self._chunk_paper.append(row)
        self._db.executemany("INSERT INTO papers VALUES (?, ?, ?, ?, ?, ?, ?)", paper_rows)
        self._db.executemany("INSERT INTO chunks VALUES (?, ?, ?, ?, ?)", chunk_rows)
        self._vectors.write(vectors.tobytes())
        self._titles.add(titles, len(papers))
        if terms is None:
            tokens = tokenize([paper_text(p.title, p.abstract) for p in papers])
            terms = [TermCounts.of(t) for t in tokens]
        self._postings.add(terms)

    def seal(self, kind: VectorIndexKind, params: AnnParams) -> dict[str, Any]:
        """Finish every file, build the vector structure, fsync; returns the segment's meta."""
        from indexer.storage import describe_files, fsync_tree

        self._vectors.seek(0)
        self._vectors.write(npy_header(self.n_chunks, self.dimension, "<f4"))
        self._vectors.close()
        self._titles.seal()
        np.save(self.directory / CHUNK_PAPER_FILE, np.asarray(self._chunk_paper, dtype=np.int32))
        write_paper_ids(self.directory, self._paper_ids)
        self._postings.write(self.directory, self._db)
        self._db.commit()
        self._db.close()
        vectors = np.load(self.directory / VECTORS_FILE, mmap_mode="r")
        save_ann(build_ann(vectors, kind, params), self.directory)
        del vectors
        meta = {
            "name": self.directory.name,
            "base": self.base,
            "papers": self.n_papers,
            "chunks": self.n_chunks,
            "sentences": self.n_sentences,
            "dimension": self.dimension,
            "vector_index": kind,
            "bm25_total_length": self._postings.total_length,
        }
        meta["files"] = describe_files(self.directory, exclude=SEGMENT_FILE)
        (self.directory / SEGMENT_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")
        fsync_tree(self.directory)
        return meta

    def abandon(self) -> None:
        self._vectors.close()
        self._titles.abandon()
        self._db.close()


class Segment:
    """A sealed segment opened read-only, with the rows a version deleted from it."""

    def __init__(self, directory: Path, meta: dict[str, Any], deleted_rows: Iterable[int] = ()):
        self.directory = directory
        self.meta = meta
        self.name = directory.name
        self.base = int(meta["base"])
        self.n_papers = int(meta["papers"])
        self.n_chunks = int(meta["chunks"])
        self.total_length = int(meta["bm25_total_length"])
        self.kind: VectorIndexKind = meta["vector_index"]
        # immutable=1: the file never changes, so SQLite takes no locks and keeps no journal.
        uri = f"file:{directory / DB_FILE}?mode=ro&immutable=1"
        self._db = sqlite3.connect(uri, uri=True, check_same_thread=False)
        self._db_lock = threading.Lock()
        # Plain arrays over the mapped memory: indexing a memmap costs ~0.1 ms a time in its
        # subclass hooks, and dense search indexes the vectors once per segment per query.
        self.vectors = np.asarray(np.load(directory / VECTORS_FILE, mmap_mode="r"))
        self.chunk_paper = np.asarray(np.load(directory / CHUNK_PAPER_FILE, mmap_mode="r"))
        self.postings = SegmentPostings.open(directory)
        self._row_ids = RowIds.open(directory, self.n_papers)
        self.ann = load_ann(directory, self.kind)
        dimension = int(self.vectors.shape[1])
        self.title_vectors = open_title_vectors(directory, self.n_papers, dimension)
        self.deleted_rows = np.array(sorted(set(deleted_rows)), dtype=np.int64)
        self._deleted_set = set(self.deleted_rows.tolist())
        # Derived once per opened version: BM25 masks every query with it.
        self._live_mask: np.ndarray | None = None
        if len(self.deleted_rows):
            self._live_mask = np.ones(self.n_papers, dtype=bool)
            self._live_mask[self.deleted_rows] = False
        self._deleted_chunks: np.ndarray | None = None
        # FAISS's selector of the live chunks, built at the first search with tombstones (a
        # compressed search with only a few of them drops them after the scan instead).
        self._excluded: Any | None = None
        if len(self.vectors) != self.n_chunks or len(self.chunk_paper) != self.n_chunks:
            raise IndexCorruptError(
                f"{directory}: holds {len(self.vectors)} vectors for {self.n_chunks} chunks"
            )

    @property
    def n_live(self) -> int:
        return self.n_papers - len(self.deleted_rows)

    def close(self) -> None:
        self._db.close()

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._db_lock:
            return self._db.execute(sql, tuple(params)).fetchall()

    def is_live(self, row: int) -> bool:
        return row not in self._deleted_set

    def live_mask(self) -> np.ndarray | None:
        """False at deleted rows (None: nothing deleted); shared, do not modify."""
        return self._live_mask

    def live_rows(self) -> list[int]:
        if self._live_mask is None:
            return list(range(self.n_papers))
        return np.flatnonzero(self._live_mask).tolist()

    def deleted_chunks(self) -> np.ndarray | None:
        if not len(self.deleted_rows):
            return None
        if self._deleted_chunks is None:
            self._deleted_chunks = np.flatnonzero(np.isin(self.chunk_paper, self.deleted_rows))
        return self._deleted_chunks

    def in_query(self, sql: str, values: Sequence[Any]) -> list[tuple[Any, ...]]:
        """``sql`` with its ``IN ({})`` filled for ``values``, in batches under SQLite's limit
        of bound parameters."""
        rows: list[tuple[Any, ...]] = []
        for start in range(0, len(values), 500):
            part = list(values[start : start + 500])
            rows += self.query(sql.format(",".join("?" * len(part))), part)
        return rows

    def rows_of(self, paper_ids: Sequence[str]) -> dict[str, int]:
        """Live rows of these paper ids (absent and deleted ones left out)."""
        sql = "SELECT paper_id, row FROM papers WHERE paper_id IN ({})"
        found = self.in_query(sql, paper_ids)
        return {pid: int(row) for pid, row in found if row not in self._deleted_set}

    def papers_at(self, rows: Sequence[int]) -> dict[int, Paper]:
        sql = "SELECT row, data FROM papers WHERE row IN ({})"
        found = self.in_query(sql, [int(r) for r in rows])
        return {int(row): Paper.from_json(json.loads(data)) for row, data in found}

    def paper_ids_at(self, rows: Sequence[int]) -> dict[int, str]:
        if self._row_ids is not None:
            return self._row_ids.at(rows)
        sql = "SELECT row, paper_id FROM papers WHERE row IN ({})"
        return {int(row): str(pid) for row, pid in self.in_query(sql, [int(r) for r in rows])}

    def page(self, words: Sequence[str], limit: int) -> tuple[int, list[tuple[str, str, Paper]]]:
        """Live papers whose record contains every word (case-insensitive), counted, and the
        first ``limit`` of them by (casefolded title, id) as (sort key, id, paper)."""
        where = " AND ".join(["instr(lower(data), ?) > 0"] * len(words)) or "1"
        dead = "row NOT IN (SELECT value FROM json_each(?))"
        params = [w.lower() for w in words] + [json.dumps(self.deleted_rows.tolist())]
        total = self.query(f"SELECT COUNT(*) FROM papers WHERE {where} AND {dead}", params)
        rows = self.query(
            f"SELECT title_sort, paper_id, data FROM papers WHERE {where} AND {dead} "
            "ORDER BY title_sort, paper_id LIMIT ?",
            [*params, limit],
        )
        papers = [(key, pid, Paper.from_json(json.loads(data))) for key, pid, data in rows]
        return int(total[0][0]), papers

    def chunks_of_row(self, row: int, paper_id: str) -> list[Chunk]:
        sql = "SELECT row, first, end, text FROM chunks WHERE paper_row = ? ORDER BY row"
        return [
            Chunk(self.base + int(r), paper_id, int(first), int(end), text)
            for r, first, end, text in self.query(sql, (row,))
        ]

    def chunks_at(self, local_rows: Sequence[int]) -> dict[int, tuple[int, Chunk]]:
        """local row -> (its paper row, the chunk with its paper id left empty), one query."""
        sql = "SELECT row, paper_row, first, end, text FROM chunks WHERE row IN ({})"
        return {
            int(r): (int(paper_row), Chunk(self.base + int(r), "", int(first), int(end), text))
            for r, paper_row, first, end, text in self.in_query(sql, [int(r) for r in local_rows])
        }

    def first_chunks(self, paper_rows: Sequence[int]) -> dict[int, Chunk]:
        """paper row -> its first chunk (paper id left empty), one query."""
        sql = (
            "SELECT paper_row, row, first, end, text FROM chunks WHERE paper_row IN ({}) "
            "ORDER BY row DESC"
        )
        found = self.in_query(sql, [int(r) for r in paper_rows])
        # Descending rows: the last one written per paper row is its first chunk.
        return {
            int(paper_row): Chunk(self.base + int(r), "", int(first), int(end), text)
            for paper_row, r, first, end, text in found
        }

    def chunk(self, local: int) -> tuple[int, Chunk] | None:
        """The chunk at ``local`` row and its paper row (the chunk's paper id left empty)."""
        rows = self.query("SELECT paper_row, first, end, text FROM chunks WHERE row = ?", (local,))
        if not rows:
            return None
        paper_row, first, end, text = rows[0]
        return int(paper_row), Chunk(self.base + local, "", int(first), int(end), text)

    def search(
        self, query: np.ndarray, k: int, allowed: np.ndarray | None, params: AnnParams
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` live chunks as (scores, global chunk ids)."""
        deleted = self.deleted_chunks()
        if deleted is not None and self._excluded is None:
            self._excluded = exclusion(deleted)
        scores, rows = search_segment(
            self.vectors, self.ann, query, k, allowed, deleted, params, self._excluded
        )
        return scores, rows + self.base
