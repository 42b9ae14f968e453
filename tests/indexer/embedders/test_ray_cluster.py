"""Building on a Ray cluster: a real local Ray (two CPU workers on 127.0.0.1, no dashboard)
runs the embedding actors; the index it builds equals a local build of the same corpus."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from indexer.builder import Indexer
from indexer.checkpoint import EmbedCheckpoint, text_key
from indexer.config import IndexerSettings
from indexer.embedders.base import Embedder
from indexer.embedders.factory import build_document_embedder, embedder_name
from indexer.embedders.ray_cluster import GPU_ACTOR_CPUS, actor_count
from indexer.errors import EmbedderError
from indexer.index import IndexVersion, open_index
from indexer.retrieval import Retriever
from indexer.title_vectors import has_title_vector

QUERIES = (
    "How can a model learn to memorize at test time?",
    "multilingual named entity recognition for African languages",
    "mixture of experts routing",
)
LOCAL_NAME = embedder_name(IndexerSettings())


@pytest.fixture(scope="module")
def ray_address() -> Iterator[str]:
    """A two-CPU Ray on loopback for this module; its GCS address."""
    saved = dict(os.environ)
    # Read when Ray is imported: off, Ray binds to the loopback address instead of the
    # machine's. Token auth would write ~/.ray/auth_token; nothing but loopback can reach it.
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    os.environ["RAY_AUTH_MODE"] = "disabled"
    import ray

    # Short: Ray's unix sockets live under it (a path limit of 107 bytes).
    temp_dir = tempfile.mkdtemp(prefix="ray", dir="/tmp")
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        object_store_memory=300 * 2**20,
        _node_ip_address="127.0.0.1",
        _temp_dir=temp_dir,
        configure_logging=False,
    )
    try:
        address = ray.get_runtime_context().gcs_address
        assert address.startswith("127.0.0.1:")
        yield address
    finally:
        ray.shutdown()
        os.environ.clear()
        os.environ.update(saved)
        shutil.rmtree(temp_dir, ignore_errors=True)


def _assert_same_index(local: IndexVersion, built: IndexVersion, embedder: Embedder) -> None:
    assert built.embedder_name == local.embedder_name == LOCAL_NAME
    assert sorted(built.papers) == sorted(local.papers)
    for paper_id in sorted(local.papers):
        a, b = local.chunks_of(paper_id), built.chunks_of(paper_id)
        assert [c.text for c in a] == [c.text for c in b]
        np.testing.assert_allclose(
            built.vectors.vectors_of([c.chunk_id for c in b]),
            local.vectors.vectors_of([c.chunk_id for c in a]),
            rtol=0,
            atol=1e-6,
        )
    for query in QUERIES:
        expected = Retriever(local, embedder).search(query, k=10)
        got = Retriever(built, embedder).search(query, k=10)
        assert [h.paper.paper_id for h in got] == [h.paper.paper_id for h in expected]
        np.testing.assert_allclose(
            [h.score for h in got], [h.score for h in expected], rtol=0, atol=1e-5
        )


def test_an_index_embedded_on_ray_equals_a_local_build(
    ray_address: str,
    corpus_path: Path,
    corpus_index: IndexVersion,
    float32_embedder: Embedder,
    tmp_path: Path,
) -> None:
    settings = IndexerSettings(index_dir=tmp_path / "index", embed_executor="ray")
    embedder = build_document_embedder(settings)
    assert embedder.name == LOCAL_NAME

    report = Indexer(settings, embedder=embedder).add([corpus_path])

    # Every chunk and every title of a paper with an abstract (indexer/title_vectors.py).
    titled = sum(has_title_vector(p.title, p.sentences) for p in corpus_index.papers.values())
    assert report.texts_embedded == corpus_index.n_live_chunks + titled
    assert 0 < report.embed_seconds <= report.seconds
    # The service's way of opening it: the local embedder's name is expected.
    built = open_index(tmp_path / "index", expected_embedder=LOCAL_NAME)
    _assert_same_index(corpus_index, built, float32_embedder)


def test_index_add_with_ray_resumes_a_killed_build_and_writes_the_local_index(
    ray_address: str,
    corpus_path: Path,
    corpus_index: IndexVersion,
    float32_embedder: Embedder,
    tmp_path: Path,
) -> None:
    # What a build killed half-way leaves: the vectors of the first half of the chunks.
    index_dir = tmp_path / "index"
    chunks = sorted(corpus_index.chunks.values(), key=lambda c: c.chunk_id)
    done = chunks[: len(chunks) // 2]
    key = hashlib.sha256(LOCAL_NAME.encode()).hexdigest()[:16]
    checkpoint = EmbedCheckpoint(index_dir / "checkpoint" / key, corpus_index.dimension)
    checkpoint.append(
        [text_key(c.text) for c in done],
        corpus_index.vectors.vectors_of([c.chunk_id for c in done]),
    )
    checkpoint.close()

    command = [sys.executable, "-m", "service.cli", "index", "add", str(corpus_path)]
    command += ["--index-dir", str(index_dir), "--ray", ray_address]
    run = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)

    assert run.returncode == 0, run.stderr
    assert f"resuming: {len(done)} vectors already embedded" in run.stderr
    titled = sum(has_title_vector(p.title, p.sentences) for p in corpus_index.papers.values())
    fresh = len(chunks) - len(done) + titled
    embedded = f"texts embedded: {fresh} \\(\\+{len(done)} resumed\\)"
    assert re.search(rf"{embedded} at \d+ texts/s;", run.stdout), run.stdout
    assert re.search(r"\d+% waiting on the embedder, \d+% in our own stages\)", run.stdout)
    _assert_same_index(corpus_index, open_index(index_dir), float32_embedder)
    assert not any((index_dir / "checkpoint").iterdir())


def test_index_add_with_an_unreachable_ray_address_fails_naming_it(
    corpus_path: Path, tmp_path: Path
) -> None:
    command = [sys.executable, "-m", "service.cli", "index", "add", str(corpus_path)]
    command += ["--index-dir", str(tmp_path / "index"), "--ray", "127.0.0.1:9"]
    run = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)

    assert run.returncode == 1
    assert "error: cannot connect to the Ray cluster at '127.0.0.1:9'" in run.stderr
    assert not (tmp_path / "index" / "CURRENT").exists()


def test_a_file_taken_for_the_ray_address_is_a_usage_error(
    corpus_path: Path, tmp_path: Path
) -> None:
    command = [sys.executable, "-m", "service.cli", "index", "add", "--ray", str(corpus_path)]
    command += [str(corpus_path), "--index-dir", str(tmp_path / "index")]
    run = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)

    assert run.returncode == 2
    assert f"error: --ray took {str(corpus_path)!r} for the Ray address" in run.stderr
    assert not (tmp_path / "index").exists()


def test_actors_are_counted_by_the_cpus_each_reserves_and_too_few_are_refused(
    ray_address: str,
) -> None:
    def count(**ray: object) -> int:
        return actor_count(IndexerSettings(**{f"ray_{k}": v for k, v in ray.items()}))

    assert count() == 2  # one CPU each on the two-CPU cluster
    assert count(cpus_per_actor=2) == 1
    assert count(actors=3, cpus_per_actor=2) == 3  # fixed: not counted
    with pytest.raises(EmbedderError, match=r"too few resources .*\(3 CPU each"):
        count(cpus_per_actor=3)
    # A GPU actor reserves GPU_ACTOR_CPUS CPUs and a GPU; this cluster has neither enough.
    with pytest.raises(EmbedderError, match=rf"{GPU_ACTOR_CPUS} CPU and 1 GPU each"):
        count(gpus_per_actor=1)
