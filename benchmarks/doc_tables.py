"""The tables of docs/benchmarks.md, each drawn from one results file (benchmarks/_results.py).

``TABLES[(name, table)]`` turns the document of ``benchmarks/results/<name>.json`` into the
Markdown of one block; ``render_docs.py`` puts it between the doc's markers. A new table is a
function here and an entry in ``TABLES``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import read_results
from scale_report import markdown as scale_markdown
from scale_report import summary as scale_summary

Document = dict[str, Any]


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def f3(value: float) -> str:
    return f"{value:.3f}"


def f1(value: float) -> str:
    return f"{value:,.1f}"


def _params(chosen: Any) -> str:
    if isinstance(chosen, dict):
        feedback = chosen.get("feedback", "off")
        return f"dense weight {chosen['dense_weight']}, depth {chosen['depth']}" + (
            "" if feedback == "off" else f", {feedback}"
        )
    return str(chosen)


def _folds(chosen: list[Any]) -> str:
    if all(isinstance(c, dict) for c in chosen):
        return "; ".join(
            f"{c['dense_weight']}/{c['depth']}"
            + ("" if c.get("feedback", "off") == "off" else f" {c['feedback']}")
            for c in chosen
        )
    return ", ".join(str(c) for c in chosen)


def cv_collections(doc: Document) -> str:
    rows = [
        [
            name,
            f"{c['documents']:,}",
            f"{c['title_only']:,}",
            str(c["skipped_empty"]),
            f"{c['indexed']:,}",
            str(c["queries"]),
            str(c["relevant_not_indexed"]),
        ]
        for name, c in doc["metrics"]["collections"].items()
    ]
    header = ["collection", "documents", "title only (indexed by title)", "empty (skipped)"]
    header += ["indexed", "judged queries", "relevant documents not indexed"]
    return table(header, rows)


def cv_default_modes(doc: Document) -> str:
    rows = []
    for name, c in doc["metrics"]["collections"].items():
        for mode, values in c["default_settings"]["modes"].items():
            rows.append([name, mode, *(f3(v) for v in values.values())])
    first = next(iter(doc["metrics"]["collections"].values()))
    metrics = list(next(iter(first["default_settings"]["modes"].values())))
    return table(["collection", "mode", *metrics], rows)


CV_FAMILIES = (
    ("hybrid_no_feedback", "hybrid, no feedback"),
    ("hybrid", "hybrid, feedback in the grid"),
    ("single_no_feedback", "best single retriever, no feedback"),
    ("single", "best single retriever, feedback in the grid"),
)


def cv_scores(doc: Document) -> str:
    rows = []
    for name, c in doc["metrics"]["collections"].items():
        for family, label in CV_FAMILIES:
            if family not in c:
                continue
            f = c[family]
            other = f.get("tuned_on_other")
            rows.append(
                [
                    name,
                    label,
                    f"{f3(f['in_sample']['ndcg10'])} ({_params(f['in_sample']['chosen'])})",
                    f"**{f3(f['held_out_folds']['ndcg10'])}**",
                    _folds(f["held_out_folds"]["chosen_per_fold"]),
                    f"{f3(other['ndcg10'])} ({_params(other['chosen'])})" if other else "",
                ]
            )
    header = ["collection", "retrieval", "in-sample nDCG@10 (chosen on all queries)"]
    header += ["held-out nDCG@10 (5 folds)", "chosen per fold", "tuned on the other collection"]
    return table(header, rows)


def cv_recommended(doc: Document) -> str:
    rec = doc["metrics"]["recommended"]
    rows = [[_params(rec["params"]), *(f3(v) for v in rec["in_sample_ndcg10"].values())]]
    header = [
        "best on both collections at once",
        *(f"{n} nDCG@10 (in-sample)" for n in rec["in_sample_ndcg10"]),
    ]
    return table(header, rows)


def retrieval_variants(doc: Document) -> str:
    rows = [
        [name, f3(v["nDCG@10"]), f3(v["hit@1"])] for name, v in doc["metrics"]["variants"].items()
    ]
    return table(["variant", "CISI nDCG@10", "bundled hit@1"], rows)


def _latency_row(label: str, v: dict[str, float]) -> list[str]:
    return [label, f1(v["p50"]), f1(v["p95"]), f1(v["p99"]), f1(v["qps"])]


def service_sweep(doc: Document) -> str:
    m = doc["metrics"]
    sweep = m["search_sweep"]
    rows = [
        _latency_row(f"{c} client{'s' if int(c) > 1 else ''}", sweep[c])
        for c in sorted(sweep, key=int)
    ]
    rows.append(_latency_row("16 clients, 16 repeated queries (cache)", m["search_repeated_c16"]))
    rows += [
        [f"encoder, {label}", "", "", "", f"{f1(qps)} q/s"]
        for label, qps in m["encoder_floor_by_config"].items()
    ]
    return table(["`/v1/search`, distinct queries", "p50 ms", "p95 ms", "p99 ms", "req/s"], rows)


def service_targets(doc: Document) -> str:
    m = doc["metrics"]
    c16, floor = m["search_sweep"]["16"], m["encoder_floor_qps"]
    one = m["one_query_floor_ms"]["p50"]
    search, ask = m["/v1/search c=1"]["p50"], m["/v1/ask c=1"]["p50"]
    rows = [
        [
            "16 clients: throughput >= 60% of the encoder floor",
            f"{f1(c16['qps'])} / {f1(floor)} ({m['encoder_floor_config']}) = "
            f"{100 * c16['qps'] / floor:.0f}%",
            _met(c16["qps"] >= 0.6 * floor),
        ],
        ["16 clients: p99 <= 150 ms", f"{f1(c16['p99'])} ms", _met(c16["p99"] <= 150)],
        [
            "1 client: `/v1/search` p50 <= 2x the in-process one-query floor",
            f"{f1(search)} / {f1(one)} ms = {search / one:.2f}x",
            _met(search <= 2 * one),
        ],
        ["1 client: extractive `/v1/ask` p50 <= 60 ms", f"{f1(ask)} ms", _met(ask <= 60)],
    ]
    return table(["target", "recorded run", "met"], rows)


def _met(met: bool) -> str:
    return "yes" if met else "**no**"


def coldstart_runs(doc: Document) -> str:
    m, runs = doc["metrics"], doc["samples"]["runs"]
    rows = [
        [label, fmt(m[key]), ", ".join(fmt(r[key]) for r in runs)]
        for label, key, fmt in (
            ("launch -> `/readyz` 200, s", "ready_s", lambda v: f"{v:.2f}"),
            ("RSS at ready, MB", "rss_ready_mb", lambda v: f"{v:,.0f}"),
            ("RSS after the queries, MB", "rss_after_mb", lambda v: f"{v:,.0f}"),
        )
    ]
    return table(["measure", "median", "runs"], rows)


def coldstart_phases(doc: Document) -> str:
    rows = [[step, f"{s:.3f}"] for step, s in doc["metrics"]["phases_s"].items()]
    return table(["step", "s"], rows)


def scale_calibration(doc: Document) -> str:
    m = doc["metrics"]
    rows = [
        [
            label,
            f3(m[key]["pair_cosine_mean"]),
            f"{f3(m[key]['nn1_cosine_median'])} / {f3(m[key]['nn10_cosine_median'])}",
            f1(m[key]["effective_dim"]),
        ]
        for label, key in (("real (CISI, MiniLM)", "real"), ("synthetic", "synthetic"))
    ]
    header = ["", "mean cosine of random pairs", "median cosine of 1st / 10th neighbour"]
    return table([*header, "effective dimension (PCA participation ratio)"], rows)


def answers(doc: Document) -> str:
    a, v = doc["metrics"]["answers"], doc["metrics"]["verification"]
    rows = [
        [
            "questions (answerable / unanswerable)",
            f"{a['questions']} ({a['answerable']} / {a['unanswerable']})",
        ],
        [
            "hit@1 / recall@5 / MRR",
            f"{f3(a['hit_at_1'])} / {f3(a['recall_at_5'])} / {f3(a['mrr'])}",
        ],
        ["citation precision", f3(a["citation_precision"])],
        ["unanswerable questions abstained", f3(a["abstention_accuracy"])],
        ["answerable questions abstained (false abstentions)", str(a["false_abstentions"])],
        ["claim verification accuracy", f"{f3(v['accuracy'])} ({v['claims']} claims)"],
    ]
    return table(["measure (in-sample: the defaults were chosen on this set)", "value"], rows)


def _rate(r: dict[str, Any]) -> str:
    low, high = r["ci95"]
    return f"{f3(r['rate'])} [{f3(low)}, {f3(high)}]"


def cv_abstention(doc: Document) -> str:
    m = doc["metrics"]
    rows = [
        [label, _rate(m[key]["abstention_accuracy"]), _rate(m[key]["false_abstention_rate"])]
        for label, key in (
            ("held-out (5 folds, pooled)", "held_out"),
            ("in-sample, chosen on all questions", "in_sample_chosen_on_all"),
            ("in-sample, the served defaults", "in_sample_current_defaults"),
        )
    ]
    header = ["", "unanswerable abstained (95% CI)", "answerable abstained (95% CI)"]
    return table(header, rows)


def _mb(value: float) -> str:
    return f"{value:,.0f} MB"


def corpus_scale(doc: Document) -> str:
    m = doc["metrics"]
    large, bundled = m["large"], m["bundled_serve"]
    serve = large["serve"]
    rows = [
        ["papers", f"{large['papers']:,}"],
        [
            "`index add`: wall / papers per s",
            f"{f1(large['add']['seconds'])} s / {f1(large['papers_per_s'])}",
        ],
        ["papers per s excluding the embedder", f1(large["papers_per_s_excluding_embedder"])],
        ["`index add`: peak RSS", _mb(large["add"]["peak_rss_mb"])],
        ["index on disk", _mb(large["index_bytes"] / 1e6)],
        *(
            [["of which vectors and ANN structures", _mb(large["vector_bytes"] / 1e6)]]
            if "vector_bytes" in large
            else []
        ),
        [
            "add 20 papers: wall / bytes written (share of the index)",
            f"{f1(large['add_20']['seconds'])} s / {large['add_20_bytes_written']:,} "
            f"({100 * large['add_20_share_of_index']:.2f}%)",
        ],
        ["remove 1 paper: wall", f"{f1(large['remove_1']['seconds'])} s"],
        [
            "serve: ready / RSS at ready / after the queries",
            f"{f1(serve['ready_s'])} s / {_mb(serve['rss_ready_mb'])} / "
            f"{_mb(serve['rss_after_mb'])}",
        ],
        [
            "/v1/search p50 (bundled corpus, same run)",
            f"{f1(serve['search']['p50'])} ms ({f1(bundled['search']['p50'])} ms, "
            f"ratio {large['search_p50_ratio_to_bundled']:.2f})",
        ],
        [
            "/v1/ask p50 (bundled corpus, same run)",
            f"{f1(serve['ask']['p50'])} ms ({f1(bundled['ask']['p50'])} ms, "
            f"ratio {large['ask_p50_ratio_to_bundled']:.2f})",
        ],
    ]
    if "resume" in m:
        r = m["resume"]
        rows.append(
            [
                "resume after kill -9: texts embedded twice (batch)",
                f"{r['embedded_twice']} ({r['batch']})",
            ]
        )
    e = m["endless_input"]
    rows.append(
        [
            "`index add /dev/zero`: exit / wall / peak RSS",
            f"{e['exit_code']} / {f1(e['seconds'])} s / {_mb(e['peak_rss_mb'])}",
        ]
    )
    if "real_model" in m:
        real = m["real_model"]
        rows.append(
            [
                "real model: papers, `index add` wall, search p50",
                f"{real['papers']}, {f1(real['add']['seconds'])} s, "
                f"{f1(real['serve']['search']['p50'])} ms",
            ]
        )
    return table(["measure", "value"], rows)


def _by_size(doc: Document) -> list[tuple[int, dict[str, Any]]]:
    """A bench_scale results file's sizes (JSON keys are strings), smallest first."""
    return sorted((int(n), size) for n, size in doc["metrics"]["sizes"].items())


