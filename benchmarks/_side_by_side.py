"""Two servers' latencies measured side by side: both running, the same queries sent to each
in alternating blocks, one request at a time.

Why: measured one after the other, a server's p50 moved by up to ~0.5 ms between runs on this
machine (another process, the page cache, the CPU's clock), as much as the difference a ratio of
two p50s is asked to show. In alternating blocks both see the same conditions; the first
requests of a block (whose caches the other server has just used) are left out, and a
bootstrap over the requests gives the ratio's 95% interval.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import percentiles

BLOCK = 25  # requests to one server before the other's turn
SETTLE = 3  # first requests of each block not counted
BOOTSTRAP = 2000


async def _blocks(
    urls: dict[str, str], path: str, bodies: list[dict[str, Any]]
) -> dict[str, list[float]]:
    names = list(urls)
    samples: dict[str, list[float]] = {name: [] for name in names}
    timeout = aiohttp.ClientTimeout(total=60)
    sessions = {name: aiohttp.ClientSession(urls[name], timeout=timeout) for name in names}
    try:
        for number, start in enumerate(range(0, len(bodies), BLOCK)):
            turn = names[number % len(names) :] + names[: number % len(names)]
            for name in turn:
                for at, body in enumerate(bodies[start : start + BLOCK]):
                    started = time.perf_counter()
                    async with sessions[name].post(path, json=body) as response:
                        await response.read()
                        if response.status != 200:
                            raise RuntimeError(f"{name} {path}: HTTP {response.status}")
                    if at >= SETTLE:
                        samples[name].append((time.perf_counter() - started) * 1000)
    finally:
        for session in sessions.values():
            await session.close()
    return samples


def p50_ratio(
    base_url: str,
    other_url: str,
    path: str,
    body_of: Callable[[str], dict[str, Any]],
    texts: list[str],
) -> dict[str, Any]:
    """Each server's latency percentiles (ms) and the ratio of ``other``'s p50 to ``base``'s,
    with its bootstrap 95% interval."""
    urls = {"base": base_url, "other": other_url}
    samples = asyncio.run(_blocks(urls, path, [body_of(t) for t in texts]))
    base, other = (np.asarray(samples[name]) for name in ("base", "other"))
    rng = np.random.default_rng(0)
    ratios = [
        np.median(rng.choice(other, len(other))) / np.median(rng.choice(base, len(base)))
        for _ in range(BOOTSTRAP)
    ]
    return {
        "base": percentiles(samples["base"]),
        "other": percentiles(samples["other"]),
        "p50_ratio": float(np.median(other) / np.median(base)),
        "p50_ratio_95ci": [float(np.percentile(ratios, 2.5)), float(np.percentile(ratios, 97.5))],
        "block": BLOCK,
        "settle": SETTLE,
    }
