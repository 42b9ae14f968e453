"""Puts access control, limits, CORS and security headers on the app, and says so in its
OpenAPI document (the bearer scheme on the operations that need a key, and the 401/403/413/429
answers they can give)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from service.security.access import AccessMiddleware, is_admin, public_paths
from service.security.auth import ApiKeys
from service.security.headers import SecurityHeadersMiddleware
from service.security.limits import BodyLimitMiddleware, StreamLimiter
from service.security.ratelimit import RateLimiter, parse_rate
from service.settings import Settings

# Open to anyone, keys or not: probes, the chat page, the API docs and metrics.
PUBLIC_PATHS = {"/", "/favicon.ico", "/healthz", "/readyz", "/metrics", "/docs"}
# Headers a cross-origin page may read from a response (CORS hides the others).
# Content-Disposition: a page of another origin names a downloaded citation file as we do.
EXPOSED_HEADERS = [
    "Retry-After",
    "X-Request-ID",
    "X-Abstractqa-Standalone-Question",
    "Content-Disposition",
]
ERROR_SCHEMA = "ErrorResponse"
SCHEME = "ApiKey"


def install(app: FastAPI, settings: Settings) -> None:
    keys = ApiKeys(key.get_secret_value() for key in settings.security.api_keys)
    rate = settings.effective_rate_limit
    limiter = RateLimiter(rate) if rate else None
    failures = _limiter(settings.security.auth_failure_rate_limit)
    admin = _limiter(settings.security.admin_rate_limit)
    app.state.api_keys = keys
    app.state.streams = StreamLimiter(settings.effective_max_streams)
    public = public_paths(PUBLIC_PATHS | ({app.openapi_url} if app.openapi_url else set()))
    # Each middleware added wraps the ones added before it: a request meets the security
    # headers first, then CORS (so preflights and refusals carry CORS headers), then the key
    # and rate checks, then the body limit.
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.limits.max_body_bytes,
        timeout_s=settings.limits.body_timeout_s,
    )
    app.add_middleware(
        AccessMiddleware,
        keys=keys,
        limiter=limiter,
        public=public,
        failures=failures,
        admin=admin,
    )
    if settings.security.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.security.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Accept"],
            expose_headers=EXPOSED_HEADERS,
            max_age=600,
        )
    app.add_middleware(SecurityHeadersMiddleware)
    limited = limiter is not None or settings.effective_max_streams is not None
    _document(app, public, keys=bool(keys), limited=limited, admin_limited=admin is not None)


def _limiter(text: str) -> RateLimiter | None:
    rate = parse_rate(text)
    return RateLimiter(rate) if rate else None


def _document(
    app: FastAPI,
    public: Callable[[str], bool],
    *,
    keys: bool,
    limited: bool,
    admin_limited: bool,
) -> None:
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _describe_access(
                build(), public, keys=keys, limited=limited, admin_limited=admin_limited
            )
        assert app.openapi_schema is not None  # build() sets it
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented extension point


def _describe_access(
    schema: dict[str, Any],
    public: Callable[[str], bool],
    *,
    keys: bool,
    limited: bool,
    admin_limited: bool,
) -> None:
    components = schema.setdefault("components", {})
    components.setdefault("schemas", {})[ERROR_SCHEMA] = {
        "title": ERROR_SCHEMA,
        "type": "object",
        "properties": {
            "error": {
                "type": "object",
                "description": "What went wrong.",
                "properties": {
                    "code": {"type": "string", "description": "A stable error code."},
                    "message": {"type": "string", "description": "What is wrong, for people."},
                },
                "required": ["code", "message"],
            }
        },
        "required": ["error"],
    }
    if keys:
        components.setdefault("securitySchemes", {})[SCHEME] = {
            "type": "http",
            "scheme": "bearer",
            "description": "One of the API keys (setting api_keys).",
        }
    answers = {
        408: "The request body did not arrive in time.",
        401: "No API key (`Authorization: Bearer <key>`).",
        403: "The API key is not valid.",
        413: "The request body is over the size limit.",
        429: "Too many requests (see Retry-After) or too many streams at once.",
    }
    for path, operations in schema.get("paths", {}).items():
        protected = not public(path)
        for operation in operations.values():
            codes = [408, 413] if "requestBody" in operation else []
            if protected and keys:
                operation["security"] = [{SCHEME: []}]
                codes += [401, 403, 429]  # 429 also once an address sent too many wrong keys
            elif (protected and limited) or (is_admin(path) and admin_limited):
                codes.append(429)
            responses = operation.setdefault("responses", {})
            for code in codes:
                responses.setdefault(
                    str(code),
                    {
                        "description": answers[code],
                        "content": {
                            "application/json": {
                                "schema": {"$ref": f"#/components/schemas/{ERROR_SCHEMA}"}
                            }
                        },
                    },
                )