def scale_ivf(doc: Document) -> str:
    rows = []
    for n, size in _by_size(doc):
        ivf, flat = size["ivf_sq8"], size["flat"]
        exact = flat["latency_ms"]["10"]["cpu"]["p50"]
        for point in ivf["sweep_k10"]:
            rows.append(
                [
                    f"{n:,}",
                    str(point["nprobe"]),
                    f"{point['recall']:.4f}",
                    f"{point['latency_ms']['cpu']['p50']:.2f} ms ({exact:.2f} ms)",
                    f"{ivf['build_s']:.1f} s",
                    f"{ivf['index_bytes'] / 1e6:,.0f} MB ({flat['index_bytes'] / 1e6:,.0f} MB)",
                ]
            )
    header = ["vectors", "nprobe", "recall@10", "CPU p50 (flat)", "build", "RAM (flat float32)"]
    return table(header, rows)


def scale_auto(doc: Document) -> str:
    """HNSW against IVF-SQ8 at the served efSearch / nprobe (the auto rule's measurement)."""
    settings = {"hnsw": ("ef_search", doc["params"]["hnsw_ef_search"]), "ivf_sq8": ("nprobe", 64)}
    rows = []
    for n, size in _by_size(doc):
        for kind, (knob, value) in settings.items():
            point = next(p for p in size[kind]["sweep_k10"] if p[knob] == value)
            rows.append(
                [
                    f"{n:,}",
                    f"{kind} ({knob} {value})",
                    f"{size[kind]['build_s']:.1f} s",
                    f"{point['recall']:.4f}",
                    f"{point['latency_ms']['cpu']['p50']:.2f} ms",
                    f"{size[kind]['index_bytes'] / 1e6:,.0f} MB",
                ]
            )
    header = ["vectors", "structure", "build (2 threads)", "recall@10", "CPU p50", "RAM"]
    return table(header, rows)


