"""Structured logs: ``abstractqa serve`` run as a real process writes one JSON object per line
on stderr, every line written while a request is handled carries its request id, and neither
keys nor request bodies are ever logged."""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from service.api_errors import install as install_errors
from service.observability.install import install_observability
from service.observability.logs import (
    JsonFormatter,
    RequestIdFilter,
    TextFormatter,
    resolve_format,
)
from service.observability.metrics import Metrics
from tests.fakes.live_server import LiveServer
from tests.fakes.openai_server import FakeOpenAIServer
from tests.service.conftest import wait_ready

QUESTION = "How do the authors make sparse fine-tuning composable across languages and tasks?"
CLIENT_TOKEN = "client-secret-token-4f1c9e"
LLM_KEY = "sk-llm-secret-8d2b77"
FIELDS = {"ts", "level", "logger", "message", "request_id"}


@dataclass
class Served:
    url: str
    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)

    def stop(self) -> list[str]:
        """Stop the server as a supervisor would (SIGTERM) and return all it wrote."""
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=60)
        return list(self.lines)


def _read(stream: io.TextIOBase, lines: list[str], started: threading.Event) -> None:
    for line in stream:
        lines.append(line.rstrip("\n"))
        if "Uvicorn running on" in line:
            started.set()


@pytest.fixture(scope="module")
def served(corpus_index_dir: Path, fake: FakeOpenAIServer) -> Iterator[Served]:
    env = os.environ | {
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "ABSTRACTQA_INDEX_DIR": str(corpus_index_dir),
        "ABSTRACTQA_LOG_FORMAT": "json",
        "ABSTRACTQA_ANSWER_BACKEND": "openai",
        "ABSTRACTQA_LLM_BASE_URL": fake.base_url,
        "ABSTRACTQA_LLM_API_KEY": LLM_KEY,
        "ABSTRACTQA_LLM_MAX_RETRIES": "1",
        "ABSTRACTQA_LLM_BACKOFF_S": "0",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "serve", "--port", "0"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    started = threading.Event()
    assert process.stderr is not None
    reader = threading.Thread(target=_read, args=(process.stderr, lines, started), daemon=True)
    reader.start()
    try:
        if not started.wait(120):
            raise RuntimeError("abstractqa serve did not start:\n" + "\n".join(lines))
        running = next(json.loads(line) for line in lines if "Uvicorn running on" in line)
        url = running["message"].split(" on ")[1].split()[0]
        wait_ready(url, 120)
        yield Served(url, process, lines)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        reader.join(10)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture(scope="module")
def logs(served: Served, fake: FakeOpenAIServer) -> dict[str, Any]:
    """Requests against the served process, then its stopped log, parsed."""
    fake.fail_next(500)  # one retry: the backend logs a warning while handling the request
    with httpx.Client(base_url=served.url, timeout=60) as http:
        asked = http.post(
            "/v1/ask",
            json={"question": QUESTION},
            headers={"X-Request-ID": "log-ask-1", "Authorization": f"Bearer {CLIENT_TOKEN}"},
        )
        missing = http.get("/v1/papers/no-such-paper")
    assert asked.status_code == 200 and asked.json()["backend"] == "openai"
    assert missing.status_code == 404
    time.sleep(0.2)  # the access line is written once the response is out
    raw = served.stop()
    return {"raw": raw, "entries": [json.loads(line) for line in raw], "missing": missing}


def test_every_line_the_server_writes_is_one_json_object(logs: dict[str, Any]) -> None:
    assert logs["raw"]
    for entry in logs["entries"]:
        assert isinstance(entry, dict) and entry.keys() >= FIELDS, entry
    messages = [e["message"] for e in logs["entries"]]
    assert any(m.startswith("serving index v") for m in messages)
    assert any("Shutting down" in m or "Finished server process" in m for m in messages)


def test_the_access_line_has_the_request_fields(logs: dict[str, Any]) -> None:
    [ask] = [
        e
        for e in logs["entries"]
        if e["logger"] == "abstractqa.access" and e.get("path") == "/v1/ask"
    ]
    assert ask["request_id"] == "log-ask-1"
    assert ask["method"] == "POST" and ask["status"] == 200 and ask["client"] == "127.0.0.1"
    assert isinstance(ask["duration_ms"], float) and ask["duration_ms"] > 0
    missing = logs["missing"]
    [line] = [e for e in logs["entries"] if e.get("path") == "/v1/papers/no-such-paper"]
    assert line["status"] == 404 and line["request_id"] == missing.headers["x-request-id"]


def test_lines_written_while_handling_a_request_carry_its_id(logs: dict[str, Any]) -> None:
    during = [e for e in logs["entries"] if e["request_id"] == "log-ask-1"]
    loggers = {e["logger"] for e in during}
    # The LLM's 500 made the backend retry (a warning), httpx logged both calls, then the access line.
    assert {"service.backends.openai_chat", "httpx", "abstractqa.access"} <= loggers
    retry = next(e for e in during if e["logger"] == "service.backends.openai_chat")
    assert retry["level"] == "warning" and "retrying" in retry["message"]
    startup = [e for e in logs["entries"] if e["message"].startswith("serving index")]
    assert startup[0]["request_id"] is None


def test_no_key_token_or_request_body_is_ever_logged(logs: dict[str, Any]) -> None:
    text = "\n".join(logs["raw"])
    assert CLIENT_TOKEN not in text and LLM_KEY not in text
    assert "authorization" not in text.lower()
    assert QUESTION not in text and "composable" not in text


# -- in-process formatting -------------------------------------------------------------------


def test_an_unhandled_error_is_logged_once_with_its_type_and_request_id() -> None:
    app = FastAPI()

    @app.get("/boom")
    def boom() -> None:
        raise KeyError("exploded")

    install_errors(app)
    install_observability(app, Metrics())
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    service_log = logging.getLogger("abstractqa")
    service_log.addHandler(handler)
    try:
        with LiveServer(app, "boom") as server:
            response = httpx.get(f"{server.url}/boom", headers={"X-Request-ID": "boom-2"})
    finally:
        service_log.removeHandler(handler)
    assert response.status_code == 500 and response.headers["x-request-id"] == "boom-2"
    entries = [json.loads(line) for line in stream.getvalue().splitlines()]
    [error] = [e for e in entries if e["level"] == "error" and e["logger"] == "abstractqa.service"]
    assert error["request_id"] == "boom-2" and error["error_type"] == "KeyError"
    assert "exploded" in error["traceback"]
    [access] = [e for e in entries if e["logger"] == "abstractqa.access"]
    assert access["status"] == 500 and access["request_id"] == "boom-2"


def test_text_lines_show_the_request_id_and_mask_bearer_tokens() -> None:
    record = logging.LogRecord(
        "abstractqa.service",
        logging.WARNING,
        __file__,
        1,
        "upstream said: %s",
        ("Bearer abc.def",),
        None,
    )
    record.request_id = "r-1"
    line = TextFormatter().format(record)
    assert "WARNING abstractqa.service [r-1] upstream said: Bearer ***" in line
    assert "abc.def" not in line
    assert "abc.def" not in JsonFormatter().format(record)


def test_auto_format_is_text_on_a_terminal_and_json_otherwise() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert resolve_format("auto", Terminal()) == "text"
    assert resolve_format("auto", io.StringIO()) == "json"
    assert resolve_format("text", io.StringIO()) == "text"
