"""POST /v1/admin/reload: a new index version is served without failing a request; a version
that cannot be served leaves the old one serving and says why."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import httpx

from indexer.embedders.base import Embedder
from tests.service.admin.conftest import (
    KELP,
    KELP_QUESTION,
    AdminServer,
    index_papers,
    top_paper,
)

WORKERS = 6
QUESTION = "How do the authors make sparse fine-tuning composable across languages and tasks?"


def readiness(http: httpx.Client) -> tuple[str, int]:
    body = http.get("/readyz").json()
    return body["index_version"], body["papers"]


def test_reload_says_already_current_when_the_index_has_not_changed(admin: httpx.Client) -> None:
    response = admin.post("/v1/admin/reload")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "already_current"
    assert body["old_version"] == body["new_version"] == "v000001"
    assert body["papers"] == 54 and body["took_ms"] >= 0


def test_papers_added_by_the_cli_while_serving_are_served_after_reload_and_no_request_fails(
    admin_server: AdminServer, admin: httpx.Client, tmp_path: Path
) -> None:
    source = tmp_path / "kelp.jsonl"
    source.write_text(json.dumps(KELP) + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ABSTRACTQA_")}
    command = ["index", "add", str(source), "--index-dir", str(admin_server.index_dir)]
    added = subprocess.run(
        [sys.executable, "-m", "service.cli", *command],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert added.returncode == 0, added.stderr
    # Written, but not served until the reload.
    assert readiness(admin) == ("v000001", 54)
    assert top_paper(admin, KELP_QUESTION) != KELP["id"]

    reloaded = threading.Event()
    results: list[tuple[bool, int, str | None]] = []  # (after the reload, status, version)
    lock = threading.Lock()

    def keep_asking(worker: int) -> None:
        after = 0
        with httpx.Client(base_url=admin_server.url, timeout=120) as http:
            while after < 2:  # each worker also sends two requests once the reload answered
                late = reloaded.is_set()
                if worker % 2:
                    response = http.post("/v1/search", json={"query": KELP_QUESTION})
                    version = None
                else:
                    response = http.post("/v1/ask", json={"question": QUESTION})
                    version = response.json().get("index_version")
                with lock:
                    results.append((late, response.status_code, version))
                after += late

    workers = [threading.Thread(target=keep_asking, args=(n,)) for n in range(WORKERS)]
    for worker in workers:
        worker.start()
    response = admin.post("/v1/admin/reload")
    reloaded.set()
    for worker in workers:
        worker.join(timeout=300)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "reloaded"
    assert (body["old_version"], body["new_version"], body["papers"]) == ("v000001", "v000002", 55)
    assert results and all(status == 200 for _, status, _ in results), results
    assert {v for _, _, v in results} - {None} <= {"v000001", "v000002"}
    assert all(v == "v000002" for late, _, v in results if late and v is not None)
    assert readiness(admin) == ("v000002", 55)
    assert top_paper(admin, KELP_QUESTION) == KELP["id"]


def _swap_in(index_dir: Path, build: Path, name: str) -> None:
    """Make ``build``'s version ``name`` current in ``index_dir`` (replacing any damaged copy)."""
    target = index_dir / "versions" / name
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(build / "versions" / name, target)
    for segment in (build / "segments").iterdir():
        shutil.rmtree(index_dir / "segments" / segment.name, ignore_errors=True)
        shutil.copytree(segment, index_dir / "segments" / segment.name)
    (index_dir / "CURRENT").write_text(f"{name}\n")


