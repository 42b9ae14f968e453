"""The retrieval variants behind the default hybrid search, compared on identical inputs.

For a BEIR set (default: CISI) and the bundled question set, computes full score matrices —
dense (best chunk, first chunk, mean of chunks), BM25 (over chunks or whole papers, with and
without stemming, k1/b) — and fuses them (RRF, weighted RRF, min-max and z-score convex
combinations), then reports nDCG@10 on the BEIR set and hit@1 on the bundled questions. The
table in docs/benchmarks.md ("Retrieval quality on CISI") comes from this script.

    .venv/bin/python benchmarks/bench_retrieval_variants.py \\
        [--beir ../shared/benchmarks/cisi] [--beir-index DIR] [--corpus-index DIR]

Without an index directory, the corpus is indexed into a temporary one first (minutes).
Writes ``benchmarks/results/retrieval_variants.json`` (see benchmarks/_results.py).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _results import RESULTS_DIR, write_results  # noqa: E402

from indexer.config import IndexerSettings  # noqa: E402
from indexer.embedders import Embedder, build_embedder  # noqa: E402
from indexer.evaluation.beir import index_corpus, load_beir  # noqa: E402
from indexer.evaluation.metrics import mrr_at_k, ndcg_at_k  # noqa: E402
from indexer.index import IndexVersion, open_index  # noqa: E402
from indexer.lexical import paper_text  # noqa: E402

Matrix = np.ndarray


class Collection:
    """An index with its queries, judgements, and the score matrices computed so far."""

    def __init__(
        self, index: IndexVersion, queries: list[str], qrels: list[dict[str, int]], qv: Matrix
    ) -> None:
        self.index, self.queries, self.qrels, self.qv = index, queries, qrels, qv
        self.pids = sorted(index.papers)
        position = {p: i for i, p in enumerate(self.pids)}
        ids = sorted(index.chunks)
        self.chunk_paper = np.array([position[index.chunks[i].paper_id] for i in ids])
        self.chunk_vecs = index.vectors.vectors_of(ids)
        self.chunk_texts = [index.chunks[i].text for i in ids]
        papers = index.papers
        self.paper_texts = [paper_text(papers[p].title, papers[p].abstract) for p in self.pids]
        self._memo: dict[str, Matrix] = {}

    def memo(self, key: str, compute: Callable[[], Matrix]) -> Matrix:
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def per_paper_max(self, chunk_scores: Matrix) -> Matrix:
        out = np.full((chunk_scores.shape[0], len(self.pids)), -np.inf)
        for j in range(chunk_scores.shape[1]):
            p = self.chunk_paper[j]
            out[:, p] = np.maximum(out[:, p], chunk_scores[:, j])
        return out


def dense(c: Collection, how: str) -> Matrix:
    def compute() -> Matrix:
        if how == "max":
            return c.per_paper_max(c.qv @ c.chunk_vecs.T)
        vectors = np.zeros((len(c.pids), c.chunk_vecs.shape[1]))
        if how == "mean":
            np.add.at(vectors, c.chunk_paper, c.chunk_vecs)
        else:  # first chunk of each paper (chunks are in paper order)
            for j in range(len(c.chunk_paper) - 1, -1, -1):
                vectors[c.chunk_paper[j]] = c.chunk_vecs[j]
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        return c.qv @ vectors.T

    return c.memo(f"dense-{how}", compute)


def bm25(c: Collection, unit: str, stem: bool = True, k1: float = 1.5, b: float = 0.75) -> Matrix:
    def compute() -> Matrix:
        import bm25s
        import Stemmer

        stemmer = Stemmer.Stemmer("english") if stem else None
        docs = c.paper_texts if unit == "paper" else c.chunk_texts
        retriever = bm25s.BM25(k1=k1, b=b)
        tokens = bm25s.tokenize(
            docs, stopwords="en", stemmer=stemmer, return_ids=False, show_progress=False
        )
        retriever.index(tokens, show_progress=False)
        queries = bm25s.tokenize(
            c.queries, stopwords="en", stemmer=stemmer, return_ids=False, show_progress=False
        )
        out = np.zeros((len(c.queries), len(docs)))
        for i, terms in enumerate(queries):
            known = [t for t in terms if t in retriever.vocab_dict]
            if known:
                out[i] = retriever.get_scores(known)
        return out if unit == "paper" else c.per_paper_max(out)

    return c.memo(f"bm25-{unit}-{stem}-{k1}-{b}", compute)


def ranks(scores: Matrix) -> Matrix:
    order = np.argsort(-scores, axis=1, kind="stable")
    out = np.empty_like(order)
    out[np.arange(len(scores))[:, None], order] = np.arange(1, scores.shape[1] + 1)[None, :]
    return out


def rrf(mats: list[Matrix], weights: list[float], k: int = 60, depth: int = 100) -> Matrix:
    fused = np.zeros(mats[0].shape)
    for weight, scores in zip(weights, mats, strict=True):
        r = ranks(scores)
        fused += np.where(r <= depth, weight / (k + r), 0.0)
    return fused


def normalised(scores: Matrix, how: str, depth: int = 100) -> Matrix:
    """Min-max or z-score over each row's ``depth`` best; the rest get the candidates' floor."""
    out = np.empty(scores.shape)
    for i, row in enumerate(scores):
        top = np.argsort(-row, kind="stable")[:depth]
        values = row[top]
        if how == "minmax":
            scaled = (values - values.min()) / max(float(np.ptp(values)), 1e-9)
        else:
            scaled = (values - values.mean()) / max(float(values.std()), 1e-9)
        out[i] = scaled.min()
        out[i, top] = scaled
    return out


def convex(c: Collection, how: str, dense_weight: float, depth: int = 100) -> Matrix:
    d = normalised(dense(c, "max"), how, depth)
    s = normalised(bm25(c, "paper"), how, depth)
    return dense_weight * d + (1 - dense_weight) * s


def _rrf_pair(c: Collection, k: int = 60, dense_weight: float = 0.5, unit: str = "paper") -> Matrix:
    return rrf([dense(c, "max"), bm25(c, unit)], [dense_weight, 1 - dense_weight], k)


VARIANTS: dict[str, Callable[[Collection], Matrix]] = {
    "dense, best chunk per paper": partial(dense, how="max"),
    "dense, first chunk only": partial(dense, how="first"),
    "dense, mean of chunk vectors": partial(dense, how="mean"),
    "BM25 chunks, stemmed": partial(bm25, unit="chunk"),
    "BM25 chunks, unstemmed": partial(bm25, unit="chunk", stem=False),
    "BM25 papers, stemmed": partial(bm25, unit="paper"),
    "BM25 papers, unstemmed": partial(bm25, unit="paper", stem=False),
}
for _k1 in (0.9, 1.2, 2.0):
    for _b in (0.5, 0.9):
        VARIANTS[f"BM25 papers k1={_k1} b={_b}"] = partial(bm25, unit="paper", k1=_k1, b=_b)
VARIANTS["RRF k=60, chunk BM25"] = partial(_rrf_pair, unit="chunk")
for _k in (10, 20, 60):
    VARIANTS[f"RRF k={_k}, paper BM25"] = partial(_rrf_pair, k=_k)
for _w in (0.3, 0.7):
    VARIANTS[f"weighted RRF, dense {_w}"] = partial(_rrf_pair, dense_weight=_w)
for _how in ("minmax", "z"):
    for _w in (0.4, 0.5, 0.6, 0.7):
        VARIANTS[f"{_how} convex, dense {_w}"] = partial(convex, how=_how, dense_weight=_w)
for _depth in (50, 200):
    VARIANTS[f"z convex 0.5, depth {_depth}"] = partial(
        convex, how="z", dense_weight=0.5, depth=_depth
    )


def mean_metric(c: Collection, scores: Matrix, metric: Callable[..., float], k: int) -> float:
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return float(
        np.mean(
            [
                metric([c.pids[j] for j in row], rel, k)
                for row, rel in zip(order, c.qrels, strict=True)
            ]
        )
    )


def _index(corpus: Path, given: Path | None, fmt: str, embedder: Embedder) -> IndexVersion:
    if given is not None:
        return open_index(given, verify_hashes=False)
    target = Path(tempfile.mkdtemp(prefix="abstractqa-variants-")) / "index"
    if fmt == "beir":
        index_corpus(corpus, target, IndexerSettings(), embedder)
    else:
        from indexer.builder import Indexer

        Indexer(IndexerSettings(index_dir=target), embedder=embedder).add([corpus])
    return open_index(target)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--beir", type=Path, default=ROOT.parent / "shared/benchmarks/cisi")
    parser.add_argument("--beir-index", type=Path, help="an index of the BEIR corpus")
    parser.add_argument("--corpus-index", type=Path, help="an index of data/daily-papers.txt")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args()

    embedder = build_embedder(IndexerSettings())
    beir = load_beir(args.beir)
    judged = [q for q in beir.queries if q in beir.qrels]
    texts = [beir.queries[q] for q in judged]
    beir_set = Collection(
        _index(beir.corpus, args.beir_index, "beir", embedder),
        texts,
        [dict(beir.qrels[q]) for q in judged],
        np.asarray(embedder.embed_queries(texts)),
    )
    rows = [json.loads(line) for line in (ROOT / "data/dev/questions.jsonl").open()]
    rows = [r for r in rows if r["gold"]]
    questions = [r["question"] for r in rows]
    bundled = Collection(
        _index(ROOT / "data/daily-papers.txt", args.corpus_index, "daily", embedder),
        questions,
        [dict.fromkeys(r["gold"], 1) for r in rows],
        np.asarray(embedder.embed_queries(questions)),
    )
    results = {}
    for name, variant in VARIANTS.items():
        results[name] = {
            "nDCG@10": round(mean_metric(beir_set, variant(beir_set), ndcg_at_k, 10), 4),
            "hit@1": round(mean_metric(bundled, variant(bundled), mrr_at_k, 1), 4),
        }
        if not args.json:
            row = results[name]
            print(f"{name:36s} nDCG@10 {row['nDCG@10']:.4f}  bundled hit@1 {row['hit@1']:.3f}")
    params = {
        "beir": str(args.beir),
        "beir_queries": len(judged),
        "bundled_questions": len(questions),
        "embedder": embedder.name,
    }
    path = write_results(
        "retrieval_variants", params, {"variants": results}, {}, results_dir=args.results_dir
    )
    if args.json:
        print(json.dumps(results, indent=2))
    print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
