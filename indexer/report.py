"""What one indexer run did: counts, timings and the summary line ``index add`` prints."""

from __future__ import annotations

from dataclasses import dataclass, field

from indexer.models import RecordError
from indexer.pipeline import IngestCounts


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
    filtered: int = 0
    title_only: int = 0
    empty: int = 0
    texts_embedded: int = 0
    texts_resumed: int = 0
    embed_seconds: float = 0.0
    segments_written: int = 0
    segments_merged: int = 0
    seconds: float = 0.0
    errors: list[RecordError] = field(default_factory=list)
    warnings: list[RecordError] = field(default_factory=list)
    # paper id -> "added", "updated", "unchanged" or "removed", for callers that report per paper
    outcomes: dict[str, str] = field(default_factory=dict)

    @property
    def papers_per_second(self) -> float:
        return (self.added + self.updated) / self.seconds if self.seconds > 0 else 0.0

    @property
    def embed_rate(self) -> float:
        """Texts (chunks and titles) embedded per second of waiting on the embedder (0.0 when none
        were)."""
        return self.texts_embedded / self.embed_seconds if self.embed_seconds > 0 else 0.0

    def summary(self) -> str:
        waiting = 100 * self.embed_seconds / self.seconds if self.seconds > 0 else 0.0
        waiting = min(waiting, 100.0)
        parts = [
            f"papers: {self.added} added, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.removed} removed, {self.rejected} rejected, {self.merged} merged duplicates",
            f"records: {self.filtered} filtered out, {self.title_only} title-only, "
            f"{self.empty} empty",
            f"texts embedded: {self.texts_embedded}"
            + (f" (+{self.texts_resumed} resumed)" if self.texts_resumed else "")
            + (f" at {self.embed_rate:.0f} texts/s" if self.texts_embedded else ""),
            f"{self.seconds:.1f} s ({self.papers_per_second:.1f} papers/s, "
            f"{waiting:.0f}% waiting on the embedder, {100 - waiting:.0f}% in our own stages)",
            f"version: {self.version} (current)"
            if self.version
            else "no new version: nothing changed",
        ]
        return "; ".join(parts)

    def take(self, counts: IngestCounts) -> None:
        for name in ("added", "updated", "unchanged", "merged", "texts_embedded"):
            setattr(self, name, getattr(self, name) + getattr(counts, name))
        self.texts_resumed += counts.texts_resumed
        self.embed_seconds += counts.embed_seconds
        self.warnings.extend(counts.warnings)
        self.outcomes.update(counts.outcomes)
