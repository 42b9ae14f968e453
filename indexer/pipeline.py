"""The streaming write path: records in, new segments out, in blocks of bounded size.

Records are deduplicated as they arrive (against each other and against the index), collected
into blocks of ``ingest_block_papers`` papers; a block is sentence-split, counted and BM25
tokenised (indexer/prepare.py: in worker processes, in order), then chunked, embedded with each
paper's bare title (through the resume checkpoint) and appended to the open segment, which is
sealed once it holds ``segment_max_papers`` papers. Blocks are embedded one by one, or together
up to the texts the embedder wants per call (``Embedder.call_texts``: 32,768 chunks on a GPU).
While blocks are embedded and written the workers prepare the next ones. Memory is bounded by a
few blocks, the staged ones and the dedup keys, whatever the input size. A duplicate that arrives
after its first copy's block was written is reported as merged; its extra fields are not carried
over (the first copy wins).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from indexer.checkpoint import EmbedCheckpoint, text_key
from indexer.chunking import ChunkLimits, ChunkSpec, chunk_paper
from indexer.config import IndexerSettings
from indexer.embedders import Embedder
from indexer.errors import EmbedderError
from indexer.identity import Deduplicator, content_hash, fill_empty_fields
from indexer.index import IndexVersion
from indexer.models import Paper, PaperRecord, RecordError
from indexer.prepare import Draft, Prepared, Preparer, worker_count
from indexer.progress import Progress
from indexer.segment_sink import SegmentSink
from indexer.storage import IndexDir
from indexer.title_vectors import has_title_vector


@dataclass
class IngestCounts:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    merged: int = 0
    texts_embedded: int = 0
    texts_resumed: int = 0
    embed_seconds: float = 0.0
    warnings: list[RecordError] = field(default_factory=list)
    outcomes: dict[str, str] = field(default_factory=dict)


@dataclass
class _Pending:
    paper_id: str
    record: PaperRecord


class Ingest:
    """Feeds records into new segments; ``finish`` returns the sealed segments' metas and
    the (segment name, row) of every older copy the new papers replace."""

    def __init__(
        self,
        root: IndexDir,
        settings: IndexerSettings,
        embedder: Embedder,
        current: IndexVersion | None,
        checkpoint: EmbedCheckpoint,
        next_chunk_id: int,
        progress: Progress,
        counts: IngestCounts,
    ) -> None:
        self.root, self.settings, self.embedder = root, settings, embedder
        self.current, self.checkpoint, self.progress = current, checkpoint, progress
        self.counts = counts
        self.sink = SegmentSink(root, settings, embedder.dimension, next_chunk_id, progress)
        self.replaced: list[tuple[str, int]] = []
        self._block: list[_Pending] = []
        self._dedup = Deduplicator(self._known_title)
        self._limits = ChunkLimits(
            settings.chunking.tokens, settings.chunking.overlap_sentences, embedder.max_input_tokens
        )
        self._preparer = Preparer(worker_count(settings.ingest.workers), progress.log)
        # Chunked blocks waiting to be embedded together (_stage), and their chunks.
        self._staged: list[tuple[list[Prepared], list[list[ChunkSpec]]]] = []
        self._staged_texts = 0

    # -- dedup -------------------------------------------------------------------------
    def feed(self, record: PaperRecord) -> None:
        paper_id, kept, merged = self._dedup.admit(record)
        if merged is not None:
            self.counts.merged += 1
            self.counts.warnings.append(merged)
        if kept is not None:
            self._block.append(_Pending(paper_id, kept))
            if len(self._block) >= self.settings.ingest.block_papers:
                self._flush()

    def _known_title(self, title_key: str) -> str | None:
        if self.current is None:
            return None
        for segment in reversed(self.current.segments):
            for row, paper_id in segment.query(
                "SELECT row, paper_id FROM papers WHERE title_key = ?", (title_key,)
            ):
                if segment.is_live(row):
                    return str(paper_id)
        return None

    # -- blocks ------------------------------------------------------------------------
    def _flush(self) -> None:
        block, self._block = self._block, []
        self._dedup.release(p.paper_id for p in block)
        if not block:
            return
        old = self.current.papers.many([p.paper_id for p in block]) if self.current else {}
        fresh: list[Draft] = []
        for pending in block:
            previous = old.get(pending.paper_id)
            record = _keep_old_fields(pending.record, previous)
            digest = content_hash(record)
            if previous is not None and previous.content_hash == digest:
                self.counts.unchanged += 1
                self.counts.outcomes[pending.paper_id] = "unchanged"
                continue
            outcome = "added" if previous is None else "updated"
            setattr(self.counts, outcome, getattr(self.counts, outcome) + 1)
            self.counts.outcomes[pending.paper_id] = outcome
            fresh.append(Draft(pending.paper_id, record, digest, previous))
        self.submit(fresh)

    def submit(self, drafts: list[Draft]) -> None:
        """Queue papers (already deduplicated) to be prepared, chunked, embedded and appended
        to segments; blocks are written in the order they were submitted."""
        if drafts:
            for prepared in self._preparer.submit(drafts):
                self._stage(prepared)

    def _stage(self, block: list[Prepared]) -> None:
        """Chunk a prepared block; embed and write the staged blocks once they hold the texts
        the embedder wants per call (``Embedder.call_texts``: on a GPU a call's first batch
        waits for its tokenization and its last leaves the device idle, so calls of one block
        ran at about a fifth less; docs/benchmarks.md, "GPU bulk embedding")."""
        counter = self.embedder.count_tokens_many if self.embedder.max_input_tokens else None
        specs = [
            chunk_paper(p.paper.title, p.paper.sentences, self._limits, counter, p.token_counts)
            for p in block
        ]
        self._staged.append((block, specs))
        titles = sum(has_title_vector(p.paper.title, p.paper.sentences) for p in block)
        self._staged_texts += sum(len(chunks) for chunks in specs) + titles
        if self._staged_texts >= self.embedder.call_texts:
            self._write_staged()

    def _write_staged(self) -> None:
        staged, self._staged, self._staged_texts = self._staged, [], 0
        if not staged:
            return
        block = [prepared for part, _ in staged for prepared in part]
        specs = [chunks for _, part_specs in staged for chunks in part_specs]
        papers = [p.paper for p in block]
        texts = [s.text for chunks in specs for s in chunks]
        titled = [i for i, p in enumerate(papers) if has_title_vector(p.title, p.sentences)]
        # One call for chunks and titles: the checkpoint resumes both alike.
        vectors = self.embed(texts + [papers[i].title for i in titled])
        titles = np.full((len(papers), self.embedder.dimension), np.nan, dtype=np.float32)
        titles[titled] = vectors[len(texts) :]
        if self.current is not None:
            located = self.current.papers.locate([p.paper_id for p in papers])
            for position, row in located.values():
                self.replaced.append((self.current.segments[position].name, row))
        self.sink.add(
            papers,
            specs,
            vectors[: len(texts)],
            [p.data for p in block],
            [p.terms for p in block],
            titles,
        )

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.embedder.dimension), dtype=np.float32)
        keys = [text_key(t) for t in texts]
        known = self.checkpoint.lookup(keys)
        for i, vector in known.items():
            out[i] = vector
        self.counts.texts_resumed += len(known)
        todo = [i for i in range(len(texts)) if i not in known]
        # Similar lengths side by side keep the encoder's batches free of padding.
        todo.sort(key=lambda i: len(texts[i]))
        if not todo:
            return out
        self.progress.log(f"embedding {len(todo)} texts ({len(known)} resumed)")
        batches = self.embedder.embed_document_batches([texts[i] for i in todo])
        rows = np.asarray(todo)
        done = 0
        while True:
            # Only the wait for the next batch counts as the embedder's time; writing the
            # checkpoint is ours (the embedder may work ahead meanwhile).
            started = time.perf_counter()
            batch = next(batches, None)
            self.counts.embed_seconds += time.perf_counter() - started
            if batch is None:
                break
            positions, vectors = batch
            if len(positions) != len(vectors):
                raise EmbedderError(
                    f"embedder {self.embedder.name!r} returned {len(vectors)} vectors for "
                    f"{len(positions)} texts"
                )
            part = rows[positions]
            out[part] = vectors
            self.checkpoint.append([keys[i] for i in part], np.asarray(vectors))
            self.counts.texts_embedded += len(part)
            done += len(part)
        if done != len(todo):
            raise EmbedderError(
                f"embedder {self.embedder.name!r} returned {done} vectors for {len(todo)} texts"
            )
        return out

    def feed_all(self, records: Iterable[PaperRecord]) -> None:
        for record in records:
            self.feed(record)

    @property
    def sealed(self) -> list[dict[str, Any]]:
        return self.sink.sealed

    @property
    def next_chunk_id(self) -> int:
        return self.sink.next_chunk_id

    def finish(self) -> None:
        self._flush()
        try:
            for prepared in self._preparer.drain():
                self._stage(prepared)
            self._write_staged()
        finally:
            self._preparer.close()
            self.embedder.release()
        self.sink.seal()

    def abandon(self) -> None:
        self._preparer.close()
        self.embedder.release()
        self.sink.abandon()


def paper_record(paper: Paper) -> PaperRecord:
    return PaperRecord(
        title=paper.title,
        abstract=paper.abstract,
        source="",
        location="",
        id=paper.paper_id,
        authors=paper.authors,
        url=paper.url,
        published=paper.published,
        metadata=paper.metadata,
    )


def _keep_old_fields(record: PaperRecord, old: Paper | None) -> PaperRecord:
    """A re-ingested paper keeps the fields its new record does not carry (as duplicates merge)."""
    if old is None:
        return record
    merged = replace(record, authors=list(record.authors), metadata=dict(record.metadata))
    fill_empty_fields(merged, paper_record(old))
    return merged
