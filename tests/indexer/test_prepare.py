"""Adds whose papers are prepared in worker processes (indexer/prepare.py), on the real model."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from indexer.builder import Indexer
from indexer.embedders.base import Embedder
from indexer.index import IndexVersion, open_index
from indexer.progress import Progress
from tests.fakes.embedders import CountingEmbedder, tokenizer_processes


def _build(index_dir: Path, corpus: Path, embedder: Embedder, settings_for, workers: int) -> str:
    log = io.StringIO()
    settings = settings_for(index_dir, ingest_workers=workers, ingest_block_papers=8)
    Indexer(settings, embedder=embedder, progress=Progress(log, interactive=False)).add([corpus])
    return log.getvalue()


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_a_two_worker_build_writes_the_same_segments_as_a_one_worker_build(
    tmp_path: Path, corpus_path: Path, embedder: Embedder, settings_for
) -> None:
    serial_log = _build(tmp_path / "one", corpus_path, embedder, settings_for, workers=1)
    parallel_log = _build(tmp_path / "two", corpus_path, embedder, settings_for, workers=2)

    assert "worker processes" not in serial_log
    assert "preparing papers in 2 worker processes" in parallel_log
    one, two = _files(tmp_path / "one" / "segments"), _files(tmp_path / "two" / "segments")
    assert sorted(one) == sorted(two)
    assert [name for name in one if one[name] != two[name]] == []
    manifests = [
        json.loads((tmp_path / d / "versions" / "v000001" / "manifest.json").read_text())
        for d in ("one", "two")
    ]
    for manifest in manifests:  # when each was written and read differs, nothing else
        manifest.pop("created")
        for source in manifest["sources"].values():
            source.pop("ingested")
    assert manifests[0] == manifests[1]
    assert manifests[0]["counts"]["papers"] == 54


def test_an_add_of_one_block_starts_no_worker_process(
    tmp_path: Path, corpus_path: Path, embedder: Embedder, settings_for
) -> None:
    log = io.StringIO()
    settings = settings_for(tmp_path / "index", ingest_workers=2, ingest_block_papers=100)
    report = Indexer(settings, embedder=embedder, progress=Progress(log, interactive=False)).add(
        [corpus_path]
    )
    assert report.added == 54
    assert "worker processes" not in log.getvalue()


def _descendants(pid: int) -> set[int]:
    found: set[int] = set()
    pending = [pid]
    while pending:
        parent = pending.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                children = {int(c) for c in (task / "children").read_text().split()}
            except FileNotFoundError:
                continue
            pending += list(children - found)
            found |= children
    return found


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_an_add_killed_with_sigkill_leaves_no_worker_process_behind(
    tmp_path: Path, corpus_index: IndexVersion
) -> None:
    source = tmp_path / "papers.jsonl"
    with source.open("w") as out:
        for n in range(12):
            for p in corpus_index.papers.values():
                out.write(json.dumps({"title": f"{p.title} ({n})", "abstract": p.abstract}) + "\n")
    env = dict(os.environ, ABSTRACTQA_INGEST_WORKERS="2", ABSTRACTQA_INGEST_BLOCK_PAPERS="8")
    command = [sys.executable, "-m", "service.cli", "index", "add", str(source)]
    add = subprocess.Popen(
        [*command, "--index-dir", str(tmp_path / "index")],
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    assert add.stderr is not None
    for line in add.stderr:
        if "preparing papers in 2 worker processes" in line:
            break
    workers = _descendants(add.pid)
    started = time.monotonic()
    while len(workers) < 3 and time.monotonic() < started + 60:  # the pool forks as it goes
        time.sleep(0.05)
        workers = _descendants(add.pid)
    os.kill(add.pid, signal.SIGKILL)
    add.wait()

    assert len(workers) >= 3  # the forkserver and its two workers
    deadline = time.monotonic() + 30  # how long to look, not a speed being checked
    while any(_running(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [pid for pid in workers if _running(pid)] == []


def test_blocks_are_embedded_together_up_to_the_texts_the_embedder_wants_per_call(
    tmp_path: Path, corpus_path: Path, embedder: Embedder, settings_for
) -> None:
    built = {}
    for call_texts in (0, 40):
        counting = CountingEmbedder(embedder, call_texts=call_texts)
        index_dir = tmp_path / f"calls-{call_texts}"
        _build(index_dir, corpus_path, counting, settings_for, workers=1)
        built[call_texts] = (counting.document_calls, open_index(index_dir))
    per_block, per_block_index = built[0]
    gathered, gathered_index = built[40]
    # 54 papers in blocks of 8: one call per block, or blocks gathered until 40 chunks.
    assert len(per_block) == 7 and sum(per_block) == sum(gathered)
    assert all(size >= 40 for size in gathered[:-1]) and len(gathered) < len(per_block)
    ids = list(range(per_block_index.n_live_chunks))
    assert gathered_index.n_live_chunks == len(ids)
    assert gathered_index.chunks.many(ids) == per_block_index.chunks.many(ids)
    vectors = gathered_index.vectors.vectors_of(ids)
    np.testing.assert_allclose(vectors, per_block_index.vectors.vectors_of(ids), atol=1e-5)


def test_a_build_releases_the_embedders_tokenizer_processes(
    tmp_path: Path, corpus_path: Path, settings_for
) -> None:
    from indexer.config import BUNDLED_MODEL
    from indexer.embedders.bert import bert_layout
    from indexer.embedders.local import TorchBertEmbedder, _resolve

    layout = bert_layout(_resolve(BUNDLED_MODEL)[0])
    assert layout is not None
    embedder = TorchBertEmbedder(
        BUNDLED_MODEL, layout, document_batch_size=16, tokenizer_pool="processes"
    )
    before = set(tokenizer_processes())
    calls = CountingEmbedder(embedder)
    _build(tmp_path / "index", corpus_path, calls, settings_for, workers=1)
    assert max(calls.document_calls) > 16  # several batches: the pool was started
    assert set(tokenizer_processes()) <= before
