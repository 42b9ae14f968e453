"""Builds the configured embedder; backends are imported only when chosen."""

from __future__ import annotations

from indexer.config import IndexerSettings
from indexer.embedders.base import Embedder
from indexer.embedders.naming import embedder_identity


def build_embedder(settings: IndexerSettings) -> Embedder:
    match settings.embedding.mode:
        case "local":
            from indexer.embedders.local import load_local_embedder

            return load_local_embedder(
                settings.embedding.model,
                device=settings.embedding.device,
                batch_size=settings.embedding.batch_size,
                runtime=settings.embedding.runtime,
                query_dtype=settings.embedding.query_dtype,
                document_dtype=settings.embedding.document_dtype,
                cuda_batch_size=settings.embedding.cuda_batch_size,
                tokenizer_workers=settings.embedding.tokenizer_workers,
                tokenizer_pool=settings.embedding.tokenizer_pool,
            )
        case "openai":
            from indexer.embedders.openai_http import OpenAIEmbedder

            api_key = (
                settings.embedding.api_key.get_secret_value()
                if settings.embedding.api_key
                else None
            )
            return OpenAIEmbedder(
                base_url=settings.embedding.base_url,
                model=settings.embedding.model,
                api_key=api_key,
                batch_size=settings.embedding.batch_size,
                timeout_s=settings.embedding.timeout_s,
                max_retries=settings.embedding.max_retries,
            )
    raise ValueError(f"unknown embed_mode {settings.embedding.mode!r}")


def embedder_name(settings: IndexerSettings) -> str:
    """The name ``build_embedder(settings)`` would report, without loading the model."""
    return embedder_identity(settings.embedding.mode, settings.embedding.model)


def build_document_embedder(settings: IndexerSettings) -> Embedder:
    """The embedder index builds embed documents with: the configured one, run in process or
    (``embed_executor=ray``) on a Ray cluster. Queries always use ``build_embedder``."""
    if settings.embedding.executor == "ray":
        from indexer.embedders.ray_cluster import RayEmbedder

        return RayEmbedder(settings)
    return build_embedder(settings)
