"""Retrieval evaluation on a collection in the BEIR layout.

A BEIR directory holds ``corpus.jsonl`` (``_id``, ``title``, ``text``, optional ``metadata``),
``queries.jsonl`` (``_id``, ``text``) and ``qrels/test.tsv`` (a ``query-id corpus-id score``
header, then tab-separated judgements; score 0 means judged not relevant). The corpus is
indexed by the ordinary indexer (its BEIR reader keeps ``_id`` as the paper id, so the qrels
name papers of the index), the queries run through ``Retriever.search``, and the metrics of
``indexer.evaluation.metrics`` are averaged over the queries that have judgements.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from indexer.config import SEARCH_MODES, IndexerSettings, SearchMode
from indexer.embedders.base import Embedder
from indexer.evaluation.files import (
    EvaluationInputError,
    Qrels,
    load_qrels,
    load_queries,
)
from indexer.evaluation.metrics import (
    average_precision_at_k,
    mrr_at_k,
    ndcg_at_k,
    recall_at_k,
)
from indexer.index import IndexVersion, open_index
from indexer.progress import Progress, SilentProgress
from indexer.readers import ReadOptions, open_records
from indexer.retrieval import Retriever

CORPUS_FILE = "corpus.jsonl"
QUERIES_FILE = "queries.jsonl"
QRELS_FILE = "qrels/test.tsv"
CUTOFF = 10  # the cut-off of nDCG and MRR; MAP and recall are cut at the retrieval depth k
_QUERY_BATCH = 256  # queries per encoder call; the encoder batches again within it

BEIR_OPTIONS = ReadOptions(format="beir")


def metric_names(k: int) -> tuple[str, str, str, str]:
    return (f"nDCG@{CUTOFF}", f"MAP@{k}", f"R@{k}", f"MRR@{CUTOFF}")


def query_metrics(ranked: Sequence[str], judged: dict[str, int], k: int) -> dict[str, float]:
    """The four reported metrics of one query's ranking (at most ``k`` ids, best first)."""
    values = (
        ndcg_at_k(ranked, judged, CUTOFF),
        average_precision_at_k(ranked, judged, k),
        recall_at_k(ranked, judged, k),
        mrr_at_k(ranked, judged, CUTOFF),
    )
    return dict(zip(metric_names(k), values, strict=True))


def evaluate_retrieval(
    index_version: IndexVersion,
    embedder: Embedder,
    queries: dict[str, str],
    qrels: Qrels,
    modes: Sequence[SearchMode] = SEARCH_MODES,
    k: int = 100,
    per_query: bool = False,
    retriever: Retriever | None = None,
) -> dict[str, Any]:
    """Mean metrics per mode over the queries that have judgements (the others are skipped).

    Returns ``{"modes": {mode: {metric: mean}}, "queries": N, "documents": N, "seconds": s,
    "timing": {"embed_queries": s, mode: s, ...}}``, plus ``"per_query": {mode: {query id:
    {metric: value}}}`` with ``per_query``. ``retriever`` (default: ``Retriever(index_version,
    embedder)``) lets a caller try other retriever settings on the same loaded index.
    """
    if k < CUTOFF:
        raise ValueError(f"k must be at least {CUTOFF} (the nDCG and MRR cut-off), got {k}")
    started = time.monotonic()
    retriever = retriever or Retriever(index_version, embedder)
    ids = [q for q in queries if q in qrels]
    texts = [queries[q] for q in ids]
    timing: dict[str, float] = {}
    vectors: np.ndarray | None = None
    if any(mode in ("hybrid", "dense") for mode in modes):
        t0 = time.monotonic()
        # All queries encoded up front in large batches: one by one would cost more than search.
        parts = [
            embedder.embed_queries(texts[i : i + _QUERY_BATCH])
            for i in range(0, len(texts), _QUERY_BATCH)
        ]
        vectors = np.vstack(parts) if parts else np.zeros((0, embedder.dimension), np.float32)
        timing["embed_queries"] = time.monotonic() - t0
    means: dict[str, dict[str, float]] = {}
    details: dict[str, dict[str, dict[str, float]]] = {}
    for mode in modes:
        t0 = time.monotonic()
        scores: dict[str, dict[str, float]] = {}
        for row, (query_id, text) in enumerate(zip(ids, texts, strict=True)):
            vector = vectors[row] if vectors is not None else None
            hits = retriever.search(text, k=k, mode=mode, query_vector=vector, chunks=False)
            ranked = [hit.paper.paper_id for hit in hits]
            scores[query_id] = query_metrics(ranked, qrels[query_id], k)
        timing[mode] = time.monotonic() - t0
        means[mode] = {
            name: float(np.mean([s[name] for s in scores.values()])) if scores else 0.0
            for name in metric_names(k)
        }
        details[mode] = scores
    out: dict[str, Any] = {
        "modes": means,
        "queries": len(ids),
        "documents": len(index_version.papers),
        "seconds": time.monotonic() - started,
        "timing": timing,
    }
    if per_query:
        out["per_query"] = details
    return out


@dataclass
class BeirSet:
    """The files of a BEIR directory, with queries and judgements loaded and checked."""

    root: Path
    corpus: Path
    queries: dict[str, str]
    qrels: Qrels
    warnings: list[str] = field(default_factory=list)


