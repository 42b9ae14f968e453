"""The torch-only BERT path gives sentence-transformers' vectors for the bundled model."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from indexer.config import BUNDLED_MODEL
from indexer.embedders.base import Embedder
from indexer.embedders.bert import bert_layout
from indexer.embedders.local import (
    SentenceTransformerEmbedder,
    TorchBertEmbedder,
    _resolve,
    load_local_embedder,
)

TEXTS = [
    "Speculative decoding drafts tokens with a small model.",
    "short",
    "Ünïcödé, emoji 🚀 and   odd    spacing\tinside.",
    "word " * 400,  # longer than the model reads: truncated the same way
    "",
]


@pytest.fixture(scope="module")
def reference() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder()


def test_the_bundled_model_runs_on_torch_directly(embedder: Embedder) -> None:
    assert isinstance(embedder, TorchBertEmbedder)
    assert embedder.name == f"sentence-transformers:{BUNDLED_MODEL}"
    assert embedder.dimension == 384


def test_torch_vectors_match_sentence_transformers(
    embedder: Embedder, reference: SentenceTransformerEmbedder, corpus_path: Path
) -> None:
    lines = [line for line in corpus_path.read_text(encoding="utf-8").splitlines() if line]
    texts = TEXTS + lines[1:81]
    for ours, theirs in (
        (embedder.embed_documents(texts), reference.embed_documents(texts)),
        (embedder.embed_queries(texts), reference.embed_queries(texts)),
    ):
        assert ours.shape == theirs.shape == (len(texts), 384)
        assert np.abs(ours - theirs).max() < 1e-5
        np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_one_text_alone_or_in_a_padded_batch_gets_the_same_vector(embedder: Embedder) -> None:
    together = embedder.embed_queries(TEXTS)
    alone = np.vstack([embedder.embed_queries([text]) for text in TEXTS])
    assert np.abs(together - alone).max() < 1e-5


def test_token_counts_and_limit_match_sentence_transformers(
    embedder: Embedder, reference: SentenceTransformerEmbedder
) -> None:
    assert embedder.max_input_tokens == reference.max_input_tokens == 254
    assert embedder.count_tokens_many(TEXTS) == reference.count_tokens_many(TEXTS)


def test_runtime_sentence_transformers_forces_the_library() -> None:
    assert isinstance(
        load_local_embedder(runtime="sentence-transformers"), SentenceTransformerEmbedder
    )


def _model_copy(tmp_path: Path) -> Path:
    source = Path(_resolve(BUNDLED_MODEL)[0])
    target = tmp_path / "model"
    shutil.copytree(source, target)
    return target


@pytest.mark.parametrize(
    ("file", "change"),
    [
        (
            "1_Pooling/config.json",
            {"pooling_mode_mean_tokens": False, "pooling_mode_cls_token": True},
        ),
        ("config.json", {"model_type": "roberta"}),
        ("config.json", {"position_embedding_type": "relative_key"}),
        ("config_sentence_transformers.json", {"prompts": {"query": "query: "}}),
    ],
)
def test_other_layouts_are_left_to_sentence_transformers(
    tmp_path: Path, file: str, change: dict[str, object]
) -> None:
    model = _model_copy(tmp_path)
    assert bert_layout(model) is not None
    path = model / file
    path.write_text(json.dumps({**json.loads(path.read_text()), **change}))
    assert bert_layout(model) is None


def test_a_model_without_safetensors_weights_is_left_to_sentence_transformers(
    tmp_path: Path,
) -> None:
    model = _model_copy(tmp_path)
    (model / "model.safetensors").unlink()
    assert bert_layout(model) is None


def test_loading_the_bundled_model_imports_neither_transformers_library() -> None:
    code = (
        "import sys\n"
        "from indexer.embedders.local import load_local_embedder\n"
        "load_local_embedder().embed_queries(['a question'])\n"
        "print(sorted(m for m in ('sentence_transformers', 'transformers') if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "[]"