def test_a_failed_reload_keeps_the_old_version_serving_and_says_why(
    admin_server: AdminServer, admin: httpx.Client, embedder: Embedder, tmp_path: Path
) -> None:
    served = admin_server.index_dir
    # A good v000002 is built aside; each case serves a damaged copy of it.
    build = tmp_path / "build"
    shutil.copytree(served, build)
    assert index_papers(build, embedder, KELP) == "v000002"
    v2 = served / "versions" / "v000002"
    s2 = served / "segments" / "s000002"

    def refused(expected: list[str]) -> None:
        response = admin.post("/v1/admin/reload")
        assert response.status_code == 409, response.text
        error = response.json()["error"]
        assert error["code"] == "reload_failed"
        assert error["message"].startswith("still serving v000001; ")
        for part in expected:
            assert part in error["message"], error["message"]
        assert str(served) not in error["message"] and str(tmp_path) not in error["message"]
        assert readiness(admin) == ("v000001", 54)
        assert top_paper(admin, QUESTION).startswith("composable-sparse-fine-tuning")

    (served / "CURRENT").write_text("v000009\n")
    refused(["CURRENT names v000009, which is missing"])

    _swap_in(served, build, "v000002")
    with (s2 / "vectors.npy").open("r+b") as handle:
        handle.truncate(1000)
    refused(["segments/s000002/vectors.npy: 1000 bytes", "truncated"])

    _swap_in(served, build, "v000002")
    papers = (s2 / "papers.sqlite").read_bytes()
    (s2 / "papers.sqlite").write_bytes(papers.replace(b"kelp", b"KELP", 1))
    refused(["segments/s000002/papers.sqlite: content differs from its segment.json's sha256"])

    _swap_in(served, build, "v000002")
    (s2 / "papers.sqlite").write_bytes(b"")
    refused(["segments/s000002/papers.sqlite: 0 bytes"])

    _swap_in(served, build, "v000002")
    shutil.rmtree(s2)
    refused(["segments/s000002/segment.json: missing"])

    _swap_in(served, build, "v000002")
    manifest = json.loads((v2 / "manifest.json").read_text())
    manifest["embedder"]["dimension"] = 768
    (v2 / "manifest.json").write_text(json.dumps(manifest))
    refused(["segments/s000001/segment.json: vectors of dimension 384", "has 768"])

    _swap_in(served, build, "v000002")
    manifest = json.loads((v2 / "manifest.json").read_text())
    manifest["embedder"]["name"] = "sentence-transformers:some-other-model"
    (v2 / "manifest.json").write_text(json.dumps(manifest))
    refused(["built with embedder 'sentence-transformers:some-other-model'"])

    _swap_in(served, build, "v000002")
    (v2 / "manifest.json").unlink()
    refused(["versions/v000002/manifest.json: missing"])

    # Repaired: the same reload now serves it.
    _swap_in(served, build, "v000002")
    response = admin.post("/v1/admin/reload")
    assert response.status_code == 200, response.text
    assert response.json()["new_version"] == "v000002"
    assert readiness(admin) == ("v000002", 55)
    assert top_paper(admin, KELP_QUESTION) == KELP["id"]


def test_a_current_pointer_of_garbage_bytes_or_a_directory_is_a_409_naming_it_and_readyz_says_so(
    admin_server: AdminServer, admin: httpx.Client
) -> None:
    pointer = admin_server.index_dir / "CURRENT"
    damages = {
        "CURRENT: does not name an index version: not UTF-8 text (byte 0)": (
            lambda: pointer.write_bytes(b"\xff\x00\xfe")
        ),
        "CURRENT: is a directory, not a file": lambda: (pointer.unlink(), pointer.mkdir()),
    }
    for expected, damage in damages.items():
        damage()
        response = admin.post("/v1/admin/reload")
        assert response.status_code == 409, response.text
        assert response.json()["error"] == {
            "code": "reload_failed",
            "message": f"still serving v000001; {expected}",
        }
        ready = admin.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["index_version"] == "v000001"
        assert ready.json()["pointer_error"] == expected
        assert top_paper(admin, QUESTION).startswith("composable-sparse-fine-tuning")
    pointer.rmdir()
    pointer.write_text("v000001\n")
    assert admin.post("/v1/admin/reload").json()["status"] == "already_current"
    assert admin.get("/readyz").json()["pointer_error"] is None
