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
from indexer.embedders.bert import bert_layout, bfloat16_is_fast
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


def _texts(corpus_path: Path) -> list[str]:
    lines = [line for line in corpus_path.read_text(encoding="utf-8").splitlines() if line]
    return TEXTS + lines[1:81]


def test_torch_vectors_match_sentence_transformers(
    float32_embedder: Embedder, reference: SentenceTransformerEmbedder, corpus_path: Path
) -> None:
    texts = _texts(corpus_path)
    for ours, theirs in (
        (float32_embedder.embed_documents(texts), reference.embed_documents(texts)),
        (float32_embedder.embed_queries(texts), reference.embed_queries(texts)),
    ):
        assert ours.shape == theirs.shape == (len(texts), 384)
        assert np.abs(ours - theirs).max() < 1e-5
        np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_bfloat16_queries_point_where_float32_ones_do_and_documents_stay_exact(
    reference: SentenceTransformerEmbedder, corpus_path: Path
) -> None:
    embedder = load_local_embedder(query_dtype="bfloat16")
    assert isinstance(embedder, TorchBertEmbedder) and embedder.query_dtype == "bfloat16"
    texts = _texts(corpus_path)
    queries = embedder.embed_queries(texts)
    cosines = (queries * reference.embed_queries(texts)).sum(axis=1)
    assert cosines.min() > 0.999
    np.testing.assert_allclose(np.linalg.norm(queries, axis=1), 1.0, atol=1e-5)
    assert np.abs(embedder.embed_documents(texts) - reference.embed_documents(texts)).max() < 1e-5
    # Batch-mates (padding) move a bfloat16 query vector by rounding only.
    alone = np.vstack([embedder.embed_queries([text]) for text in texts[:16]])
    assert (alone * queries[:16]).sum(axis=1).min() > 0.9999


def test_auto_query_dtype_follows_the_cpu(embedder: Embedder) -> None:
    assert isinstance(embedder, TorchBertEmbedder)
    assert embedder.query_dtype == ("bfloat16" if bfloat16_is_fast("cpu") else "float32")


def test_one_text_alone_or_in_a_padded_batch_gets_the_same_vector(
    float32_embedder: Embedder,
) -> None:
    together = float32_embedder.embed_queries(TEXTS)
    alone = np.vstack([float32_embedder.embed_queries([text]) for text in TEXTS])
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


def _rust_padded(model: Path, texts: list[str], limit: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """The Rust tokenizer's own padded ids and attention mask (the reference)."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(model / "tokenizer.json"))
    tokenizer.enable_truncation(max_length=limit)
    tokenizer.enable_padding(pad_id=0)
    encodings = tokenizer.encode_batch(texts)
    ids = np.array([encoding.ids for encoding in encodings], dtype=np.int64)
    mask = np.array([encoding.attention_mask for encoding in encodings], dtype=np.bool_)
    return ids.reshape(len(texts), -1), mask.reshape(len(texts), -1)


def test_token_ids_and_mask_equal_the_rust_tokenizers_with_or_without_the_fast_path(
    corpus_path: Path,
) -> None:
    from indexer.embedders.bert import BertEncoder

    layout = bert_layout(_resolve(BUNDLED_MODEL)[0])
    assert layout is not None
    texts = [*_texts(corpus_path), "[PAD] first", "last [PAD]", "x [PAD] [PAD]", "[PAD]"]
    for fast in (True, False):
        encoder = BertEncoder(layout, fast_wordpiece=fast)
        for start in range(0, len(texts), 7):
            batch = texts[start : start + 7]
            ids, mask = encoder.tokens.padded(batch)
            theirs_ids, theirs_mask = _rust_padded(layout.path, batch)
            assert ids.dtype == np.int64 and mask.dtype == np.bool_
            assert np.array_equal(ids, theirs_ids) and np.array_equal(mask, theirs_mask)


def _linked_model_copy(target: Path) -> Path:
    """The bundled model's files in ``target`` (weights linked, not copied)."""
    source = Path(_resolve(BUNDLED_MODEL)[0])
    for path in source.rglob("*"):
        if path.is_file():
            destination = target / path.relative_to(source)
            destination.parent.mkdir(parents=True, exist_ok=True)
            if path.name == "model.safetensors":
                destination.symlink_to(path)
            else:
                shutil.copyfile(path, destination)
    return target


def test_a_tokenizer_without_a_post_processor_keeps_its_own_ids_and_mask(
    tmp_path: Path,
) -> None:
    from indexer.embedders.bert import BertEncoder

    model = _linked_model_copy(tmp_path / "model")
    config = json.loads((model / "tokenizer.json").read_text(encoding="utf-8"))
    config["post_processor"] = None
    (model / "tokenizer.json").write_text(json.dumps(config), encoding="utf-8")
    layout = bert_layout(model)
    assert layout is not None
    encoder = BertEncoder(layout)
    batch = ["ends in a literal [PAD]", "a longer text that pads the other one out"]
    ids, mask = encoder.tokens.padded(batch)
    theirs_ids, theirs_mask = _rust_padded(model, batch)
    assert np.array_equal(ids, theirs_ids) and np.array_equal(mask, theirs_mask)
    assert not mask[0].all()  # the literal [PAD] is text here, the padding after it is not
