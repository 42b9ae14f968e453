"""Held-out tuning of the hybrid retrieval's parameters (``Retriever`` ``dense_weight``,
``depth`` and pseudo-relevance ``feedback``: RM3 on BM25, Rocchio on dense) on BEIR collections
(default: CISI and CACM from ../shared/benchmarks), and of the title list's weight
(``title_weight``) at the default fusion with the shipped smoothing.

Each collection is indexed once into ``--cache-dir`` (reused while its corpus and the embedder
are the same). Documents are read as they are: a title-only document is indexed with its title,
an empty one (no title, no text) is skipped and counts as not retrieved. Every query with
judgements is run through ``Retriever.search`` for every grid point and for dense and BM25
alone (each with its own feedback options), and nDCG@10 is kept per query. Each retriever's
candidates are computed once per depth and feedback option and fused for every dense weight
(``Retriever.candidates`` then ``Retriever.ranked``: what ``search`` does). Then, per collection,
for the whole grid and for the grid without feedback:

- in-sample: the grid point with the best mean over all its queries, and that mean;
- held-out: 5-fold cross-validation over its queries (each fold scored with the grid point
  that is best on the other four), the mean over all queries of their held-out fold's score;
- across collections: the grid point best on the other collection, scored on this one.

The same for the best single retriever (dense or BM25, with or without its feedback, chosen the
same way). Ties go to the earlier grid point; the shipped default (0.5, 100, no feedback) comes
first, then the points without feedback. Also records the four metrics
of ``eval retrieval`` at the default settings. Writes ``benchmarks/results/cv_retrieval.json``.

    .venv/bin/python benchmarks/cv_retrieval.py [--beir DIR ...] [--cache-dir DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))
from _results import RESULTS_DIR, write_results  # noqa: E402

from indexer.builder import Indexer  # noqa: E402
from indexer.config import SEARCH_MODES, IndexerSettings  # noqa: E402
from indexer.embedders.base import Embedder  # noqa: E402
from indexer.evaluation.beir import (  # noqa: E402
    CORPUS_FILE,
    CUTOFF,
    evaluate_retrieval,
    load_beir,
)
from indexer.evaluation.files import EvaluationInputError, json_objects  # noqa: E402
from indexer.evaluation.metrics import ndcg_at_k  # noqa: E402
from indexer.feedback import Feedback  # noqa: E402
from indexer.index import IndexVersion, open_index  # noqa: E402
from indexer.models import PaperRecord  # noqa: E402
from indexer.retrieval import Candidates, Mode, Retriever  # noqa: E402
from indexer.smoothing import Smoothing  # noqa: E402
from indexer.text import clean  # noqa: E402

SHARED = ROOT.parent / "shared" / "benchmarks"
SHIPPED_SMOOTHING = Smoothing.from_settings(IndexerSettings())
SHIPPED_TITLE_WEIGHT = IndexerSettings().feedback.title_weight
OFF = Feedback()
DEFAULT = (0.5, 100, OFF)
WEIGHTS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
DEPTHS = (50, 100, 200, 400)
# RM3 as papers/terms/original query weight, Rocchio as papers/beta ("off": none). The union
# of the two grids tried (the first had the 0.5 weights and the stronger Rocchio settings).
RM3 = (
    *("off", "5/10/0.5", "10/10/0.5", "10/20/0.5", "5/10/0.7", "10/10/0.7", "10/20/0.7"),
    *("5/10/0.85", "10/10/0.85", "10/20/0.85"),
)
ROCCHIO = ("off", "3/0.1", "3/0.3", "5/0.2", "5/0.3", "10/0.2", "10/0.3", "5/0.5", "10/0.5")
# Score regularisation at the default fusion, as papers/neighbours/weight/lexical share.
SMOOTHING = tuple(
    ["off"]
    + [
        f"{p}/{n}/{w}/{lex}"
        for p in (30, 50)
        for n in (10, 20)
        for w in (0.5, 0.7)
        for lex in (0.0, 0.5, 1.0)
    ]
)
# The title list's weight at the default fusion with the shipped smoothing (0: off).
TITLES = (0.0, 0.05, 0.1, 0.15)
SINGLE: tuple[Mode, ...] = ("dense", "bm25")
FOLDS = 5
SEED = 13
SEEDS = 50  # fold assignments averaged over in the paired comparison
BOOTSTRAP = 10_000
FAMILIES = (
    "hybrid",
    "hybrid_no_feedback",
    "hybrid_smoothing",
    "hybrid_title",
    "single",
    "single_no_feedback",
)

Config = tuple[float, int, Feedback]
# Part of the index cache's key: indexes cached before title vectors existed have none.
FORMAT = "title-vectors"


@dataclass
class Corpus:
    """The records of a BEIR ``corpus.jsonl`` worth indexing, and what was left out."""

    records: list[PaperRecord] = field(default_factory=list)
    title_only: int = 0
    skipped_empty: list[str] = field(default_factory=list)


def read_corpus(path: Path) -> Corpus:
    """Every record with a title or a text (``eval retrieval``'s reader refuses title-only
    ones today); an empty one is only counted."""
    corpus = Corpus()
    lines = path.read_text(encoding="utf-8").splitlines()
    for where, row in json_objects(path, lines, "_id, title and text"):
        doc_id = str(row.get("_id", "")).strip()
        if not doc_id:
            raise EvaluationInputError(f"{where}: no _id")
        title, text = clean(str(row.get("title") or "")), clean(str(row.get("text") or ""))
        if not title and not text:
            corpus.skipped_empty.append(doc_id)
            continue
        corpus.title_only += not text
        authors = (row.get("metadata") or {}).get("authors") or []
        corpus.records.append(
            PaperRecord(
                title=title or text,  # a text without a title keeps its text as the only field
                abstract=text if title else "",
                source=str(path),
                location=where.rsplit(": ", 1)[-1],
                id=doc_id,
                authors=[str(a) for a in authors] if isinstance(authors, list) else [],
            )
        )
    return corpus


def cached_index(corpus_path: Path, cache_dir: Path, embedder: Embedder) -> IndexVersion:
    """An index of the corpus, built on first use under a key of its bytes, the embedder and
    what an index holds (``FORMAT``)."""
    key = corpus_path.read_bytes() + embedder.name.encode() + FORMAT.encode()
    digest = hashlib.sha256(key).hexdigest()[:16]
    target = cache_dir / f"{corpus_path.parent.name}-{digest}"
    if not (target / "index").is_dir():
        building = target.with_name(target.name + ".partial")
        shutil.rmtree(building, ignore_errors=True)
        settings = IndexerSettings(index_dir=building / "index")
        Indexer(settings, embedder=embedder).add_records(read_corpus(corpus_path).records)
        building.rename(target)
    return open_index(target / "index", expected_embedder=embedder.name)


@dataclass
class Collection:
    name: str
    index: IndexVersion
    query_ids: list[str]
    texts: list[str]
    qrels: list[dict[str, int]]
    vectors: np.ndarray
    counts: dict[str, int]


def rm3_option(text: str) -> Feedback:
    """``off`` or papers/terms/original query weight, e.g. ``10/20/0.5``."""
    if text == "off":
        return OFF
    docs, terms, weight = text.split("/")
    return Feedback(rm3_docs=int(docs), rm3_terms=int(terms), rm3_query_weight=float(weight))


def rocchio_option(text: str) -> Feedback:
    """``off`` or papers/beta, e.g. ``5/0.3``."""
    if text == "off":
        return OFF
    docs, beta = text.split("/")
    return Feedback(rocchio_docs=int(docs), rocchio_beta=float(beta))


def smoothing_option(text: str) -> Smoothing:
    """``off`` or papers/neighbours/weight/lexical share, e.g. ``50/10/0.7/0.5``."""
    if text == "off":
        return Smoothing()
    papers, neighbours, weight, share = text.split("/")
    return Smoothing(int(papers), int(neighbours), float(weight), float(share))


def combine(rm3: Feedback, rocchio: Feedback) -> Feedback:
    return Feedback(
        rm3.rm3_docs,
        rm3.rm3_terms,
        rm3.rm3_query_weight,
        rocchio.rocchio_docs,
        rocchio.rocchio_beta,
    )


def score_grid(
    c: Collection,
    embedder: Embedder,
    configs: Sequence[Config],
    smoothings: Sequence[Smoothing] = (Smoothing(),),
    titles: Sequence[float] = (0.0,),
) -> dict[str, dict[Any, np.ndarray]]:
    """Per-query nDCG@10 of every hybrid grid point, of each smoothing option at the default
    fusion, of each title weight at the default fusion with the shipped smoothing, and of each
    single retriever (with each feedback option of its side)."""
    depths = sorted({d for _, d, _ in configs} | {DEFAULT[1]})
    rm3s = list(dict.fromkeys(combine(fb, OFF) for _, _, fb in configs))
    rocchios = list(dict.fromkeys(combine(OFF, fb) for _, _, fb in configs))
    fusers = {w: Retriever(c.index, embedder, w) for w in dict.fromkeys(w for w, _, _ in configs)}
    singles: dict[str, tuple[Mode, Feedback]] = {}
    sides: tuple[tuple[Mode, list[Feedback]], ...] = (("dense", rocchios), ("bm25", rm3s))
    for mode, options in sides:
        for fb in options:
            singles[mode if fb == OFF else f"{mode} + {fb.label()}"] = (mode, fb)
    sides_by = {fb: Retriever(c.index, embedder, feedback=fb) for fb in rm3s + rocchios}
    smoothers = {sm: Retriever(c.index, embedder, *DEFAULT, smoothing=sm) for sm in smoothings}
    titled = {
        w: Retriever(c.index, embedder, *DEFAULT, smoothing=SHIPPED_SMOOTHING, title_weight=w)
        for w in titles
    }
    # Computes the title cosines that every weight's ranking reads.
    with_titles = Retriever(c.index, embedder, *DEFAULT, title_weight=1.0)
    hybrid: dict[Any, list[float]] = {point: [] for point in configs}
    smoothed: dict[Any, list[float]] = {sm: [] for sm in smoothings}
    by_title: dict[Any, list[float]] = {w: [] for w in titles}
    single: dict[Any, list[float]] = {name: [] for name in singles}
    for text, vector, judged in zip(c.texts, c.vectors, c.qrels, strict=True):
        for depth in depths:
            dense = {fb: sides_by[fb].dense(vector, depth, None) for fb in rocchios}
            lexical = {fb: sides_by[fb].lexical(text, depth, None) for fb in rm3s}
            for w, d, fb in configs:
                if d != depth:
                    continue
                found = Candidates(dense[combine(OFF, fb)], lexical[combine(fb, OFF)])
                top = fusers[w].ranked(found, "hybrid", CUTOFF)
                hybrid[(w, d, fb)].append(ndcg_at_k(list(top), judged, CUTOFF))
            if depth != DEFAULT[1]:
                continue
            for sm, smoother in smoothers.items():
                found = Candidates(dense[OFF], lexical[OFF])
                top = smoother.ranked(found, "hybrid", CUTOFF)
                smoothed[sm].append(ndcg_at_k(list(top), judged, CUTOFF))
            found = with_titles.candidates(text, depth, "hybrid", None, vector)
            for w, retriever in titled.items():
                top = retriever.ranked(found, "hybrid", CUTOFF)
                by_title[w].append(ndcg_at_k(list(top), judged, CUTOFF))
            for name, (mode, fb) in singles.items():
                alone = (dense[fb], {}) if mode == "dense" else ({}, lexical[fb])
                found = Candidates(*alone)
                top = fusers[next(iter(fusers))].ranked(found, mode, CUTOFF)
                single[name].append(ndcg_at_k(list(top), judged, CUTOFF))
    return {
        "hybrid": {key: np.array(v) for key, v in hybrid.items()},
        "hybrid_smoothing": {key: np.array(v) for key, v in smoothed.items()},
        "hybrid_title": {key: np.array(v) for key, v in by_title.items()},
        "single": {key: np.array(v) for key, v in single.items()},
    }


def without_feedback(scores: dict[Any, np.ndarray]) -> dict[Any, np.ndarray]:
    """The grid points (or single retrievers) that use no feedback."""
    return {
        key: s
        for key, s in scores.items()
        if (key[2] == OFF if isinstance(key, tuple) else key in SINGLE)
    }


def folds(n: int, k: int, seed: int) -> list[np.ndarray]:
    """``k`` disjoint folds covering ``range(n)``, assigned at random with ``seed``."""
    order = np.random.default_rng(seed).permutation(n)
    return [np.sort(order[i::k]) for i in range(min(k, n))]


def best(scores: dict[Any, np.ndarray], rows: np.ndarray | None = None) -> Any:
    """The key with the highest mean over ``rows`` (all rows: None); ties to the first key."""
    means = {key: float(s.mean() if rows is None else s[rows].mean()) for key, s in scores.items()}
    top = max(means.values())
    return next(key for key, mean in means.items() if mean == top)


def cross_validate(scores: dict[Any, np.ndarray], parts: list[np.ndarray]) -> dict[str, Any]:
    """Each fold scored with the key best on the other folds; the mean over all rows."""
    n = len(next(iter(scores.values())))
    held_out = np.zeros(n)
    chosen = []
    for part in parts:
        train = np.setdiff1d(np.arange(n), part)
        key = best(scores, train)
        chosen.append(key)
        held_out[part] = scores[key][part]
    return {"ndcg10": float(held_out.mean()), "chosen_per_fold": [_label(k) for k in chosen]}


def summarise(
    own: dict[Any, np.ndarray], other: dict[Any, np.ndarray] | None, other_name: str | None
) -> dict[str, Any]:
    n = len(next(iter(own.values())))
    chosen = best(own)
    out: dict[str, Any] = {
        "in_sample": {"ndcg10": float(own[chosen].mean()), "chosen": _label(chosen)},
        "held_out_folds": cross_validate(own, folds(n, FOLDS, SEED)),
    }
    if other is not None:
        transferred = best(other)
        out["tuned_on_other"] = {
            "tuned_on": other_name,
            "chosen": _label(transferred),
            "ndcg10": float(own[transferred].mean()),
        }
    return out


def paired(scores: dict[Any, np.ndarray], key: Any, base: Any) -> dict[str, Any]:
    """Point ``key`` against ``base``, query by query: the mean difference with a paired
    bootstrap 95% interval, wins and losses; and both held out (the family's grid chosen per
    fold) averaged over ``SEEDS`` fold assignments, so one split's luck does not decide."""
    diff = scores[key] - scores[base]
    rng = np.random.default_rng(SEED)
    means = diff[rng.integers(0, len(diff), (BOOTSTRAP, len(diff)))].mean(axis=1)
    n = len(diff)
    seeded = [cross_validate(scores, folds(n, FOLDS, seed))["ndcg10"] for seed in range(SEEDS)]
    return {
        "point": _label(key),
        "mean_difference": float(diff.mean()),
        "ci95": [float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))],
        "wins": int((diff > 0).sum()),
        "losses": int((diff < 0).sum()),
        "queries": n,
        "held_out_over_seeds": float(np.mean(seeded)),
        "seeds": SEEDS,
    }


