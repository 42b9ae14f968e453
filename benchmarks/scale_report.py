"""Tables (Markdown) and plots (PNG) of bench_scale.py's results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display: files only
import matplotlib.pyplot as plt
from matplotlib import ticker

RECALL_PLOT = "scale-recall-latency.png"
SIZE_PLOT = "scale-latency-size.png"


def _sizes(results: dict[str, Any]) -> list[dict[str, Any]]:
    return [results["sizes"][n] for n in sorted(results["sizes"], key=int)]


def _mb(n_bytes: float) -> str:
    return f"{n_bytes / 1e6:,.1f}"


def markdown(results: dict[str, Any]) -> str:
    settings = results["settings"]
    k_ret = str(settings["retrieval_k"])
    lines = [
        f"HNSW M={settings['hnsw_m']}, efConstruction={settings['hnsw_ef_construction']}, "
        f"efSearch={settings['hnsw_ef_search']} (at least k); "
        f"search on {settings['search_threads']} FAISS thread, builds on "
        f"{settings['build_threads']}.",
        "",
    ]
    for size in _sizes(results):
        flat, hnsw = size["flat"], size["hnsw"]
        h10, hk = hnsw["default"]["10"], hnsw["default"][k_ret]
        lines += [
            f"**{size['n']:,} vectors** ({size.get('queries', settings['queries'])} queries, "
            f"measured {size['measured']}, load "
            f"{size['load_before'][0]:.2f} before, {size['load_after'][0]:.2f} after)",
            "",
            "| | flat | HNSW |",
            "|---|---|---|",
            f"| k=10: wall p50 / p99 ms | {_ms(flat['latency_ms']['10'])} | "
            f"{_ms(h10['latency_ms'])} |",
            f"| k=10: CPU p50 / p99 ms | {_ms(flat['latency_ms']['10']['cpu'])} | "
            f"{_ms(h10['latency_ms']['cpu'])} |",
            f"| k={k_ret}: wall p50 / p99 ms | {_ms(flat['latency_ms'][k_ret])} | "
            f"{_ms(hk['latency_ms'])} (efSearch {hk['ef_search']}) |",
            f"| k={k_ret}: CPU p50 / p99 ms | {_ms(flat['latency_ms'][k_ret]['cpu'])} | "
            f"{_ms(hk['latency_ms']['cpu'])} |",
            f"| recall@10 / recall@{k_ret} | 1 (exact) | {h10['recall']:.4f} / "
            f"{hk['recall']:.4f} |",
            f"| build s, wall (CPU) | {flat['build_s']:.2f} ({flat['build_cpu_s']:.2f}) | "
            f"{hnsw['build_s']:.1f} ({hnsw['build_cpu_s']:.1f})"
            f"{'' if len(hnsw['build_runs_s']) > 1 else ', one run'} |",
            f"| index MB (serialised) | {_mb(flat['index_bytes'])} | {_mb(hnsw['index_bytes'])} |",
            f"| RSS growth MB | {_mb(flat['rss_delta_bytes'])} | {_mb(hnsw['rss_delta_bytes'])} |",
            "",
        ]
    header = "| efSearch (k=10) | " + " | ".join(f"{s['n']:,}" for s in _sizes(results)) + " |"
    lines += [
        "efSearch sweep at k=10: recall@10, CPU p50 / p99 ms per query",
        "",
        header,
        "|---" * (1 + len(results["sizes"])) + "|",
    ]
    for i, point in enumerate(_sizes(results)[0]["hnsw"]["sweep_k10"]):
        cells = []
        for size in _sizes(results):
            p = size["hnsw"]["sweep_k10"][i]
            cells.append(f"{p['recall']:.4f}, {_ms(p['latency_ms']['cpu'])}")
        lines.append(f"| {point['ef_search']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def summary(results: dict[str, Any]) -> str:
    """One row per size: CPU p50 ms per query (1 thread), recall, build time, sizes."""
    k_ret = str(results["settings"]["retrieval_k"])
    lines = [
        f"| vectors | flat k=10 | HNSW k=10 | flat k={k_ret} | HNSW k={k_ret} | "
        f"HNSW recall@10 / @{k_ret} | HNSW build s (wall) | MB flat / HNSW |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for size in _sizes(results):
        flat, hnsw = size["flat"], size["hnsw"]
        h10, hk = hnsw["default"]["10"], hnsw["default"][k_ret]
        one_run = "" if len(hnsw["build_runs_s"]) > 1 else " (one run)"
        lines.append(
            f"| {size['n']:,} | {flat['latency_ms']['10']['cpu']['p50']:.3g} | "
            f"{h10['latency_ms']['cpu']['p50']:.3g} | "
            f"{flat['latency_ms'][k_ret]['cpu']['p50']:.3g} | "
            f"{hk['latency_ms']['cpu']['p50']:.3g} | {h10['recall']:.4f} / {hk['recall']:.4f} | "
            f"{hnsw['build_s']:.1f}{one_run} | "
            f"{flat['index_bytes'] / 1e6:,.0f} / {hnsw['index_bytes'] / 1e6:,.0f} |"
        )
    return "\n".join(lines)


def _ms(stats: dict[str, float]) -> str:
    return f"{stats['p50']:.3g} / {stats['p99']:.3g}"


def plot(results: dict[str, Any], directory: Path, threshold: int | None = None) -> list[Path]:
    """Draw both PNGs into ``directory``; ``threshold`` (vectors) is marked on the size plot."""
    if not results.get("sizes"):
        return []
    sizes = _sizes(results)
    k_ret = str(results["settings"]["retrieval_k"])
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for size, colour in zip(sizes, plt.rcParams["axes.prop_cycle"].by_key()["color"], strict=False):
        sweep = size["hnsw"]["sweep_k10"]
        x = [p["latency_ms"]["cpu"]["p50"] for p in sweep]
        y = [p["recall"] for p in sweep]
        ax.plot(x, y, "o-", color=colour, label=f"HNSW, {size['n']:,}")
        if size is sizes[-1]:  # one curve's labels: the curves lie too close for all of them
            for p, xi, yi in zip(sweep, x, y, strict=True):
                ax.annotate(
                    str(p["ef_search"]), (xi, yi), textcoords="offset points", xytext=(4, -11)
                )
        flat = size["flat"]["latency_ms"]["10"]["cpu"]["p50"]
        ax.plot([flat], [1.0], "s", color=colour, mfc="none", ms=9)
    # One legend entry for the flat markers: each sits at recall 1 in its size's colour.
    ax.plot([], [], "s", color="grey", mfc="none", ms=9, label="flat (exact), same colours")
    ax.axhline(0.95, color="grey", ls=":", lw=1)
    ax.set_xscale("log")
    ax.set_xlabel("p50 CPU time per query, ms (k=10, 1 thread; log scale)")
    ax.set_ylabel("recall@10 against flat")
    ax.set_title(f"HNSW recall against latency; labels: efSearch ({sizes[-1]['n']:,} vectors)")
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    recall_path = directory / RECALL_PLOT
    fig.savefig(recall_path, dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 4.5))
    n = [s["n"] for s in sizes]
    for label, key, marker, colour in (("flat", "flat", "s", "C0"), ("HNSW", "hnsw", "o", "C2")):
        for k, ls in (("10", "-"), (k_ret, "--")):
            y = [
                s["flat"]["latency_ms"][k]["cpu"]["p50"]
                if key == "flat"
                else s["hnsw"]["default"][k]["latency_ms"]["cpu"]["p50"]
                for s in sizes
            ]
            ax.plot(n, y, marker=marker, ls=ls, color=colour, label=f"{label}, k={k}")
    if threshold is not None:
        ax.axvline(threshold, color="grey", ls=":", lw=1)
        ax.annotate(
            f"auto: HNSW from {threshold:,}",
            (threshold, 0.02),
            xycoords=("data", "axes fraction"),
            xytext=(4, 0),
            textcoords="offset points",
            fontsize=8,
            color="grey",
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(ticker.FormatStrFormatter("%g"))
    ax.yaxis.set_minor_formatter(ticker.NullFormatter())
    ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.set_xlabel("vectors in the index (384-d)")
    ax.set_ylabel("p50 CPU time per query, ms (1 thread)")
    ax.set_title("Single-query latency against index size (default efSearch)")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    size_path = directory / SIZE_PLOT
    fig.savefig(size_path, dpi=110)
    plt.close(fig)
    return [recall_path, size_path]
