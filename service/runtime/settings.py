"""How `abstractqa serve` runs: address, threads, heap, the index watch, logs and the query
encoder (the runtime's settings groups; ``service/settings.py`` holds them all)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from indexer import SettingsGroup, group_config

LogFormat = Literal["auto", "json", "text"]
LogLevel = Literal["debug", "info", "warning", "error"]


class RuntimeSettings(SettingsGroup):
    """How `abstractqa serve` runs: its address, threads, heap and the index watch."""

    flat_prefix: ClassVar[str] = ""
    model_config = group_config(flat_prefix)

    host: str = Field("127.0.0.1", description="Interface `abstractqa serve` binds to.")
    port: int = Field(8000, ge=0, le=65535, description="Port `abstractqa serve` listens on.")
    torch_threads: int = Field(
        1,
        ge=0,
        le=256,
        description="`abstractqa serve`: torch's intra-op threads (OMP_NUM_THREADS, unless that "
        "is set); 0: torch's default, one per core. With one query encoder worker per core, "
        "1 is fastest and does not slow down many times over when other processes share the "
        "cores (docs/benchmarks.md).",
    )
    sentence_cache_papers: int = Field(
        50_000,
        ge=1,
        description="Papers whose sentence vectors (for citation checks) are kept, least "
        "recently used dropped first; an index of at most this many papers is warmed in the "
        "background after start-up, a larger one embeds sentences when an answer needs them.",
    )
    gc_freeze: bool = Field(
        True,
        description="Once an index version is loaded and warm, collect garbage once and exempt "
        "what survived from later full collections (gc.freeze): removes ~0.2 s GIL stalls "
        "from the tail latency (service/runtime/heap.py).",
    )
    watch_index: bool = Field(
        False,
        description="Poll the index's CURRENT pointer and reload when another process (e.g. "
        "`abstractqa index add`) makes a new version current.",
    )
    watch_interval_s: float = Field(
        2.0, gt=0, le=3600, description="How often the index pointer is polled (watch_index)."
    )


class ObservabilitySettings(SettingsGroup):
    """What `abstractqa serve` logs (``ABSTRACTQA_LOG_*``)."""

    flat_prefix: ClassVar[str] = "log_"
    model_config = group_config(flat_prefix)

    format: LogFormat = Field(
        "auto",
        description="`abstractqa serve` log lines: json (one object per line), text, or auto "
        "(text when stderr is a terminal, json otherwise).",
    )
    level: LogLevel = Field("info", description="Least severe level `abstractqa serve` logs.")


class QueryEncoderSettings(SettingsGroup):
    """How queries are batched, cached and encoded (``ABSTRACTQA_QUERY_*``)."""

    flat_prefix: ClassVar[str] = "query_"
    model_config = group_config(flat_prefix)

    batch_wait_ms: float = Field(
        4.0,
        ge=0,
        le=1000,
        description="How long the query encoder waits for other requests' queries to join a "
        "batch once one arrives, while other queries are queued or being encoded (a lone query "
        "never waits; queries that arrive while a batch is encoded always join the next one); "
        "0 encodes at once whatever is queued.",
    )
    batch_max: int = Field(
        8,
        ge=1,
        le=1024,
        description="Most queries one query encoder worker takes at once; small enough that "
        "concurrent queries spread over the workers instead of queueing behind one.",
    )
    cache_size: int = Field(
        1024,
        ge=0,
        le=1_000_000,
        description="Query vectors kept for repeated queries (least recently used dropped "
        "first); 0 disables the cache.",
    )
    encoder_workers: int = Field(
        0,
        ge=0,
        le=64,
        description="Threads that encode query batches at once, sharing the model; 0: one per "
        "CPU core.",
    )
