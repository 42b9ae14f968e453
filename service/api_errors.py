"""Every error reaches clients as ``{"error": {"code", "message"}}`` with a fitting status;
no stack trace or server path ever does."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from service.errors import ServiceError
from service.security.headers import API_CSP, COMMON_HEADERS

log = logging.getLogger("abstractqa.service")


class ErrorDetail(BaseModel):
    code: str = Field(..., description="A stable error code, e.g. invalid_request, not_found.")
    message: str = Field(..., description="What is wrong, for people.")


class ErrorBody(BaseModel):
    """The body of every error response (outside the OpenAI-compatible routes)."""

    error: ErrorDetail = Field(..., description="What went wrong.")


_DESCRIPTIONS = {
    400: "Invalid request: a body that is not JSON, or a value that names something impossible.",
    404: "Not found.",
    422: "A field is missing or has an invalid value.",
    503: "The index is not loaded (yet).",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` for these error statuses, each with the ``ErrorBody`` schema (it
    replaces FastAPI's default 422 schema, which is not the shape this service answers in)."""
    return {s: {"model": ErrorBody, "description": _DESCRIPTIONS[s]} for s in statuses}


def error_response(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def _describe(exc: RequestValidationError) -> tuple[int, str]:
    problems = []
    for error in exc.errors():
        if error.get("type") == "json_invalid":
            return (
                400,
                "request body is not valid JSON: "
                f"{error.get('ctx', {}).get('error', 'parse error')}",
            )
        where = ".".join(str(part) for part in error.get("loc", ()) if part != "body") or "body"
        problems.append(f"{where}: {error.get('msg', 'invalid')}")
    return 422, "; ".join(problems)


def install(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def _service_error(request: Request, exc: ServiceError) -> JSONResponse:
        response = error_response(exc.status, exc.code, exc.message)
        response.headers.update(exc.headers)
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        status, message = _describe(exc)
        return error_response(status, "invalid_request", message)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        codes = {
            404: "not_found",
            405: "method_not_allowed",
            408: "request_timeout",
            413: "payload_too_large",
        }
        code = codes.get(exc.status_code, "http_error")
        response = error_response(exc.status_code, code, str(exc.detail))
        response.headers.update(exc.headers or {})
        return response

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        response = error_response(
            500, "internal_error", "internal error; the server log has the details"
        )
        # Sent by the outermost middleware, past the one that adds these to other responses.
        response.headers.update({**COMMON_HEADERS, "Content-Security-Policy": API_CSP})
        return response
