"""The indexer's write path: add files, remove papers, rebuild, compact, each as a new version.

An add writes new segments only; a removal writes a version whose tombstones hide the paper;
neither rewrites what did not change. After a commit the merge policy folds the smallest
segments together when there are more than ``max_segments`` (the readers keep serving the
version they opened: segments are immutable and a merge is one more version).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from indexer.checkpoint import EmbedCheckpoint
from indexer.config import IndexerSettings
from indexer.embedders import Embedder
from indexer.embedders.factory import build_document_embedder, embedder_name
from indexer.errors import IndexerError, LegacyFormatError, NothingToIndexError, PaperNotFoundError
from indexer.index import IndexVersion, check_version, open_version
from indexer.models import PaperRecord, RecordError
from indexer.pipeline import Ingest, IngestCounts, paper_record
from indexer.prepare import Draft
from indexer.progress import Progress, SilentProgress
from indexer.readers import ReadOptions, open_records
from indexer.report import BuildReport
from indexer.storage import IndexDir, now_iso
from indexer.versioning import VersionPlan, commit_version, plan_from


class Indexer:
    """Builds index versions in ``settings.index.index_dir`` with the configured embedder."""

    def __init__(
        self,
        settings: IndexerSettings,
        embedder: Embedder | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.settings = settings
        self.root = IndexDir(settings.index.index_dir)
        self._embedder = embedder
        self.progress = progress or SilentProgress()
        self._read_share: float | None = None  # of the input read so far, for the ETA

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = build_document_embedder(self.settings)
        return self._embedder

    def _configured_name(self) -> str:
        # The configured name, without loading a model that a no-op run never needs.
        return self._embedder.name if self._embedder else embedder_name(self.settings)

    def _open_current(self, check: bool = True) -> IndexVersion | None:
        """The current version (upgraded first if it is in an older format)."""
        if not self.root.exists():
            return None
        expected = self._configured_name() if check else None
        try:
            root, version, manifest = check_version(self.root.root, expected, hashes=False)
        except LegacyFormatError:
            from indexer.legacy import upgrade

            self.progress.log("upgrading the index to segments (no re-embedding)")
            upgrade(self.root, self.settings, self.progress)
            root, version, manifest = check_version(self.root.root, expected, hashes=False)
        return open_version(root, version, manifest)

    def add(
        self,
        files: Sequence[Path | str],
        options: ReadOptions | None = None,
    ) -> BuildReport:
        """Ingest ``files`` (``-``: standard input) as streams: embed only new or changed
        papers, write a new segment. An ``InputStreamError`` (an input that breaks off) leaves
        the index as it was; what was embedded before it is kept for the next run."""
        started = time.monotonic()
        options = options or ReadOptions()
        report = BuildReport("add")
        sources: dict[str, Any] = {}

        def records() -> Iterable[PaperRecord]:
            for done, path in enumerate(files):
                with open_records(path, options) as stream:
                    self.progress.log(f"reading {stream.source} ({stream.format})")
                    for record in stream:
                        if stream.total_bytes:
                            within = stream.bytes_read / stream.total_bytes
                            self._read_share = (done + within) / len(files)
                        yield record
                    report.errors.extend(stream.errors)
                    report.warnings.extend(stream.warnings)
                    file_errors = sum(1 for e in stream.errors if e.location is None)
                    report.rejected += stream.n_errors - file_errors
                    report.filtered += stream.n_filtered
                    report.title_only += stream.n_title_only
                    report.empty += stream.n_empty
                    self.progress.log(
                        f"read {stream.source}: {stream.n_records} papers ({stream.format}), "
                        f"{stream.n_errors} errors"
                    )
                    if stream.n_records:
                        sources[_source_key(path)] = {
                            "format": stream.format,
                            "sha256": stream.sha256,
                            "papers": stream.n_records,
                            "bytes": stream.bytes_read,
                            "ingested": now_iso(),
                        }

        self._ingest(records(), sources, report)
        if not report.outcomes and not report.merged:
            raise NothingToIndexError(
                "no usable paper in "
                + ", ".join(str(f) for f in files)
                + _first_errors(report.errors)
            )
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
        report = report or BuildReport("add")
        self._ingest(records, dict(sources or {}), report)
        report.seconds = time.monotonic() - started
        return report

    def _ingest(
        self, records: Iterable[PaperRecord], sources: dict[str, Any], report: BuildReport
    ) -> None:
        with self.root.write_lock():
            self.root.clear_builds()
            current = self._open_current()  # refuses an index of another embedder
            plan = plan_from(current, self.embedder, self.settings)
            checkpoint = self._checkpoint()
            if checkpoint.resumed:
                self.progress.log(f"resuming: {checkpoint.resumed} vectors already embedded")
            counts = IngestCounts()
            ingest = Ingest(
                self.root,
                self.settings,
                self.embedder,
                current,
                checkpoint,
                plan.next_chunk_id,
                self.progress,
                counts,
            )
            try:
                with self.progress.stream_stage("papers") as stage:
                    for record in records:
                        ingest.feed(record)
                        stage.update(1, self._read_share)
                ingest.finish()
            except BaseException:
                ingest.abandon()
                checkpoint.close()
                raise
            report.take(counts)
            report.segments_written += len(ingest.sealed)
            if ingest.sealed:
                plan.add_segments(ingest.sealed, ingest.next_chunk_id)
                plan.delete_rows(ingest.replaced)
                plan.sources.update(sources)
                report.version = self._commit(plan, report, current)
            checkpoint.discard()
            if current is not None:
                current.close()
        if report.version:
            self._merge_if_needed()

    def _checkpoint(self) -> EmbedCheckpoint:
        import hashlib

        key = hashlib.sha256(self.embedder.name.encode()).hexdigest()[:16]
        return EmbedCheckpoint(self.root.root / "checkpoint" / key, self.embedder.dimension)

    @contextmanager
    def _existing(self, what: str) -> Iterator[IndexVersion]:
        """The write lock and the current version, for operations on an existing index."""
        with self.root.write_lock():
            self.root.clear_builds()
            current = self._open_current(check=False)
            if current is None:
                raise IndexerError(f"no index at {self.root.root}: nothing to {what}")
            try:
                yield current
            finally:
                current.close()

    def remove(self, paper_ids: Sequence[str]) -> BuildReport:
        """Remove papers by id (tombstones; nothing is rewritten); unknown ids are reported."""
        started = time.monotonic()
        report = BuildReport("remove")
        with self._existing("remove") as current:
            wanted = list(dict.fromkeys(paper_ids))
            located = current.papers.locate(wanted)
            report.errors = [
                RecordError(str(self.root.root), None, f"no paper with id {p!r} in the index")
                for p in wanted
                if p not in located
            ]
            if not located:
                raise PaperNotFoundError(
                    "none of the given paper ids is in the index" + _first_errors(report.errors)
                )
            plan = plan_from(current, None, self.settings)
            plan.delete_rows([(current.segments[s].name, r) for s, r in located.values()])
            report.removed = len(located)
            report.outcomes.update(dict.fromkeys(located, "removed"))
            report.version = self._commit(plan, report, current)
        report.seconds = time.monotonic() - started
        return report

    def rebuild(self) -> BuildReport:
        """Re-split, re-chunk and re-embed every paper with the configured embedder."""
        started = time.monotonic()
        report = BuildReport("rebuild")
        with self._existing("rebuild") as old:
            plan = VersionPlan.empty(old.manifest, self.embedder, self.settings)
            counts = IngestCounts()
            checkpoint = self._checkpoint()
            ingest = Ingest(
                self.root, self.settings, self.embedder, None, checkpoint,
                plan.next_chunk_id, self.progress, counts,
            )  # fmt: skip
            batch: list[Draft] = []
            for paper in old.papers.values():
                batch.append(Draft(paper.paper_id, paper_record(paper), paper.content_hash, paper))
                if len(batch) >= self.settings.ingest.block_papers:
                    ingest.submit(batch)
                    batch = []
            ingest.submit(batch)
            try:
                ingest.finish()
            except BaseException:
                ingest.abandon()
                checkpoint.close()
                raise
            report.updated = len(old.papers)
            report.take(counts)
            plan.add_segments(ingest.sealed, ingest.next_chunk_id)
            report.version = self._commit(plan, report, old)
            checkpoint.discard()
        report.seconds = time.monotonic() - started
        return report

    def compact(self, everything: bool = True) -> BuildReport:
        """Merge segments and drop tombstoned papers (all of them, or by the merge policy)."""
        from indexer.merge import merge_segments

        started = time.monotonic()
        report = BuildReport("compact")
        with self._existing("compact") as current:
            report.version, report.segments_merged = merge_segments(
                self.root, self.settings, current, everything, self.progress
            )
            if report.version:
                self.root.prune(self.settings.index.keep_versions)
        report.seconds = time.monotonic() - started
        return report

    def _merge_if_needed(self) -> None:
        if self.settings.index.max_segments > 0:
            self.compact(everything=False)

    def _commit(self, plan: VersionPlan, report: BuildReport, parent: IndexVersion | None) -> str:
        operation = {
            k: getattr(report, k)
            for k in ("operation", "added", "updated", "unchanged", "removed", "rejected")
        }
        name = commit_version(self.root, plan, operation, parent.name if parent else None)
        self.root.prune(self.settings.index.keep_versions)
        return name


def _source_key(path: Path | str) -> str:
    return "<stdin>" if str(path) == "-" else str(Path(path).resolve())


def _first_errors(errors: list[RecordError], n: int = 5) -> str:
    if not errors:
        return ""
    more = f"\n  … and {len(errors) - n} more" if len(errors) > n else ""
    return ":\n  " + "\n  ".join(str(e) for e in errors[:n]) + more
