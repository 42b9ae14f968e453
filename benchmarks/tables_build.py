"""Tables of building an index: build time (bench_build_rate) and GPU bulk embedding
(bench_gpu_embed)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import read_results
from tables_format import Document, duration, f1, hours, size, table

SIZES = (100_000, 1_000_000, 10_000_000)


def build_rate(doc: Document) -> str:
    labels = {
        "local": f"in process ({doc['params']['device']})",
        "ray": f"Ray, {doc['params']['ray_cpus']} CPU actors on this machine",
    }
    rows = [
        [
            labels[name],
            f"{run['papers']:,} in {f1(run['seconds'])} s",
            f1(run["papers_per_s"]),
            f1(run["chunks_per_s"]),
            f"{100 * run['waiting_on_embedder']:.0f}%",
            *(hours(h) for h in run["estimates_hours"].values()),
        ]
        for name, run in doc["metrics"].items()
    ]
    sizes = next(iter(doc["metrics"].values()))["estimates_hours"]
    header = ["embedding", "measured: papers, wall", "papers/s", "chunks/s"]
    header += ["waiting on the embedder"]
    header += [f"{size(int(n))} (extrapolated)" for n in sizes]
    return table(header, rows)


def _gpu_row(label: str, run: dict[str, Any]) -> list[str]:
    return [
        label,
        run["document_dtype"],
        f"{run['batch_size']:,}",
        f"{run['tokenizer_workers']} {run['tokenizer_pool']}",
        f"{run['block_texts']:,}",
        f"{run['texts_per_s']:,.0f}",
        f"{run['min_cosine_to_cpu_float32']:.7f}",
        "yes" if run["within_cosine"] else "no",
    ]


def _all_runs(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """Every configuration a gpu_embed run measured: the precisions, then the sweep."""
    return [*metrics["precisions"].values(), *metrics.get("sweep", [])]


def _index_add_runs(doc: Document) -> list[dict[str, Any]]:
    """The runs within the cosine bound that call the embedder as index add does (texts per
    call): the ones the target counts."""
    block = doc["params"]["block_texts"]
    return [
        run
        for run in _all_runs(doc["metrics"])
        if run["within_cosine"] and run["block_texts"] == block
    ]


def gpu_embed_runs(doc: Document) -> str:
    metrics = doc["metrics"]
    rows = [_gpu_row(f"{name}", run) for name, run in metrics["precisions"].items()]
    rows += [_gpu_row("sweep", run) for run in metrics.get("sweep", [])]
    header = ["precision asked", "ran in", "batch", "tokenizer workers", "texts per call"]
    header += ["texts/s (median of runs)", "least cosine to CPU float32", "within 0.9999"]
    return table(header, rows)


def gpu_embed_stages(doc: Document) -> str:
    metrics = doc["metrics"]
    stages = metrics["stages"]
    best = max(_index_add_runs(doc), key=lambda run: run["texts_per_s"])
    rows = [
        [
            metrics["device"],
            f"{stages['tokenize_texts_per_s']:,.0f} on {stages['tokenizer_workers']} "
            f"{stages['tokenizer_pool']}, {stages['tokenize_texts_per_s_one_worker']:,.0f} on one",
            f"{stages['rust_tokenize_texts_per_s']:,.0f} on {stages['tokenizer_workers']} "
            f"threads, {stages['rust_tokenize_texts_per_s_one_thread']:,.0f} on one",
            f"{stages['forward_texts_per_s']:,.0f} ({stages['document_dtype']}, "
            f"batch {stages['batch_size']:,})",
            f"{best['texts_per_s']:,.0f} ({best['document_dtype']}, batch {best['batch_size']:,})",
            f"{metrics['target_texts_per_s']:,}: {'met' if metrics['target_met'] else 'not met'}",
        ]
    ]
    header = ["device", "tokenization alone (texts/s)", "Rust tokenizer alone (texts/s)"]
    header += ["forward pass alone (texts/s)", "whole path as index add calls it, best", "target"]
    return table(header, rows)


def gpu_embed_estimates(doc: Document) -> str:
    """Embedding time alone at the measured rates, in papers through build_rate's chunks per
    paper (its in-process run): an extrapolation, labelled so."""
    build = read_results("build_rate", Path(doc["_results_dir"]))
    local = build["metrics"]["local"]
    chunks_per_paper = local["chunks"] / local["papers"]
    metrics = doc["metrics"]
    device = metrics["device"].split(": ", 1)[-1]  # "cuda: NVIDIA H200" -> "NVIDIA H200"
    runs: dict[int, dict[str, Any]] = {}
    for run in _index_add_runs(doc):
        best = runs.get(run["batch_size"])
        if best is None or run["texts_per_s"] > best["texts_per_s"]:
            runs[run["batch_size"]] = run
    rows = [
        [
            f"{device}, {run['document_dtype']}, batch {run['batch_size']:,}",
            f"{run['texts_per_s']:,.0f}",
            f"{run['texts_per_s'] / chunks_per_paper:,.0f}",
            *(duration(n * chunks_per_paper / run["texts_per_s"]) for n in SIZES),
        ]
        for run in sorted(runs.values(), key=lambda run: run["batch_size"])
    ]
    header = ["embedding", "chunks/s (measured)", f"papers/s ({chunks_per_paper:.2f} chunks each)"]
    header += [f"{size(n)} (extrapolated)" for n in SIZES]
    return table(header, rows)
