"""BERT sentence-transformers models (the bundled all-MiniLM-L6-v2 among them) run on torch alone.

Importing sentence-transformers pulls in transformers, scikit-learn and scipy: about four
seconds on this kind of machine, more than everything else ``abstractqa serve`` does before it
is ready (docs/benchmarks.md, "Cold start"). A model whose sentence-transformers layout is
a plain BERT encoder followed by mean pooling (and optionally normalisation) is a few matrix
products that torch runs directly, with the model's own ``tokenizer.json`` read by the Rust
``tokenizers`` library. The vectors are those of ``SentenceTransformer.encode`` (fp32, the same
operations; tests compare them), so an index built by either runs with the other.

Any other layout (prompts, CLS or max pooling, dense heads, other architectures) is left to
sentence-transformers: ``bert_layout`` returns None for it.
"""

from __future__ import annotations

import json
import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from indexer.embedders.bert_tokens import BertTokens, TokenSettings

_TRANSFORMER = "sentence_transformers.models.Transformer"
_POOLING = "sentence_transformers.models.Pooling"
_NORMALIZE = "sentence_transformers.models.Normalize"
_OTHER_POOLING = (
    "pooling_mode_cls_token",
    "pooling_mode_max_tokens",
    "pooling_mode_mean_sqrt_len_tokens",
    "pooling_mode_weightedmean_tokens",
    "pooling_mode_lasttoken",
)


@dataclass(frozen=True)
class BertLayout:
    """What the torch path needs to know of a model directory."""

    path: Path
    config: dict[str, Any]
    max_seq_length: int
    lowercase: bool


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _pooling_is_mean(path: Path) -> bool:
    pooling = _json(path / "config.json")
    if not pooling.get("pooling_mode_mean_tokens"):
        return False
    return not any(pooling.get(key) for key in _OTHER_POOLING)


def _has_prompts(path: Path) -> bool:
    file = path / "config_sentence_transformers.json"
    if not file.is_file():
        return False
    settings = _json(file)
    return any(settings.get("prompts", {}).values()) or bool(settings.get("default_prompt_name"))


def bert_layout(model_dir: str | Path) -> BertLayout | None:
    """The layout of ``model_dir`` when this module can run it exactly, else None."""
    path = Path(model_dir)
    try:
        modules = _json(path / "modules.json")
        kinds = [module["type"] for module in modules]
        if kinds not in ([_TRANSFORMER, _POOLING], [_TRANSFORMER, _POOLING, _NORMALIZE]):
            return None
        if modules[0].get("path", "") != "" or not _pooling_is_mean(path / modules[1]["path"]):
            return None
        if _has_prompts(path) or not (path / "tokenizer.json").is_file():
            return None
        if not (path / "model.safetensors").is_file():
            return None
        config = _json(path / "config.json")
        st_config = _json(path / "sentence_bert_config.json")
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return None
    plain_bert = (
        config.get("model_type") == "bert"
        and config.get("hidden_act") == "gelu"
        and config.get("position_embedding_type", "absolute") == "absolute"
        and not config.get("is_decoder", False)
    )
    if not plain_bert:
        return None
    limit = min(int(st_config.get("max_seq_length") or 512), int(config["max_position_embeddings"]))
    return BertLayout(
        path=path,
        config=config,
        max_seq_length=limit,
        lowercase=bool(st_config.get("do_lower_case")),
    )


def bfloat16_is_fast(device: str) -> bool:
    """Whether this CPU multiplies bfloat16 matrices natively (AVX512-BF16 or AMX): there
    bfloat16 query encoding is ~1.8x faster than float32 for the same ranking
    (docs/benchmarks.md, "Query encoder precision"); elsewhere it is emulated and slower."""
    if device != "cpu":
        return False
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            return bool({"avx512_bf16", "amx_bf16"} & set(line.split(":", 1)[-1].split()))
    return False


def token_settings(layout: BertLayout, fast: bool = True) -> TokenSettings:
    """How ``layout``'s model tokenizes (``fast``: plain-ASCII texts by the word cache)."""
    return TokenSettings(
        tokenizer_file=str(layout.path / "tokenizer.json"),
        max_length=layout.max_seq_length,
        pad_id=int(layout.config.get("pad_token_id") or 0),
        lowercase=layout.lowercase,
        fast=fast,
    )


# Query, key and value projections in one matrix product (_fused_qkv).
QKV = "attention.self.qkv"


def _fused_qkv(weights: dict[str, Any], layers: int) -> dict[str, Any]:
    """``weights`` with each layer's query, key and value projections stacked into one: one
    matrix product reads the layer's input once instead of three times (each output column is
    the same dot product as before)."""
    import torch

    for n in range(layers):
        prefix = f"encoder.layer.{n}.attention.self."
        for part in ("weight", "bias"):
            names = [f"{prefix}{kind}.{part}" for kind in ("query", "key", "value")]
            weights[f"encoder.layer.{n}.{QKV}.{part}"] = torch.cat([weights.pop(m) for m in names])
    return weights


