"""The records the indexer reads, and the papers and chunks it stores."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class RecordError:
    """A problem with one input file or record; ``location`` is e.g. ``line 12`` or ``record 3``."""

    source: str
    location: str | None
    reason: str

    def __str__(self) -> str:
        where = f"{self.source}: {self.location}" if self.location else self.source
        return f"{where}: {self.reason}"


@dataclass
class PaperRecord:
    """One paper as a reader found it, before identity and deduplication."""

    title: str
    abstract: str
    source: str
    location: str
    id: str | None = None
    authors: list[str] = field(default_factory=list)
    url: str | None = None
    published: str | None = None  # ISO date, YYYY-MM-DD
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class ReadResult:
    """What a reader produced from one file: the good records and one error per bad one."""

    source: str
    format: str
    records: list[PaperRecord] = field(default_factory=list)
    errors: list[RecordError] = field(default_factory=list)
    warnings: list[RecordError] = field(default_factory=list)


@dataclass
class Paper:
    """A paper in the index. ``sentences`` are verbatim, in order, and cover the abstract."""

    paper_id: str
    title: str
    abstract: str
    sentences: list[str]
    content_hash: str
    authors: list[str] = field(default_factory=list)
    url: str | None = None
    published: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Paper:
        return cls(**data)


@dataclass
class Chunk:
    """A run of whole sentences of one paper, embedded with the title as context.

    ``chunk_id`` is the id of its vector in FAISS; sentences ``[first, end)`` of the paper.
    """

    chunk_id: int
    paper_id: str
    first: int
    end: int
    text: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Chunk:
        return cls(**data)
