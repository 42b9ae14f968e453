"""The shared OpenAI-compatible client component (indexer.openai_api) through its sync caller,
OpenAIEmbedder, against a real OpenAI-compatible HTTP server on 127.0.0.1."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.responses import JSONResponse, Response

from indexer.embedders.openai_http import OpenAIEmbedder
from indexer.errors import EmbedderError
from tests.fakes.openai_server import FakeOpenAIServer, RecordedRequest, hashed_embedding

API_KEY = "sk-test-sh4red-never-print-me"


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as fake:
        fake.dimension = 16
        yield fake


def _embedder(base_url: str, **overrides: Any) -> OpenAIEmbedder:
    options: dict[str, Any] = {"model": "m", "api_key": API_KEY, "backoff_s": 0.01}
    options.update(overrides)
    return OpenAIEmbedder(base_url=base_url, **options)


def test_the_key_is_never_logged_even_with_the_sdk_and_httpx_logging_at_debug(
    server: FakeOpenAIServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server.fail_next(503, body=f"bad gateway for Bearer {API_KEY}")

    _embedder(server.base_url).embed_documents(["x"])

    assert server.requests[-1].headers["authorization"] == f"Bearer {API_KEY}"
    assert {"openai._base_client", "httpcore.http11"} <= {r.name for r in caplog.records}
    assert "retrying" in caplog.text
    assert API_KEY not in caplog.text


def test_a_409_is_not_retried_as_the_sdk_would_because_its_retry_loop_is_off(
    server: FakeOpenAIServer,
) -> None:
    server.fail_next(409, body="conflict")

    with pytest.raises(EmbedderError, match="failed with HTTP 409: conflict"):
        _embedder(server.base_url).embed_documents(["x"])

    assert len(server.requests) == 1
    assert server.requests[0].headers["x-stainless-retry-count"] == "0"


def test_a_retry_after_date_falls_back_to_the_exponential_backoff(
    server: FakeOpenAIServer, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[RecordedRequest] = []

    async def handler(request: RecordedRequest) -> Response:
        calls.append(request)
        if len(calls) == 1:
            headers = {"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}
            return Response("busy", status_code=503, headers=headers)
        texts = request.json["input"]
        data = [{"index": i, "embedding": hashed_embedding(t, 16)} for i, t in enumerate(texts)]
        return JSONResponse({"data": data})

    server.add_route("POST", "/v1/embeddings", handler)

    assert _embedder(server.base_url, backoff_s=0.02).embed_documents(["x"]).shape == (1, 16)

    assert len(calls) == 2
    assert "HTTP 503: busy; retrying in 0.02 s" in caplog.text


_PROBE = """
import sys
from indexer.embedders.openai_http import OpenAIEmbedder
OpenAIEmbedder(base_url=sys.argv[1], model="m", api_key=sys.argv[2] or None).embed_documents(["x"])
"""


@pytest.mark.parametrize("api_key", ["", API_KEY])
def test_the_sdk_sends_only_the_configured_key_and_no_organization_from_the_environment(
    server: FakeOpenAIServer, api_key: str
) -> None:
    # A real process, so that the SDK reads the variables as it would in production.
    env = {
        **os.environ,
        "OPENAI_API_KEY": "sk-from-the-environment",
        "OPENAI_ORG_ID": "org-from-the-environment",
        "OPENAI_PROJECT_ID": "proj-from-the-environment",
    }
    subprocess.run(
        [sys.executable, "-c", _PROBE, server.base_url, api_key], env=env, check=True, timeout=120
    )

    [sent] = server.requests
    assert sent.headers.get("authorization") == (f"Bearer {api_key}" if api_key else None)
    assert "openai-organization" not in sent.headers
    assert "openai-project" not in sent.headers
