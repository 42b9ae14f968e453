"""Indexing throughput: the full ``Indexer.add`` pipeline against a bare encoder call.

The bundled corpus (data/daily-papers.txt, 54 papers) is replicated into ``--papers`` distinct
papers: replica r of a paper has the title "<title> (replica r)" and its abstract's sentences
rotated by r, so every replica has its own paper id and content hash and none is deduplicated.
They are written as one JSONL file into a temporary directory.

Both sides use the same, already loaded SentenceTransformer (model loading is not timed):

* pipeline: ``Indexer(IndexerSettings(index_dir=<fresh dir>), embedder=embedder).add([file])``
  end to end: read, dedupe, split sentences, chunk, embed, FAISS + BM25, write the version
  (fsynced) and make it current;
* bare: ``embedder._model.encode(texts, batch_size=<same>, normalize_embeddings=True,
  convert_to_numpy=True)`` over exactly the chunk texts the index ended up with (read back from
  the version's chunks.jsonl).

ratio = bare seconds / pipeline seconds: 1.0 means the pipeline costs nothing beyond the
encoder; the target is >= 0.85. The pair is repeated ``--repeat`` times in alternating order
(pipeline first, then bare first, ...) and medians are reported. An untimed warm-up (the 54
original papers through the pipeline) first pays one-off costs both sides share or that any
long-running process pays once: torch's thread pool, lazy imports (bm25s, NLTK punkt, tiktoken).
The build report splits the pipeline into time inside the embedder and everything else.

Writes ``benchmarks/results/index.json`` (medians as metrics, every pair as samples).

    .venv/bin/python benchmarks/bench_index.py [--papers 2000] [--repeat 3] [--batch-size 64]
                                               [--json] [--results-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The bundled model lies on disk; nothing may try the network.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import RESULTS_DIR, write_results

from indexer.builder import Indexer
from indexer.config import IndexerSettings
from indexer.embedders.local import SentenceTransformerEmbedder
from indexer.index import open_index
from indexer.readers import read_file
from indexer.text import split_sentences

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "data" / "daily-papers.txt"
TARGET_RATIO = 0.85


def replicate_corpus(corpus: Path, n_papers: int, target: Path) -> Path:
    """Write ``n_papers`` distinct papers made from ``corpus`` as JSONL to ``target``."""
    records = read_file(corpus).records
    if not records:
        raise SystemExit(f"{corpus}: no papers")
    with target.open("w", encoding="utf-8") as handle:
        for i in range(n_papers):
            replica, record = divmod(i, len(records))
            base = records[record]
            sentences = split_sentences(base.abstract)
            shift = replica % len(sentences) if sentences else 0
            abstract = " ".join(sentences[shift:] + sentences[:shift])
            title = f"{base.title} (replica {replica})" if replica else base.title
            row = {"title": title, "abstract": abstract, "published": base.published}
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    return target


@dataclass
class PipelineRun:
    seconds: float
    cpu_seconds: float
    papers: int
    chunks: int
    stages: dict[str, float]
    texts: list[str] = field(repr=False)


def run_pipeline(embedder: SentenceTransformerEmbedder, corpus: Path, workdir: Path) -> PipelineRun:
    index_dir = Path(tempfile.mkdtemp(prefix="index-", dir=workdir))
    indexer = Indexer(IndexerSettings(index_dir=index_dir), embedder=embedder)
    started, cpu_started = time.perf_counter(), time.process_time()
    report = indexer.add([corpus])
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    if report.errors or report.merged or report.added == 0:
        raise SystemExit(f"unexpected build: {report.summary()}")
    # The build reports the time spent inside the embedder; everything else is ours (reading,
    # dedup, sentence split, chunking, SQLite, BM25 postings, vector structure, fsync, commit).
    stages = {"embed": report.embed_seconds, "everything else": seconds - report.embed_seconds}
    index = open_index(index_dir)
    texts = [index.chunks[i].text for i in sorted(index.chunks)]
    index.close()
    shutil.rmtree(index_dir)
    return PipelineRun(seconds, cpu_seconds, report.added, report.texts_embedded, stages, texts)


def run_bare(model: Any, texts: list[str], batch_size: int) -> tuple[float, float]:
    """Wall and CPU seconds of one bare encode of ``texts``."""
    started, cpu_started = time.perf_counter(), time.process_time()
    model.encode(
        texts,
        batch_size=batch_size,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    )
    return time.perf_counter() - started, time.process_time() - cpu_started


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--papers", type=int, default=2000, help="distinct papers to index")
    parser.add_argument("--repeat", type=int, default=3, help="(pipeline, bare) pairs to time")
    parser.add_argument(
        "--batch-size", type=int, default=64, help="encoder batch size, both sides (default 64)"
    )
    parser.add_argument("--json", action="store_true", help="print a JSON summary")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    if args.papers < 1 or args.repeat < 1 or args.batch_size < 1:
        parser.error("--papers, --repeat and --batch-size must be positive")

    load_before = os.getloadavg()
    embedder = SentenceTransformerEmbedder(batch_size=args.batch_size)
    model = embedder._model
    workdir = Path(tempfile.mkdtemp(prefix="abstractqa-bench-index-"))
    try:
        corpus = replicate_corpus(CORPUS, args.papers, workdir / "papers.jsonl")
        warm = replicate_corpus(CORPUS, min(args.papers, 54), workdir / "warmup.jsonl")
        run_pipeline(embedder, warm, workdir)

        pipelines: list[PipelineRun] = []
        bares: list[tuple[float, float]] = []
        loads: list[float] = []
        texts: list[str] | None = None
        for i in range(args.repeat):
            # Alternate the order so neither side always runs on a warmer (or hotter) CPU.
            if i % 2 == 1 and texts is not None:
                bares.append(run_bare(model, texts, args.batch_size))
                pipelines.append(run_pipeline(embedder, corpus, workdir))
            else:
                pipelines.append(run_pipeline(embedder, corpus, workdir))
                texts = texts if texts is not None else pipelines[0].texts
                bares.append(run_bare(model, texts, args.batch_size))
            if pipelines[-1].texts != texts:
                raise SystemExit("the pipeline produced different chunks in different runs")
            loads.append(round(os.getloadavg()[0], 2))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    summary = summarise(pipelines, bares, args.batch_size)
    runs = summary.pop("runs")
    summary["load1_before"] = round(load_before[0], 2)
    summary["load1_after_each_pair"] = loads
    params = {"papers": args.papers, "repeat": args.repeat, "batch_size": args.batch_size}
    path = write_results("index", params, summary, {"runs": runs}, results_dir=args.results_dir)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print_table(summary, pipelines, bares)
    print(f"wrote {path}", file=sys.stderr)
    return 0


def summarise(
    pipelines: list[PipelineRun], bares: list[tuple[float, float]], batch_size: int
) -> dict[str, Any]:
    pipeline_s = statistics.median(p.seconds for p in pipelines)
    bare_s = statistics.median(wall for wall, _ in bares)
    # CPU seconds hardly change when other processes compete for the cores (wall seconds do),
    # so their ratio is a cross-check of the wall-clock ratio on a busy machine.
    pipeline_cpu = statistics.median(p.cpu_seconds for p in pipelines)
    bare_cpu = statistics.median(cpu for _, cpu in bares)
    papers, chunks = pipelines[0].papers, pipelines[0].chunks
    return {
        "papers": papers,
        "chunks": chunks,
        "batch_size": batch_size,
        "repeat": len(pipelines),
        "pipeline_seconds": pipeline_s,
        "bare_encode_seconds": bare_s,
        "ratio": bare_s / pipeline_s,
        "ratio_per_pair": [b / p.seconds for (b, _), p in zip(bares, pipelines, strict=True)],
        "pipeline_cpu_seconds": pipeline_cpu,
        "bare_encode_cpu_seconds": bare_cpu,
        "cpu_ratio": bare_cpu / pipeline_cpu,
        "papers_per_second": papers / pipeline_s,
        "chunks_per_second": chunks / pipeline_s,
        "bare_chunks_per_second": chunks / bare_s,
        "target_ratio": TARGET_RATIO,
        "target_met": bare_s / pipeline_s >= TARGET_RATIO,
        "stages_median_seconds": {
            k: statistics.median(p.stages[k] for p in pipelines) for k in pipelines[0].stages
        },
        "runs": [
            {
                "pipeline_seconds": p.seconds,
                "pipeline_cpu_seconds": p.cpu_seconds,
                "bare_encode_seconds": wall,
                "bare_encode_cpu_seconds": cpu,
                "stages": p.stages,
            }
            for p, (wall, cpu) in zip(pipelines, bares, strict=True)
        ],
    }


def print_table(
    summary: dict[str, Any], pipelines: list[PipelineRun], bares: list[tuple[float, float]]
) -> None:
    s = summary
    print(f"{s['papers']} papers, {s['chunks']} chunks, batch size {s['batch_size']}")
    print(f"{'':26} {'median s':>9}  {'CPU s':>9}  runs (wall s)")
    print(
        f"{'pipeline (Indexer.add)':26} {s['pipeline_seconds']:9.2f}  "
        f"{s['pipeline_cpu_seconds']:9.2f}  " + " ".join(f"{p.seconds:.2f}" for p in pipelines)
    )
    print(
        f"{'bare model.encode':26} {s['bare_encode_seconds']:9.2f}  "
        f"{s['bare_encode_cpu_seconds']:9.2f}  " + " ".join(f"{w:.2f}" for w, _ in bares)
    )
    for name, seconds in s["stages_median_seconds"].items():
        print(f"  {name:24} {seconds:9.2f}")
    print(
        f"papers/s {s['papers_per_second']:.1f}, chunks/s {s['chunks_per_second']:.1f}"
        f" (bare encode {s['bare_chunks_per_second']:.1f})"
    )
    met = "met" if s["target_met"] else "NOT met"
    print(
        f"ratio bare/pipeline {s['ratio']:.3f} (target >= {TARGET_RATIO}: {met}); "
        f"CPU-time ratio {s['cpu_ratio']:.3f}"
    )
    print(
        f"1-min load average before {s['load1_before']}, "
        f"1-min load after each pair {s['load1_after_each_pair']}"
    )


if __name__ == "__main__":
    sys.exit(main())
