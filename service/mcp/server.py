"""The MCP server's tools and resources, built on the services the HTTP routes use.

The tools return the HTTP API's own response models, so the SDK derives each tool's output
schema from them and sends the result as structured content: an agent sees the same fields as
a ``/v1`` client. Failures the caller can fix (a blank query, ``k`` out of range, an unknown
paper id, an index still loading) become MCP tool errors with the service's message, never a
crash of the session.
"""

from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager, contextmanager
from typing import Annotated, Any, Literal, TypeVar

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError, ToolError
from pydantic import BaseModel, Field, ValidationError

from service.ask.models import AskRequest, AskResponse
from service.ask.service import AskService
from service.errors import NotFoundError, ServiceError
from service.papers.models import PaperDetail
from service.papers.service import PapersService
from service.search.models import SearchFilters, SearchRequest, SearchResponse
from service.search.service import SearchService

NAME = "abstractqa"
PAPER_URI = "paper://{paper_id}"
INSTRUCTIONS = (
    "Question answering over research-paper abstracts. search_papers finds papers for a "
    "topic; ask answers a question with citations whose quotes are verbatim sentences of the "
    "cited abstracts, or abstains (abstained: true) when the indexed papers do not answer it; "
    "get_paper (or the paper://{paper_id} resource) returns a paper's full record."
)
# A tool's argument names where they differ from the request model's field names, so that a
# validation message names what the caller sent.
_ARGUMENT_NAMES = {"top_k": "k"}

PaperIds = Annotated[
    list[str] | None,
    Field(max_length=1000, description="Only these papers are considered (ids as returned)."),
]
Filters = Annotated[
    SearchFilters | None,
    Field(description="Metadata filters: equality on fields, a range of publication dates."),
]
M = TypeVar("M", bound=BaseModel)
Lifespan = Callable[[MCPServer[Any]], AbstractAsyncContextManager[Any]]


def build_mcp_server(
    search: SearchService,
    ask: AskService,
    papers: PapersService,
    lifespan: Lifespan | None = None,
) -> MCPServer[Any]:
    """The server over these services; ``lifespan`` (stdio) loads and closes what they use."""
    server: MCPServer[Any] = MCPServer(
        NAME,
        instructions=INSTRUCTIONS,
        version="0.1.0",
        lifespan=lifespan,
        # The SDK configures the root logger only when nothing did before (basicConfig); our
        # own logging is configured first wherever the server runs.
        log_level="WARNING",
    )

    @server.tool()
    async def search_papers(
        query: Annotated[str, Field(min_length=1, max_length=2000, description="What to find.")],
        k: Annotated[int, Field(ge=1, le=50, description="Number of papers to return.")] = 10,
        mode: Annotated[
            Literal["hybrid", "dense", "bm25"],
            Field(description="hybrid: dense + BM25 fused; dense: embeddings; bm25: words."),
        ] = "hybrid",
        paper_ids: PaperIds = None,
        filters: Filters = None,
    ) -> SearchResponse:
        """Rank the indexed papers for a query: ids, titles, scores and each paper's sentences
        that best match the query (snippet)."""
        with _tool_errors():
            request = _validated(
                SearchRequest,
                query=query,
                top_k=k,
                mode=mode,
                paper_ids=paper_ids,
                filters=filters,
            )
            return await search.asearch(request)

    @server.tool(name="ask")
    async def ask_question(
        question: Annotated[str, Field(min_length=1, description="A question in plain language.")],
        paper_ids: PaperIds = None,
        k: Annotated[
            int | None, Field(ge=1, le=20, description="Papers the answer may draw on (5).")
        ] = None,
        filters: Filters = None,
    ) -> AskResponse:
        """Answer a question from the indexed abstracts. Every claim cites a paper ([n] markers)
        and each citation quotes the abstract's sentences verbatim; abstained is true (and no
        answer is made up) when the papers do not answer the question."""
        with _tool_errors():
            fields: dict[str, Any] = {"question": question, "paper_ids": paper_ids}
            fields |= {"top_k": k} if k is not None else {}
            request = _validated(AskRequest, **fields, filters=filters)
            if paper_ids:
                # Unknown ids are named, rather than silently narrowing retrieval to nothing.
                await anyio.to_thread.run_sync(_check_papers, papers, paper_ids)
            return await ask.complete(await ask.prepare(request))

    @server.tool()
    def get_paper(
        paper_id: Annotated[str, Field(min_length=1, description="The paper's id.")],
    ) -> PaperDetail:
        """One paper's full record: title, authors, url, publication date, abstract, its
        sentences (as citations index them) and metadata."""
        with _tool_errors():
            return papers.get(paper_id)

    @server.resource(
        PAPER_URI,
        name="paper",
        title="A paper's record",
        description="The full record of an indexed paper (as get_paper returns it), as JSON.",
        mime_type="application/json",
    )
    def paper_resource(paper_id: str) -> str:
        try:
            return papers.get(paper_id).model_dump_json()
        except NotFoundError as exc:
            raise ResourceNotFoundError(exc.message) from exc
        except ServiceError as exc:
            raise ResourceError(exc.message) from exc

    return server


def _check_papers(papers: PapersService, paper_ids: list[str]) -> None:
    """NotFoundError naming the first id that is not in the index."""
    for paper_id in paper_ids:
        papers.get(paper_id)


@contextmanager
def _tool_errors() -> Iterator[None]:
    """The service's errors as tool errors carrying their message (the caller can act on it)."""
    try:
        yield
    except ServiceError as exc:
        raise ToolError(exc.message) from exc


def _validated(model: type[M], **fields: Any) -> M:
    """``model(**fields)``, its validation errors a tool error naming each argument."""
    try:
        return model(**fields)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(_ARGUMENT_NAMES.get(str(p), str(p)) for p in e['loc'])}: {e['msg']}"
            for e in exc.errors()
        )
        raise ToolError(f"invalid arguments: {problems}") from exc
