"""Tables of the running service: latency (bench_service), cold start (bench_coldstart) and
the load test (bench_load)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tables_format import Document, f1, met, table


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
            met(c16["qps"] >= 0.6 * floor),
        ],
        ["16 clients: p99 <= 150 ms", f"{f1(c16['p99'])} ms", met(c16["p99"] <= 150)],
        [
            "1 client: `/v1/search` p50 <= 2x the in-process one-query floor",
            f"{f1(search)} / {f1(one)} ms = {search / one:.2f}x",
            met(search <= 2 * one),
        ],
        ["1 client: extractive `/v1/ask` p50 <= 60 ms", f"{f1(ask)} ms", met(ask <= 60)],
    ]
    return table(["target", "recorded run", "met"], rows)


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
            met(targets["warmup_clean"]),
        ],
        ["no 5xx", str(load["5xx"]), met(targets["no_5xx"])],
        ["no other non-200 status", str(load["other_status"]), met(targets["no_other_status"])],
        ["no dropped connections", str(load["drops"]), met(targets["no_drops"])],
        [
            "RSS growth, first vs last 10 s, < 10%",
            f"{100 * load['rss_growth']:+.1f}%",
            met(targets["rss_growth_under_10pct"]),
        ],
        [
            "per-address connection cap",
            str(params.get("max_connections_per_client", "default (32)")),
            "",
        ],
    ]
    return table(["what", "recorded run", "met"], rows)
