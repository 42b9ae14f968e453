"""Errors the service raises on purpose, each with the HTTP status and code clients see.

Hierarchy::

    ServiceError                  base: ``status``, ``code``, a message for the client
    ├── InvalidRequestError       400 invalid_request: the request names something impossible
    ├── NotFoundError             404 not_found: no such paper
    ├── IndexNotReadyError        503 index_not_ready: the index is not loaded (yet)
    ├── QueryEncodingError        503 embedding_failed: the embedder failed on the query's batch
    ├── AdminDisabledError        404 admin_disabled: no ABSTRACTQA_ADMIN_KEY, admin endpoints off
    ├── AdminKeyRequiredError     401 admin_key_required: no ``Authorization: Bearer`` admin key
    ├── AdminKeyInvalidError      403 admin_key_invalid: a bearer token that is not the admin key
    ├── ReloadFailedError         409 reload_failed: the new index version cannot be served (the
    │                             old one keeps serving); the message names the file or reason
    ├── IndexBusyError            409 index_busy: another process holds the index's write lock
    ├── IndexWriteError           409 index_write_failed: an admin add/remove could not write a
    │                             new version (e.g. the current one on disk is damaged)
    ├── ApiKeyRequiredError       401 api_key_required: API keys are configured and the request
    │                             sent no ``Authorization: Bearer`` key
    ├── ApiKeyInvalidError        403 api_key_invalid: a bearer token that is not an API key
    ├── RequestTimeoutError       408 request_timeout: headers or body slower than
    │                             header_timeout_s / body_timeout_s (the connection is closed)
    ├── PayloadTooLargeError      413 payload_too_large: the body is over max_body_bytes
    ├── RateLimitedError          429 rate_limited: over the client's rate limit (Retry-After)
    ├── TooManyStreamsError       429 too_many_streams: the client already has
    │                             max_streams_per_client answers streaming
    ├── TooManyConnectionsError   429 too_many_connections: the client address already holds
    │                             max_connections_per_client connections
    ├── RemoteServiceError        502 remote_error, or the status and code the remote server
    │                             sent: an abstractqa server that service/integrations called
    │                             over HTTP failed or could not be reached
    └── BackendError              502 backend_error: an answer backend failed
        ├── BackendUnavailableError  the LLM could not be reached, timed out, or kept
        │                             answering 429/5xx
        └── BackendProtocolError     the LLM answered something that is not the protocol

Responses carry ``{"error": {"code": ..., "message": ...}}``; messages never include secrets,
stack traces or server paths.
"""

from __future__ import annotations

from typing import ClassVar


class ServiceError(Exception):
    status = 500
    code = "internal_error"
    headers: ClassVar[dict[str, str]] = {}  # extra response headers, e.g. WWW-Authenticate

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidRequestError(ServiceError):
    status = 400
    code = "invalid_request"


class NotFoundError(ServiceError):
    status = 404
    code = "not_found"


class IndexNotReadyError(ServiceError):
    status = 503
    code = "index_not_ready"


class QueryEncodingError(ServiceError):
    """The embedder failed on the batch of queries this request's query was part of."""

    status = 503
    code = "embedding_failed"


class BackendError(ServiceError):
    status = 502
    code = "backend_error"


class BackendUnavailableError(BackendError):
    """Connect errors, timeouts, and 429/5xx that outlasted the retries."""


class BackendProtocolError(BackendError):
    """A reply that is not OpenAI-compatible JSON or SSE."""


class AdminDisabledError(ServiceError):
    """Admin endpoints answer as if absent while no admin key is configured."""

    status = 404
    code = "admin_disabled"


class AdminKeyRequiredError(ServiceError):
    status = 401
    code = "admin_key_required"
    headers: ClassVar[dict[str, str]] = {"WWW-Authenticate": 'Bearer realm="abstractqa-admin"'}


class AdminKeyInvalidError(ServiceError):
    status = 403
    code = "admin_key_invalid"


class ReloadFailedError(ServiceError):
    """The current index version could not be opened; the previous one is still served."""

    status = 409
    code = "reload_failed"


class IndexBusyError(ServiceError):
    """Another process (e.g. ``abstractqa index add``) kept the write lock past the wait."""

    status = 409
    code = "index_busy"


class ApiKeyRequiredError(ServiceError):
    status = 401
    code = "api_key_required"
    headers: ClassVar[dict[str, str]] = {"WWW-Authenticate": 'Bearer realm="abstractqa"'}


class ApiKeyInvalidError(ServiceError):
    status = 403
    code = "api_key_invalid"


class RequestTimeoutError(ServiceError):
    status = 408
    code = "request_timeout"


class PayloadTooLargeError(ServiceError):
    status = 413
    code = "payload_too_large"


class RateLimitedError(ServiceError):
    """``retry_after_s`` is when the client's next request will be accepted (``Retry-After``)."""

    status = 429
    code = "rate_limited"

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class TooManyStreamsError(ServiceError):
    status = 429
    code = "too_many_streams"


class TooManyConnectionsError(ServiceError):
    status = 429
    code = "too_many_connections"


class IndexWriteError(ServiceError):
    """The indexer refused or failed an admin add/remove; the served version is unchanged."""

    status = 409
    code = "index_write_failed"


class RemoteServiceError(ServiceError):
    """Another abstractqa server, called over HTTP (service/integrations), answered an error
    (``status`` and ``code`` are then its own) or could not be reached (502 remote_error)."""

    status = 502
    code = "remote_error"

    def __init__(self, message: str, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code