class BertEncoder:
    """Tokenizer + BERT forward pass + mean pooling, safe to call from several threads.

    Weights are held in float32 (a half-precision checkpoint is up-cast on loading); a
    ``float16``/``bfloat16`` copy is made on first use of that precision (``pooled(dtype=)``).
    """

    def __init__(
        self, layout: BertLayout, device: str = "cpu", fast_wordpiece: bool = True
    ) -> None:
        import torch
        from safetensors.torch import load_file

        self._torch = torch
        self.device = torch.device(device)
        config = layout.config
        self.max_seq_length = layout.max_seq_length
        self.dimension = int(config["hidden_size"])
        self._heads = int(config["num_attention_heads"])
        self._layers = int(config["num_hidden_layers"])
        self._eps = float(config.get("layer_norm_eps", 1e-12))
        weights = load_file(str(layout.path / "model.safetensors"), device=str(self.device))
        self._w = _fused_qkv(
            {name.removeprefix("bert."): tensor.float() for name, tensor in weights.items()},
            self._layers,
        )
        self._cast: dict[Any, dict[str, Any]] = {}
        self._cast_lock = threading.Lock()
        self.tokens = BertTokens(token_settings(layout, fast_wordpiece))
        self.pad_id = self.tokens.pad_id

    def count_tokens(self, texts: list[str]) -> list[int]:
        return self.tokens.count(texts)

    def encode(self, texts: list[str], batch_size: int, bfloat16: bool = False) -> np.ndarray:
        """(len(texts), dimension) mean-pooled vectors, not normalised; longest texts batched
        together, as sentence-transformers does, so padding stays short. ``bfloat16`` runs the
        matrix products in bfloat16 (torch autocast; layer norms, softmax and pooling stay
        float32). The query path; documents go through ``DocumentPipeline``."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            ids, mask = self.tokens.padded([texts[i] for i in batch])
            torch = self._torch
            pooled = self.pooled(
                torch.from_numpy(ids).to(self.device),
                torch.from_numpy(mask).to(self.device),
                bfloat16=bfloat16,
            )
            out[batch] = pooled.cpu().numpy()
        return out

    def pooled(self, ids: Any, mask: Any, bfloat16: bool = False, dtype: Any = None) -> Any:
        """Mean-pooled float32 vectors (a tensor on the device) of a tokenized batch.
        ``bfloat16``: matrix products under bfloat16 autocast; ``dtype``: the whole forward
        pass in that precision (weights cast once), pooling in float32."""
        torch = self._torch
        autocast = torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=bfloat16)
        with torch.inference_mode(), autocast:
            hidden = self._forward(ids, mask, self._weights(dtype)).float()
            weights = mask.unsqueeze(-1).to(hidden.dtype)
            return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)

    def _weights(self, dtype: Any) -> dict[str, Any]:
        if dtype is None or dtype == self._torch.float32:
            return self._w
        with self._cast_lock:
            if dtype not in self._cast:
                self._cast[dtype] = {name: t.to(dtype) for name, t in self._w.items()}
            return self._cast[dtype]

    def _forward(self, ids: Any, mask: Any, w: dict[str, Any]) -> Any:
        functional = self._torch.nn.functional
        batch, width = ids.shape
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:width].unsqueeze(0)
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = self._norm(x, w, "embeddings.LayerNorm")
        head_dim = self.dimension // self._heads
        attend = mask[:, None, None, :]

        def heads(t: Any) -> Any:
            return t.view(batch, width, self._heads, head_dim).transpose(1, 2)

        for n in range(self._layers):
            p = f"encoder.layer.{n}."
            q, k, v = map(heads, self._linear(x, w, p + QKV).split(self.dimension, dim=-1))
            context = functional.scaled_dot_product_attention(
                q, k, v, attn_mask=attend, scale=1.0 / math.sqrt(head_dim)
            )
            context = context.transpose(1, 2).reshape(batch, width, self.dimension)
            x = self._norm(
                self._linear(context, w, p + "attention.output.dense") + x,
                w,
                p + "attention.output.LayerNorm",
            )
            inner = functional.gelu(self._linear(x, w, p + "intermediate.dense"))
            x = self._norm(
                self._linear(inner, w, p + "output.dense") + x, w, p + "output.LayerNorm"
            )
        return x

    def _linear(self, x: Any, w: dict[str, Any], name: str) -> Any:
        return self._torch.nn.functional.linear(x, w[name + ".weight"], w[name + ".bias"])

    def _norm(self, x: Any, w: dict[str, Any], name: str) -> Any:
        return self._torch.nn.functional.layer_norm(
            x, (self.dimension,), w[name + ".weight"], w[name + ".bias"], self._eps
        )
