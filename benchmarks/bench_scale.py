"""Vector search alone at scale: exact (flat) against HNSW and IVF-SQ8, on synthetic 384-d vectors.

The vectors come from ``benchmarks/scale_data.py``: unit vectors drawn around 4,096 cluster
centres with an anisotropic noise spectrum, matched to real MiniLM embeddings; queries are fresh
draws from the same mixture. Every kind is built with the indexer's own segment code
(``indexer.ann.build_ann``: nothing for flat, ``IndexHNSWFlat`` with M and efConstruction from
``IndexerSettings``, or an ``IndexIVFScalarQuantizer`` of 8-bit codes) and searched through
``indexer.ann.search_segment``, the serving path of one segment (flat: exact inner products;
HNSW: efSearch = max(setting, k); IVF-SQ8: nprobe lists, candidates re-ranked by exact vectors).

Per size it measures:

* build: seconds to add all vectors (FAISS uses ``--build-threads`` OpenMP threads, default
  all cores, as an indexing run would); sizes up to 100,000 are built 3 times (median), larger
  ones once;
* memory: ``faiss.serialize_index`` bytes (the on-disk size) and the RSS growth of the process
  while building (includes what serialising leaves out, e.g. IndexIDMap2's reverse id map);
* single-query latency p50/p99 with 1 FAISS thread, one query per call as a serving process
  answering concurrent requests sees it (each request's search runs on its own thread; FAISS
  would parallelise over the queries of one call, never within a single query), at k=10 and at
  the retriever's k (``--retrieval-k``: depth 100 x chunk factor, 4 on the bundled corpus);
* HNSW recall@k against the exact top-k of the flat index, for efSearch in ``--ef-search``
  (at k=10) and at the default efSearch (at both k).

    .venv/bin/python benchmarks/bench_scale.py [--sizes 10000,100000,1000000] [--queries 500]
        [--results-dir benchmarks/results] [--merge] [--report-only]

Writes ``benchmarks/results/scale.json`` (see benchmarks/_results.py; while it runs, the sizes
measured so far are kept in ``scale.progress.json`` beside it). ``--calibrate BEIR_DIR`` writes
``benchmarks/results/scale_calibration.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import faiss
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import percentiles
from _results import RESULTS_DIR, ResultsError, read_results, write_results
from scale_data import DIM, draw, make_mixture, neighbourhood_stats
from scale_report import markdown, plot

from indexer.ann import AnnParams, VectorIndexKind, build_ann, search_segment
from indexer.config import IndexerSettings

ROOT = Path(__file__).resolve().parent.parent
REPEAT_UP_TO = 100_000  # larger builds (the 1M HNSW one takes tens of minutes) run once
WARMUP_QUERIES = 20


def rss_bytes() -> int:
    with open("/proc/self/statm", encoding="ascii") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class Store:
    """One segment's vectors and vector structure, searched as the service searches it."""

    def __init__(self, vectors: np.ndarray, ann: Any, params: AnnParams) -> None:
        self.vectors, self.ann, self.params = vectors, ann, params

    @property
    def ef_search(self) -> int:
        return self.params.hnsw_ef_search

    @ef_search.setter
    def ef_search(self, value: int) -> None:
        self.params = dataclasses.replace(self.params, hnsw_ef_search=value)

    def set_nprobe(self, value: int) -> None:
        self.params = dataclasses.replace(self.params, ivf_nprobe=value)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        if self.ann is None and len(queries) > 1:  # exact ground truth, batched
            return faiss.knn(queries, self.vectors, k, metric=faiss.METRIC_INNER_PRODUCT)
        found = [
            search_segment(self.vectors, self.ann, q, k, None, None, self.params) for q in queries
        ]
        width = min(len(ids) for _, ids in found)
        return (
            np.array([s[:width] for s, _ in found]),
            np.array([i[:width] for _, i in found]),
        )

    def nbytes(self) -> int:
        return (
            int(faiss.serialize_index(self.ann).nbytes)
            if self.ann is not None
            else self.vectors.nbytes
        )


def build(kind: VectorIndexKind, vectors: np.ndarray, s: IndexerSettings) -> Store:
    params = AnnParams.from_settings(s.index)
    return Store(vectors, build_ann(vectors, kind, params), params)


