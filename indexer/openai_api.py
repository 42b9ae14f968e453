"""The one client component for OpenAI-compatible HTTP APIs, shared by the embeddings client
(``indexer/embedders/openai_http.py``, sync) and the chat backend
(``service/backends/openai_chat.py``, async). Requests go through the official ``openai`` SDK
(httpx underneath: base-URL joining, the ``Authorization`` header, the request body); every retry
decision, the description of a failure and the key scrubbing are made here, once.

Why the SDK's own retry loop is off (``max_retries=0``), from its source
(``openai/_base_client.py``, 2.x):

- it retries a request only until the response headers arrive; a chat stream that breaks before
  its first piece must be retried as a whole, so the chat backend needs a loop of its own anyway;
- its backoff (0.5 s doubling to 8 s, with jitter) cannot be set to ``backoff_s``, it also retries
  408 and 409, and it logs a retry at INFO on ``openai._base_client`` without naming the failure;
- it wraps every exception of a send in ``APIConnectionError``, a closed client's
  ``RuntimeError`` too; :meth:`OpenAIEndpoint.failure` hands such non-transport errors back as
  they were.

What the SDK keeps as before: nothing is retried after the first piece of an answer (the retry
loop is ours), a caller leaving closes the response (``with_streaming_response`` is a context
manager), and the key is never logged (the SDK adds the header while building the request; its
DEBUG log of the request options holds no key: tests/indexer/test_openai_api.py). Two things it
would change are undone here: it reads ``$OPENAI_API_KEY``, ``$OPENAI_ORG_ID`` and
``$OPENAI_PROJECT_ID`` when not given them (see :attr:`OpenAIEndpoint.extra_headers`), and it
imports a resource's modules on first use (``client.chat`` took 3.4 s on a busy machine), so
callers resolve the resource when they are built, not inside an attempt's deadline.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:  # the SDK takes seconds to import; ``import indexer`` must not pay for it
    import openai

EXCERPT_CHARS = 200

# Failures another attempt may cure; TimeoutError is a caller's own deadline for an attempt.
_TRANSIENT_ERRORS = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
    TimeoutError,
)
# Sent instead of a key when there is none, so that the SDK neither reads $OPENAI_API_KEY nor
# refuses to start; the request then omits the Authorization header (see extra_headers).
_NO_KEY = "no-key"


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """A short, one-line excerpt of a response body for error messages."""
    flat = " ".join(text.split())
    if not flat:
        return "(empty body)"
    return flat if len(flat) <= limit else flat[:limit] + "…"


@dataclass(frozen=True)
class Failure:
    """One failed attempt: ``description`` (scrubbed) says what happened; ``status`` is the HTTP
    status of a refused request; ``transient`` failures may be cured by another attempt."""

    description: str
    transient: bool
    status: int | None = None
    retry_after_s: float | None = None
    cause: BaseException | None = None  # the transport error, for ``raise ... from``


class OpenAIEndpoint:
    """One OpenAI-compatible endpoint (``{base_url}/{path}``): builds the SDK clients for it and
    decides, for both the sync and the async caller, what a failure means and when to retry."""

    def __init__(
        self,
        *,
        base_url: str,
        path: str,
        api_key: str | None,
        timeout: httpx.Timeout,
        deadline_s: float | None,
        max_retries: int,
        backoff_s: float,
        max_delay_s: float,
        log: logging.Logger,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.url = f"{self.base_url}/{path}"
        self._api_key = api_key or None
        self.timeout = timeout
        self._deadline_s = deadline_s
        self.attempts = max_retries + 1
        self._backoff_s = backoff_s
        self._max_delay_s = max_delay_s
        self._log = log

    def __repr__(self) -> str:  # the default would show the key
        return f"OpenAIEndpoint({self.url!r})"

    # -- the SDK clients -----------------------------------------------------------------------

    def sync_client(self, http_client: httpx.Client) -> openai.OpenAI:
        import openai

        return openai.OpenAI(http_client=http_client, **self._sdk_options())

    def async_client(self, http_client: httpx.AsyncClient) -> openai.AsyncOpenAI:
        import openai

        return openai.AsyncOpenAI(http_client=http_client, **self._sdk_options())

    def _sdk_options(self) -> dict[str, Any]:
        # Our retry loop, not the SDK's (see the module docstring).
        api_key = self._api_key or _NO_KEY
        return {
            "api_key": api_key,
            "base_url": self.base_url,
            "timeout": self.timeout,
            "max_retries": 0,
        }

    @property
    def extra_headers(self) -> dict[str, str | openai.Omit]:
        """Headers for every request: no Authorization without a key, and none of the
        ``$OPENAI_ORG_ID`` / ``$OPENAI_PROJECT_ID`` the SDK would read for api.openai.com."""
        import openai

        omitted: dict[str, str | openai.Omit] = {
            "OpenAI-Organization": openai.Omit(),
            "OpenAI-Project": openai.Omit(),
        }
        if self._api_key is None:
            omitted["Authorization"] = openai.Omit()
        return omitted

    # -- failures and retries ------------------------------------------------------------------

    def failure(self, exc: BaseException) -> Failure:
        """What ``exc`` (an SDK error, an httpx error of a streamed body, or a ``TimeoutError``
        of the caller's deadline) means. Re-raises what is not a transport failure."""
        import openai

        if isinstance(exc, openai.APIStatusError):
            response = exc.response
            status = response.status_code
            return Failure(
                description=self.scrub(f"HTTP {status}: {excerpt(response.text)}"),
                transient=status == 429 or status >= 500,
                status=status,
                retry_after_s=self._retry_after(response),
            )
        if isinstance(exc, openai.APIConnectionError):
            if not isinstance(exc.__cause__, httpx.HTTPError):
                # The SDK wraps whatever its send raised; a closed client's RuntimeError is a
                # programming error, not an unreachable server.
                raise exc.__cause__ or exc
            exc = exc.__cause__
        transient = isinstance(exc, _TRANSIENT_ERRORS)
        return Failure(self.scrub(self._describe(exc)), transient, cause=exc)

    def retry_delay(self, attempt: int, failure: Failure) -> float | None:
        """Seconds to wait before attempt ``attempt + 1`` (0-based), logged as a warning; None
        when the failure is not transient or the attempts are spent."""
        if not failure.transient or attempt >= self.attempts - 1:
            return None
        delay = failure.retry_after_s
        if delay is None:
            delay = self._backoff_s * 2**attempt
        delay = min(delay, self._max_delay_s)
        self._log.warning("%s: %s; retrying in %.2f s", self.url, failure.description, delay)
        return delay

    def scrub(self, message: str) -> str:
        # A proxy may echo the Authorization header in its error body; never pass the key on.
        return message.replace(self._api_key, "***") if self._api_key else message

    def _describe(self, exc: BaseException) -> str:
        if isinstance(exc, TimeoutError):
            return f"timed out after {self._deadline_s} s"
        if isinstance(exc, httpx.TimeoutException):
            phase = type(exc).__name__.removesuffix("Timeout").lower() or "request"
            limit = getattr(self.timeout, phase, None)
            return f"{phase} timeout after {limit} s" if limit else f"{phase} timeout"
        cause: BaseException | None = exc
        while cause is not None:
            if isinstance(cause, ConnectionRefusedError):
                return "connection refused"
            cause = cause.__cause__ or cause.__context__
        if isinstance(exc, httpx.RemoteProtocolError):
            return f"connection lost: {exc}"
        return f"{type(exc).__name__}: {str(exc) or type(exc).__name__}"

    def _retry_after(self, response: httpx.Response) -> float | None:
        """A numeric ``Retry-After`` in seconds; HTTP dates give None (the backoff applies)."""
        try:
            seconds = float(response.headers.get("retry-after", ""))
        except ValueError:
            return None
        if not math.isfinite(seconds) or seconds < 0:
            return None
        return seconds
