"""Build rate with the real model: ``index add`` of N synthetic abstracts through the real CLI,
once embedding in process (this machine's CPU) and once on a Ray cluster (``--ray``), and
what those measured rates give for 100 k / 1 M / 10 M abstracts.

The corpus is bench_corpus_scale.py's (recombined CISI and CACM sentences, ~1 KB each). The Ray
cluster is a local one the benchmark starts (``ray start --head`` on 127.0.0.1 with
``--ray-cpus`` CPUs, no dashboard): its actors run on this machine's cores, so it measures the
Ray path's cost against the local one, not a larger cluster. A GPU is used only when the
machine has one (``ABSTRACTQA_EMBED_DEVICE=auto``); the results say which device ran.

Estimates are linear in the number of abstracts from each measured rate (the wall clock of the
whole ``index add``, embedder included) and say so; the per-segment vector structure (HNSW up
to 300 k vectors, IVF-SQ8 above) and merges are included only as far as the measured build
had them. Writes ``benchmarks/results/build_rate.json``.

    .venv/bin/python benchmarks/bench_build_rate.py [--papers 1000] [--ray-cpus 2] [--no-ray]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, ClassVar

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import write_results
from _server import free_port
from bench_corpus_scale import cli, texts_embedded, timed, waiting_share, write_corpus

SIZES = (100_000, 1_000_000, 10_000_000)


def build(corpus: Path, index_dir: Path, env: dict[str, str], *extra: str) -> dict[str, Any]:
    run = timed(cli("index", "add", corpus, "--index-dir", index_dir, *extra), env)
    papers = sum(1 for _ in corpus.open(encoding="utf-8"))
    chunks = texts_embedded(run["summary"])
    return {
        **run,
        "papers": papers,
        "chunks": chunks,
        "papers_per_s": papers / run["seconds"],
        "chunks_per_s": chunks / run["seconds"],
        "waiting_on_embedder": waiting_share(run["summary"]),
        "estimates_hours": {str(n): n / (papers / run["seconds"]) / 3600 for n in SIZES},
    }


class LocalRay:
    """``ray start --head`` on loopback in its own temporary folder, stopped on exit."""

    # For the head and for every process that joins it: no token file, loopback addresses.
    ENV: ClassVar[dict[str, str]] = {
        "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
        "RAY_AUTH_MODE": "disabled",
    }
    RAY = str(Path(sys.executable).with_name("ray"))

    def __init__(self, cpus: int) -> None:
        self.port = free_port()
        # Short: Ray's unix sockets live under it (a path limit of 107 bytes).
        self.temp_dir = tempfile.mkdtemp(prefix="ray", dir="/tmp")
        self.env = dict(os.environ, **self.ENV)
        self.cpus = cpus

    def __enter__(self) -> str:
        subprocess.run(
            [
                self.RAY,
                "start",
                "--head",
                f"--port={self.port}",
                "--node-ip-address=127.0.0.1",
                f"--num-cpus={self.cpus}",
                "--num-gpus=0",
                "--include-dashboard=false",
                f"--temp-dir={self.temp_dir}",
                "--object-store-memory=400000000",
            ],
            env=self.env,
            check=True,
            capture_output=True,
        )
        return f"127.0.0.1:{self.port}"

    def __exit__(self, *_: object) -> None:
        subprocess.run([self.RAY, "stop", "--force"], env=self.env, capture_output=True)
        shutil.rmtree(self.temp_dir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--papers", type=int, default=1000)
    parser.add_argument("--ray-cpus", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--no-ray", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="abstractqa-build-rate-"))
    try:
        corpus = write_corpus(work / "corpus.jsonl", args.papers, seed=3)
        env = dict(os.environ, ABSTRACTQA_EMBED_DEVICE="auto")
        metrics: dict[str, Any] = {"local": build(corpus, work / "local", env)}
        if not args.no_ray:
            with LocalRay(args.ray_cpus) as address:
                ray_env = dict(env, **LocalRay.ENV)
                metrics["ray"] = build(corpus, work / "ray", ray_env, f"--ray={address}")
                metrics["ray"]["ray_cpus"] = args.ray_cpus
    finally:
        shutil.rmtree(work, ignore_errors=True)
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    params = {
        "papers": args.papers,
        "ray_cpus": None if args.no_ray else args.ray_cpus,
        "device": device,
    }
    path = write_results("build_rate", params, metrics)
    for name, run in metrics.items():
        print(f"{name}: {run['papers_per_s']:.1f} papers/s, {run['chunks_per_s']:.1f} chunks/s")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
