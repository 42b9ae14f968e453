"""``abstractqa serve`` on a missing, damaged or mismatched index: a message naming the file
and a non-zero exit before any port opens, never a traceback. Run as a user runs it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

TIMEOUT_S = 180
Damage = Callable[[Path], str]  # damages an index copy; returns what the message starts with


def _v1(index: Path) -> Path:
    return index / "versions" / "v000001"


def _seg(index: Path) -> Path:
    return index / "segments" / "s000001"


def _manifest(index: Path) -> dict:
    return json.loads((_v1(index) / "manifest.json").read_text())


def _no_directory(index: Path) -> str:
    shutil.rmtree(index)
    return f"no index at {index} (no CURRENT file)"


def _no_current(index: Path) -> str:
    (index / "CURRENT").unlink()
    return f"no index at {index} (no CURRENT file)"


def _empty_current(index: Path) -> str:
    (index / "CURRENT").write_text("")
    return f"{index / 'CURRENT'}: does not name an index version"


def _current_not_utf8(index: Path) -> str:
    (index / "CURRENT").write_bytes(b"\xff\x00\xfe")
    return f"{index / 'CURRENT'}: does not name an index version: not UTF-8 text (byte 0)"


def _current_a_directory(index: Path) -> str:
    (index / "CURRENT").unlink()
    (index / "CURRENT").mkdir()
    return f"{index / 'CURRENT'}: is a directory, not a file"


def _missing_version(index: Path) -> str:
    shutil.rmtree(_v1(index))
    return f"{index / 'CURRENT'} names v000001, which is missing"


def _no_manifest(index: Path) -> str:
    (_v1(index) / "manifest.json").unlink()
    return f"{_v1(index) / 'manifest.json'}: missing"


def _manifest_not_json(index: Path) -> str:
    (_v1(index) / "manifest.json").write_text('{"format_version": 1, ')
    return f"{_v1(index) / 'manifest.json'}: not valid JSON"


def _manifest_without_files(index: Path) -> str:
    manifest = _manifest(index)
    del manifest["files"]
    (_v1(index) / "manifest.json").write_text(json.dumps(manifest))
    return f"{_v1(index) / 'manifest.json'}: no valid 'files' field"


def _manifest_without_counts(index: Path) -> str:
    manifest = _manifest(index)
    manifest["counts"] = {}
    (_v1(index) / "manifest.json").write_text(json.dumps(manifest))
    return f"{_v1(index) / 'manifest.json'}: no valid paper and chunk counts"


def _missing_vectors(index: Path) -> str:
    (_seg(index) / "vectors.npy").unlink()
    return f"{_seg(index) / 'vectors.npy'}: missing"


def _missing_segment(index: Path) -> str:
    shutil.rmtree(_seg(index))
    return f"{_seg(index) / 'segment.json'}: missing"


def _truncated_vectors(index: Path) -> str:
    path = _seg(index) / "vectors.npy"
    with path.open("r+b") as handle:
        handle.truncate(path.stat().st_size // 2)
    return f"{path}: "


def _altered_chunks(index: Path) -> str:
    path = _seg(index) / "papers.sqlite"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01  # same size, one bit changed
    path.write_bytes(bytes(data))
    return f"{path}: content differs from its segment.json's sha256"


def _empty_papers(index: Path) -> str:
    (_seg(index) / "papers.sqlite").write_bytes(b"")
    return f"{_seg(index) / 'papers.sqlite'}: 0 bytes, its segment.json says"


def _empty_bm25_file(index: Path) -> str:
    path = _seg(index) / "bm25_rows.npy"
    path.write_bytes(b"")
    return f"{path}: 0 bytes"


def _missing_tombstones(index: Path) -> str:
    (_v1(index) / "tombstones.json").unlink()
    return f"{_v1(index) / 'tombstones.json'}: missing"


def _other_embedder(index: Path) -> str:
    manifest = _manifest(index)
    manifest["embedder"]["name"] = "sentence-transformers:another-model"
    (_v1(index) / "manifest.json").write_text(json.dumps(manifest))
    return f"the index at {index} was built with embedder 'sentence-transformers:another-model'"


DAMAGES: dict[str, Damage] = {
    "no index directory": _no_directory,
    "no CURRENT": _no_current,
    "empty CURRENT": _empty_current,
    "CURRENT not UTF-8": _current_not_utf8,
    "CURRENT a directory": _current_a_directory,
    "CURRENT names a missing version": _missing_version,
    "no manifest": _no_manifest,
    "manifest not JSON": _manifest_not_json,
    "manifest without files": _manifest_without_files,
    "manifest without counts": _manifest_without_counts,
    "missing vectors.npy": _missing_vectors,
    "segment deleted by hand": _missing_segment,
    "truncated vectors.npy": _truncated_vectors,
    "altered papers.sqlite": _altered_chunks,
    "empty papers.sqlite": _empty_papers,
    "missing tombstones.json": _missing_tombstones,
    "empty BM25 file": _empty_bm25_file,
    "other embedder": _other_embedder,
}


@pytest.fixture(scope="module")
def runs(
    corpus_index_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, tuple[str, subprocess.CompletedProcess[str]]]:
    """Every damage on its own copy, all served at once (each run is a separate process)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ABSTRACTQA_")}
    started = {}
    for name, damage in DAMAGES.items():
        index = tmp_path_factory.mktemp("damaged") / "index"
        shutil.copytree(corpus_index_dir, index)
        expected = damage(index)
        # Port 0: had serve got as far as listening, it would not exit (the run would time out).
        command = [sys.executable, "-m", "service.cli", "serve", "--index-dir", str(index)]
        process = subprocess.Popen(
            [*command, "--port", "0"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        started[name] = (expected, process)
    finished = {}
    for name, (expected, process) in started.items():
        try:
            out, err = process.communicate(timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            out, err = process.communicate()
        finished[name] = (
            expected,
            subprocess.CompletedProcess(process.args, process.returncode, out, err),
        )
    return finished


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_serve_refuses_a_damaged_index_naming_the_file_and_exits_non_zero(
    damage: str, runs: dict[str, tuple[str, subprocess.CompletedProcess[str]]]
) -> None:
    expected, run = runs[damage]
    assert run.returncode == 1, (run.returncode, run.stderr)
    assert run.stderr.startswith(f"error: {expected}"), run.stderr
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert "Traceback" not in run.stderr
    assert "Uvicorn running" not in run.stderr and "serving index" not in run.stderr
