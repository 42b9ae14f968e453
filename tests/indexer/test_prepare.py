"""Adds whose papers are prepared in worker processes (indexer/prepare.py), on the real model."""

from __future__ import annotations

import io
import json
from pathlib import Path

from indexer.builder import Indexer
from indexer.embedders.base import Embedder
from indexer.progress import Progress


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