def load_beir(root: Path) -> BeirSet:
    """Check the three files exist and load queries and qrels; the corpus is read when indexed."""
    corpus, queries_path, qrels_path = (root / f for f in (CORPUS_FILE, QUERIES_FILE, QRELS_FILE))
    if not root.is_dir():
        raise EvaluationInputError(f"{root}: not a directory (expected a BEIR collection)")
    for path in (corpus, queries_path, qrels_path):
        if not path.is_file():
            raise EvaluationInputError(
                f"{path}: no such file (a BEIR directory holds {CORPUS_FILE}, {QUERIES_FILE} "
                f"and {QRELS_FILE})"
            )
    queries = load_queries(queries_path)
    qrels = load_qrels(qrels_path)
    warnings = []
    unknown = sorted(set(qrels) - set(queries))
    if unknown:
        warnings.append(
            f"{qrels_path}: {len(unknown)} judged query id(s) not in {queries_path.name} "
            f"(skipped): {', '.join(unknown[:5])}{' …' if len(unknown) > 5 else ''}"
        )
    return BeirSet(root, corpus, queries, qrels, warnings)


def check_corpus(corpus: Path) -> list[str]:
    """Read ``corpus`` through; any unreadable record fails the evaluation, since a silently
    smaller corpus would make the numbers incomparable with other systems'. Title-only,
    untitled and empty documents are part of standard collections (CACM): they give warnings
    with their counts (title-only ones are indexed by title, untitled ones by the start of
    their text standing in for a title, empty ones cannot be found)."""
    with open_records(corpus, BEIR_OPTIONS) as stream:
        for _ in stream:
            pass
    if stream.errors:
        shown = "\n  ".join(str(e) for e in stream.errors[:5])
        more = f"\n  … and {stream.n_errors - 5} more" if stream.n_errors > 5 else ""
        raise EvaluationInputError(f"{corpus}: unusable records:\n  {shown}{more}")
    warnings = []
    if stream.n_title_only:
        warnings.append(
            f"{corpus}: {stream.n_title_only} of {stream.n_records} documents have a title and "
            "no text (indexed by their title alone)"
        )
    if stream.n_untitled:
        warnings.append(
            f"{corpus}: {stream.n_untitled} document(s) have text and no title (titled by the "
            "start of their text)"
        )
    if stream.n_empty:
        warnings.append(
            f"{corpus}: {stream.n_empty} document(s) have neither title nor text (not indexed; "
            "judged relevant, they count as not retrieved)"
        )
    return warnings


def index_corpus(
    corpus: Path,
    index_dir: Path,
    settings: IndexerSettings,
    embedder: Embedder,
    progress: Progress | None = None,
) -> list[str]:
    """Index ``corpus`` into ``index_dir``; the warnings worth showing (e.g. merged records)."""
    from indexer.builder import Indexer

    indexer = Indexer(
        settings.updated(index_dir=index_dir),
        embedder=embedder,
        progress=progress or SilentProgress(),
    )
    report = indexer.add([corpus], BEIR_OPTIONS)
    if not report.merged:
        return []
    # Duplicates (same id, or same title without ids of their own) become one paper; a
    # judgement naming a dropped id is reported by run_beir as not in the index.
    return [f"{corpus}: {report.merged} duplicate record(s) merged into another"]


def run_beir(
    beir: BeirSet,
    settings: IndexerSettings,
    embedder: Embedder | None = None,
    modes: Sequence[SearchMode] = SEARCH_MODES,
    k: int = 100,
    index_dir: Path | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Evaluate on a loaded BEIR set: index its corpus into a temporary directory (deleted
    afterwards) unless ``index_dir`` names an index of it, then ``evaluate_retrieval``.

    The embedder (default: built from ``settings``) is loaded only once the inputs are known
    to be usable. The result adds ``"warnings"`` and ``"timing"["index"]`` (or
    ``["open_index"]``) to ``evaluate_retrieval``'s; ``"seconds"`` covers the whole run.
    """
    from indexer.ann import AnnParams
    from indexer.embedders import build_embedder
    from indexer.embedders.factory import embedder_name

    started = time.monotonic()
    warnings = list(beir.warnings)
    params = AnnParams.from_settings(settings.index)
    with contextlib.ExitStack() as stack:
        t0 = time.monotonic()
        if index_dir is None:
            warnings += check_corpus(beir.corpus)
            embedder = embedder or build_embedder(settings)
            tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="abstractqa-eval-"))
            index_dir = Path(tmp) / "index"
            warnings += index_corpus(beir.corpus, index_dir, settings, embedder, progress)
            index = open_index(index_dir, expected_embedder=embedder.name, params=params)
            timing = {"index": time.monotonic() - t0}
        else:
            name = embedder.name if embedder is not None else embedder_name(settings)
            index = open_index(index_dir, expected_embedder=name, params=params)
            timing = {"open_index": time.monotonic() - t0}
            embedder = embedder or build_embedder(settings)
        relevant = {d for judged in beir.qrels.values() for d, g in judged.items() if g > 0}
        missing = relevant - index.papers.keys()
        if missing:
            warnings.append(
                f"{len(missing)} of the {len(relevant)} documents judged relevant are not in "
                f"the index (they count as not retrieved): {', '.join(sorted(missing)[:5])}"
                f"{' …' if len(missing) > 5 else ''}"
            )
        # The served retrieval, feedback and smoothing settings included.
        retriever = Retriever.from_settings(index, embedder, settings)
        out = evaluate_retrieval(
            index, embedder, beir.queries, beir.qrels, modes, k, retriever=retriever
        )
    out["timing"] = timing | out["timing"]
    out["seconds"] = time.monotonic() - started
    out["warnings"] = warnings
    return out
