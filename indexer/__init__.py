"""abstractqa indexer: ingests abstracts into a segmented FAISS + BM25 index and opens it.

The public surface: what ``service`` (and any other caller) may use. Everything else in the
package is private and may change with the on-disk format.
"""

from indexer import cli as indexer_cli
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
from indexer.evaluation.beir import EvaluationInputError, json_objects, read_json_objects
from indexer.evaluation.metrics import mrr_at_k, recall_at_k
from indexer.feedback import Feedback
from indexer.identity import find_arxiv_id, normalise_title
from indexer.index import IndexVersion, check_version, current_version_name, open_index
from indexer.lexical import tokenize
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
    "open_index",
    "read_file",
    "read_json_objects",
    "read_json_papers",
    "recall_at_k",
    "split_sentences",
    "tokenize",
]
