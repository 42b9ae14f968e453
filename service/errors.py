"""Errors the service raises on purpose, each with the HTTP status and code clients see.

Hierarchy::

    ServiceError                  base: ``status``, ``code``, a message for the client
    ├── InvalidRequestError       400 invalid_request: the request names something impossible
    ├── NotFoundError             404 not_found: no such paper
    ├── IndexNotReadyError        503 index_not_ready: the index is not loaded (yet)
    └── BackendError              502 backend_error: an answer backend failed
        ├── BackendUnavailableError  the LLM could not be reached, timed out, or kept
        │                             answering 429/5xx
        └── BackendProtocolError     the LLM answered something that is not the protocol

Responses carry ``{"error": {"code": ..., "message": ...}}``; messages never include secrets,
stack traces or server paths.
"""

from __future__ import annotations


class ServiceError(Exception):
    status = 500
    code = "internal_error"

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


class BackendError(ServiceError):
    status = 502
    code = "backend_error"


class BackendUnavailableError(BackendError):
    """Connect errors, timeouts, and 429/5xx that outlasted the retries."""


class BackendProtocolError(BackendError):
    """A reply that is not OpenAI-compatible JSON or SSE."""