def _scale(doc: Document) -> dict[str, Any]:
    return {"settings": doc["params"], "sizes": doc["metrics"]["sizes"]}


def _hours(hours: float) -> str:
    return f"{hours * 60:,.0f} min" if hours < 1 else f"{hours:,.1f} h"


def build_rate(doc: Document) -> str:
    labels = {
        "local": f"in process ({doc['params']['device']})",
        "ray": f"Ray, {doc['params']['ray_cpus']} CPU actors on this machine",
    }
    rows = [
        [
            labels[name],
            f"{run['papers']:,} in {f1(run['seconds'])} s",
            f1(run["papers_per_s"]),
            f1(run["chunks_per_s"]),
            f"{100 * run['waiting_on_embedder']:.0f}%",
            *(_hours(hours) for hours in run["estimates_hours"].values()),
        ]
        for name, run in doc["metrics"].items()
    ]
    sizes = next(iter(doc["metrics"].values()))["estimates_hours"]
    header = ["embedding", "measured: papers, wall", "papers/s", "chunks/s"]
    header += ["waiting on the embedder"]
    header += [f"{_size(int(n))} (extrapolated)" for n in sizes]
    return table(header, rows)


def _size(n: int) -> str:
    return f"{n // 1_000_000} M" if n >= 1_000_000 else f"{n // 1000} k"


