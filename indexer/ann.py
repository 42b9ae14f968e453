"""Vector search inside one segment: exact over the memory-mapped vectors, or a FAISS index.

Every segment keeps its exact float32 vectors in ``vectors.npy`` (memory-mapped: merges and
re-ranking read them, the page cache decides what stays in RAM). Kinds:

- ``flat``: exact inner products over the mapped vectors; no extra structure. Small segments.
- ``hnsw``: a FAISS HNSW graph over float32 vectors (held in RAM), searched directly.
- ``ivf_sq8``: a FAISS inverted file over 8-bit scalar-quantised codes (a quarter of the
  float32 size in RAM, seconds to train and add where HNSW takes minutes), whose candidates are
  re-ranked by exact inner products with the mapped vectors.

Ids inside a segment are its chunk rows 0..n-1; the version adds the segment's base.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import faiss
import numpy as np

if TYPE_CHECKING:
    from indexer.config import IndexSettings

VectorIndexKind = Literal["flat", "hnsw", "ivf_sq8"]
VECTOR_KINDS: tuple[VectorIndexKind, ...] = ("flat", "hnsw", "ivf_sq8")
VECTORS_FILE = "vectors.npy"
ANN_FILE = "ann.faiss"
faiss_any: Any = faiss  # faiss's type stubs lack the search-parameter classes


@dataclass(frozen=True)
class AnnParams:
    """A version's search parameters (and how its segments' FAISS structures are built)."""

    hnsw_m: int = 32
    hnsw_ef_construction: int = 200
    hnsw_ef_search: int = 128
    ivf_nprobe: int = 64
    # Candidates per wanted result re-ranked exactly (ivf_sq8): on real embeddings (CISI and
    # CACM), 2 finds the exact top 100 and 300 as 4 did, 1 misses ~0.3% (bench_rerank.py).
    rerank_factor: int = 2
    parallel_min_rows: int = 100_000  # IndexSettings.search_parallel_min_rows
    impact_cache_mb: int = 256  # IndexSettings.bm25_impact_cache_mb (BM25, not vectors)

    @classmethod
    def from_settings(cls, s: IndexSettings) -> AnnParams:
        return cls(
            hnsw_m=s.hnsw_m,
            hnsw_ef_construction=s.hnsw_ef_construction,
            hnsw_ef_search=s.hnsw_ef_search,
            ivf_nprobe=s.ivf_nprobe,
            parallel_min_rows=s.search_parallel_min_rows,
            impact_cache_mb=s.bm25_impact_cache_mb,
        )


def ivf_lists(n: int) -> int:
    """Inverted lists for ``n`` vectors: ~4 sqrt(n), the usual FAISS guidance, capped."""
    return int(min(65536, max(16, 4 * int(np.sqrt(n)))))


def build_ann(vectors: np.ndarray, kind: VectorIndexKind, params: AnnParams) -> Any | None:
    """The FAISS structure of a segment of ``vectors`` (None for flat)."""
    n, d = vectors.shape
    if kind == "flat" or n == 0:
        return None
    index: Any
    if kind == "hnsw":
        index = faiss.IndexHNSWFlat(d, params.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = params.hnsw_ef_construction
        index.add(np.ascontiguousarray(vectors))
        return index
    quantizer = faiss.IndexFlatIP(d)
    index = faiss.IndexIVFScalarQuantizer(
        quantizer, d, ivf_lists(n), faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
    )
    rng = np.random.default_rng(0)
    sample = vectors[np.sort(rng.choice(n, min(n, 64 * ivf_lists(n)), replace=False))]
    index.train(np.ascontiguousarray(sample))
    for start in range(0, n, 65536):  # bounded copies out of the mapped file
        index.add(np.ascontiguousarray(vectors[start : start + 65536]))
    return index


def ann_kind(index: Any | None) -> VectorIndexKind:
    if index is None:
        return "flat"
    # read_index gives the concrete class; downcasting it again took ~0.25 ms a search.
    if not isinstance(index, faiss.IndexHNSW | faiss.IndexIVF):
        index = faiss.downcast_index(index)
    return "hnsw" if isinstance(index, faiss.IndexHNSW) else "ivf_sq8"


def save_ann(index: Any | None, directory: Path) -> list[Path]:
    if index is None:
        return []
    faiss.write_index(index, str(directory / ANN_FILE))
    return [directory / ANN_FILE]


def load_ann(directory: Path, kind: VectorIndexKind) -> Any | None:
    return None if kind == "flat" else faiss.read_index(str(directory / ANN_FILE))


def _top(scores: np.ndarray, ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    k = min(k, len(scores))
    if k <= 0:
        return np.zeros(0, np.float32), np.zeros(0, np.int64)
    top = np.argpartition(-scores, k - 1)[:k]
    top = top[np.argsort(-scores[top], kind="stable")]
    return scores[top].astype(np.float32), ids[top].astype(np.int64)


def exclusion(deleted: np.ndarray) -> Any:
    """A FAISS selector of every id but ``deleted``. A segment keeps its own: built per search,
    it was a call out of Python (and back into the GIL) on every search of every segment."""
    inner = faiss.IDSelectorBatch(deleted)
    selector: Any = faiss.IDSelectorNot(inner)
    selector.referenced = inner  # the Python object must outlive the selector
    return selector


def search_segment(
    vectors: np.ndarray,
    index: Any | None,
    query: np.ndarray,
    k: int,
    allowed: np.ndarray | None,
    deleted: np.ndarray | None,
    params: AnnParams,
    excluded: Any | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` (scores, rows) for one query vector among ``allowed`` rows (None: all) that
    are not ``deleted`` (tombstoned chunks; None: none). ``excluded``: ``exclusion(deleted)``
    when the caller keeps one."""
    if allowed is not None and deleted is not None and len(deleted):
        allowed = np.setdiff1d(allowed, deleted, assume_unique=True)
    if allowed is not None and len(allowed) == 0:
        return _top(np.zeros(0, np.float32), np.zeros(0, np.int64), 0)
    if index is None or (allowed is not None and len(allowed) <= 4 * k):
        # Exact: the whole segment, or the few rows a request is restricted to.
        if allowed is None:
            scores = np.asarray(vectors @ query, dtype=np.float32)
            rows = np.arange(len(vectors), dtype=np.int64)
            if deleted is not None and len(deleted):
                scores[deleted] = -np.inf
                keep = np.ones(len(scores), dtype=bool)
                keep[deleted] = False
                scores, rows = scores[keep], rows[keep]
        else:
            scores, rows = np.asarray(vectors[allowed] @ query, dtype=np.float32), allowed
        return _top(scores, rows, k)
    selector: Any = None
    if allowed is not None:
        selector = faiss.IDSelectorBatch(allowed)
    elif deleted is not None and len(deleted):
        selector = excluded if excluded is not None else exclusion(deleted)
    q = np.ascontiguousarray(query[np.newaxis, :], dtype=np.float32)
    if ann_kind(index) == "hnsw":
        p: Any = faiss_any.SearchParametersHNSW(
            sel=selector, efSearch=max(params.hnsw_ef_search, k)
        )
        scores, ids = index.search(q, k, params=p)
        keep = ids[0] >= 0
        return scores[0][keep].astype(np.float32), ids[0][keep].astype(np.int64)
    wanted = max(k * params.rerank_factor, 100)
    dropped = None
    if allowed is None and deleted is not None and 0 < len(deleted) <= wanted:
        # A few tombstones: asked for as many more candidates and dropped after, the kept ones
        # are the ``wanted`` best live ones all the same (up to ties at the last place). A
        # selector is asked about every code scanned: 0.71 against 0.60 ms a segment of
        # 880,000 vectors with one tombstone (ad hoc).
        selector, dropped = None, deleted
    p = faiss_any.SearchParametersIVF(sel=selector, nprobe=params.ivf_nprobe)
    asked = wanted + (len(dropped) if dropped is not None else 0)
    _, ids = index.search(q, min(asked, index.ntotal), params=p)
    found = ids[0][ids[0] >= 0]
    if dropped is not None:
        found = found[~np.isin(found, dropped)][:wanted]
    rows = np.unique(found)
    exact = np.asarray(vectors[rows] @ query, dtype=np.float32)
    return _top(exact, rows, k)
