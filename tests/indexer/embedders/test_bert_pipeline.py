"""The torch BERT document pipeline (tokenizer threads ahead of the forward pass) on CPU."""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

import numpy as np
import pytest

from indexer.config import BUNDLED_MODEL
from indexer.embedders.base import Embedder
from indexer.embedders.bert import bert_layout
from indexer.embedders.local import TorchBertEmbedder, _resolve, load_local_embedder
from indexer.embedders.precision import PROBE_TEXTS, agreement
from indexer.errors import EmbedderError
from tests.fakes.embedders import tokenizer_processes

MIXED = [
    "",
    "short",
    "Speculative decoding drafts tokens with a small model.",
    "Ünïcödé, emoji 🚀 and   odd    spacing\tinside.",
    "word " * 400,  # longer than the model reads: truncated
]


def _texts(corpus_path: Path, lines: int = 12) -> list[str]:
    """``MIXED`` and the first ``lines`` title and abstract lines of the corpus."""
    text = corpus_path.read_text(encoding="utf-8")
    return MIXED + [line for line in text.splitlines() if line][1 : 1 + lines]


def _torch_embedder(**options: object) -> TorchBertEmbedder:
    layout = bert_layout(_resolve(BUNDLED_MODEL)[0])
    assert layout is not None
    return TorchBertEmbedder(BUNDLED_MODEL, layout, **options)  # type: ignore[arg-type]


def test_pipelined_documents_equal_the_plain_path_batch_for_batch(
    float32_embedder: Embedder, corpus_path: Path
) -> None:
    # Before the pipeline, index add sorted chunks by length, cut them into batches of
    # embed_batch_size and embedded each with the serial encoder (the query path in float32):
    # a CPU float32 index gets byte-identical vectors now.
    texts = sorted(_texts(corpus_path, lines=60), key=len)  # 65 texts: two batches of 64
    before = np.vstack(
        [float32_embedder.embed_queries(texts[i : i + 64]) for i in range(0, len(texts), 64)]
    )
    assert np.array_equal(float32_embedder.embed_documents(texts), before)


def test_pipelined_documents_keep_input_order_across_many_small_batches_and_threads(
    float32_embedder: Embedder, corpus_path: Path
) -> None:
    texts = _texts(corpus_path)
    random.Random(7).shuffle(texts)
    threaded = _torch_embedder(document_batch_size=3, tokenizer_workers=3)
    vectors = threaded.embed_documents(texts)
    alone = np.vstack([float32_embedder.embed_queries([text]) for text in texts])
    assert vectors.shape == (len(texts), 384)
    assert np.abs(vectors - alone).max() < 1e-6
    seen = [int(p) for positions, _ in threaded.embed_document_batches(texts) for p in positions]
    assert sorted(seen) == list(range(len(texts)))
    assert seen != list(range(len(texts)))  # yielded shortest first, placed back by position


def test_tokenizer_processes_give_the_vectors_tokenizer_threads_give(
    float32_embedder: Embedder, corpus_path: Path
) -> None:
    texts = _texts(corpus_path, lines=20)
    random.Random(3).shuffle(texts)
    processes = _torch_embedder(
        document_batch_size=4, tokenizer_workers=2, tokenizer_pool="processes"
    )
    try:
        assert processes.tokenizer_processes and processes.tokenizer_workers == 2
        vectors = processes.embed_documents(texts)
        # A second call reuses the running processes.
        assert np.array_equal(processes.embed_documents(texts), vectors)
    finally:
        processes.release()
    threaded = _torch_embedder(document_batch_size=4, tokenizer_workers=2)
    assert not threaded.tokenizer_processes
    assert np.array_equal(threaded.embed_documents(texts), vectors)


def test_a_tokenizer_process_killed_between_calls_is_replaced(corpus_path: Path) -> None:
    texts = _texts(corpus_path, lines=8)
    processes = _torch_embedder(
        document_batch_size=4, tokenizer_workers=2, tokenizer_pool="processes"
    )
    try:
        expected = processes.embed_documents(texts)
        workers = tokenizer_processes()
        assert len(workers) == 2
        os.kill(workers[0], signal.SIGKILL)
        # Once the pool has reaped it (and so knows a worker died), the next call starts a new
        # pool instead of failing on the broken one.
        deadline = time.monotonic() + 30
        while Path(f"/proc/{workers[0]}").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert np.array_equal(processes.embed_documents(texts), expected)
        assert workers[0] not in tokenizer_processes()
    finally:
        processes.release()
    assert tokenizer_processes() == []


