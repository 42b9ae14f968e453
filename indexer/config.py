"""Indexer settings by concern, read from the environment with the ``ABSTRACTQA_`` prefix
(``indexer/settings_groups.py``: each group keeps the flat variable names)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field, SecretStr, field_validator

# Re-exported: the settings' default, defined with the naming rule (no dependencies).
from indexer.embedders.naming import BUNDLED_MODEL as BUNDLED_MODEL
from indexer.settings_groups import GroupedSettings, SettingsGroup, group_config

SearchMode = Literal["hybrid", "dense", "bm25"]
SEARCH_MODES: tuple[SearchMode, ...] = ("hybrid", "dense", "bm25")
HNSW_MIN_VECTORS = 50_000
# From benchmarks/bench_scale.py (docs/benchmarks.md, "Compressed segments"): at 177k vectors HNSW
# built in 128 s, IVF-SQ8 in 12 s, for recall@10 0.998 against 0.990.
IVF_MIN_VECTORS = 100_000
# One writing process keeps up with about this many preparing ones (indexer/prepare.py).
AUTO_WORKERS_MAX = 4
VectorIndexKind = Literal["flat", "hnsw", "ivf_sq8"]


class IndexSettings(SettingsGroup):
    """Where the index lives, its vector structures, segments and versions."""

    flat_prefix: ClassVar[str] = ""
    model_config = group_config(flat_prefix)

    index_dir: Path = Field(Path("index"), description="Directory holding the index versions.")
    vector_index: Literal["auto", "flat", "hnsw", "ivf_sq8"] = Field(
        "auto",
        description="Per segment. flat: exact inner products over the memory-mapped vectors; "
        "hnsw: an HNSW graph; ivf_sq8: an inverted file of 8-bit codes re-ranked by exact "
        "vectors (a quarter of the RAM, fast to build); auto: flat below hnsw_min_vectors, "
        "hnsw below ivf_min_vectors, ivf_sq8 from there (chosen when a segment is written).",
    )
    # Chosen from benchmarks/bench_scale.py (docs/benchmarks.md, "Vector search at scale").
    hnsw_min_vectors: int = Field(
        HNSW_MIN_VECTORS,
        ge=1,
        description="With vector_index=auto: the number of vectors from which HNSW is used.",
    )
    ivf_min_vectors: int = Field(
        IVF_MIN_VECTORS,
        ge=1,
        description="With vector_index=auto: segments of this many vectors or more use ivf_sq8.",
    )
    ivf_nprobe: int = Field(64, ge=1, le=65536, description="ivf_sq8: inverted lists searched.")
    search_parallel_min_rows: int = Field(
        100_000,
        ge=0,
        description="A search runs its segments on several threads (one per core, at most 8) "
        "when they hold at least this many papers (BM25) or chunks (vectors) together.",
    )
    bm25_impact_cache_mb: int = Field(
        256,
        ge=0,
        description="BM25: a buffer per index version for each posting's tf / (norm + tf) of "
        "the terms queries used, read by later queries instead of computed (segments of "
        "1,000,000 postings or more; forgotten at once when full; 0: off).",
    )
    # Fewer, larger segments search faster (each costs its own inverted-file scan, candidate
    # heap and re-ranking): at 1,000,000 papers, two segments of 500,000 instead of four of
    # 250,000 halved a hybrid search's dense CPU time (docs/benchmarks.md, "Corpus scale").
    # A 500,000-paper segment is ~5 GB on disk, Lucene's default largest merged segment.
    segment_max_papers: int = Field(
        500_000, ge=1, description="Papers per segment at most (builds and merges)."
    )
    max_segments: int = Field(
        10, ge=0, description="Segments before the merge policy folds small ones (0: never)."
    )
    merge_factor: int = Field(4, ge=2, le=64, description="Segments merged at once per tier.")
    hnsw_m: int = Field(32, ge=4, le=128)
    hnsw_ef_construction: int = Field(200, ge=16, le=2048)
    hnsw_ef_search: int = Field(128, ge=16, le=4096)
    keep_versions: int = Field(3, ge=1, le=100, description="Index versions kept on disk.")

    def vector_index_for(self, n_vectors: int) -> VectorIndexKind:
        """The vector structure a segment of ``n_vectors`` vectors gets under these settings."""
        if self.vector_index != "auto":
            return self.vector_index
        if n_vectors >= self.ivf_min_vectors:
            return "ivf_sq8"
        return "hnsw" if n_vectors >= self.hnsw_min_vectors else "flat"


class EmbeddingSettings(SettingsGroup):
    """The embedder that turns chunks and queries into vectors (``ABSTRACTQA_EMBED_*``)."""

    flat_prefix: ClassVar[str] = "embed_"
    model_config = group_config(flat_prefix)

    mode: Literal["local", "openai"] = Field(
        "local",
        description="local: a model run in-process (the bundled one, or any "
        "sentence-transformers model); openai: an OpenAI-compatible /v1/embeddings endpoint. "
        "'sentence-transformers', the old name of local, is still accepted.",
    )
    model: str = Field(
        BUNDLED_MODEL,
        description="Model name or local path; 'all-MiniLM-L6-v2' is the bundled offline model.",
    )
    base_url: str = Field(
        "http://127.0.0.1:8080/v1", description="Base URL of the OpenAI-compatible embeddings API."
    )
    api_key: SecretStr | None = Field(None, description="Bearer token for the embeddings API.")
    batch_size: int = Field(64, ge=1, le=2048, description="Texts per embedding call.")
    timeout_s: float = Field(60.0, gt=0, description="Timeout of one embeddings request.")
    max_retries: int = Field(3, ge=0, le=10, description="Retries on 429/5xx/connect errors.")
    device: str = Field(
        "cpu",
        description="torch device for local models: cpu, cuda, cuda:N, or auto (CUDA when "
        "present, else cpu).",
    )
    runtime: Literal["auto", "sentence-transformers"] = Field(
        "auto",
        description="Local models: auto runs a plain BERT model with mean pooling (the bundled "
        "one) on torch directly, the same vectors without importing sentence-transformers; "
        "sentence-transformers: always through sentence-transformers.",
    )
    query_dtype: Literal["auto", "float32", "bfloat16"] = Field(
        "auto",
        description="Local plain BERT models: the precision queries are embedded in (documents "
        "always float32). auto: bfloat16 on CPUs with native bfloat16 (AVX512-BF16/AMX), "
        "where it is ~1.8x faster for the same ranking; float32 elsewhere.",
    )

    document_dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "auto",
        description="Local plain BERT models: the precision documents are embedded in. auto: "
        "float32 on CPU (indexes hold the model's exact vectors); on CUDA float16 or bfloat16, "
        "whichever agrees closer with float32 on fixed probe texts, once every probe vector is "
        "within cosine 0.9999 of float32, else float32 (logged).",
    )
    cuda_batch_size: int = Field(
        1024,
        ge=1,
        le=8192,
        description="Local plain BERT models on CUDA: documents per forward pass (length-sorted, "
        "so padding stays short); on CPU embed_batch_size applies. 1024: on one H200 33,646 "
        "texts/s against 34,094 at 2048 (docs/benchmarks.md, GPU bulk embedding), with half "
        "the activation memory for smaller GPUs.",
    )
    tokenizer_workers: int = Field(
        0,
        ge=0,
        le=256,
        description="Local plain BERT models: workers tokenizing documents ahead of the forward "
        "pass. 0: one on CPU (torch uses the cores), all CPUs but one on CUDA.",
    )
    tokenizer_pool: Literal["auto", "threads", "processes"] = Field(
        "auto",
        description="Local plain BERT models: what the tokenizer workers are. Plain-ASCII texts "
        "are tokenized in Python (the Rust tokenizer's ids, several times faster per core), which "
        "holds the GIL, so threads do not add up. auto: processes on CUDA, where tokenization "
        "bounds the rate, threads on CPU, where the forward pass does.",
    )
    executor: Literal["local", "ray"] = Field(
        "local",
        description="Where index builds embed documents (queries are always embedded in "
        "process). local: in this process; ray: on the actors of a Ray cluster (local models "
        "only; `index add --ray`).",
    )

    @field_validator("mode", mode="before")
    @classmethod
    def _old_mode_name(cls, value: object) -> object:
        return "local" if value == "sentence-transformers" else value


class RaySettings(SettingsGroup):
    """The Ray cluster of ``embed_executor=ray`` builds (``ABSTRACTQA_RAY_*``)."""

    flat_prefix: ClassVar[str] = "ray_"
    model_config = group_config(flat_prefix)

    address: str | None = Field(
        None,
        description="embed_executor=ray: the cluster to connect to (ray://head:10001, "
        "head:6379 or auto); unset: $RAY_ADDRESS, else a Ray started on this machine.",
    )
    actors: int = Field(
        0,
        ge=0,
        le=4096,
        description="embed_executor=ray: embedding actors, each loading the model once (0: "
        "one per GPU when ray_gpus_per_actor > 0, else one per CPU of the cluster).",
    )
    gpus_per_actor: float = Field(
        0.0,
        ge=0.0,
        le=8.0,
        description="embed_executor=ray: GPUs each actor holds; above 0 the actors run the "
        "model on cuda, at 0 on one CPU each.",
    )
    cpus_per_actor: int = Field(
        0,
        ge=0,
        le=256,
        description="embed_executor=ray: CPUs Ray reserves for each actor, all of which "
        "tokenize for it (0: 1 for CPU actors; 4 for GPU actors, a default not measured on a "
        "cluster: on an H200 one worker alone tokenized 7,928 texts/s and the forward pass took "
        "38,671, docs/benchmarks.md, so a fast GPU wants more).",
    )


class IngestSettings(SettingsGroup):
    """How an add is spread over processes and blocks (``ABSTRACTQA_INGEST_*``)."""

    flat_prefix: ClassVar[str] = "ingest_"
    model_config = group_config(flat_prefix)

    # 0 (auto) by default: on the quiet 2-core development machine two workers took a 30k add
    # from 668 to 1,202 papers/s (docs/benchmarks.md, "Corpus scale"); the segments are the same
    # either way.
    workers: int = Field(
        0,
        ge=0,
        le=64,
        description="Processes that sentence-split, count and BM25-tokenise papers during an "
        "add, while this one embeds and writes (0: one per core, at most "
        f"{AUTO_WORKERS_MAX}; 1: none, all in this process). Started only for inputs of more "
        "than one block.",
    )
    block_papers: int = Field(
        4096,
        ge=1,
        le=1_000_000,
        description="Papers per block of an add: the unit handed to a worker, and embedded "
        "at once unless the embedder wants more texts per call (on a GPU blocks are gathered "
        "up to 32,768 chunks); memory grows with it times the workers.",
    )


class ChunkingSettings(SettingsGroup):
    """How abstracts are cut into chunks (``ABSTRACTQA_CHUNK_*``)."""

    flat_prefix: ClassVar[str] = "chunk_"
    model_config = group_config(flat_prefix)

    tokens: int = Field(
        200,
        ge=32,
        le=8192,
        description="Chunk size in tiktoken tokens (title included); also capped by the "
        "embedder's own input limit.",
    )
    overlap_sentences: int = Field(
        1, ge=0, le=5, description="Sentences repeated between consecutive chunks of a paper."
    )


class FeedbackSettings(SettingsGroup):
    """What is done with the first-pass results: pseudo-relevance feedback (off by default),
    the title list and score smoothing (on)."""

    flat_prefix: ClassVar[str] = ""
    model_config = group_config(flat_prefix)

    # Pseudo-relevance feedback (indexer/feedback.py). Off: on held-out folds of CISI and CACM
    # (benchmarks/cv_retrieval.py, docs/benchmarks.md) the grid with feedback scored below the
    # one without; the other defaults are the usual literature settings, for when it is on.
    rm3_docs: int = Field(
        0, ge=0, le=100, description="RM3 on BM25: first-pass papers fed back (0: off)."
    )
    rm3_terms: int = Field(10, ge=1, le=200, description="RM3: expansion terms kept.")
    rm3_query_weight: float = Field(
        0.5, ge=0.0, le=1.0, description="RM3: the original query's share of the new query."
    )
    rocchio_docs: int = Field(
        0, ge=0, le=100, description="Rocchio on dense: first-pass papers fed back (0: off)."
    )
    rocchio_beta: float = Field(
        0.3, ge=0.0, le=1.0, description="Rocchio: how far the query vector moves (0..1)."
    )
    # Score regularisation (indexer/smoothing.py). On: of the grid in benchmarks/cv_retrieval.py
    # this point is the best on CISI and CACM at once, and the held-out folds of both gain.
    smoothing_papers: int = Field(
        30,
        ge=0,
        le=1000,
        description="Hybrid search: the best fused papers re-scored from their most similar "
        "neighbours among them (0: off).",
    )
    smoothing_neighbours: int = Field(
        10, ge=1, le=200, description="Smoothing: neighbours whose mean score each paper takes."
    )
    smoothing_weight: float = Field(
        0.5, ge=0.0, le=1.0, description="Smoothing: the neighbours' share of a paper's score."
    )
    smoothing_lexical_share: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="Smoothing: the tf-idf cosine's share of the similarity (the rest: the "
        "cosine of the papers' mean chunk vectors).",
    )
    # Title list (indexer/title_vectors.py). 0.1: of the grid in benchmarks/cv_retrieval.py the
    # best on CISI and CACM at once; chosen per fold, the held-out folds of both gain.
    title_weight: float = Field(
        0.1,
        ge=0.0,
        le=1.0,
        description="Hybrid search: weight of the z-scored cosine between the query and each "
        "candidate's title (0: off).",
    )


class IndexerSettings(GroupedSettings):
    """Where the index lives, how papers are chunked and which embedder turns them into vectors."""

    index: IndexSettings = Field(default_factory=IndexSettings)
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    ray: RaySettings = Field(default_factory=RaySettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    chunking: ChunkingSettings = Field(default_factory=ChunkingSettings)
    feedback: FeedbackSettings = Field(default_factory=FeedbackSettings)