def _gpu_row(label: str, run: dict[str, Any]) -> list[str]:
    return [
        label,
        run["document_dtype"],
        f"{run['batch_size']:,}",
        str(run["tokenizer_threads"]),
        f"{run['texts_per_s']:,.0f}",
        f"{run['min_cosine_to_cpu_float32']:.7f}",
        "yes" if run["within_cosine"] else "no",
    ]


def gpu_embed_runs(doc: Document) -> str:
    metrics = doc["metrics"]
    rows = [_gpu_row(f"{name}", run) for name, run in metrics["precisions"].items()]
    rows += [_gpu_row("sweep", run) for run in metrics.get("sweep", [])]
    header = ["precision asked", "ran in", "batch", "tokenizer threads", "texts/s (median)"]
    header += ["least cosine to CPU float32", "within 0.9999"]
    return table(header, rows)


def gpu_embed_stages(doc: Document) -> str:
    metrics = doc["metrics"]
    stages = metrics["stages"]
    best = max(
        [*metrics["precisions"].values(), *metrics.get("sweep", [])],
        key=lambda run: run["texts_per_s"] if run["within_cosine"] else 0.0,
    )
    rows = [
        [
            metrics["device"],
            f"{stages['tokenize_texts_per_s']:,.0f} on {stages['tokenizer_threads']} threads, "
            f"{stages['tokenize_texts_per_s_one_thread']:,.0f} on one",
            f"{stages['forward_texts_per_s']:,.0f} ({stages['document_dtype']}, "
            f"batch {stages['batch_size']:,})",
            f"{best['texts_per_s']:,.0f} ({best['document_dtype']}, batch {best['batch_size']:,})",
            f"{metrics['target_texts_per_s']:,}: {'met' if metrics['target_met'] else 'not met'}",
        ]
    ]
    header = ["device", "tokenization alone (texts/s)", "forward pass alone (texts/s)"]
    header += ["whole path, best (texts/s)", "target"]
    return table(header, rows)


