"""abstractqa indexer: ingests abstracts into a segmented FAISS + BM25 index and opens it.

The public surface: what ``service`` (and any other caller) may use. Everything else in the
package is private and may change with the on-disk format.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from indexer import cli as indexer_cli
    from indexer.ann import AnnParams
    from indexer.builder import BuildReport, Indexer
    from indexer.config import SEARCH_MODES, IndexerSettings, SearchMode
    from indexer.embedders import Embedder, build_embedder
    from indexer.embedders.factory import embedder_name
    from indexer.errors import (
        EmbedderError,
        EmbedderMismatchError,
        IndexCorruptError,
        IndexerError,
        IndexLockedError,
        IndexNotFoundError,
        IndexStoreError,
        InputError,
        LegacyFormatError,
        NothingToIndexError,
        PaperNotFoundError,
    )
    from indexer.evaluation import cli as eval_cli
    from indexer.evaluation.files import EvaluationInputError, json_objects, read_json_objects
    from indexer.evaluation.metrics import mrr_at_k, recall_at_k
    from indexer.fanout import one_blas_thread_per_call
    from indexer.feedback import Feedback
    from indexer.identity import find_arxiv_id, normalise_title
    from indexer.index import IndexVersion, check_version, current_version_name, open_index
    from indexer.lexical import distinct_terms, tokenize
    from indexer.models import Chunk, Paper, PaperRecord, RecordError
    from indexer.openai_api import Failure, OpenAIEndpoint, excerpt
    from indexer.readers import ReadOptions, read_file
    from indexer.readers.jsonl import read_json_papers
    from indexer.retrieval import Filters, PaperHit, Retriever
    from indexer.settings_groups import (
        GroupedSettings,
        SettingsGroup,
        all_groups,
        flat_env_name,
        group_config,
    )
    from indexer.text import clean, count_tokens, count_tokens_many, split_sentences

__all__ = [
    "SEARCH_MODES",
    "AnnParams",
    "BuildReport",
    "Chunk",
    "Embedder",
    "EmbedderError",
    "EmbedderMismatchError",
    "EvaluationInputError",
    "Failure",
    "Feedback",
    "Filters",
    "GroupedSettings",
    "IndexCorruptError",
    "IndexLockedError",
    "IndexNotFoundError",
    "IndexStoreError",
    "IndexVersion",
    "Indexer",
    "IndexerError",
    "IndexerSettings",
    "InputError",
    "LegacyFormatError",
    "NothingToIndexError",
    "OpenAIEndpoint",
    "Paper",
    "PaperHit",
    "PaperNotFoundError",
    "PaperRecord",
    "ReadOptions",
    "RecordError",
    "Retriever",
    "SearchMode",
    "SettingsGroup",
    "all_groups",
    "build_embedder",
    "check_version",
    "clean",
    "count_tokens",
    "count_tokens_many",
    "current_version_name",
    "distinct_terms",
    "embedder_name",
    "eval_cli",
    "excerpt",
    "find_arxiv_id",
    "flat_env_name",
    "group_config",
    "indexer_cli",
    "json_objects",
    "mrr_at_k",
    "normalise_title",
    "one_blas_thread_per_call",
    "open_index",
    "read_file",
    "read_json_objects",
    "read_json_papers",
    "recall_at_k",
    "split_sentences",
    "tokenize",
]

# Each public name resolves on first use (PEP 562), so that importing one part (the torch
# embedder, for benchmarks/bench_gpu_embed.py on a machine with torch alone) does not import
# FAISS, bm25s, llama-index and the settings. name -> (module, attribute; None: the module).
_WHERE: dict[str, tuple[str, str | None]] = {
    "indexer_cli": ("indexer.cli", None),
    "AnnParams": ("indexer.ann", "AnnParams"),
    "BuildReport": ("indexer.builder", "BuildReport"),
    "Indexer": ("indexer.builder", "Indexer"),
    "SEARCH_MODES": ("indexer.config", "SEARCH_MODES"),
    "IndexerSettings": ("indexer.config", "IndexerSettings"),
    "SearchMode": ("indexer.config", "SearchMode"),
    "Embedder": ("indexer.embedders", "Embedder"),
    "build_embedder": ("indexer.embedders", "build_embedder"),
    "embedder_name": ("indexer.embedders.factory", "embedder_name"),
    "EmbedderError": ("indexer.errors", "EmbedderError"),
    "EmbedderMismatchError": ("indexer.errors", "EmbedderMismatchError"),
    "IndexCorruptError": ("indexer.errors", "IndexCorruptError"),
    "IndexerError": ("indexer.errors", "IndexerError"),
    "IndexLockedError": ("indexer.errors", "IndexLockedError"),
    "IndexNotFoundError": ("indexer.errors", "IndexNotFoundError"),
    "IndexStoreError": ("indexer.errors", "IndexStoreError"),
    "InputError": ("indexer.errors", "InputError"),
    "LegacyFormatError": ("indexer.errors", "LegacyFormatError"),
    "NothingToIndexError": ("indexer.errors", "NothingToIndexError"),
    "PaperNotFoundError": ("indexer.errors", "PaperNotFoundError"),
    "eval_cli": ("indexer.evaluation.cli", None),
    "EvaluationInputError": ("indexer.evaluation.files", "EvaluationInputError"),
    "json_objects": ("indexer.evaluation.files", "json_objects"),
    "read_json_objects": ("indexer.evaluation.files", "read_json_objects"),
    "mrr_at_k": ("indexer.evaluation.metrics", "mrr_at_k"),
    "recall_at_k": ("indexer.evaluation.metrics", "recall_at_k"),
    "one_blas_thread_per_call": ("indexer.fanout", "one_blas_thread_per_call"),
    "Feedback": ("indexer.feedback", "Feedback"),
    "find_arxiv_id": ("indexer.identity", "find_arxiv_id"),
    "normalise_title": ("indexer.identity", "normalise_title"),
    "IndexVersion": ("indexer.index", "IndexVersion"),
    "check_version": ("indexer.index", "check_version"),
    "current_version_name": ("indexer.index", "current_version_name"),
    "open_index": ("indexer.index", "open_index"),
    "tokenize": ("indexer.lexical", "tokenize"),
    "distinct_terms": ("indexer.lexical", "distinct_terms"),
    "Chunk": ("indexer.models", "Chunk"),
    "Paper": ("indexer.models", "Paper"),
    "PaperRecord": ("indexer.models", "PaperRecord"),
    "RecordError": ("indexer.models", "RecordError"),
    "Failure": ("indexer.openai_api", "Failure"),
    "OpenAIEndpoint": ("indexer.openai_api", "OpenAIEndpoint"),
    "excerpt": ("indexer.openai_api", "excerpt"),
    "ReadOptions": ("indexer.readers", "ReadOptions"),
    "read_file": ("indexer.readers", "read_file"),
    "read_json_papers": ("indexer.readers.jsonl", "read_json_papers"),
    "Filters": ("indexer.retrieval", "Filters"),
    "PaperHit": ("indexer.retrieval", "PaperHit"),
    "Retriever": ("indexer.retrieval", "Retriever"),
    "GroupedSettings": ("indexer.settings_groups", "GroupedSettings"),
    "SettingsGroup": ("indexer.settings_groups", "SettingsGroup"),
    "all_groups": ("indexer.settings_groups", "all_groups"),
    "flat_env_name": ("indexer.settings_groups", "flat_env_name"),
    "group_config": ("indexer.settings_groups", "group_config"),
    "clean": ("indexer.text", "clean"),
    "count_tokens": ("indexer.text", "count_tokens"),
    "count_tokens_many": ("indexer.text", "count_tokens_many"),
    "split_sentences": ("indexer.text", "split_sentences"),
}


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(where[0])
    value = module if where[1] is None else getattr(module, where[1])
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
