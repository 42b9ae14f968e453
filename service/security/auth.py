"""API keys: who a request comes from, and whether it may use the API.

With ``api_keys`` configured every API request must carry ``Authorization: Bearer <key>``; with
none the service is open (local use) and a client is known by its IP address. Keys are kept as
SHA-256 digests only, and a token's digest is compared with every key's digest by
``hmac.compare_digest``: inputs of one length, no early exit, so the time an answer takes tells
neither which key matched nor how much of one. A key never appears in a log line, an error
message or a client id (a key is known by its position: ``key:2``).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from service.errors import ApiKeyInvalidError, ApiKeyRequiredError

# Where the access middleware leaves the authenticated client for the routes (scope["state"]).
CLIENT_STATE_KEY = "abstractqa.client"


@dataclass(frozen=True)
class Client:
    """The caller a limit applies to: ``key:<n>`` (the n-th API key) or ``ip:<address>``."""

    id: str


class ApiKeys:
    """The configured keys; ``match(token)`` is the position of the key equal to ``token``."""

    def __init__(
        self,
        keys: Iterable[str],
        compare: Callable[[bytes, bytes], bool] = hmac.compare_digest,
    ) -> None:
        self._digests = [_digest(key) for key in keys]
        self._compare = compare

    def __bool__(self) -> bool:
        return bool(self._digests)

    def __len__(self) -> int:
        return len(self._digests)

    def match(self, token: str) -> int | None:
        digest = _digest(token)
        found = -1
        for position, key in enumerate(self._digests):
            # Every key is compared, whatever matched before: no early exit.
            equal = self._compare(digest, key)
            found = position if equal and found < 0 else found
        return None if found < 0 else found


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header (scheme case-insensitive)."""
    scheme, _, token = (authorization or "").strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def authenticate(keys: ApiKeys, authorization: str | None, address: str | None) -> Client:
    """The client of a request, or ApiKeyRequiredError (401) / ApiKeyInvalidError (403)."""
    if not keys:
        return Client(f"ip:{address or 'unknown'}")
    token = bearer_token(authorization)
    if token is None:
        raise ApiKeyRequiredError(
            "this endpoint needs an API key: send the header 'Authorization: Bearer <key>'"
        )
    position = keys.match(token)
    if position is None:
        raise ApiKeyInvalidError("the API key is not valid")
    return Client(f"key:{position + 1}")


def request_client(request: Request) -> Client:
    client = request.scope.get("state", {}).get(CLIENT_STATE_KEY)
    if isinstance(client, Client):
        return client
    # The access middleware decides for every API route; a route reached without it (an app
    # assembled without service.security.install) still checks the key here.
    keys = getattr(request.app.state, "api_keys", None)
    if keys is None:
        keys = ApiKeys(
            key.get_secret_value() for key in request.app.state.service.settings.security.api_keys
        )
    address = request.client.host if request.client else None
    return authenticate(keys, request.headers.get("authorization"), address)


ClientDep = Annotated[Client, Depends(request_client)]
