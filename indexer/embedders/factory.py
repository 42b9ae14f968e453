"""Builds the configured embedder; backends are imported only when chosen."""

from __future__ import annotations

from indexer.config import IndexerSettings
from indexer.embedders.base import Embedder
from indexer.embedders.naming import embedder_identity


def build_embedder(settings: IndexerSettings) -> Embedder:
    match settings.embed_mode:
        case "sentence-transformers":
            from indexer.embedders.local import load_local_embedder

            return load_local_embedder(
                settings.embed_model,
                device=settings.embed_device,
                batch_size=settings.embed_batch_size,
                runtime=settings.embed_runtime,
                query_dtype=settings.embed_query_dtype,
                document_dtype=settings.embed_document_dtype,
                cuda_batch_size=settings.embed_cuda_batch_size,
                tokenizer_threads=settings.embed_tokenizer_threads,
            )
        case "openai":
            from indexer.embedders.openai_http import OpenAIEmbedder

            api_key = settings.embed_api_key.get_secret_value() if settings.embed_api_key else None
            return OpenAIEmbedder(
                base_url=settings.embed_base_url,
                model=settings.embed_model,
                api_key=api_key,
                batch_size=settings.embed_batch_size,
                timeout_s=settings.embed_timeout_s,
                max_retries=settings.embed_max_retries,
            )
    raise ValueError(f"unknown embed_mode {settings.embed_mode!r}")


def embedder_name(settings: IndexerSettings) -> str:
    """The name ``build_embedder(settings)`` would report, without loading the model."""
    return embedder_identity(settings.embed_mode, settings.embed_model)
