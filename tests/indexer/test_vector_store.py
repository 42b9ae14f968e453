"""The FAISS store: unique ids across deletions (the llama-index 0.7 pitfall), per-paper
deletion, filtered search, and persistence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode

from indexer.vector_store import PaperVectorStore

E = np.eye(6, dtype=np.float32)


def node(i: int, paper: str) -> TextNode:
    n = TextNode(id_=f"n{i}", text=f"text {i}", embedding=E[i].tolist())
    n.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=paper)
    return n


@pytest.fixture(params=["flat", "hnsw"])
def store(request: pytest.FixtureRequest) -> PaperVectorStore:
    return PaperVectorStore.create(6, request.param)


def test_delete_then_add_gives_the_new_vector_a_fresh_id(store: PaperVectorStore) -> None:
    store.add([node(0, "a"), node(1, "b"), node(2, "c")])
    store.delete("a")
    store.add([node(3, "d")])
    _, ids = store.search(E[[2]], 1)
    assert store.node_id(int(ids[0][0])) == "n2"
    _scores, ids = store.search(E[[3]], 3)
    assert next(store.node_id(int(i)) for i in ids[0]) == "n3"
    assert len(set(ids[0].tolist())) == len(ids[0]) == 3
    assert store.faiss_id("n3") == 3


def test_delete_by_paper_removes_all_its_nodes(store: PaperVectorStore) -> None:
    store.add([node(0, "a"), node(1, "a"), node(2, "b")])
    store.delete("a")
    assert len(store) == 1
    assert store.paper_ids() == {"b"}
    _, ids = store.search(E[[0]], 5)
    assert ids[0].tolist() == [2]


def test_search_can_be_restricted_to_allowed_ids(store: PaperVectorStore) -> None:
    store.add([node(i, f"p{i}") for i in range(5)])
    _, ids = store.search(E[[0]], 5, allowed=np.array([3, 4], dtype=np.int64))
    assert sorted(ids[0].tolist()) == [3, 4]


def test_store_round_trips_through_disk(store: PaperVectorStore, tmp_path: Path) -> None:
    store.add([node(0, "a"), node(1, "b")])
    store.delete("a")
    store.save(tmp_path)
    loaded = PaperVectorStore.load(tmp_path)
    assert (loaded.kind, len(loaded), loaded.next_id, loaded.paper_ids()) == (
        store.kind,
        1,
        2,
        {"b"},
    )
    loaded.add([node(2, "c")])
    assert loaded.faiss_id("n2") == 2


def test_adding_a_node_twice_is_refused(store: PaperVectorStore) -> None:
    store.add([node(0, "a")])
    with pytest.raises(ValueError, match="already in the vector store"):
        store.add([node(0, "a")])


@pytest.mark.parametrize(("start", "target"), [("flat", "hnsw"), ("hnsw", "flat")])
def test_converting_the_index_type_keeps_ids_vectors_and_results(start: str, target: str) -> None:
    store = PaperVectorStore.create(6, start)  # type: ignore[arg-type]
    store.add([node(i, f"p{i}") for i in range(6)])
    store.delete("p2")
    assert store.convert(target, 16, 40, 64) is True  # type: ignore[arg-type]
    assert (store.kind, len(store), store.ef_search) == (target, 5, 64)
    _, ids = store.search(E[[4]], 1)
    assert store.node_id(int(ids[0][0])) == "n4"
    np.testing.assert_array_equal(store.vectors_of([5, 0]), E[[5, 0]])
    store.add([node(2, "again")])
    assert store.faiss_id("n2") == 6


def test_converting_to_the_same_type_does_nothing(store: PaperVectorStore) -> None:
    store.add([node(0, "a")])
    assert store.convert(store.kind, 16, 40, 64) is False
    assert store.ef_search == 128