def _label(key: Any) -> Any:
    if isinstance(key, float):  # a title weight, at the default fusion and shipped smoothing
        return {**_label(SHIPPED_SMOOTHING), "title_weight": key}
    if isinstance(key, Smoothing):
        return {**_label(DEFAULT), "smoothing": key.label()}
    if isinstance(key, tuple):
        return {"dense_weight": key[0], "depth": key[1], "feedback": key[2].label()}
    return key


def load_collection(root: Path, cache_dir: Path, embedder: Embedder) -> Collection:
    beir = load_beir(root)
    corpus = read_corpus(root / CORPUS_FILE)
    index = cached_index(root / CORPUS_FILE, cache_dir, embedder)
    ids = [q for q in beir.queries if q in beir.qrels]
    qrels = [beir.qrels[q] for q in ids]
    relevant = {doc for judged in qrels for doc, grade in judged.items() if grade > 0}
    counts = {
        "documents": len(corpus.records) + len(corpus.skipped_empty),
        "indexed": len(index.papers),
        "title_only": corpus.title_only,
        "skipped_empty": len(corpus.skipped_empty),
        "relevant_not_indexed": len(relevant - index.papers.keys()),
    }
    texts = [beir.queries[q] for q in ids]
    vectors = np.asarray(embedder.embed_queries(texts))
    return Collection(root.name, index, ids, texts, qrels, vectors, counts)


