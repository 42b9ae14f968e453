"""How many candidates an ``ivf_sq8`` segment re-ranks by exact vectors (``AnnParams
.rerank_factor``): recall of the exact top k after re-ranking ``max(k * factor, 100)`` candidates,
on real embeddings (the bundled model's vectors of the chunks of CISI and CACM, queried with
their judged queries), through the segment search path (``indexer.ann.search_segment``).

Every inverted list is searched (nprobe = the number of lists), so that the only error left is
the 8-bit codes' own, the one re-ranking corrects; lists not probed are ``ABSTRACTQA_IVF_NPROBE``'s
business ("Vector search at scale" in docs/benchmarks.md). k = 300 is the dense depth of a
hybrid search (100 papers times ``Retriever``'s chunks-per-paper factor, 3 here).

    .venv/bin/python benchmarks/bench_rerank.py [--beir DIR ...] [--cache-dir DIR]

Writes ``benchmarks/results/rerank_sq8.json``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import RESULTS_DIR, write_results
from cv_retrieval import SHARED, load_collection

from indexer.ann import AnnParams, build_ann, ivf_lists, search_segment
from indexer.config import IndexerSettings
from indexer.embedders.base import Embedder

KS = (10, 100, 300)
FACTORS = (1, 2, 3, 4)


def recall_by_factor(
    vectors: np.ndarray, queries: np.ndarray, ks: Sequence[int], factors: Sequence[int]
) -> dict[int, dict[int, float]]:
    """k -> factor -> mean recall of the exact top k (by inner product) after re-ranking."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    index = build_ann(vectors, "ivf_sq8", AnnParams())
    exact = queries @ vectors.T
    out: dict[int, dict[int, float]] = {}
    for k in ks:
        truth = np.argsort(-exact, axis=1, kind="stable")[:, :k]
        out[k] = {}
        for factor in factors:
            params = AnnParams(ivf_nprobe=ivf_lists(len(vectors)), rerank_factor=factor)
            found = [search_segment(vectors, index, q, k, None, None, params)[1] for q in queries]
            shares = [
                len(set(f.tolist()) & set(t.tolist())) / k
                for f, t in zip(found, truth, strict=True)
            ]
            out[k][factor] = float(np.mean(shares))
    return out


def main(argv: Sequence[str] | None = None, embedder: Embedder | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--beir", type=Path, action="append")
    parser.add_argument("--cache-dir", type=Path, default=Path("/tmp/abstractqa-cv-indexes"))
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    roots = args.beir or [SHARED / "cisi", SHARED / "cacm"]
    if embedder is None:
        from indexer.embedders import build_embedder

        embedder = build_embedder(IndexerSettings())
    metrics: dict[str, dict[str, object]] = {}
    for root in roots:
        collection = load_collection(root, args.cache_dir, embedder)
        vectors = np.concatenate([np.asarray(s.vectors) for s in collection.index.segments])
        queries = np.asarray(collection.vectors, dtype=np.float32)
        by_k = recall_by_factor(vectors, queries, KS, FACTORS)
        metrics[collection.name] = {
            "vectors": len(vectors),
            "queries": len(queries),
            "lists": ivf_lists(len(vectors)),
            "recall": {str(k): {str(f): r for f, r in row.items()} for k, row in by_k.items()},
        }
        for k, row in by_k.items():
            print(collection.name, f"k={k}", " ".join(f"x{f}: {r:.4f}" for f, r in row.items()))
    params = {"ks": list(KS), "factors": list(FACTORS), "embedder": embedder.name}
    command = None if argv is None else [sys.executable, __file__, *argv]
    path = write_results(
        "rerank_sq8", params, metrics, results_dir=args.results_dir, command=command
    )
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
