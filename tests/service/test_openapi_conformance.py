"""Schemathesis against the service's own ``/openapi.json``: requests generated from the schema
(valid and invalid ones) go to a real uvicorn server on 127.0.0.1, and every response must be
free of 5xx and match the schema declared for its status and content type.

The ``openai`` backend talks to the fake OpenAI server, so requests choosing it (``backend``:
``openai``, model ``abstractqa-llm``) run the LLM path too. Examples per operation are bounded
and derandomized, so a run is reproducible and takes a few minutes at most on two cores.

Beyond the schema: unknown method names on every path (never a 5xx, and ``/metrics`` keeps
one ``other`` method label for them all), and generated bodies sent slowly (half, then
nothing: a 408 once ``body_timeout_s`` passes). The server runs with the uvicorn options
``abstractqa serve`` uses.
"""

from __future__ import annotations

import json
import re
import shutil
import string
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from indexer.embedders.base import Embedder
from service.app import create_app
from service.observability.metrics import HTTP_METHODS
from service.security.connections import uvicorn_options
from service.settings import Settings
from tests.fakes.openai_server import FakeOpenAIServer
from tests.service.conftest import ready_server
from tests.service.raw_http import connect, read_to_close

MAX_EXAMPLES = 20
BODY_TIMEOUT_S = 2.0
# What an HTTP method may be made of (RFC 9110 token characters).
TOKEN = string.ascii_letters + string.digits + "!#$%&'*+-.^_`|~"


@pytest.fixture(scope="module")
def fuzzed_url(
    corpus_index_dir: Path, embedder: Embedder, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    # A private copy: whatever an operation could write (admin routes), the shared index stays.
    index_dir = tmp_path_factory.mktemp("fuzzed") / "index"
    shutil.copytree(corpus_index_dir, index_dir)
    with FakeOpenAIServer() as fake:
        app_settings = Settings(
            index_dir=index_dir,
            llm_base_url=fake.base_url,
            llm_model="fake-chat",
            llm_timeout_s=5.0,
            llm_max_retries=0,
            body_timeout_s=BODY_TIMEOUT_S,
        )
        app = create_app(app_settings, embedder=embedder)
        with ready_server(app, **uvicorn_options(app_settings)) as url:
            yield url


# The schema is read at collection time, from the same app factory the server runs; the first
# test checks that the running server serves exactly this document at /openapi.json.
# (schemathesis.pytest.from_fixture would load it from the server, but breaks on pytest 9.)
OPENAPI: dict[str, Any] = create_app(Settings()).openapi()
schema = schemathesis.openapi.from_dict(OPENAPI)


def test_the_fuzzed_schema_is_the_one_the_server_serves(fuzzed_url: str) -> None:
    response = httpx.get(f"{fuzzed_url}/openapi.json", timeout=30)
    assert response.status_code == 200
    assert response.json() == OPENAPI
    assert {"/v1/search", "/v1/ask", "/v1/chat/completions"} <= set(OPENAPI["paths"])


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_answers_without_5xx_and_as_its_schema_declares(
    case: Any, fuzzed_url: str
) -> None:
    case.call_and_validate(
        base_url=fuzzed_url, timeout=60, checks=[not_a_server_error, response_schema_conformance]
    )


PATHS = sorted(path.replace("{paper_id}", "some-paper") for path in OPENAPI["paths"])


@given(
    method=st.text(alphabet=TOKEN, min_size=1, max_size=4001).filter(
        lambda m: m.upper() not in HTTP_METHODS
    ),
    path=st.sampled_from(PATHS),
)
@settings(max_examples=40, derandomize=True, database=None, deadline=None)
def test_unknown_methods_on_every_path_are_refused_without_5xx(
    fuzzed_url: str, method: str, path: str
) -> None:
    response = httpx.request(method, f"{fuzzed_url}{path}", timeout=60)
    # 429: the admin paths' per-address limit, which the schema's cases have spent.
    assert response.status_code in {404, 405, 429}, (method[:40], path, response.text)
    assert response.json()["error"]["code"]


def test_metrics_count_every_unknown_method_under_one_label(fuzzed_url: str) -> None:
    for method in ("PURGE", "M" * 4001, "propfind", "X-" + "a1" * 30):
        httpx.request(method, f"{fuzzed_url}/healthz", timeout=60)
    metrics = httpx.get(f"{fuzzed_url}/metrics", timeout=60).text
    methods = set(re.findall(r'abstractqa_http_requests_total\{method="([^"]*)"', metrics))
    assert methods <= HTTP_METHODS | {"other"}
    assert "other" in methods


@given(case=schema["/v1/search"]["POST"].as_strategy())
@settings(max_examples=4, derandomize=True, database=None, deadline=None)
def test_a_generated_body_sent_in_part_and_then_stalled_is_a_408(
    fuzzed_url: str, case: Any
) -> None:
    body = json.dumps(case.body).encode()
    with connect(fuzzed_url) as sock:
        sock.sendall(
            b"POST /v1/search HTTP/1.1\r\nHost: fuzz\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body) + 1}\r\n\r\n".encode()
            + body[: len(body) // 2]
        )
        response = read_to_close(sock)
    head, _, payload = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408"), response
    assert json.loads(payload)["error"]["code"] == "request_timeout"
