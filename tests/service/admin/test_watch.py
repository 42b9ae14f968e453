"""ABSTRACTQA_WATCH_INDEX: the service notices another process making a new version current."""

from __future__ import annotations

import json
import logging
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from indexer.embedders.base import Embedder
from indexer.storage import write_atomic
from service.observability.logs import JsonFormatter
from tests.service.admin.conftest import (
    BEES,
    KELP,
    KELP_QUESTION,
    index_papers,
    serve,
    top_paper,
)

MOSS = {
    "title": "Desiccation Tolerance in Arctic Mosses",
    "abstract": "Arctic mosses survive months without liquid water. We show that they do so by "
    "accumulating sugars that stabilise their membranes while dry.",
}
DEADLINE_S = 120  # generous: only a wait for the watcher, never a speed check


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"never happened: {what}")
        time.sleep(0.05)


def copy_version(source: Path, target: Path, name: str) -> None:
    """Copy version ``name`` and every segment of ``source`` (replacing damaged copies)."""
    shutil.copytree(source / "versions" / name, target / "versions" / name)
    for segment in (source / "segments").iterdir():
        shutil.rmtree(target / "segments" / segment.name, ignore_errors=True)
        shutil.copytree(segment, target / "segments" / segment.name)


def test_the_watch_serves_new_versions_and_keeps_serving_when_one_is_damaged(
    index_copy: Path, embedder: Embedder, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="abstractqa.service")
    with (
        serve(index_copy, embedder, watch_index=True, watch_interval_s=0.05) as server,
        httpx.Client(base_url=server.url, timeout=60) as http,
    ):

        def served() -> str:
            return str(http.get("/readyz").json()["index_version"])

        assert index_papers(index_copy, embedder, KELP) == "v000002"
        wait_for(lambda: served() == "v000002", "v000002 served")
        assert top_paper(http, KELP_QUESTION) == KELP["id"]

        # A damaged v000003, built aside and then made current in one atomic step.
        aside = tmp_path / "aside"
        shutil.copytree(index_copy, aside)
        assert index_papers(aside, embedder, BEES) == "v000003"
        copy_version(aside, index_copy, "v000003")
        (index_copy / "segments" / "s000003" / "papers.sqlite").write_bytes(b"")
        write_atomic(index_copy / "CURRENT", b"v000003\n")
        wait_for(lambda: "index watch: still serving v000002" in caplog.text, "the failure logged")
        assert "segments/s000003/papers.sqlite: 0 bytes" in caplog.text
        assert served() == "v000002"
        assert top_paper(http, KELP_QUESTION) == KELP["id"]

        # The next good version is picked up again.
        assert index_papers(aside, embedder, MOSS) == "v000004"
        copy_version(aside, index_copy, "v000004")
        write_atomic(index_copy / "CURRENT", b"v000004\n")
        wait_for(lambda: served() == "v000004", "v000004 served")
    # Closing the app joined the watcher.
    assert not [t for t in threading.enumerate() if t.name == "index-watch" and t.is_alive()]


def test_a_garbled_or_directory_current_is_logged_as_json_and_the_watch_reloads_once_fixed(
    index_copy: Path, embedder: Embedder, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="abstractqa.service")
    pointer = index_copy / "CURRENT"
    # A good v000002, built aside, to be made current once the pointer is repaired.
    aside = tmp_path / "aside"
    shutil.copytree(index_copy, aside)
    assert index_papers(aside, embedder, KELP) == "v000002"
    copy_version(aside, index_copy, "v000002")
    with (
        serve(index_copy, embedder, watch_index=True, watch_interval_s=0.05) as server,
        httpx.Client(base_url=server.url, timeout=60) as http,
    ):
        for expected, damage in {
            "CURRENT: does not name an index version: not UTF-8 text (byte 0)": (
                lambda: pointer.write_bytes(b"\xff\x00\xfe")
            ),
            "CURRENT: is a directory, not a file": lambda: (pointer.unlink(), pointer.mkdir()),
        }.items():
            damage()
            line = f"index watch: {expected}; still serving v000001"
            wait_for(lambda line=line: line in caplog.text, f"{line!r} logged")
            ready = http.get("/readyz")
            assert ready.status_code == 200
            assert ready.json()["index_version"] == "v000001"
            assert ready.json()["pointer_error"] == expected
        # Each problem is logged once, as a JSON line by the service's formatter.
        [record] = [r for r in caplog.records if "is a directory" in r.getMessage()]
        entry = json.loads(JsonFormatter().format(record))
        assert entry["level"] == "error" and entry["logger"] == "abstractqa.service"
        assert "Traceback" not in caplog.text
        assert [t for t in threading.enumerate() if t.name == "index-watch" and t.is_alive()]

        pointer.rmdir()
        write_atomic(pointer, b"v000002\n")
        wait_for(lambda: http.get("/readyz").json()["index_version"] == "v000002", "v000002")
        assert http.get("/readyz").json()["pointer_error"] is None
        assert top_paper(http, KELP_QUESTION) == KELP["id"]
