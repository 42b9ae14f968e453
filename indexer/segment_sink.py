"""Where every write path appends papers: the open segment, sealed at ``segment_max_papers``.

Adds (``pipeline``), merges (``merge``) and the legacy import (``legacy``) all go through it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from indexer.ann import AnnParams
from indexer.chunking import ChunkSpec
from indexer.config import IndexerSettings
from indexer.models import Paper
from indexer.postings import TermCounts
from indexer.progress import Progress
from indexer.segment import SegmentWriter
from indexer.storage import IndexDir


class SegmentSink:
    """Appends papers to segments, sealing one whenever it reaches ``segment_max_papers``."""

    def __init__(
        self,
        root: IndexDir,
        settings: IndexerSettings,
        dimension: int,
        next_chunk_id: int,
        progress: Progress,
    ) -> None:
        self.root, self.settings, self.dimension = root, settings, dimension
        self.next_chunk_id = next_chunk_id
        self.progress = progress
        self.sealed: list[dict[str, Any]] = []
        self._writer: SegmentWriter | None = None

    def add(
        self,
        papers: list[Paper],
        specs: list[list[ChunkSpec]],
        vectors: Any,
        records: list[str] | None = None,
        terms: list[TermCounts] | None = None,
        titles: np.ndarray | None = None,
    ) -> None:
        """Append papers (with their chunks' vectors, in order), in runs that fill the open
        segment: one SQLite batch and (without ``terms``) one tokenizer call per run;
        ``records``, ``terms`` and ``titles`` as ``SegmentWriter.add`` takes them."""
        paper_at = chunk_at = 0
        while paper_at < len(papers):
            if self._writer is None:
                self._writer = SegmentWriter(
                    self.root.new_segment_dir(), self.dimension, self.next_chunk_id
                )
            room = self.settings.index.segment_max_papers - self._writer.n_papers
            run = slice(paper_at, paper_at + room)
            n_chunks = sum(len(c) for c in specs[run])
            self._writer.add(
                papers[run],
                specs[run],
                vectors[chunk_at : chunk_at + n_chunks],
                records[run] if records is not None else None,
                terms[run] if terms is not None else None,
                titles[run] if titles is not None else None,
            )
            paper_at, chunk_at = paper_at + len(papers[run]), chunk_at + n_chunks
            if self._writer.n_papers >= self.settings.index.segment_max_papers:
                self.seal()

    def seal(self) -> None:
        writer, self._writer = self._writer, None
        if writer is None:
            return
        s = self.settings.index
        kind = s.vector_index_for(writer.n_chunks)
        params = AnnParams.from_settings(s)
        self.progress.log(f"sealing a segment of {writer.n_papers} papers ({kind} vectors)")
        writer.seal(kind, params)
        name = self.root.seal_segment(writer.directory)
        self.next_chunk_id += writer.n_chunks
        self.sealed.append(
            {
                "name": name,
                "papers": writer.n_papers,
                "chunks": writer.n_chunks,
                "sentences": writer.n_sentences,
            }
        )

    def abandon(self) -> None:
        if self._writer is not None:
            self._writer.abandon()
            self._writer = None
