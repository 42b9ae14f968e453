"""The short form of the load test (benchmarks/bench_load.py): the same load generator, fewer
clients for a few seconds, against the real server on 127.0.0.1. Only correctness is asserted
(no 5xx, no other error status, no dropped connection, every stream read to its end); the
times are the benchmark's business."""

from __future__ import annotations

import os

from benchmarks.bench_load import questions
from benchmarks.loadgen import KINDS, run_load

CLIENTS = 16
SECONDS = 8.0
# Only a hung request may count as dropped, not one slowed by a busy machine (a cold server
# embeds the abstracts' sentences on first use, and CI machines are shared).
REQUEST_TIMEOUT_S = 600.0


async def test_sixteen_clients_mixing_every_endpoint_get_complete_answers_and_no_errors(
    server_url: str,
) -> None:
    result = await run_load(
        server_url,
        questions(),
        clients=CLIENTS,
        seconds=SECONDS,
        rss_pid=os.getpid(),
        timeout_s=REQUEST_TIMEOUT_S,
    )

    assert result.notes == []
    assert result.server_errors == 0 and result.other_status == 0 and result.drops == 0
    for kind in KINDS:
        stats = result.endpoints[kind]
        # Every request of every kind finished with a complete answer (streams: their final
        # events), and each kind was exercised.
        assert stats.requests > 0, kind
        assert len(stats.latencies_ms) == stats.requests, kind
        if kind.endswith("_stream"):
            assert len(stats.first_event_ms) == stats.requests, kind
    assert result.rss_kb and all(kb > 0 for _, kb in result.rss_kb)