def timed_builds(
    kind: VectorIndexKind, vectors: np.ndarray, s: IndexerSettings, threads: int
) -> tuple[Store, dict[str, Any]]:
    """Build ``kind`` (repeatedly for small sizes); the first build's RSS growth is reported."""
    faiss.omp_set_num_threads(threads)
    repeats = 3 if len(vectors) <= REPEAT_UP_TO else 1
    seconds: list[float] = []
    cpu_seconds: list[float] = []
    store: Store | None = None
    rss_delta = 0
    for i in range(repeats):
        del store  # the previous build is freed before the next one is timed
        before = rss_bytes()
        started, cpu = time.perf_counter(), time.process_time()
        store = build(kind, vectors, s)
        seconds.append(time.perf_counter() - started)
        cpu_seconds.append(time.process_time() - cpu)
        if i == 0:
            rss_delta = rss_bytes() - before
    assert store is not None
    size = store.nbytes()
    return store, {
        "build_s": statistics.median(seconds),
        "build_runs_s": seconds,
        "build_cpu_s": statistics.median(cpu_seconds),
        "index_bytes": size,
        "rss_delta_bytes": rss_delta,
    }


def latencies(store: Store, queries: np.ndarray, k: int) -> tuple[dict, np.ndarray]:
    """Per-query latency percentiles (ms) with one FAISS thread, and the ids found; under
    "cpu", the same for the CPU time of the searching thread, which time spent waiting for a
    core on a busy machine does not inflate."""
    faiss.omp_set_num_threads(1)
    for q in queries[:WARMUP_QUERIES]:
        store.search(q[np.newaxis, :], k)
    samples: list[float] = []
    cpu_samples: list[float] = []
    found = np.full((len(queries), k), -1, dtype=np.int64)
    for i, q in enumerate(queries):
        started, cpu = time.perf_counter(), time.thread_time()
        _, ids = store.search(q[np.newaxis, :], k)
        samples.append((time.perf_counter() - started) * 1000)
        cpu_samples.append((time.thread_time() - cpu) * 1000)
        found[i, : ids.shape[1]] = ids[0]
    return {**percentiles(samples), "cpu": percentiles(cpu_samples)}, found


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    k = truth.shape[1]
    hits = sum(len(np.intersect1d(f[:k], t)) for f, t in zip(found, truth, strict=True))
    return hits / truth.size


def measure_size(
    n: int, queries: np.ndarray, args: argparse.Namespace, log: Callable[[str], None]
) -> dict[str, Any]:
    s = IndexerSettings().index
    mixture = make_mixture(args.seed)
    vectors = draw(mixture, n, seed=args.seed + 1)
    ks = sorted({10, args.retrieval_k})
    result: dict[str, Any] = {
        "n": n,
        "measured": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "load_before": os.getloadavg(),
        "queries": len(queries),
    }

    flat, result["flat"] = timed_builds("flat", vectors, s, args.build_threads)
    faiss.omp_set_num_threads(args.build_threads)
    top, truth = flat.search(queries, max(ks))  # exact ground truth, batched
    result["data"] = neighbourhood_stats(vectors, top)
    result["flat"]["latency_ms"] = {str(k): latencies(flat, queries, k)[0] for k in ks}
    log(f"{n}: flat {result['flat']['build_s']:.2f} s, p50 {result['flat']['latency_ms']}")
    del flat

    if "hnsw" in args.kinds:
        hnsw, result["hnsw"] = timed_builds("hnsw", vectors, s, args.build_threads)
        log(f"{n}: hnsw built in {result['hnsw']['build_s']:.1f} s")
        sweep = []
        for ef in args.ef_search:
            hnsw.ef_search = ef
            stats, found = latencies(hnsw, queries, 10)
            sweep.append(
                {"ef_search": ef, "latency_ms": stats, "recall": recall(found, truth[:, :10])}
            )
            log(
                f"{n}: hnsw ef {ef}: p50 {stats['p50']:.3f} ms, recall@10 {sweep[-1]['recall']:.4f}"
            )
        result["hnsw"]["sweep_k10"] = sweep
        hnsw.ef_search = s.hnsw_ef_search
        result["hnsw"]["default"] = {}
        for k in ks:
            stats, found = latencies(hnsw, queries, k)
            result["hnsw"]["default"][str(k)] = {
                "latency_ms": stats,
                "recall": recall(found, truth[:, :k]),
                "ef_search": max(s.hnsw_ef_search, k),
            }
        del hnsw
    if "ivf_sq8" in args.kinds:
        ivf, result["ivf_sq8"] = timed_builds("ivf_sq8", vectors, s, args.build_threads)
        log(f"{n}: ivf_sq8 built in {result['ivf_sq8']['build_s']:.1f} s")
        sweep = []
        for nprobe in args.nprobe:
            ivf.set_nprobe(nprobe)
            stats, found = latencies(ivf, queries, 10)
            sweep.append(
                {"nprobe": nprobe, "latency_ms": stats, "recall": recall(found, truth[:, :10])}
            )
            found_share = sweep[-1]["recall"]
            log(
                f"{n}: ivf_sq8 nprobe {nprobe}: p50 {stats['p50']:.3f} ms, recall {found_share:.4f}"
            )
        result["ivf_sq8"]["sweep_k10"] = sweep
    result["load_after"] = os.getloadavg()
    return result


