"""abstractqa's retrieval as a llama-index retriever, for ``RetrieverQueryEngine`` and agents.

``AbstractQARetriever`` returns one ``NodeWithScore`` per paper: the paper's sentences that
best match the query as the node's text, its id, title, url, authors and date as metadata.
When the service would abstain (no retrieved paper answers the query; ``answerable`` of
``/v1/search``), it returns no nodes, so the engine answers "Empty Response" instead of
letting the LLM guess from unrelated abstracts.

Two sources, one retrieval: ``over_http`` calls a running server's ``/v1/search``;
``over_index`` opens an index directory in this process and runs the ``SearchService`` that
route runs.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Protocol

import httpx
from llama_index.core.callbacks import CallbackManager
from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
from pydantic import ValidationError

from indexer import Embedder, excerpt
from service.errors import InvalidRequestError, RemoteServiceError
from service.runtime.state import ServiceState
from service.search.models import PaperResult, SearchFilters, SearchRequest, SearchResponse
from service.search.service import SearchService
from service.settings import Settings

Mode = Literal["hybrid", "dense", "bm25"]
# Shown to the LLM with the text (llama-index prepends metadata); ids and scores mean nothing
# to it.
_HIDDEN_FROM_LLM = ["paper_id", "score"]


class _Source(Protocol):
    def search(self, request: SearchRequest) -> SearchResponse: ...

    async def asearch(self, request: SearchRequest) -> SearchResponse: ...

    def close(self) -> None: ...


class AbstractQARetriever(BaseRetriever):
    """Papers for a query from abstractqa's hybrid retrieval, with its abstention.

    Build one with ``over_http`` or ``over_index``; ``close()`` (or ``with``) releases it.
    """

    def __init__(
        self,
        source: _Source,
        *,
        top_k: int = 5,
        mode: Mode = "hybrid",
        paper_ids: list[str] | None = None,
        filters: SearchFilters | dict[str, Any] | None = None,
        abstain: bool = True,
        callback_manager: CallbackManager | None = None,
    ) -> None:
        """``abstain=False`` returns the papers even where the service would abstain."""
        super().__init__(callback_manager=callback_manager)
        self._source = source
        self._options: dict[str, Any] = {
            "top_k": top_k,
            "mode": mode,
            "paper_ids": paper_ids,
            "filters": filters,
        }
        self._abstain = abstain
        try:
            self._request("options check")  # a bad top_k, mode or filter fails here, not later
        except InvalidRequestError:
            source.close()
            raise

    @classmethod
    def over_http(
        cls,
        base_url: str,
        api_key: str | None = None,
        *,
        timeout_s: float = 30.0,
        client: httpx.Client | None = None,
        async_client: httpx.AsyncClient | None = None,
        **options: Any,
    ) -> AbstractQARetriever:
        """Search a running server (``base_url`` as ``http://127.0.0.1:8000``), with its API key
        when it has keys. ``client``/``async_client`` replace the clients made here (theirs are
        then not closed here); ``options`` are the constructor's."""
        return cls(_HttpSource(base_url, api_key, timeout_s, client, async_client), **options)

    @classmethod
    def over_index(
        cls,
        index_dir: str | Path,
        *,
        settings: Settings | None = None,
        embedder: Embedder | None = None,
        **options: Any,
    ) -> AbstractQARetriever:
        """Search the index at ``index_dir`` in this process. ``settings`` default to the
        environment's (``ABSTRACTQA_*``, as ``abstractqa serve`` reads them); ``embedder``
        reuses a loaded model. Loads the index before returning."""
        settings = (settings or Settings()).updated(index_dir=Path(index_dir))
        return cls(_IndexSource(settings, embedder), **options)

    # -- llama-index -------------------------------------------------------------------------

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return self._nodes(self._source.search(self._request(query_bundle.query_str)))

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return self._nodes(await self._source.asearch(self._request(query_bundle.query_str)))

    # -- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        self._source.close()

    def __enter__(self) -> AbstractQARetriever:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- requests and nodes ------------------------------------------------------------------

    def _request(self, query: str) -> SearchRequest:
        try:
            return SearchRequest(query=query, **self._options)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()
            )
            raise InvalidRequestError(f"invalid search: {problems}") from exc

    def _nodes(self, response: SearchResponse) -> list[NodeWithScore]:
        if self._abstain and not response.answerable:
            return []
        return [NodeWithScore(node=_node(r), score=r.score) for r in response.results]


