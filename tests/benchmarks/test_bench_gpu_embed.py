"""benchmarks/bench_gpu_embed.py runs with torch, tokenizers, safetensors and numpy alone:
here on CPU, from the exported half-precision model, as it runs on a CUDA machine."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmarks._results import read_results
from indexer.embedders.base import Embedder
from indexer.embedders.bert import bert_layout
from indexer.embedders.local import TorchBertEmbedder

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "bench_gpu_embed.py"
# What the CUDA machine lacks: the bench must not import any of it.
ABSENT_THERE = ("faiss", "llama_index", "bm25s", "pydantic", "pydantic_settings", "fastapi")


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("export") / "minilm-fp16"
    subprocess.run(
        [sys.executable, str(SCRIPT), "--export-model", str(target)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return target


def test_the_exported_model_is_small_enough_to_carry_and_embeds_like_the_bundled_one(
    exported: Path, float32_embedder: Embedder
) -> None:
    size = sum(path.stat().st_size for path in exported.rglob("*") if path.is_file())
    assert size < 48 * 2**20  # the device machine takes 64 MB per call, the checkout included
    layout = bert_layout(exported)
    assert layout is not None
    texts = ["Attention is all you need.", "word " * 400, ""]
    ours = TorchBertEmbedder(str(exported), layout).embed_documents(texts)
    assert (ours * float32_embedder.embed_documents(texts)).sum(axis=1).min() > 0.9999


def test_the_bench_writes_a_results_file_naming_the_device_without_our_other_dependencies(
    exported: Path, tmp_path: Path
) -> None:
    out = tmp_path / "gpu_embed_cpu.json"
    command = [
        sys.executable,
        "-X",
        "importtime",
        str(SCRIPT),
        "--model-dir",
        str(exported),
        "--device",
        "cpu",
        "--texts",
        "40",
        "--dtypes",
        "auto,float32",
        "--repeat",
        "1",
        "--batch-size",
        "8",
        "--block-texts",
        "24",  # two calls of three and two batches, as index add calls once per block
        "--reference-texts",
        "16",
        "--skip-sentence-transformers",
        "--out",
        str(out),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]

    imported = {line.split("|")[-1].strip() for line in done.stderr.splitlines() if "|" in line}
    top_level = {name.split(".")[0] for name in imported}
    assert "torch" in top_level and "tokenizers" in top_level
    assert not top_level & set(ABSENT_THERE)
    document = read_results(out.stem, out.parent)
    metrics = document["metrics"]
    assert metrics["device"].startswith("cpu")
    assert metrics["texts"] == 40 and metrics["target_met"] is False
    assert set(metrics["precisions"]) == {"auto", "float32"}
    for result in metrics["precisions"].values():
        # On CPU auto means float32: the CPU reference path exactly.
        assert result["document_dtype"] == "float32" and result["within_cosine"] is True
        assert result["min_cosine_to_cpu_float32"] > 0.99999
        assert np.isfinite(result["texts_per_s"]) and result["texts_per_s"] > 0
