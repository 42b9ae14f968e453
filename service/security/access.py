"""Who may call the API, and how often: one pure ASGI middleware in front of the routes.

Every request outside the public paths (health, readiness, the chat page and its assets, the
API docs, metrics; and ``/v1/admin/*``, whose routes check the admin key themselves) is
authenticated (401/403 when API keys are configured) and then counted against its client's rate
limit (429 with ``Retry-After``). Deciding before the routes means a refused request costs no
body parsing and no work, and a route added later is protected without anyone remembering to.
The client is left in ``scope["state"]`` for the routes (per-client stream limits).
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from service.api_errors import error_response
from service.errors import RateLimitedError, ServiceError
from service.security.auth import CLIENT_STATE_KEY, ApiKeys, authenticate
from service.security.ratelimit import RateLimiter, retry_after


class AccessMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        keys: ApiKeys,
        limiter: RateLimiter | None,
        public: Callable[[str], bool],
    ) -> None:
        self.app = app
        self.keys = keys
        self.limiter = limiter
        self.public = public

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.public(scope["path"]):
            await self.app(scope, receive, send)
            return
        address = scope["client"][0] if scope.get("client") else None
        try:
            client = authenticate(self.keys, Headers(scope=scope).get("authorization"), address)
            if self.limiter is not None:
                self._count(self.limiter, client.id)
        except ServiceError as exc:
            response = error_response(exc.status, exc.code, exc.message)
            response.headers.update(exc.headers)
            if isinstance(exc, RateLimitedError):
                response.headers["Retry-After"] = str(exc.retry_after_s)
            await response(scope, receive, send)
            return
        scope.setdefault("state", {})[CLIENT_STATE_KEY] = client
        await self.app(scope, receive, send)

    @staticmethod
    def _count(limiter: RateLimiter, client: str) -> None:
        wait_s = limiter.take(client)
        if wait_s > 0:
            raise RateLimitedError(
                f"too many requests: the limit is {limiter.rate} per client (setting "
                f"rate_limit); retry in {retry_after(wait_s)} s (the Retry-After header)",
                retry_after(wait_s),
            )


def public_paths(
    exact: set[str], prefixes: tuple[str, ...] = ("/static/", "/v1/admin/")
) -> Callable[[str], bool]:
    """A predicate: is this path open to anyone (``exact`` paths, or under ``prefixes``)?"""

    def public(path: str) -> bool:
        return path in exact or path.startswith(prefixes) or path == "/v1/admin"

    return public