def gpu_embed_estimates(doc: Document) -> str:
    """Embedding time alone at the measured rates, in papers through build_rate's chunks per
    paper (its in-process run): an extrapolation, labelled so."""
    build = read_results("build_rate", Path(doc["_results_dir"]))
    local = build["metrics"]["local"]
    chunks_per_paper = local["chunks"] / local["papers"]
    metrics = doc["metrics"]
    runs: dict[int, dict[str, Any]] = {}
    for run in [*metrics["precisions"].values(), *metrics.get("sweep", [])]:
        best = runs.get(run["batch_size"])
        if run["within_cosine"] and (best is None or run["texts_per_s"] > best["texts_per_s"]):
            runs[run["batch_size"]] = run
    rows = [
        [
            f"one H200, {run['document_dtype']}, batch {run['batch_size']:,}",
            f"{run['texts_per_s']:,.0f}",
            f"{run['texts_per_s'] / chunks_per_paper:,.0f}",
            *(_duration(n * chunks_per_paper / run["texts_per_s"]) for n in SIZES),
        ]
        for run in sorted(runs.values(), key=lambda run: run["batch_size"])
    ]
    header = ["embedding", "chunks/s (measured)", f"papers/s ({chunks_per_paper:.2f} chunks each)"]
    header += [f"{_size(n)} (extrapolated)" for n in SIZES]
    return table(header, rows)


def load_endpoints(doc: Document) -> str:
    load = doc["metrics"]["load"]
    rows = []
    for name, e in load["endpoints"].items():
        latency, first = e["latency_ms"], e.get("first_event_ms")
        rows.append(
            [
                f"`{name}`",
                f"{e['requests']:,}",
                str(e["5xx"]),
                str(e["other_status"]),
                str(e["drops"]),
                f1(latency["p50"]),
                f1(latency["p95"]),
                f1(latency["p99"]),
                f1(first["p50"]) if first else "",
            ]
        )
    header = ["endpoint", "requests", "5xx", "other status", "drops", "p50 ms", "p95 ms"]
    header += ["p99 ms", "first event p50 ms"]
    return table(header, rows)


def load_targets(doc: Document) -> str:
    m, params = doc["metrics"], doc["params"]
    load, cache = m["load"], m["query_cache"]
    targets = m["targets"]
    rows = [
        [
            "load",
            f"{load['clients']} clients for {load['seconds']:.0f} s: {load['requests']:,} "
            f"requests, {load['requests_per_s']:.1f}/s",
            "",
        ],
        [
            "query cache hit rate",
            f"{cache['hits']:.0f} of {cache['requested']:,.0f} ({100 * cache['hit_rate']:.1f}%)",
            "",
        ],
        [
            "warm-up without failures",
            f"{m['warmup']['requests']:,} requests",
            _met(targets["warmup_clean"]),
        ],
        ["no 5xx", str(load["5xx"]), _met(targets["no_5xx"])],
        ["no other non-200 status", str(load["other_status"]), _met(targets["no_other_status"])],
        ["no dropped connections", str(load["drops"]), _met(targets["no_drops"])],
        [
            "RSS growth, first vs last 10 s, < 10%",
            f"{100 * load['rss_growth']:+.1f}%",
            _met(targets["rss_growth_under_10pct"]),
        ],
        [
            "per-address connection cap",
            str(params.get("max_connections_per_client", "default (32)")),
            "",
        ],
    ]
    return table(["what", "recorded run", "met"], rows)


SIZES = (100_000, 1_000_000, 10_000_000)


def _duration(seconds: float) -> str:
    return f"{seconds:,.0f} s" if seconds < 120 else _hours(seconds / 3600)


TABLES: dict[tuple[str, str], Callable[[Document], str]] = {
    ("cv_retrieval", "collections"): cv_collections,
    ("cv_retrieval", "default_modes"): cv_default_modes,
    ("cv_retrieval", "scores"): cv_scores,
    ("cv_retrieval", "recommended"): cv_recommended,
    ("retrieval_variants", "variants"): retrieval_variants,
    ("service", "sweep"): service_sweep,
    ("service", "targets"): service_targets,
    ("coldstart", "runs"): coldstart_runs,
    ("coldstart", "phases"): coldstart_phases,
    ("scale", "summary"): lambda doc: scale_summary(_scale(doc)),
    ("scale", "per_size"): lambda doc: scale_markdown(_scale(doc)),
    ("scale_calibration", "comparison"): scale_calibration,
    ("answers", "metrics"): answers,
    ("scale_ivf", "sweep"): scale_ivf,
    ("scale_auto", "kinds"): scale_auto,
    ("cv_abstention", "rates"): cv_abstention,
    ("corpus_scale_100000", "summary"): corpus_scale,
    ("corpus_scale_1000000", "summary"): corpus_scale,
    ("build_rate", "estimates"): build_rate,
    ("gpu_embed", "runs"): gpu_embed_runs,
    ("gpu_embed", "stages"): gpu_embed_stages,
    ("gpu_embed", "estimates"): gpu_embed_estimates,
    ("load", "endpoints"): load_endpoints,
    ("load", "targets"): load_targets,
}
