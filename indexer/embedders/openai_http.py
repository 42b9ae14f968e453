"""A client of any OpenAI-compatible ``/v1/embeddings`` endpoint (OpenAI, vLLM, llama.cpp,
Ollama, LM Studio, LiteLLM, text-embeddings-inference) on the official ``openai`` SDK; retries,
failure descriptions and key scrubbing are the shared ``indexer.openai_api.OpenAIEndpoint``'s."""

from __future__ import annotations

import base64
import logging
import time
from typing import Any

import httpx
import numpy as np
import openai

from indexer.embedders.base import Embedder, TextKind, normalise
from indexer.embedders.naming import embedder_identity
from indexer.errors import EmbedderError
from indexer.openai_api import Failure, OpenAIEndpoint, excerpt

log = logging.getLogger(__name__)

_MAX_RETRY_AFTER_S = 30.0
_PROBE_TEXT = "dimension probe"


class OpenAIEmbedder(Embedder):
    """Embeds by POSTing batches to ``{base_url}/embeddings``; retries 429, 5xx and network errors
    (the request is idempotent, so a lost connection is harmless).

    The OpenAI API has no query/document distinction, so both kinds are embedded alike.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        batch_size: int = 64,
        timeout_s: float = 60.0,
        max_retries: int = 3,
        client: httpx.Client | None = None,
        backoff_s: float = 0.5,
        dimensions: int | None = None,
    ) -> None:
        if batch_size < 1:
            raise EmbedderError(f"batch_size must be at least 1, got {batch_size}")
        if max_retries < 0:
            raise EmbedderError(f"max_retries must be 0 or more, got {max_retries}")
        if dimensions is not None and dimensions < 1:
            raise EmbedderError(f"dimensions must be at least 1, got {dimensions}")
        super().__init__(model_name=model, embed_batch_size=batch_size)
        self._endpoint = OpenAIEndpoint(
            base_url=base_url,
            path="embeddings",
            api_key=api_key,
            timeout=httpx.Timeout(timeout_s),
            deadline_s=None,
            max_retries=max_retries,
            backoff_s=backoff_s,
            max_delay_s=_MAX_RETRY_AFTER_S,
            log=log,
        )
        self._model = model
        self._batch_size = batch_size
        self._dimensions = dimensions
        self._dimension = dimensions
        self._owns_client = client is None
        self._client = client if client is not None else httpx.Client(timeout=timeout_s)
        # Resolved now: the SDK imports a resource's modules on first use (seconds when busy).
        self._embeddings = self._endpoint.sync_client(self._client).embeddings.with_raw_response

    @property
    def name(self) -> str:
        return embedder_identity("openai", self._model)

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            self._request([_PROBE_TEXT])
        assert self._dimension is not None  # _request records it or raises
        return self._dimension

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def _embed(self, texts: list[str], kind: TextKind) -> np.ndarray:
        batches = [
            self._request(texts[start : start + self._batch_size])
            for start in range(0, len(texts), self._batch_size)
        ]
        return normalise(np.concatenate(batches, axis=0))

    # -- one request, with retries -----------------------------------------------------------

    def _request(self, texts: list[str]) -> np.ndarray:
        endpoint = self._endpoint
        attempt = 0
        while True:
            try:
                # base64 little-endian float32, as the SDK asks by default: a quarter of the
                # bytes of a JSON float list (servers that ignore it still send lists). The raw
                # response: validating it is ours, with messages that say what was wrong.
                raw = self._embeddings.create(
                    model=self._model,
                    input=texts,
                    encoding_format="base64",
                    dimensions=openai.omit if self._dimensions is None else self._dimensions,
                    extra_headers=endpoint.extra_headers,
                )
            except openai.APIError as exc:
                failure = endpoint.failure(exc)
                delay = endpoint.retry_delay(attempt, failure)
                if delay is None:
                    raise self._error(self._gave_up(failure, attempt + 1)) from failure.cause
                time.sleep(delay)
                attempt += 1
            else:
                return self._parse(raw.http_response, len(texts))

    def _gave_up(self, failure: Failure, attempts: int) -> str:
        if failure.transient:
            return f"failed after {attempts} attempts: {failure.description}"
        if failure.status is not None:
            return f"failed with {failure.description}"
        return f"failed: {failure.description}"

    def _error(self, what: str) -> EmbedderError:
        return EmbedderError(
            self._endpoint.scrub(f"embeddings request to {self._endpoint.url} {what}")
        )

    # -- response validation -----------------------------------------------------------------

    def _parse(self, response: httpx.Response, expected: int) -> np.ndarray:
        def bad(what: str) -> EmbedderError:
            url = self._endpoint.url
            return EmbedderError(self._endpoint.scrub(f"embeddings response from {url} {what}"))

        try:
            body = response.json()
        except ValueError as exc:
            raise bad(f"is not JSON: {excerpt(response.text)}") from exc
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list):
            raise bad(f"lacks a 'data' list: {excerpt(response.text)}")
        if len(data) != expected:
            raise bad(f"has {len(data)} embeddings for {expected} inputs")
        if not all(isinstance(item, dict) and "embedding" in item for item in data):
            raise bad("has an item without an 'embedding'")
        indices = [item.get("index", position) for position, item in enumerate(data)]
        if sorted(i for i in indices if isinstance(i, int)) != list(range(expected)):
            raise bad(f"has indices {indices[:10]}, not a permutation of 0..{expected - 1}")
        vectors: list[Any] = [None] * expected
        for index, item in zip(indices, data, strict=True):
            vectors[index] = _decoded(item["embedding"])
        lengths = {len(v) if isinstance(v, list) else -1 for v in vectors}
        if -1 in lengths:
            raise bad("has an embedding that is not a list of numbers")
        if len(lengths) > 1:
            raise bad(f"mixes embedding dimensions {sorted(lengths)}")
        try:
            matrix = np.array(vectors)
        except ValueError as exc:
            raise bad("has an embedding that is not a list of numbers") from exc
        if matrix.ndim != 2 or matrix.dtype.kind not in "iuf" or matrix.shape[1] == 0:
            raise bad("has an embedding that is not a list of numbers")
        if not np.isfinite(matrix).all():
            raise bad("has an embedding with NaN or infinite values")
        dimension = int(matrix.shape[1])
        if self._dimension is not None and dimension != self._dimension:
            raise bad(f"has dimension {dimension}, expected {self._dimension}")
        self._dimension = dimension
        return matrix.astype(np.float32)


def _decoded(embedding: Any) -> Any:
    """A base64 string of little-endian float32 as a list; anything else as it came."""
    if not isinstance(embedding, str):
        return embedding
    try:
        raw = base64.b64decode(embedding, validate=True)
    except ValueError:
        return None
    if len(raw) % 4:
        return None
    return np.frombuffer(raw, dtype="<f4").tolist()
