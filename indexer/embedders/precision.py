"""The precision documents are embedded in, and the self-check that allows a lower one.

An index holds document vectors for good, so a lower precision is used only where its vectors
stay within cosine ``MIN_COSINE`` of float32: ``auto`` runs float16 or bfloat16 on CUDA,
whichever agrees better on ``PROBE_TEXTS`` after measuring both (float32 when neither passes,
logged); on CPU ``auto`` is float32, so an index built there holds the model's exact vectors.
An explicit ``float16``/``bfloat16`` is used as asked, on any device.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Literal

from indexer.embedders.base import normalise
from indexer.embedders.bert import BertEncoder

log = logging.getLogger(__name__)

DocumentDtype = Literal["auto", "float32", "bfloat16", "float16"]
ResolvedDtype = Literal["float32", "bfloat16", "float16"]
LOWER: tuple[ResolvedDtype, ...] = ("float16", "bfloat16")
MIN_COSINE = 0.9999

# Fixed probe texts: short and long, technical, numeric, non-English, and one over the model's
# input limit (truncated), as chunks of abstracts are.
PROBE_TEXTS = [
    "",
    "Attention is all you need.",
    "We propose a sparse mixture-of-experts layer that routes each token to two of 64 experts.",
    "Speculative decoding drafts tokens with a small model and verifies them with a large one, "
    "cutting latency by 2-3x without changing the output distribution.",
    "Le modèle apprend à mémoriser au moment du test; die Ergebnisse übertreffen Transformer.",
    "Results: BLEU 41.8 on WMT'14 En-Fr, top-1 accuracy 88.5% on ImageNet, FID 2.97 at 256x256.",
    "Graph neural networks aggregate messages from neighbours; we bound their expressivity by "
    "the Weisfeiler-Lehman test and close the gap with higher-order subgraph counts.",
    "Retrieval-augmented generation conditions a language model on passages fetched from an "
    "index, which improves factuality on open-domain question answering benchmarks.",
    "Diffusion models learn to reverse a gradual noising process. " * 12,
    " ".join(f"token{n}" for n in range(400)),
]


def agreements(
    encoder: BertEncoder, dtypes: Sequence[ResolvedDtype], texts: list[str]
) -> dict[ResolvedDtype, float]:
    """Per dtype, the least cosine between a text's vector in it and in float32 (the texts
    tokenized and their float32 vectors computed once for all of them)."""
    import torch

    ids, mask = encoder.tokens.padded(texts)
    ids_t = torch.from_numpy(ids).to(encoder.device)
    mask_t = torch.from_numpy(mask).to(encoder.device)
    reference = normalise(encoder.pooled(ids_t, mask_t).cpu().numpy())
    least: dict[ResolvedDtype, float] = {}
    for dtype in dtypes:
        pooled = encoder.pooled(ids_t, mask_t, dtype=getattr(torch, dtype))
        least[dtype] = float((normalise(pooled.cpu().numpy()) * reference).sum(axis=1).min())
    return least


def agreement(encoder: BertEncoder, dtype: ResolvedDtype, texts: list[str]) -> float:
    """The least cosine between a text's vector in ``dtype`` and in float32."""
    return agreements(encoder, (dtype,), texts)[dtype]


def resolve_document_dtype(encoder: BertEncoder, requested: DocumentDtype) -> ResolvedDtype:
    """The precision ``requested`` means on ``encoder``'s device (see the module's doc)."""
    if requested != "auto":
        return requested
    if encoder.device.type != "cuda":
        return "float32"
    # Both half precisions run at the same speed on the tensor cores; float16 keeps three more
    # bits of mantissa (bfloat16 rounds layer norms' inputs coarsely: on CPU its least cosine on
    # the probe texts is 0.99991), bfloat16 more range (a model whose activations overflow
    # float16 gives NaN, which fails the check). The closer of the two that passes.
    least = agreements(encoder, LOWER, PROBE_TEXTS)
    passing = {dtype: value for dtype, value in least.items() if value >= MIN_COSINE}
    if passing:
        chosen = max(passing, key=lambda dtype: passing[dtype])
        log.info(
            "documents embedded in %s (probe cosine to float32 >= %.7f)", chosen, passing[chosen]
        )
        return chosen
    log.warning(
        "documents embedded in float32: in %s a probe text's least cosine to float32 is under %s",
        " and ".join(f"{dtype} ({value:.7f})" for dtype, value in least.items()),
        MIN_COSINE,
    )
    return "float32"


def torch_dtype(dtype: ResolvedDtype) -> Any:
    import torch

    return getattr(torch, dtype)
