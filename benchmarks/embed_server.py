"""A fast OpenAI-compatible embeddings server for benchmarks: vectors derived from a hash of
each text (no model), so a build or a query is measured without the model's cost.

A text's hash seeds one draw from the calibrated mixture of ``scale_data.py`` (clusters shaped
like all-MiniLM-L6-v2's embeddings of CISI): uniformly random unit vectors, which an earlier
version returned, are the worst case for building an HNSW graph (no neighbourhoods; 53k of
them took 75 s to add where as many clustered vectors take about a third of that), and no text
embedder produces them.

``python benchmarks/embed_server.py --port N [--dimension 384]``; ``GET /stats`` returns how
many requests and texts it has embedded (and the distinct texts), for resume measurements.
Answers ``encoding_format: base64`` (little-endian float32, as the official SDK asks) or float
lists.
"""

from __future__ import annotations

import argparse
import base64
import functools
import hashlib
import json

import numpy as np
import uvicorn
from scale_data import make_mixture
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

STATS = {"requests": 0, "texts": 0, "probes": 0}
# The text abstractqa's OpenAI embeddings client sends once per run to learn the dimension
# (indexer/embedders/openai_http.py): counted apart, as it is not corpus work.
PROBE = "dimension probe"
SEEN: set[bytes] = set()


mixture_of = functools.lru_cache(maxsize=4)(lambda dimension: make_mixture(dim=dimension))


def vectors(texts: list[str], dimension: int) -> np.ndarray:
    """One unit vector per text, the same for the same text in every run."""
    mixture = mixture_of(dimension)
    cdf = np.cumsum(mixture.weights)
    which = np.empty(len(texts), dtype=np.int64)
    z = np.empty((len(texts), dimension), dtype=np.float32)
    for i, text in enumerate(texts):
        digest = hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest()
        rng = np.random.default_rng(int.from_bytes(digest, "little"))
        which[i] = min(int(np.searchsorted(cdf, rng.random())), len(cdf) - 1)
        z[i] = rng.standard_normal(dimension, dtype=np.float32)
    values = mixture.centres[which] + mixture.noise * (z @ mixture.axes)
    return np.asarray(values / np.linalg.norm(values, axis=1, keepdims=True), dtype="<f4")


def app(dimension: int) -> Starlette:
    async def embeddings(request: Request) -> Response:
        body = json.loads(await request.body())
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        encoding = body.get("encoding_format", "float")
        STATS["requests"] += 1
        probes = sum(1 for t in inputs if t == PROBE)
        STATS["probes"] += probes
        STATS["texts"] += len(inputs) - probes
        SEEN.update(
            hashlib.blake2b(t.encode(), digest_size=16).digest() for t in inputs if t != PROBE
        )
        data = []
        for i, v in enumerate(vectors(inputs, dimension)):
            value = (
                base64.b64encode(v.tobytes()).decode("ascii")
                if encoding == "base64"
                else v.tolist()
            )
            data.append({"object": "embedding", "index": i, "embedding": value})
        usage = {"prompt_tokens": 0, "total_tokens": 0}
        return JSONResponse(
            {"object": "list", "data": data, "model": body["model"], "usage": usage}
        )

    async def stats(request: Request) -> Response:
        return JSONResponse({**STATS, "distinct_texts": len(SEEN)})

    async def reset(request: Request) -> Response:
        STATS.update(requests=0, texts=0, probes=0)
        SEEN.clear()
        return JSONResponse(STATS)

    return Starlette(
        routes=[
            Route("/v1/embeddings", embeddings, methods=["POST"]),
            Route("/stats", stats),
            Route("/reset", reset, methods=["POST"]),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dimension", type=int, default=384)
    args = parser.parse_args()
    uvicorn.run(app(args.dimension), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
