"""Builds the configured embedder; backends are imported only when chosen."""

from __future__ import annotations

from indexer.config import IndexerSettings
from indexer.embedders.base import Embedder


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
    prefix = "sentence-transformers" if settings.embed_mode == "sentence-transformers" else "openai"
    return f"{prefix}:{settings.embed_model}"


def build_document_embedder(settings: IndexerSettings) -> Embedder:
    """The embedder index builds embed documents with: the configured one, run in process or
    (``embed_executor=ray``) on a Ray cluster. Queries always use ``build_embedder``."""
    if settings.embed_executor == "ray":
        from indexer.embedders.ray_cluster import RayEmbedder

        return RayEmbedder(settings)
    return build_embedder(settings)