def test_a_failure_in_a_tokenizer_worker_surfaces_as_an_embedder_error(
    float32_embedder: Embedder,
) -> None:
    not_text: object = b"bytes are not text"
    threaded = _torch_embedder(document_batch_size=1, tokenizer_workers=2)
    processes = _torch_embedder(document_batch_size=1, tokenizer_pool="processes")
    # batches in threads, in a process; one batch inline
    for embedder in (threaded, processes, float32_embedder):
        with pytest.raises(EmbedderError, match="tokenizing a batch of documents failed"):
            embedder.embed_documents(["a text", not_text, "another text"])  # type: ignore[list-item]
        # The pipeline is not left broken by it.
        assert embedder.embed_documents(["a text", "another text"]).shape == (2, 384)


def test_cpu_documents_stay_float32_and_the_name_ignores_device_and_precision(
    embedder: Embedder,
) -> None:
    assert isinstance(embedder, TorchBertEmbedder)
    assert embedder.document_dtype == "float32" and embedder.device == "cpu"
    lowered = load_local_embedder(device="auto", document_dtype="bfloat16")
    assert isinstance(lowered, TorchBertEmbedder)
    assert lowered.document_dtype == "bfloat16"
    assert lowered.name == embedder.name == f"sentence-transformers:{BUNDLED_MODEL}"


def test_bfloat16_documents_point_where_float32_ones_do(
    float32_embedder: Embedder, corpus_path: Path
) -> None:
    texts = _texts(corpus_path, lines=4)  # bfloat16 is emulated, slowly, on most CPUs
    lowered = _torch_embedder(document_dtype="bfloat16")
    cosines = (lowered.embed_documents(texts) * float32_embedder.embed_documents(texts)).sum(1)
    assert cosines.min() > 0.999
    # The self-check measures the same agreement on its fixed probe texts.
    assert 0.999 < agreement(lowered._encoder, "bfloat16", PROBE_TEXTS) <= 1.0 + 1e-6


def test_float16_agrees_closer_than_bfloat16_so_auto_prefers_it_on_cuda() -> None:
    from indexer.embedders.precision import LOWER, MIN_COSINE

    encoder = _torch_embedder()._encoder
    float16 = agreement(encoder, "float16", PROBE_TEXTS)
    assert float16 >= MIN_COSINE
    assert float16 > agreement(encoder, "bfloat16", PROBE_TEXTS)
    assert LOWER[0] == "float16"


def test_documents_whose_half_precision_vectors_overflow_are_refused(tmp_path: Path) -> None:
    import shutil

    from safetensors.torch import load_file, save_file

    source = Path(_resolve(BUNDLED_MODEL)[0])
    model = tmp_path / "model"
    shutil.copytree(source, model)
    weights = load_file(str(model / "model.safetensors"))
    # Embeddings far beyond float16's range (65504) once squared in the first layer norm.
    weights["embeddings.word_embeddings.weight"] *= 1e5
    save_file(weights, str(model / "model.safetensors"), metadata={"format": "pt"})
    layout = bert_layout(model)
    assert layout is not None
    embedder = TorchBertEmbedder(str(model), layout, document_dtype="float16")
    with pytest.raises(EmbedderError, match="non-finite vectors"):
        embedder.embed_documents(["Attention is all you need.", "A second document."])


def test_releasing_during_a_call_stops_the_workers_once_the_call_ends(
    float32_embedder: Embedder, corpus_path: Path
) -> None:
    texts = _texts(corpus_path, lines=12)
    processes = _torch_embedder(
        document_batch_size=4, tokenizer_workers=2, tokenizer_pool="processes"
    )
    try:
        batches = processes.embed_document_batches(texts)
        done = [next(batches)]
        processes.release()  # a build ending in another thread
        assert len(tokenizer_processes()) == 2  # still running: this call uses them
        done += list(batches)
        assert tokenizer_processes() == []
        vectors = np.empty((len(texts), 384), dtype=np.float32)
        for positions, batch in done:
            vectors[positions] = batch
        assert sorted(int(p) for positions, _ in done for p in positions) == list(range(len(texts)))
        assert np.abs(vectors - float32_embedder.embed_documents(texts)).max() < 1e-6
    finally:
        processes.release()
