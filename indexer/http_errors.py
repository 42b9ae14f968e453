"""Helpers for talking to OpenAI-compatible HTTP APIs (embeddings here, chat in the service)."""

from __future__ import annotations

import math

import httpx

EXCERPT_CHARS = 200


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """A short, one-line excerpt of a response body for error messages."""
    flat = " ".join(text.split())
    if not flat:
        return "(empty body)"
    return flat if len(flat) <= limit else flat[:limit] + "…"


def retry_after(response: httpx.Response, cap_s: float) -> float | None:
    """A numeric ``Retry-After`` in seconds, at most ``cap_s``; HTTP dates give None (the
    caller's backoff applies)."""
    try:
        seconds = float(response.headers.get("retry-after", ""))
    except ValueError:
        return None
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return min(seconds, cap_s)
