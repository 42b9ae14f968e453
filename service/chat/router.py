"""``/v1/chat/completions`` and ``/v1/models``, as OpenAI serves them.

Errors on these routes use OpenAI's shape, ``{"error": {"message", "type", "param", "code"}}``,
so the SDK raises its usual exceptions (400 ``BadRequestError``, 404 ``NotFoundError``...);
``code`` is the service's code, as in its other endpoints. A failure after a stream has started
is a ``data: {"error": ...}`` line (the SDK raises ``APIError``), with no ``[DONE]``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from service.chat.models import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ModelCard,
    ModelList,
    OpenAIErrorBody,
)
from service.chat.service import ChatPrepared
from service.deps import ChatServiceDep
from service.errors import ServiceError
from service.security.limits import ClientStreamsDep
from service.sse import guarded, sse_frame, sse_response

log = logging.getLogger("abstractqa.service")

STANDALONE_HEADER = "X-Abstractqa-Standalone-Question"


def openai_error(status: int, code: str, message: str, param: str | None = None) -> dict[str, Any]:
    kind = "invalid_request_error" if status < 500 else "server_error"
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def _validation_error(exc: RequestValidationError) -> JSONResponse:
    problems, param = [], None
    for error in exc.errors():
        if error.get("type") == "json_invalid":
            message = f"request body is not valid JSON: {error.get('ctx', {}).get('error', '')}"
            return JSONResponse(openai_error(400, "invalid_request", message.rstrip(": ")), 400)
        loc = [part for part in error.get("loc", ()) if part != "body"]
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
        param = param or where or None
        text = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        problems.append(f"{where or 'body'}: {text}")
    return JSONResponse(openai_error(400, "invalid_request", "; ".join(problems), param), 400)


class OpenAIRoute(APIRoute):
    """A route whose errors are in OpenAI's shape."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                return _validation_error(exc)
            except ServiceError as exc:
                param = "model" if exc.code == "model_not_found" else None
                body = openai_error(exc.status, exc.code, exc.message, param)
                return JSONResponse(body, exc.status)
            except HTTPException as exc:
                # FastAPI's own errors (e.g. a body that is not UTF-8) in OpenAI's shape too.
                code = "invalid_request" if exc.status_code == 400 else "http_error"
                body = openai_error(exc.status_code, code, str(exc.detail))
                return JSONResponse(body, exc.status_code, headers=exc.headers)
            except Exception:
                log.exception("unhandled error on %s %s", request.method, request.url.path)
                message = "internal error; the server log has the details"
                return JSONResponse(openai_error(500, "internal_error", message), 500)

        return route


router = APIRouter(prefix="/v1", tags=["openai"], route_class=OpenAIRoute)
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": OpenAIErrorBody, "description": "Invalid request."},
    404: {"model": OpenAIErrorBody, "description": "Unknown model."},
    503: {"model": OpenAIErrorBody, "description": "The index is not loaded (yet)."},
}


def _error_chunk(status: int, code: str, message: str) -> str:
    return sse_frame(openai_error(status, code, message))


async def sse_chunks(chunks: AsyncIterator[ChatCompletionChunk]) -> AsyncIterator[str]:
    """OpenAI's stream: ``data:`` chunks, then ``data: [DONE]`` unless it failed."""

    async def frames() -> AsyncIterator[str]:
        async for chunk in chunks:
            yield sse_frame(chunk.wire())

    async for frame in guarded(frames(), _error_chunk, closing=sse_frame("[DONE]")):
        yield frame


@router.get("/models", response_model=ModelList, summary="The model names (answer backends)")
def list_models(chat: ChatServiceDep) -> ModelList:
    return chat.models()


@router.get("/models/{model}", response_model=ModelCard, responses=_ERRORS, summary="One model")
def retrieve_model(model: str, chat: ChatServiceDep) -> ModelCard:
    return chat.model(model)


@router.post(
    "/chat/completions",
    response_model=ChatCompletion,
    responses={200: {"content": {"text/event-stream": {}}}, **_ERRORS},
    summary="Answer the last message of a conversation, OpenAI-style, with cited sources",
    description="The answer text carries [n] markers and ends with a 'Sources:' list; the extra "
    "field `abstractqa` (of the completion, or of the last stream chunk) has the structured "
    f"answer. The standalone question answered is also in the `{STANDALONE_HEADER}` header "
    "(percent-encoded UTF-8). With `stream: true`: `data: {chat.completion.chunk}` lines, then "
    "`data: [DONE]`.",
)
async def chat_completions(
    body: ChatCompletionRequest, response: Response, chat: ChatServiceDep, streams: ClientStreamsDep
) -> Any:
    if body.stream:
        slot = streams.open()  # 429 when the client streams too many answers already
        with slot.released_on_error():
            prepared = await chat.prepare(body)
        return sse_response(sse_chunks(chat.chunks(prepared)), slot, _standalone(prepared))
    prepared = await chat.prepare(body)
    response.headers.update(_standalone(prepared))
    return await chat.complete(prepared)


def _standalone(prepared: ChatPrepared) -> dict[str, str]:
    return {STANDALONE_HEADER: quote(prepared.standalone.question, safe="")}
