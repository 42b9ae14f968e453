"""The indexer's write path: add files, remove papers, rebuild, each as a new version."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from indexer.chunking import ChunkLimits, chunk_paper
from indexer.config import IndexerSettings
from indexer.embedders import Embedder, build_embedder
from indexer.embedders.factory import embedder_name
from indexer.errors import IndexerError, NothingToIndexError
from indexer.identity import content_hash, deduplicate, fill_empty_fields, normalise_title
from indexer.index import check_embedder, open_version
from indexer.models import Chunk, Paper, PaperRecord, RecordError
from indexer.progress import Progress, SilentProgress
from indexer.readers import ReadOptions, open_records
from indexer.storage import IndexDir
from indexer.text import TIKTOKEN_ENCODING, clean, split_sentences
from indexer.vector_store import PaperVectorStore
from indexer.writer import IndexState, now_iso, write_version

_EMBED_SLICE = 512  # texts per progress update; the encoder batches within each slice


@dataclass
class BuildReport:
    """What one indexer run did."""

    operation: str
    version: str | None = None
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    rejected: int = 0
    merged: int = 0
    filtered: int = 0  # records left out by --where
    title_only: int = 0  # records with a title and no abstract (indexed unless skipped)
    empty: int = 0  # records with neither title nor abstract
    chunks_embedded: int = 0
    seconds: float = 0.0
    errors: list[RecordError] = field(default_factory=list)
    warnings: list[RecordError] = field(default_factory=list)
    # paper id -> "added", "updated", "unchanged" or "removed", for callers that report per paper
    outcomes: dict[str, str] = field(default_factory=dict)

    @property
    def papers_per_second(self) -> float:
        return (self.added + self.updated) / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        parts = [
            f"papers: {self.added} added, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.removed} removed, {self.rejected} rejected, {self.merged} merged duplicates",
            f"records: {self.filtered} filtered out, {self.title_only} title-only, "
            f"{self.empty} empty",
            f"chunks embedded: {self.chunks_embedded}",
            f"{self.seconds:.1f} s ({self.papers_per_second:.1f} papers/s)",
            f"version: {self.version} (current)"
            if self.version
            else "no new version: nothing changed",
        ]
        return "; ".join(parts)


class Indexer:
    """Builds index versions in ``settings.index_dir`` with the configured embedder."""

    def __init__(
        self,
        settings: IndexerSettings,
        embedder: Embedder | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.settings = settings
        self.root = IndexDir(settings.index_dir)
        self._embedder = embedder
        self.progress = progress or SilentProgress()

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = build_embedder(self.settings)
        return self._embedder

    def _load_state(self, check: bool = True) -> IndexState | None:
        """The current version, verified; with ``check``, built with the configured embedder."""
        if not self.root.exists():
            return None
        version = self.root.current()
        manifest = self.root.read_manifest(version)
        if check:
            # The configured name, without loading a model that a no-op run never needs.
            name = self._embedder.name if self._embedder else embedder_name(self.settings)
            check_embedder(manifest, name, self.root.root)
        self.root.verify(version, manifest)
        loaded = open_version(version, manifest)
        return IndexState(loaded.papers, loaded.chunks, loaded.vectors, manifest.get("sources", {}))

    def _empty_state(self) -> IndexState:
        s = self.settings
        vectors = PaperVectorStore.create(
            self.embedder.dimension,
            s.vector_index_for(0),
            s.hnsw_m,
            s.hnsw_ef_construction,
            s.hnsw_ef_search,
        )
        return IndexState({}, {}, vectors)

    def add(self, files: Sequence[Path], options: ReadOptions | None = None) -> BuildReport:
        """Ingest ``files`` (``-``: standard input): embed only new or changed papers, then
        write a new version. InputStreamError (nothing written) if an input breaks off."""
        started = time.monotonic()
        report = BuildReport("add")
        records, sources = self._read(files, options or ReadOptions(), report)
        if not records:
            raise NothingToIndexError(
                "no usable paper in "
                + ", ".join(str(f) for f in files)
                + _first_errors(report.errors)
            )
        self.add_records(records, sources, report)
        report.seconds = time.monotonic() - started
        return report

    def add_records(
        self,
        records: Sequence[PaperRecord],
        sources: dict[str, Any] | None = None,
        report: BuildReport | None = None,
    ) -> BuildReport:
        """Ingest records read elsewhere (e.g. an HTTP request); ``sources`` describes where
        they came from for the manifest. Embeds only new or changed papers."""
        started = time.monotonic()
        own_report = report is None
        report = report or BuildReport("add")
        with self.root.write_lock():
            state = self._load_state()
            parent = self.root.current_name() if state is not None else None
            state = state or self._empty_state()
            known = {normalise_title(p.title): p.paper_id for p in state.papers.values()}
            dedup = deduplicate(records, known)
            report.merged = len(dedup.merged)
            report.warnings.extend(dedup.merged)
            fresh: list[Paper] = []
            for paper_id, found in dedup.papers:
                old = state.papers.get(paper_id)
                record = _keep_old_fields(found, old)
                digest = content_hash(record)
                if old is not None and old.content_hash == digest:
                    report.unchanged += 1
                    report.outcomes[paper_id] = "unchanged"
                    continue
                if old is None:
                    report.added += 1
                    report.outcomes[paper_id] = "added"
                else:
                    report.updated += 1
                    report.outcomes[paper_id] = "updated"
                fresh.append(_paper(paper_id, record, digest, old))
            state.sources.update(sources or {})
            if fresh:
                self._replace_papers(state, fresh, report)
                report.version = self._write(state, report, parent)
        if own_report:
            report.seconds = time.monotonic() - started
        return report

    def remove(self, paper_ids: Sequence[str]) -> BuildReport:
        """Remove papers by id and write a new version; unknown ids are reported."""
        started = time.monotonic()
        report = BuildReport("remove")
        with self.root.write_lock():
            state = self._load_state(check=False)
            if state is None:
                raise IndexerError(f"no index at {self.root.root}: nothing to remove")
            parent = self.root.current_name()
            known = [p for p in dict.fromkeys(paper_ids) if p in state.papers]
            report.errors = [
                RecordError(str(self.root.root), None, f"no paper with id {p!r} in the index")
                for p in dict.fromkeys(paper_ids)
                if p not in state.papers
            ]
            if not known:
                raise IndexerError(
                    "none of the given paper ids is in the index" + _first_errors(report.errors)
                )
            state.vectors.delete_papers(known)
            self._fit_vector_index(state, len(state.vectors))
            for paper_id in known:
                del state.papers[paper_id]
            state.chunks = {i: c for i, c in state.chunks.items() if c.paper_id in state.papers}
            report.removed = len(known)
            report.outcomes.update(dict.fromkeys(known, "removed"))
            report.version = self._write(state, report, parent)
        report.seconds = time.monotonic() - started
        return report

    def rebuild(self) -> BuildReport:
        """Re-split, re-chunk and re-embed every paper with the configured embedder."""
        started = time.monotonic()
        report = BuildReport("rebuild")
        with self.root.write_lock():
            old = self._load_state(check=False)
            if old is None:
                raise IndexerError(f"no index at {self.root.root}: nothing to rebuild")
            parent = self.root.current_name()
            state = self._empty_state()
            state.sources = old.sources
            papers = [
                _paper(p.paper_id, _record(p), p.content_hash, p) for p in old.papers.values()
            ]
            report.updated = len(papers)
            self._replace_papers(state, papers, report)
            report.version = self._write(state, report, parent)
        report.seconds = time.monotonic() - started
        return report

    def _read(
        self, files: Sequence[Path], options: ReadOptions, report: BuildReport
    ) -> tuple[list[PaperRecord], dict[str, Any]]:
        records: list[PaperRecord] = []
        sources: dict[str, Any] = {}
        for path in files:
            with open_records(path, options) as stream:
                found = list(stream)
            records.extend(found)
            report.errors.extend(stream.errors)
            report.warnings.extend(stream.warnings)
            file_errors = sum(1 for e in stream.errors if e.location is None)
            report.rejected += stream.n_errors - file_errors
            report.filtered += stream.n_filtered
            report.title_only += stream.n_title_only
            report.empty += stream.n_empty
            self.progress.log(
                f"read {stream.source}: {len(found)} papers ({stream.format}), "
                f"{stream.n_errors} errors"
            )
            if found:
                key = stream.source if str(path) == "-" else str(Path(path).resolve())
                sources[key] = {
                    "format": stream.format,
                    "sha256": stream.sha256,
                    "papers": len(found),
                    "ingested": now_iso(),
                }
        return records, sources

    def _replace_papers(self, state: IndexState, papers: list[Paper], report: BuildReport) -> None:
        """Chunk and embed ``papers`` and put them in ``state`` in place of older versions."""
        limits = ChunkLimits(
            self.settings.chunk_tokens,
            self.settings.chunk_overlap_sentences,
            self.embedder.max_input_tokens,
        )
        counter = self.embedder.count_tokens_many if self.embedder.max_input_tokens else None
        specs = [(p, chunk_paper(p.title, p.sentences, limits, counter)) for p in papers]
        nodes = [(p, i, spec) for p, chunks in specs for i, spec in enumerate(chunks)]
        vectors = self._embed([spec.text for _, _, spec in nodes])
        replaced = {p.paper_id for p in papers}
        state.vectors.delete_papers(replaced)
        # Before adding: a first build or an add that crosses the threshold puts the new
        # vectors straight into the index type the final size calls for.
        self._fit_vector_index(state, len(state.vectors) + len(nodes))
        state.chunks = {i: c for i, c in state.chunks.items() if c.paper_id not in replaced}
        # Straight into FAISS, exactly as PaperVectorStore.add does after unpacking TextNodes:
        # building a pydantic node and a list of Python floats per chunk only to turn them back
        # into this same matrix cost a noticeable share of the non-encoder time.
        chunk_ids = state.vectors.add_vectors(
            [f"{paper.paper_id}#{ordinal}" for paper, ordinal, _ in nodes],
            [paper.paper_id for paper, _, _ in nodes],
            vectors,
        )
        for (paper, _, spec), chunk_id in zip(nodes, chunk_ids, strict=True):
            state.chunks[chunk_id] = Chunk(
                chunk_id, paper.paper_id, spec.first, spec.end, spec.text
            )
        for paper in papers:
            state.papers[paper.paper_id] = paper
        report.chunks_embedded += len(nodes)

    def _fit_vector_index(self, state: IndexState, n_vectors: int) -> None:
        """Rebuild the FAISS part as the type the settings call for at ``n_vectors`` vectors
        (with vector_index=auto: flat below hnsw_min_vectors, HNSW from there), if it differs."""
        s = self.settings
        kind = s.vector_index_for(n_vectors)
        if state.vectors.convert(kind, s.hnsw_m, s.hnsw_ef_construction, s.hnsw_ef_search):
            self.progress.log(f"vector index rebuilt as {kind} for {n_vectors} vectors")

    def _embed(self, texts: list[str]) -> Any:
        import numpy as np

        # Similar lengths side by side keep the encoder's batches free of padding.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), self.embedder.dimension), dtype=np.float32)
        with self.progress.stage("embedding chunks", len(texts)) as stage:
            for start in range(0, len(order), _EMBED_SLICE):
                part = order[start : start + _EMBED_SLICE]
                out[part] = self.embedder.embed_documents([texts[i] for i in part])
                stage.update(len(part))
        return out

    def _write(self, state: IndexState, report: BuildReport, parent: str | None) -> str:
        embedder = {
            "name": self.embedder.name,
            "dimension": self.embedder.dimension,
            "max_input_tokens": self.embedder.max_input_tokens,
        }
        settings = {
            "chunk_tokens": self.settings.chunk_tokens,
            "chunk_overlap_sentences": self.settings.chunk_overlap_sentences,
            "tokenizer": f"tiktoken:{TIKTOKEN_ENCODING}",
            "vector_index": state.vectors.kind,
            "vector_index_rule": self.settings.vector_index,
            "hnsw_min_vectors": self.settings.hnsw_min_vectors,
        }
        operation = {
            k: getattr(report, k)
            for k in ("operation", "added", "updated", "unchanged", "removed", "rejected")
        }
        name, _ = write_version(self.root, state, embedder, settings, operation, parent)
        self.root.prune(self.settings.keep_versions)
        return name


def _paper(paper_id: str, record: PaperRecord, digest: str, old: Paper | None) -> Paper:
    sources = list(old.sources) if old else []
    if record.source and record.source not in sources:
        sources.append(record.source)
    return Paper(
        paper_id=paper_id,
        title=record.title,
        abstract=clean(record.abstract),
        sentences=split_sentences(record.abstract),
        content_hash=digest,
        authors=list(record.authors),
        url=record.url,
        published=record.published,
        metadata=dict(record.metadata),
        sources=sources,
    )


def _keep_old_fields(record: PaperRecord, old: Paper | None) -> PaperRecord:
    """A re-ingested paper keeps the fields its new record does not carry (as duplicates merge)."""
    if old is None:
        return record
    merged = replace(record, authors=list(record.authors), metadata=dict(record.metadata))
    fill_empty_fields(merged, _record(old))
    return merged


def _record(paper: Paper) -> PaperRecord:
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


def _first_errors(errors: list[RecordError], n: int = 5) -> str:
    if not errors:
        return ""
    more = f"\n  … and {len(errors) - n} more" if len(errors) > n else ""
    return ":\n  " + "\n  ".join(str(e) for e in errors[:n]) + more
