"""Schemathesis against the service's own ``/openapi.json``: requests generated from the schema
(valid and invalid ones) go to a real uvicorn server on 127.0.0.1, and every response must be
free of 5xx and match the schema declared for its status and content type.

The ``openai`` backend talks to the fake OpenAI server, so requests choosing it (``backend``:
``openai``, model ``abstractqa-llm``) run the LLM path too. Examples per operation are bounded
and derandomized, so a run is reproducible and takes a few minutes at most on two cores.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from indexer.embedders.base import Embedder
from service.app import create_app
from service.settings import Settings
from tests.fakes.openai_server import FakeOpenAIServer
from tests.service.conftest import ready_server

MAX_EXAMPLES = 20


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
        )
        with ready_server(create_app(app_settings, embedder=embedder)) as url:
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
