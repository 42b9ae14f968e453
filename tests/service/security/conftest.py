"""A real abstractqa server with API keys over the bundled corpus's index (shared by the browser
test of the key prompt), its LLM backend a fake OpenAI server that can hold a stream open."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from indexer.embedders.base import Embedder
from service.app import create_app
from service.settings import Settings
from tests.fakes.openai_server import FakeOpenAIServer
from tests.service.conftest import ready_server

KEYS = ("aq-test-alpha-4f1c9b02d7", "aq-test-beta-77d0e2a8c1", "aq-test-gamma-c3a915e6b4")
ALLOWED_ORIGIN = "http://allowed.example"
MAX_BODY_BYTES = 16_384
QUESTION = "How do the authors make sparse fine-tuning composable across languages and tasks?"


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@dataclass
class KeyedServer:
    url: str
    fake: FakeOpenAIServer
    settings: Settings

    def client(self, key: str | None = None, **kwargs: Any) -> httpx.Client:
        headers = bearer(key) if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60, **kwargs)


@pytest.fixture(scope="session")
def keyed_server(corpus_index_dir: Path, embedder: Embedder) -> Iterator[KeyedServer]:
    """API keys, CORS for one origin, one stream per client, a 16 KiB body limit, no rate limit
    (its own tests use their own servers); extractive answers unless a request asks for the LLM,
    which waits up to a minute for the fake's next words."""
    with FakeOpenAIServer() as fake:
        settings = Settings(
            index_dir=corpus_index_dir,
            api_keys=",".join(KEYS),  # type: ignore[arg-type]  # as the environment gives it
            cors_origins=ALLOWED_ORIGIN,  # type: ignore[arg-type]
            max_streams_per_client=1,
            max_body_bytes=MAX_BODY_BYTES,
            rate_limit="off",
            llm_base_url=fake.base_url,
            llm_model="fake-chat",
            llm_timeout_s=60.0,
            llm_connect_timeout_s=1.0,
            llm_max_retries=0,
        )
        with ready_server(create_app(settings, embedder=embedder), "abstractqa-keyed") as url:
            yield KeyedServer(url, fake, settings)


@pytest.fixture
def keyed(keyed_server: KeyedServer) -> KeyedServer:
    keyed_server.fake.reset()
    keyed_server.fake.reply_with("Both masks can be composed with the pretrained model [1].")
    return keyed_server
