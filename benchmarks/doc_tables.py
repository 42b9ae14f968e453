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
from scale_report import markdown as scale_markdown
from scale_report import summary as scale_summary
from tables_build import build_rate, gpu_embed_estimates, gpu_embed_runs, gpu_embed_stages
from tables_format import Document, f1, f3, table
from tables_runtime import (
    coldstart_phases,
    coldstart_runs,
    load_endpoints,
    load_targets,
    service_sweep,
    service_targets,
)


def _extras(chosen: dict[str, Any]) -> list[str]:
    """A grid point's options beyond the fusion: feedback, smoothing, a title list."""
    extra = [str(chosen.get(key, "off")) for key in ("feedback", "smoothing")]
    if chosen.get("title_weight") is not None:
        extra.append(f"title {chosen['title_weight']}" if chosen["title_weight"] else "off")
    return [e for e in extra if e != "off"]


def _params(chosen: Any) -> str:
    if isinstance(chosen, dict):
        return f"dense weight {chosen['dense_weight']}, depth {chosen['depth']}" + "".join(
            f", {e}" for e in _extras(chosen)
        )
    return str(chosen)


def _folds(chosen: list[Any]) -> str:
    if all(isinstance(c, dict) for c in chosen):
        return "; ".join(
            f"{c['dense_weight']}/{c['depth']}" + "".join(f" {e}" for e in _extras(c))
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
    ("hybrid_smoothing", "hybrid (0.5/100), smoothing in the grid"),
    ("hybrid_title", "hybrid (0.5/100, served smoothing), title weight in the grid"),
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


def cv_recommended(doc: Document, key: str = "recommended") -> str:
    rec = doc["metrics"][key]
    rows = [[_params(rec["params"]), *(f3(v) for v in rec["in_sample_ndcg10"].values())]]
    header = [
        "best on both collections at once",
        *(f"{n} nDCG@10 (in-sample)" for n in rec["in_sample_ndcg10"]),
    ]
    return table(header, rows)


def cv_title_against_off(doc: Document) -> str:
    rows = []
    for name, t in doc["metrics"]["title_against_off"].items():
        low, high = t["ci95"]
        rows.append(
            [
                name,
                f"{t['mean_difference']:+.4f} [{low:+.4f}, {high:+.4f}]",
                f"{t['wins']} / {t['losses']} (of {t['queries']})",
                f3(t["held_out_over_seeds"]),
            ]
        )
    first = next(iter(doc["metrics"]["title_against_off"].values()))
    weight, seeds = first["point"]["title_weight"], first["seeds"]
    header = ["collection", f"nDCG@10 difference per query, title {weight} − off (95% CI)"]
    header += ["queries better / worse", f"held-out nDCG@10, mean over {seeds} fold seeds"]
    return table(header, rows)


def retrieval_variants(doc: Document) -> str:
    rows = [
        [name, f3(v["nDCG@10"]), f3(v["hit@1"])] for name, v in doc["metrics"]["variants"].items()
    ]
    return table(["variant", "CISI nDCG@10", "bundled hit@1"], rows)


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


def _mib(value: float) -> str:
    """A resident size: the benchmarks read it from /proc in KiB and record it / 1024."""
    return f"{value:,.0f} MiB"


def corpus_scale(doc: Document) -> str:
    m = doc["metrics"]
    large = m["large"]
    serve = large["serve"]
    rows = [
        ["papers", f"{large['papers']:,}"],
        [
            "`index add`: wall / papers per s",
            f"{f1(large['add']['seconds'])} s / {f1(large['papers_per_s'])}",
        ],
        ["papers per s excluding the embedder", f1(large["papers_per_s_excluding_embedder"])],
        ["`index add`: peak RSS", _mib(large["add"]["peak_rss_mb"])],
        ["index on disk", _mb(large["index_bytes"] / 1e6)],
        *(
            [["of which vectors and ANN structures", _mb(large["vector_bytes"] / 1e6)]]
            if "vector_bytes" in large
            else []
        ),
        *(
            [["and title vectors", _mb(large["title_vector_bytes"] / 1e6)]]
            if "title_vector_bytes" in large
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
            f"{f1(serve['ready_s'])} s / {_mib(serve['rss_ready_mb'])} / "
            f"{_mib(serve['rss_after_mb'])}",
        ],
        *(
            [["serve: background warm-up ended (`/readyz` warm)", f"{f1(serve['warm_s'])} s"]]
            if "warm_s" in serve
            else []
        ),
        *(_p50_row(m, kind) for kind in ("search", "ask")),
        *([_abstained_row(m)] if "ask_abstained" in serve else []),
        *(_side_by_side_row(m, kind) for kind in ("search", "ask") if "side_by_side" in m),
        *(
            [_side_by_side_row(m, "ask", "side_by_side_answered")]
            if "side_by_side_answered" in m
            else []
        ),
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
            f"{e['exit_code']} / {f1(e['seconds'])} s / {_mib(e['peak_rss_mb'])}",
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


def bm25_impacts(doc: Document) -> str:
    """BM25's top 100 per segment with impacts computed, stored and remembered."""
    m = doc["metrics"]
    p50 = m["p50_ms"]
    return table(
        ["papers (segments)", "questions", "computed", "first use", "remembered", "buffer used"],
        [
            [
                f"{m['papers']:,} ({m['segments']})",
                str(m["questions"]),
                *(f"{p50[k]:.2f} ms" for k in ("computed", "first_use", "remembered")),
                f"{m['remembered_mb']:.0f} MiB",
            ]
        ],
    )


def _p50_row(m: dict[str, Any], kind: str) -> list[str]:
    """The large index's p50 against the bundled corpus's in the same run: before and after
    the large index's measurements when both were taken (the ratio is to the faster)."""
    large = m["large"]
    bundled = [f1(m[k][kind]["p50"]) for k in ("bundled_serve", "bundled_serve_after") if k in m]
    label = "before / after" if len(bundled) == 2 else "same run"
    return [
        f"/v1/{kind} p50 (bundled corpus, {label})",
        f"{f1(large['serve'][kind]['p50'])} ms ({' / '.join(bundled)} ms, "
        f"ratio {large[f'{kind}_p50_ratio_to_bundled']:.2f})",
    ]


def _abstained_row(m: dict[str, Any]) -> list[str]:
    """How many of the timed questions each server abstained on, measured alone."""
    serve = m["large"]["serve"]
    bundled = [str(m[k]["ask_abstained"]) for k in ("bundled_serve", "bundled_serve_after")]
    return [
        "/v1/ask: timed questions abstained on (bundled corpus, before / after)",
        f"{serve['ask_abstained']} of {serve['asks']} ({' / '.join(bundled)})",
    ]


def _side_by_side_row(m: dict[str, Any], kind: str, key: str = "side_by_side") -> list[str]:
    """The two servers running at once, alternating blocks of the same queries; a question's
    row says how many each abstained on (``side_by_side_answered``: every one answered)."""
    both = m[key][kind]
    low, high = both["p50_ratio_95ci"]
    answered = ", every question answered" if key == "side_by_side_answered" else ""
    value = (
        f"{f1(both['other']['p50'])} ms ({f1(both['base']['p50'])} ms, ratio "
        f"{both['p50_ratio']:.2f}, 95% CI {low:.2f}-{high:.2f})"
    )
    if kind == "ask" and "ask_abstained" in m[key]:
        n = m[key]["ask_abstained"]
        value += f"; abstained on {n['other']} of {n['asks']} ({n['base']})"
    label = f"/v1/{kind} p50 side by side{answered}, {both['block']}-request blocks (bundled)"
    return [label, value]


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


def rerank_sq8(doc: Document) -> str:
    factors = [str(f) for f in doc["params"]["factors"]]
    rows = []
    for name, c in doc["metrics"].items():
        for k, row in c["recall"].items():
            rows.append([name, f"{c['vectors']:,}", k, *(f"{row[f]:.4f}" for f in factors)])
    header = ["collection", "vectors", "k", *(f"recall, factor {f}" for f in factors)]
    return table(header, rows)


def _scale(doc: Document) -> dict[str, Any]:
    return {"settings": doc["params"], "sizes": doc["metrics"]["sizes"]}


TABLES: dict[tuple[str, str], Callable[[Document], str]] = {
    ("cv_retrieval", "collections"): cv_collections,
    ("cv_retrieval", "default_modes"): cv_default_modes,
    ("cv_retrieval", "scores"): cv_scores,
    ("cv_retrieval", "recommended"): cv_recommended,
    ("rerank_sq8", "recall"): rerank_sq8,
    ("cv_retrieval", "recommended_smoothing"): lambda doc: cv_recommended(
        doc, "recommended_smoothing"
    ),
    ("cv_retrieval", "recommended_title"): lambda doc: cv_recommended(doc, "recommended_title"),
    ("cv_retrieval", "title_against_off"): cv_title_against_off,
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
    ("bm25_impacts_1m", "p50"): bm25_impacts,
    ("build_rate", "estimates"): build_rate,
    ("gpu_embed", "runs"): gpu_embed_runs,
    ("gpu_embed", "stages"): gpu_embed_stages,
    ("gpu_embed", "estimates"): gpu_embed_estimates,
    ("load", "endpoints"): load_endpoints,
    ("load", "targets"): load_targets,
}
