"""A bulk build killed with SIGKILL and run again with the same arguments resumes: what was
embedded is not embedded again (at most the batch in flight), and the result equals an
uninterrupted build. The embeddings come from a real OpenAI-compatible server on loopback,
which counts every text it embeds."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from indexer.index import open_index
from tests.fakes.openai_server import FakeOpenAIServer

BATCH = 8


def _corpus(path: Path, corpus_index, copies: int = 3) -> Path:  # type: ignore[no-untyped-def]
    with path.open("w") as out:
        for n in range(copies):
            for paper in sorted(corpus_index.papers.values(), key=lambda p: p.paper_id):
                row = {"title": f"{paper.title} (copy {n})", "abstract": paper.abstract}
                out.write(json.dumps(row) + "\n")
    return path


def _add(server: FakeOpenAIServer, index_dir: Path, source: Path) -> subprocess.Popen[str]:
    env = dict(
        os.environ,
        ABSTRACTQA_EMBED_MODE="openai",
        ABSTRACTQA_EMBED_MODEL="fake-embedder",
        ABSTRACTQA_EMBED_BASE_URL=server.base_url,
        ABSTRACTQA_EMBED_BATCH_SIZE=str(BATCH),
    )
    command = [sys.executable, "-m", "service.cli", "index", "add", str(source)]
    command += ["--index-dir", str(index_dir)]
    return subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _texts_embedded(server: FakeOpenAIServer) -> list[str]:
    """Chunk texts sent to the server (the embedder's one-text dimension probe left out)."""
    texts = [t for r in server.requests_to("/v1/embeddings") for t in r.json["input"]]
    return [t for t in texts if t != "dimension probe"]


def test_a_killed_build_resumes_without_embedding_its_work_again(
    corpus_index, tmp_path: Path
) -> None:
    source = _corpus(tmp_path / "papers.jsonl", corpus_index)
    with FakeOpenAIServer(dimension=32) as server:
        whole = _add(server, tmp_path / "whole", source)
        assert whole.wait(300) == 0, whole.stderr.read() if whole.stderr else ""
        unique = set(_texts_embedded(server))
        server.reset()

        server.delay_next(0.05, times=10_000)
        killed = _add(server, tmp_path / "resumed", source)
        deadline = time.monotonic() + 120
        while len(server.requests_to("/v1/embeddings")) < len(unique) // BATCH // 2:
            assert killed.poll() is None, "the build ended before it was killed"
            assert time.monotonic() < deadline
            time.sleep(0.01)
        os.kill(killed.pid, signal.SIGKILL)
        killed.wait()
        first_run = _texts_embedded(server)
        assert not (tmp_path / "resumed" / "CURRENT").exists()

        server.reset()
        rerun = _add(server, tmp_path / "resumed", source)
        out, err = rerun.communicate(timeout=300)
        assert rerun.returncode == 0, err
        second_run = _texts_embedded(server)

    assert "resuming:" in err
    assert f"(+{len(unique) - len(set(second_run))} resumed)" in out
    # Work done before the kill is not redone, except at most the batch that was in flight.
    assert len(first_run) + len(second_run) <= len(unique) + BATCH
    assert set(first_run) | set(second_run) == unique
    whole_index, resumed = open_index(tmp_path / "whole"), open_index(tmp_path / "resumed")
    assert sorted(whole_index.papers) == sorted(resumed.papers)
    for paper_id in sorted(whole_index.papers)[:40]:
        a, b = whole_index.chunks_of(paper_id), resumed.chunks_of(paper_id)
        assert [c.text for c in a] == [c.text for c in b]
        np.testing.assert_array_equal(
            whole_index.vectors.vectors_of([c.chunk_id for c in a]),
            resumed.vectors.vectors_of([c.chunk_id for c in b]),
        )
    assert not (tmp_path / "resumed" / "checkpoint").exists() or not any(
        (tmp_path / "resumed" / "checkpoint").iterdir()
    )
