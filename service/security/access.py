"""Who may call the API, and how often: one pure ASGI middleware in front of the routes.

Every request outside the public paths (health, readiness, the chat page and its assets, the
API docs, metrics; and ``/v1/admin/*``, whose routes check the admin key themselves) is
authenticated (401/403 when API keys are configured) and then counted against its client's rate
limit (429 with ``Retry-After``). Requests refused for their key are counted too, per IP
address, against ``auth_failure_rate_limit``: past it an address gets 429 without its key
being checked, so keys cannot be guessed at speed. Admin requests are counted per IP address
against ``admin_rate_limit``, whatever their key. Deciding before the routes means a refused
request costs no body parsing and no work, and a route added later is protected without anyone
remembering to.
The client is left in ``scope["state"]`` for the routes (per-client stream limits).
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from service.api_errors import error_response
from service.errors import (
    ApiKeyInvalidError,
    ApiKeyRequiredError,
    RateLimitedError,
    ServiceError,
)
from service.security.auth import CLIENT_STATE_KEY, ApiKeys, Client, authenticate
from service.security.ratelimit import RateLimiter, retry_after

ADMIN_PREFIX = "/v1/admin"


class AccessMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        keys: ApiKeys,
        limiter: RateLimiter | None,
        public: Callable[[str], bool],
        failures: RateLimiter | None = None,
        admin: RateLimiter | None = None,
    ) -> None:
        self.app = app
        self.keys = keys
        self.limiter = limiter
        self.public = public
        self.failures = failures  # requests with a missing or wrong API key, per IP address
        self.admin = admin  # admin requests, per IP address

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        address = scope["client"][0] if scope.get("client") else None
        ip = f"ip:{address or 'unknown'}"
        try:
            if is_admin(path):
                # The routes check the admin key; every attempt counts, right or wrong.
                if self.admin is not None:
                    _count(self.admin, ip, "admin_rate_limit")
            elif not self.public(path):
                scope.setdefault("state", {})[CLIENT_STATE_KEY] = self._client(scope, ip)
        except ServiceError as exc:
            response = error_response(exc.status, exc.code, exc.message)
            response.headers.update(exc.headers)
            if isinstance(exc, RateLimitedError):
                response.headers["Retry-After"] = str(exc.retry_after_s)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _client(self, scope: Scope, ip: str) -> Client:
        """The authenticated client, counted against its rate limit; refusals of a missing or
        wrong key count against the address's allowance of them, and once that is spent no
        key is checked at all (so a guess cannot be confirmed either)."""
        if self.keys and self.failures is not None:
            wait_s = self.failures.peek(ip)
            if wait_s > 0:
                raise _limited(self.failures, wait_s, "auth_failure_rate_limit")
        address = ip.removeprefix("ip:")
        try:
            client = authenticate(
                self.keys, Headers(scope=scope).get("authorization"), address or None
            )
        except (ApiKeyRequiredError, ApiKeyInvalidError):
            if self.failures is not None:
                self.failures.take(ip)
            raise
        if self.limiter is not None:
            _count(self.limiter, client.id, "rate_limit")
        return client


def is_admin(path: str) -> bool:
    return path == ADMIN_PREFIX or path.startswith(f"{ADMIN_PREFIX}/")


def _count(limiter: RateLimiter, client: str, setting: str) -> None:
    wait_s = limiter.take(client)
    if wait_s > 0:
        raise _limited(limiter, wait_s, setting)


def _limited(limiter: RateLimiter, wait_s: float, setting: str) -> RateLimitedError:
    return RateLimitedError(
        f"too many requests: the limit is {limiter.rate} per client (setting "
        f"{setting}); retry in {retry_after(wait_s)} s (the Retry-After header)",
        retry_after(wait_s),
    )


def public_paths(
    exact: set[str], prefixes: tuple[str, ...] = ("/static/",)
) -> Callable[[str], bool]:
    """A predicate: is this path open without an API key (``exact`` paths, under ``prefixes``,
    or an admin path, whose routes check the admin key)?"""

    def public(path: str) -> bool:
        return path in exact or path.startswith(prefixes) or is_admin(path)

    return public