def calibrate(beir_dir: Path, seed: int) -> dict[str, dict[str, float]]:
    """The neighbourhood statistics of real MiniLM embeddings of ``beir_dir``'s corpus (200
    held-out documents as queries) beside those of the synthetic mixture at the same sizes."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from indexer.embedders.local import load_local_embedder

    with (beir_dir / "corpus.jsonl").open(encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    texts = [f"{r.get('title', '')}. {r.get('text', '')}".strip() for r in rows]
    real = np.asarray(load_local_embedder().embed_documents(texts), dtype=np.float32)
    order = np.random.default_rng(5).permutation(len(real))
    queries, docs = real[order[:200]], real[order[200:]]
    mixture = make_mixture(seed)
    fake, fake_queries = draw(mixture, len(docs), seed + 1), draw(mixture, 200, seed + 2)
    return {
        "real": neighbourhood_stats(docs, -np.sort(-(queries @ docs.T), axis=1)),
        "synthetic": neighbourhood_stats(fake, -np.sort(-(fake_queries @ fake.T), axis=1)),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10000,100000,1000000", help="comma-separated")
    parser.add_argument("--queries", type=int, default=500, help="queries timed per setting")
    parser.add_argument("--ef-search", default="16,32,64,128,256", help="HNSW sweep at k=10")
    parser.add_argument("--retrieval-k", type=int, default=400, help="the retriever's dense k")
    parser.add_argument("--nprobe", default="8,16,32,64,128", help="IVF-SQ8 sweep at k=10")
    parser.add_argument("--kinds", default="flat,hnsw,ivf_sq8", help="structures measured")
    parser.add_argument("--name", default="scale", help="results file name (scale_ivf, ...)")
    parser.add_argument("--build-threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("--plots", type=Path, default=ROOT / "docs", help="PNG directory")
    parser.add_argument("--merge", action="store_true", help="keep other sizes already measured")
    parser.add_argument(
        "--report-only", action="store_true", help="redraw plots and tables from the results"
    )
    parser.add_argument(
        "--calibrate", type=Path, metavar="BEIR_DIR", help="only compare real and synthetic data"
    )
    args = parser.parse_args(argv)
    if args.calibrate:
        stats = calibrate(args.calibrate, args.seed)
        params = {"beir": str(args.calibrate), "seed": args.seed, "held_out_queries": 200}
        write_results("scale_calibration", params, stats, results_dir=args.results_dir)
        print(json.dumps(stats, indent=1))
        return 0
    args.ef_search = [int(x) for x in args.ef_search.split(",")]
    args.nprobe = [int(x) for x in args.nprobe.split(",")]
    args.kinds = set(args.kinds.split(","))

    def log(message: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)

    previous: dict[str, Any] = {"params": {}, "metrics": {"sizes": {}}}
    if args.merge or args.report_only:
        try:
            previous = read_results(args.name, args.results_dir)
        except ResultsError as exc:
            if args.report_only:
                raise SystemExit(str(exc)) from None
    settings, sizes = previous["params"], dict(previous["metrics"]["sizes"])
    if not args.report_only:
        s = IndexerSettings().index
        settings = {
            "dimension": DIM,
            "hnsw_m": s.hnsw_m,
            "hnsw_ef_construction": s.hnsw_ef_construction,
            "hnsw_ef_search": s.hnsw_ef_search,
            "queries": args.queries,
            "retrieval_k": args.retrieval_k,
            "build_threads": args.build_threads,
            "search_threads": 1,
            "faiss": faiss.__version__,
        }
        queries = draw(make_mixture(args.seed), args.queries, seed=args.seed + 2)
        progress = args.results_dir / f"{args.name}.progress.json"
        args.results_dir.mkdir(parents=True, exist_ok=True)
        for n in (int(x) for x in args.sizes.split(",")):
            sizes[str(n)] = measure_size(n, queries, args, log)
            progress.write_text(json.dumps(sizes, indent=1), encoding="utf-8")
        # Only now: the machine description imports torch, which the measured process should
        # not carry.
        write_results(args.name, settings, {"sizes": sizes}, results_dir=args.results_dir)
        progress.unlink()
    results = {"settings": settings, "sizes": sizes}
    if args.name != "scale":  # a partial run (e.g. --kinds flat,ivf_sq8): its table is in the doc
        return 0
    args.plots.mkdir(parents=True, exist_ok=True)
    for path in plot(results, args.plots, IndexerSettings().index.hnsw_min_vectors):
        log(f"wrote {path}")
    print(markdown(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
