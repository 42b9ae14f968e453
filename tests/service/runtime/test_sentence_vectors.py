"""Sentence vectors are embedded once per paper, however many requests want them at once."""

from __future__ import annotations

import threading
from collections import Counter

import numpy as np

from indexer.embedders import Embedder
from indexer.index import IndexVersion
from service.runtime.sentence_vectors import SentenceVectors
from tests.fakes.embedders import CountingEmbedder


def test_concurrent_requests_on_a_cold_server_embed_each_paper_once(
    corpus_index: IndexVersion, embedder: Embedder
) -> None:
    counting = CountingEmbedder(embedder)
    vectors = SentenceVectors(corpus_index, counting)
    papers = sorted(corpus_index.papers)[:12]
    start = threading.Barrier(8)
    results: list[dict[str, np.ndarray]] = []

    def request(offset: int) -> None:
        start.wait()
        # Overlapping requests, each wanting some of the same papers in another order.
        wanted = papers[offset % 4 :] + papers[: offset % 4]
        results.append(vectors.get(wanted[:8]))

    threads = [threading.Thread(target=request, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    embedded = Counter(counting.embedded)
    assert len(results) == 8
    for paper_id in {p for r in results for p in r}:
        for sentence in corpus_index.papers[paper_id].sentences:
            assert embedded[sentence] == 1, f"{paper_id}: a sentence was embedded twice"
    for result in results:
        for paper_id, matrix in result.items():
            assert matrix.shape == (len(corpus_index.papers[paper_id].sentences), 384)