def _node(result: PaperResult) -> TextNode:
    metadata: dict[str, Any] = {"paper_id": result.paper_id, "title": result.title}
    if result.url:
        metadata["url"] = result.url
    if result.authors:
        metadata["authors"] = ", ".join(result.authors)
    if result.published:
        metadata["published"] = result.published
    metadata["score"] = result.score
    return TextNode(
        id_=result.paper_id,
        text=result.snippet,
        metadata=metadata,
        excluded_llm_metadata_keys=_HIDDEN_FROM_LLM,
        excluded_embed_metadata_keys=_HIDDEN_FROM_LLM,
    )


class _HttpSource:
    """``POST {base_url}/v1/search``."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        timeout_s: float,
        client: httpx.Client | None,
        async_client: httpx.AsyncClient | None,
    ) -> None:
        self._url = base_url.rstrip("/") + "/v1/search"
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._timeout = timeout_s
        self._owns_client = client is None
        self._client = client if client is not None else httpx.Client(timeout=timeout_s)
        self._async_client = async_client

    def search(self, request: SearchRequest) -> SearchResponse:
        try:
            response = self._client.post(
                self._url, json=_body(request), headers=self._headers, timeout=self._timeout
            )
        except httpx.HTTPError as exc:
            raise RemoteServiceError(f"{self._url}: {type(exc).__name__}: {exc}") from exc
        return self._parse(response)

    async def asearch(self, request: SearchRequest) -> SearchResponse:
        try:
            if self._async_client is not None:
                response = await self._async_client.post(
                    self._url, json=_body(request), headers=self._headers, timeout=self._timeout
                )
            else:
                # One client per query: nothing is left open for the caller to close.
                async with httpx.AsyncClient(timeout=self._timeout) as client:
                    response = await client.post(
                        self._url, json=_body(request), headers=self._headers
                    )
        except httpx.HTTPError as exc:
            raise RemoteServiceError(f"{self._url}: {type(exc).__name__}: {exc}") from exc
        return self._parse(response)

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def _parse(self, response: httpx.Response) -> SearchResponse:
        if not response.is_success:
            code, message = None, excerpt(response.text)
            try:
                error = response.json()["error"]
                code, message = str(error["code"]), str(error["message"])
            except (ValueError, KeyError, TypeError):
                pass  # not our error shape (a proxy's page): its text is the message
            raise RemoteServiceError(
                f"{self._url} answered HTTP {response.status_code}: {message}",
                response.status_code,
                code,
            )
        try:
            return SearchResponse.model_validate_json(response.content)
        except ValidationError as exc:
            raise RemoteServiceError(
                f"{self._url} answered something that is not a search response: "
                f"{excerpt(response.text)}"
            ) from exc


def _body(request: SearchRequest) -> dict[str, Any]:
    return request.model_dump(mode="json", by_alias=True, exclude_none=True)


class _IndexSource:
    """The index in this process, searched by the service's own ``SearchService``."""

    def __init__(self, settings: Settings, embedder: Embedder | None) -> None:
        self._state = ServiceState(settings, embedder)
        try:
            self._state.load()
        except BaseException:
            self._state.close()
            raise
        self._service = SearchService(self._state)

    def search(self, request: SearchRequest) -> SearchResponse:
        return self._service.search(request)

    async def asearch(self, request: SearchRequest) -> SearchResponse:
        return await self._service.asearch(request)

    def close(self) -> None:
        self._state.close()