def run(
    roots: Sequence[Path],
    cache_dir: Path,
    embedder: Embedder,
    configs: Sequence[Config],
    smoothings: Sequence[Smoothing] = (Smoothing(),),
    titles: Sequence[float] = (0.0,),
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The metrics and per-query samples of the cross-validation over ``roots``; with two
    collections each is also scored with the grid point tuned on the other."""
    collections = [load_collection(root, cache_dir, embedder) for root in roots]
    grids = {c.name: score_grid(c, embedder, configs, smoothings, titles) for c in collections}
    for grid_of in grids.values():
        for family in ("hybrid", "single"):
            grid_of[f"{family}_no_feedback"] = without_feedback(grid_of[family])
    metrics: dict[str, Any] = {"collections": {}}
    samples: dict[str, Any] = {}
    for c in collections:
        others = [o.name for o in collections if o.name != c.name]
        other = others[0] if len(others) == 1 else None
        default = evaluate_retrieval(
            c.index,
            embedder,
            dict(zip(c.query_ids, c.texts, strict=True)),
            dict(zip(c.query_ids, c.qrels, strict=True)),
            SEARCH_MODES,
            k=100,
            retriever=Retriever(
                c.index,
                embedder,
                *DEFAULT,
                smoothing=SHIPPED_SMOOTHING,
                title_weight=SHIPPED_TITLE_WEIGHT,
            ),
        )
        metrics["collections"][c.name] = {
            **c.counts,
            "queries": len(c.query_ids),
            "default_settings": {
                "params": _label(SHIPPED_TITLE_WEIGHT),
                "modes": default["modes"],
            },
            **{
                family: summarise(
                    grids[c.name][family], grids[other][family] if other else None, other
                )
                for family in FAMILIES
            },
        }
        samples[c.name] = {"query_ids": c.query_ids, "ndcg10": _named(grids[c.name])}
    # The recommendations: best on every collection at once (equal weight per collection).
    metrics["recommended"] = _recommended(grids, collections, "hybrid", configs)
    metrics["recommended_smoothing"] = _recommended(
        grids, collections, "hybrid_smoothing", smoothings
    )
    metrics["recommended_title"] = _recommended(grids, collections, "hybrid_title", titles)
    if 0.0 in titles:
        served = metrics["recommended_title"]["params"]["title_weight"]
        metrics["title_against_off"] = {
            c.name: paired(grids[c.name]["hybrid_title"], served, 0.0) for c in collections
        }
    return metrics, samples


def _recommended(
    grids: dict[str, dict[str, dict[Any, np.ndarray]]],
    collections: Sequence[Collection],
    family: str,
    keys: Sequence[Any],
) -> dict[str, Any]:
    """The point of ``family`` best on all ``collections`` at once, with its in-sample means."""
    means = {key: [grids[c.name][family][key].mean() for c in collections] for key in keys}
    chosen = best({key: np.array(values) for key, values in means.items()})
    names = [c.name for c in collections]
    return {
        "params": _label(chosen),
        "in_sample_ndcg10": {name: float(m) for name, m in zip(names, means[chosen], strict=True)},
    }


def _named(grid: dict[str, dict[Any, np.ndarray]]) -> dict[str, list[float]]:
    """Per-query scores of the points without feedback, of every feedback option at the
    default weight and depth, and of the single retrievers (all points: megabytes)."""
    hybrid = {
        f"hybrid w={w} depth={d}" + ("" if fb == OFF else f" {fb.label()}"): s.tolist()
        for (w, d, fb), s in grid["hybrid"].items()
        if fb == OFF or (w, d) == DEFAULT[:2]
    }
    smoothed = {
        f"hybrid w={DEFAULT[0]} depth={DEFAULT[1]} {sm.label()}": s.tolist()
        for sm, s in grid["hybrid_smoothing"].items()
        if sm.on
    }
    served = f"hybrid w={DEFAULT[0]} depth={DEFAULT[1]} {SHIPPED_SMOOTHING.label()}"
    titled = {f"{served} title {w}": s.tolist() for w, s in grid["hybrid_title"].items()}
    return hybrid | smoothed | titled | {name: s.tolist() for name, s in grid["single"].items()}


def grid(
    weights: Sequence[float],
    depths: Sequence[int],
    rm3: Sequence[Feedback] = (OFF,),
    rocchio: Sequence[Feedback] = (OFF,),
) -> list[Config]:
    """Every (weight, depth, feedback) point: the shipped default first, then the points
    without feedback (earlier points win ties)."""
    feedbacks = [combine(a, b) for a in rm3 for b in rocchio]
    points = [(w, d, fb) for fb in feedbacks for w in weights for d in depths]
    return sorted(points, key=lambda point: (point != DEFAULT, point[2] != OFF))


def main(argv: Sequence[str] | None = None, embedder: Embedder | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--beir",
        type=Path,
        action="append",
        help="a BEIR directory (repeatable; default: ../shared/benchmarks/cisi and cacm)",
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=Path("/tmp/abstractqa-cv-indexes"),
        help="indexes kept between runs, keyed by corpus and embedder (empty it after changing "
        "how the indexer chunks or stores papers)",
    )
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("--weights", default=",".join(map(str, WEIGHTS)))
    parser.add_argument("--depths", default=",".join(map(str, DEPTHS)))
    parser.add_argument("--rm3", default=",".join(RM3), help="papers/terms/query weight, or off")
    parser.add_argument("--rocchio", default=",".join(ROCCHIO), help="papers/beta, or off")
    parser.add_argument(
        "--smoothing",
        default=",".join(SMOOTHING),
        help="papers/neighbours/weight/lexical share, or off (at the default fusion)",
    )
    parser.add_argument(
        "--titles",
        default=",".join(map(str, TITLES)),
        help="title-list weights (at the default fusion with the shipped smoothing)",
    )
    args = parser.parse_args(argv)
    roots = args.beir or [SHARED / "cisi", SHARED / "cacm"]
    configs = grid(
        [float(w) for w in args.weights.split(",")],
        [int(d) for d in args.depths.split(",")],
        [rm3_option(o) for o in args.rm3.split(",")],
        [rocchio_option(o) for o in args.rocchio.split(",")],
    )
    if embedder is None:
        from indexer.embedders import build_embedder

        embedder = build_embedder(IndexerSettings())
    smoothings = list(dict.fromkeys(smoothing_option(o) for o in args.smoothing.split(",")))
    titles = [float(w) for w in args.titles.split(",")]
    metrics, samples = run(roots, args.cache_dir, embedder, configs, smoothings, titles)
    params = {
        "collections": {root.name: str(root) for root in roots},
        "grid": [_label(point) for point in configs],
        "smoothing_grid": [sm.label() for sm in smoothings],
        "title_grid": titles,
        "default": _label(DEFAULT),
        "single_retrievers": list(SINGLE),
        "folds": FOLDS,
        "seed": SEED,
        "metric": f"nDCG@{CUTOFF}",
        "embedder": embedder.name,
    }
    command = None if argv is None else [sys.executable, __file__, *argv]
    path = write_results(
        "cv_retrieval", params, metrics, samples, results_dir=args.results_dir, command=command
    )
    for name, m in metrics["collections"].items():
        for family in FAMILIES:
            f = m[family]
            print(
                f"{name} {family}: in-sample {f['in_sample']['ndcg10']:.4f} "
                f"({f['in_sample']['chosen']}), held-out {f['held_out_folds']['ndcg10']:.4f} "
                f"{f['held_out_folds']['chosen_per_fold']}"
                + (
                    f", tuned on {f['tuned_on_other']['tuned_on']} "
                    f"{f['tuned_on_other']['ndcg10']:.4f} ({f['tuned_on_other']['chosen']})"
                    if "tuned_on_other" in f
                    else ""
                )
            )
    print(f"recommended: {metrics['recommended']}")
    print(f"recommended smoothing: {metrics['recommended_smoothing']}")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
