"""The FAISS vector store of an index version: llama-index's ``FaissMapVectorStore`` with ids
that stay unique after deletions, and per-paper deletion.

llama-index-vector-stores-faiss 0.7 takes each new FAISS id from ``ntotal``, so after a
deletion a new vector reuses a live id (and a query returns it twice); and its
``delete(ref_doc_id)`` removes nothing unless a node id equals the document id. Here ids come
from a counter persisted with the index, and each paper's nodes are remembered.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

import faiss
import numpy as np
from llama_index.core.bridge.pydantic import PrivateAttr
from llama_index.core.schema import BaseNode
from llama_index.vector_stores.faiss import FaissMapVectorStore

VectorIndexKind = Literal["flat", "hnsw"]
INDEX_FILE = "vectors.faiss"
faiss_any: Any = faiss  # faiss's type stubs lack the search-parameter classes
ID_MAP_FILE = "id_map.json"


def new_faiss_index(
    dimension: int, kind: VectorIndexKind, hnsw_m: int = 32, ef_construction: int = 200
) -> Any:
    """An ID-mapped inner-product index: exact (flat) or HNSW."""
    inner: Any
    if kind == "flat":
        inner = faiss.IndexFlatIP(dimension)
    else:
        inner = faiss.IndexHNSWFlat(dimension, hnsw_m, faiss.METRIC_INNER_PRODUCT)
        inner.hnsw.efConstruction = ef_construction
    return faiss.IndexIDMap2(inner)


class PaperVectorStore(FaissMapVectorStore):
    """Chunk vectors keyed by FAISS id; each node belongs to one paper (its ref_doc_id)."""

    _next_id: int = PrivateAttr(default=0)
    _paper_nodes: dict[str, list[str]] = PrivateAttr(default_factory=dict)
    _ef_search: int = PrivateAttr(default=128)

    @classmethod
    def create(
        cls,
        dimension: int,
        kind: VectorIndexKind = "flat",
        hnsw_m: int = 32,
        ef_construction: int = 200,
        ef_search: int = 128,
    ) -> PaperVectorStore:
        store = cls(faiss_index=new_faiss_index(dimension, kind, hnsw_m, ef_construction))
        store._ef_search = ef_search
        return store

    @property
    def kind(self) -> VectorIndexKind:
        inner = faiss.downcast_index(self._faiss_index.index)
        return "hnsw" if isinstance(inner, faiss.IndexHNSW) else "flat"

    @property
    def ef_search(self) -> int:
        """HNSW search breadth (at least k per search); flat ignores it."""
        return self._ef_search

    @ef_search.setter
    def ef_search(self, value: int) -> None:
        self._ef_search = value

    @property
    def dimension(self) -> int:
        return int(self._faiss_index.d)

    @property
    def next_id(self) -> int:
        return self._next_id

    def __len__(self) -> int:
        return int(self._faiss_index.ntotal)

    def faiss_id(self, node_id: str) -> int:
        return int(self._node_id_to_faiss_id_map[node_id])

    def node_id(self, faiss_id: int) -> str:
        return str(self._faiss_id_to_node_id_map[faiss_id])

    def paper_ids(self) -> set[str]:
        return set(self._paper_nodes)

    def add(self, nodes: Sequence[BaseNode], **add_kwargs: Any) -> list[str]:
        vectors = np.array([node.get_embedding() for node in nodes], dtype=np.float32)
        papers = [node.ref_doc_id or node.node_id for node in nodes]
        self.add_vectors([node.node_id for node in nodes], papers, vectors)
        return [node.node_id for node in nodes]

    def add_vectors(
        self, node_ids: Sequence[str], paper_ids: Sequence[str], vectors: np.ndarray
    ) -> list[int]:
        """Add vectors under fresh FAISS ids from the counter; returns those ids."""
        if len(node_ids) != len(vectors) or len(paper_ids) != len(vectors):
            raise ValueError("node_ids, paper_ids and vectors must have the same length")
        duplicate = next((n for n in node_ids if n in self._node_id_to_faiss_id_map), None)
        if duplicate is not None:
            raise ValueError(f"node {duplicate!r} is already in the vector store")
        ids = np.arange(self._next_id, self._next_id + len(node_ids), dtype=np.int64)
        if len(ids):
            self._faiss_index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids)
        self._next_id += len(ids)
        for node_id, paper_id, faiss_id in zip(node_ids, paper_ids, ids.tolist(), strict=True):
            self._node_id_to_faiss_id_map[node_id] = faiss_id
            self._faiss_id_to_node_id_map[faiss_id] = node_id
            self._paper_nodes.setdefault(paper_id, []).append(node_id)
        return ids.tolist()

    def delete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        self.delete_papers([ref_doc_id])

    def delete_papers(self, paper_ids: Iterable[str]) -> int:
        """Remove every vector of these papers; returns how many were removed."""
        node_ids = [n for p in paper_ids for n in self._paper_nodes.pop(p, [])]
        faiss_ids = [self._node_id_to_faiss_id_map.pop(n) for n in node_ids]
        for faiss_id in faiss_ids:
            del self._faiss_id_to_node_id_map[faiss_id]
        if not faiss_ids:
            return 0
        if self.kind == "flat":
            self._faiss_index.remove_ids(np.array(faiss_ids, dtype=np.int64))
        else:
            # HNSW graphs cannot drop nodes: rebuild from the vectors that stay.
            self._rebuild_without(set(faiss_ids))
        return len(faiss_ids)

    def _rebuild_without(self, removed: set[int]) -> None:
        inner: Any = faiss.downcast_index(self._faiss_index.index)
        self._rebuild("hnsw", inner.hnsw.nb_neighbors(1), inner.hnsw.efConstruction, removed)

    def convert(
        self, kind: VectorIndexKind, hnsw_m: int, ef_construction: int, ef_search: int
    ) -> bool:
        """Rebuild the FAISS index as ``kind`` with the same ids and vectors, if it is another
        kind; returns whether it did. The HNSW parameters apply when converting to HNSW."""
        if kind == self.kind:
            return False
        self._rebuild(kind, hnsw_m, ef_construction, set())
        self._ef_search = ef_search
        return True

    def _rebuild(
        self, kind: VectorIndexKind, hnsw_m: int, ef_construction: int, removed: set[int]
    ) -> None:
        old = self._faiss_index
        # Both inner indexes keep the vectors in insertion order, as id_map keeps their ids:
        # one bulk copy instead of a reconstruct call per id.
        ids = faiss.vector_to_array(old.id_map)
        vectors = old.index.reconstruct_n(0, old.ntotal) if len(ids) else None
        keep = ~np.isin(ids, np.fromiter(removed, np.int64, len(removed)))
        fresh = new_faiss_index(old.d, kind, hnsw_m, ef_construction)
        if vectors is not None and keep.any():
            fresh.add_with_ids(np.ascontiguousarray(vectors[keep]), ids[keep])
        self._faiss_index = fresh

    def vectors_of(self, faiss_ids: Sequence[int]) -> np.ndarray:
        return np.vstack([self._faiss_index.reconstruct(int(i)) for i in faiss_ids])

    def search(
        self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` inner products per query row, optionally only among ``allowed`` FAISS ids.

        Returns (scores, ids), each (n_queries, k'); missing results are dropped (k' <= k).
        """
        k = min(k, len(self))
        if k <= 0:
            empty = np.zeros((len(queries), 0))
            return empty.astype(np.float32), empty.astype(np.int64)
        selector = faiss.IDSelectorBatch(allowed) if allowed is not None else None
        if self.kind == "hnsw":
            params: Any = faiss_any.SearchParametersHNSW(
                sel=selector, efSearch=max(self._ef_search, k)
            )
        else:
            params = faiss_any.SearchParameters(sel=selector) if selector is not None else None
        scores, ids = self._faiss_index.search(
            np.ascontiguousarray(queries, dtype=np.float32), k, params=params
        )
        if (ids < 0).any():
            width = int((ids >= 0).sum(axis=1).min())
            scores, ids = scores[:, :width], ids[:, :width]
        return scores, ids

    def save(self, directory: Path) -> list[Path]:
        """Write the index and the id maps into ``directory``; returns the files written."""
        index_path, map_path = directory / INDEX_FILE, directory / ID_MAP_FILE
        faiss.write_index(self._faiss_index, str(index_path))
        id_map = {
            "next_id": self._next_id,
            "ef_search": self._ef_search,
            "papers": {
                p: [self._node_id_to_faiss_id_map[n] for n in nodes]
                for p, nodes in self._paper_nodes.items()
            },
            "nodes": {str(f): n for f, n in self._faiss_id_to_node_id_map.items()},
        }
        map_path.write_text(json.dumps(id_map, separators=(",", ":")), encoding="utf-8")
        return [index_path, map_path]

    @classmethod
    def load(cls, directory: Path) -> PaperVectorStore:
        store = cls(faiss_index=faiss.read_index(str(directory / INDEX_FILE)))
        id_map = json.loads((directory / ID_MAP_FILE).read_text(encoding="utf-8"))
        store._next_id = int(id_map["next_id"])
        store._ef_search = int(id_map.get("ef_search", 128))
        nodes = {int(f): n for f, n in id_map["nodes"].items()}
        store._faiss_id_to_node_id_map = nodes
        store._node_id_to_faiss_id_map = {n: f for f, n in nodes.items()}
        store._paper_nodes = {p: [nodes[f] for f in ids] for p, ids in id_map["papers"].items()}
        if len(nodes) != len(store):
            raise ValueError(
                f"{ID_MAP_FILE} names {len(nodes)} vectors, the index holds {len(store)}"
            )
        return store
