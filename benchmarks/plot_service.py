"""The plot of bench_service.py: /v1/search latency and throughput against concurrency."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def plot(document: dict[str, Any], path: Path) -> None:
    """Draw ``document`` (the results file of bench_service.py) into ``path``."""
    import matplotlib

    matplotlib.use("Agg")  # no display on a server
    import matplotlib.pyplot as plt
    from matplotlib import ticker

    results = document["metrics"]
    sweep = results["search_sweep"]
    levels = sorted(int(c) for c in sweep)
    rows = [sweep[str(c)] for c in levels]
    floor = results["encoder_floor_qps"]
    figure, (latency, throughput) = plt.subplots(1, 2, figsize=(11, 4.2))

    for key, style in (("p50", "o-"), ("p95", "s--"), ("p99", "^-")):
        latency.plot(levels, [r[key] for r in rows], style, label=key)
    latency.axhline(150, color="grey", linestyle=":", label="p99 target (150 ms)")
    latency.set(
        xscale="log", xlabel="concurrent clients", ylabel="latency (ms)", title="/v1/search latency"
    )
    latency.set_yscale("log")
    values = [r[key] for r in rows for key in ("p50", "p99")] + [150.0]
    ticks = (10, 20, 50, 100, 150, 200, 300, 500, 1000, 2000, 5000)
    latency.set_yticks([t for t in ticks if min(values) / 1.5 <= t <= max(values) * 1.5])
    latency.yaxis.set_major_formatter(ticker.ScalarFormatter())
    latency.yaxis.set_minor_formatter(ticker.NullFormatter())
    throughput.plot(levels, [r["qps"] for r in rows], "o-", label="/v1/search, distinct queries")
    repeated = results.get("search_repeated_c16")
    if repeated:
        throughput.plot([16], [repeated["qps"]], "D", label="/v1/search, repeated queries (cache)")
    floor_label = f"encoder floor ({results.get('encoder_floor_config', '64 per call')})"
    throughput.axhline(floor, color="black", linestyle="--", label=floor_label)
    throughput.axhline(0.6 * floor, color="grey", linestyle=":", label="target: 60% of floor")
    throughput.set(
        xscale="log", xlabel="concurrent clients", ylabel="requests / s", title="throughput"
    )
    throughput.set_ylim(bottom=0)
    for axis in (latency, throughput):
        axis.set_xticks(levels, [str(c) for c in levels])
        axis.grid(True, which="major", alpha=0.3)
        axis.legend(fontsize=8)
    machine = document["machine"]
    figure.suptitle(
        f"abstractqa /v1/search on loopback — {machine['cpus']} cores, {machine['cpu_model']}, "
        f"{document['date']}",
        fontsize=9,
    )
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
