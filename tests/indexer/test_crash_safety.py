"""A build killed with SIGKILL at any moment leaves the previous version current and intact;
damaged files are named when the index is opened."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from indexer.errors import IndexCorruptError, IndexNotFoundError
from indexer.index import open_index
from indexer.retrieval import Retriever
from indexer.storage import IndexDir

QUERIES = [
    "composable sparse masks for cross-lingual transfer",
    "memorize at test time",
    "temporal logic",
]


def _results(index_dir: Path, embedder) -> list[list[tuple[str, float]]]:
    retriever = Retriever(open_index(index_dir), embedder)
    return [
        [(h.paper.paper_id, round(h.score, 6)) for h in retriever.search(q, 5)] for q in QUERIES
    ]


def _big_jsonl(index_dir: Path, path: Path, copies: int) -> Path:
    papers = list(open_index(index_dir).papers.values())
    with path.open("w") as out:
        for n in range(copies):
            for p in papers:
                out.write(
                    json.dumps({"title": f"{p.title} (replica {n})", "abstract": p.abstract}) + "\n"
                )
    return path


def _start_add(index_dir: Path, source: Path) -> subprocess.Popen[str]:
    command = [
        sys.executable,
        "-m",
        "service.cli",
        "index",
        "add",
        str(source),
        "--index-dir",
        str(index_dir),
    ]
    return subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)


@pytest.mark.parametrize("moment", ["embedding", "writing"])
def test_a_build_killed_midway_leaves_the_previous_version_loadable_and_unchanged(
    moment: str, index_copy: Path, embedder, tmp_path: Path
) -> None:
    before = _results(index_copy, embedder)
    source = _big_jsonl(
        index_copy, tmp_path / "big.jsonl", copies=12 if moment == "embedding" else 2
    )
    process = _start_add(index_copy, source)
    assert process.stderr is not None
    if moment == "embedding":
        for line in process.stderr:
            if line.startswith("embedding "):
                break
    else:
        deadline = time.monotonic() + 300
        while not any(index_copy.joinpath("segments").glob(".build-*/*")):
            assert process.poll() is None, "the build ended before it started writing"
            assert time.monotonic() < deadline
            time.sleep(0.002)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()

    assert IndexDir(index_copy).current_name() == "v000001"
    assert _results(index_copy, embedder) == before
    # The next build cleans up after the dead one and succeeds.
    small = tmp_path / "one.jsonl"
    small.write_text(
        json.dumps(
            {"title": "A brand new paper on frogs", "abstract": "Frogs jump far. We measure it."}
        )
        + "\n"
    )
    assert (
        subprocess.run(
            [
                sys.executable,
                "-m",
                "service.cli",
                "index",
                "add",
                str(small),
                "--index-dir",
                str(index_copy),
            ],
            capture_output=True,
        ).returncode
        == 0
    )
    assert not list(index_copy.joinpath("versions").glob(".build-*"))
    assert not list(index_copy.joinpath("segments").glob(".build-*"))
    assert len(open_index(index_copy).papers) == 55


def test_a_compaction_killed_midway_leaves_the_last_version_serving_and_the_next_one_cleans_up(
    index_copy: Path, embedder, tmp_path: Path
) -> None:
    # A second segment (replicas of every paper) and a tombstone give compact work to do.
    source = _big_jsonl(index_copy, tmp_path / "more.jsonl", copies=1)
    assert _start_add(index_copy, source).wait(300) == 0
    remove = [sys.executable, "-m", "service.cli", "index", "remove"]
    removed = subprocess.run(
        [*remove, "the-consciousness-prior-6a422aac", "--index-dir", str(index_copy)],
        capture_output=True,
    )
    assert removed.returncode == 0, removed.stderr
    before_name = IndexDir(index_copy).current_name()
    before = _results(index_copy, embedder)
    command = [sys.executable, "-m", "service.cli", "index", "compact"]
    process = subprocess.Popen([*command, "--index-dir", str(index_copy)], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while not any(index_copy.joinpath("segments").glob(".build-*/*")):
        assert process.poll() is None, "the compaction ended before it started writing"
        assert time.monotonic() < deadline
        time.sleep(0.002)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()

    assert IndexDir(index_copy).current_name() == before_name
    assert _results(index_copy, embedder) == before
    again = subprocess.run([*command, "--index-dir", str(index_copy)], capture_output=True)
    assert again.returncode == 0, again.stderr
    assert not list(index_copy.joinpath("segments").glob(".build-*"))
    compacted = open_index(index_copy)
    assert len(compacted.segments) == 1 and compacted.manifest["counts"]["deleted"] == 0
    # BM25 statistics lose the removed paper only now (as Lucene's do at a merge): scores move
    # a little, the papers found do not.
    after = _results(index_copy, embedder)
    assert [[p for p, _ in q] for q in after] == [[p for p, _ in q] for q in before]


def test_a_truncated_file_is_named_when_the_index_is_opened(index_copy: Path) -> None:
    target = index_copy / "segments" / "s000001" / "vectors.npy"
    target.write_bytes(target.read_bytes()[:100])
    with pytest.raises(
        IndexCorruptError, match=r"vectors\.npy: 100 bytes, its segment\.json says \d+"
    ):
        open_index(index_copy)


def test_an_altered_file_is_named_when_the_index_is_opened(index_copy: Path) -> None:
    target = index_copy / "segments" / "s000001" / "chunk_paper.npy"
    data = bytearray(target.read_bytes())
    data[-1] ^= 0xFF
    target.write_bytes(bytes(data))
    with pytest.raises(IndexCorruptError, match=r"chunk_paper\.npy: content differs"):
        open_index(index_copy)
    # Large indexes check sizes only when opened; `index verify` reads every byte.
    open_index(index_copy, hashes=False)
    with pytest.raises(IndexCorruptError, match=r"chunk_paper\.npy: content differs"):
        open_index(index_copy, hashes=True)


def test_a_missing_file_segment_or_manifest_is_named(index_copy: Path) -> None:
    segment = index_copy / "segments" / "s000001"
    (segment / "papers.sqlite").unlink()
    with pytest.raises(IndexCorruptError, match=r"papers\.sqlite: missing"):
        open_index(index_copy)
    (segment / "segment.json").unlink()
    with pytest.raises(IndexCorruptError, match=r"segment\.json: missing"):
        open_index(index_copy)
    (IndexDir(index_copy).current() / "manifest.json").unlink()
    with pytest.raises(IndexCorruptError, match=r"manifest\.json: missing"):
        open_index(index_copy)


def test_a_directory_without_an_index_says_how_to_build_one(tmp_path: Path) -> None:
    with pytest.raises(IndexNotFoundError, match="abstractqa index add"):
        open_index(tmp_path)
