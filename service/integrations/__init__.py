"""abstractqa inside other frameworks: ``from service.integrations import AbstractQARetriever``
(a llama-index retriever over a running server or a local index)."""

from service.integrations.llama_index_retriever import AbstractQARetriever

__all__ = ["AbstractQARetriever"]
