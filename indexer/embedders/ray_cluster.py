"""Document embedding on a Ray cluster (``abstractqa index add --ray``).

The build runs on the head as usual (reading, chunking, checkpointing, writing); only the
embedding moves: each block's texts become one Ray Dataset, in blocks of at most one
embedding batch, mapped by ``map_batches`` over a pool of actors that each load the same
local model code (``load_local_embedder``) once for the block, one actor per GPU or per CPU
slot. The vectors come back in order (``preserve_order``) batch by batch, so the head
checkpoints each batch as it arrives and a killed build resumes like a local one. The name
is the local model's: the vectors are that model's, so the index opens with the normal,
local, query embedder. Queries never go through Ray.

Ray is imported only here, and this module only when ``embed_executor`` is ``ray``.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from typing import Any

import numpy as np

from indexer.config import IndexerSettings
from indexer.embedders.base import Embedder, TextKind
from indexer.errors import EmbedderError

_CONNECT_TIMEOUT_S = 10.0


class EmbedActor:
    """A Ray Data actor: the local model, loaded once, embedding the batches sent to it."""

    def __init__(
        self, model: str, device: str, batch_size: int, runtime: Any, tokenizer_workers: int
    ) -> None:
        from indexer.embedders.local import load_local_embedder

        # Tokenizer workers on the CPUs Ray reserved for this actor, not on every core of
        # the node (which the node's other actors share).
        self._embedder = load_local_embedder(
            model,
            device=device,
            batch_size=batch_size,
            runtime=runtime,
            tokenizer_workers=tokenizer_workers,
        )

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        vectors = self._embedder.embed_documents([str(text) for text in batch["text"]])
        return {"row": batch["row"], "vector": vectors}


def connect(address: str | None) -> None:
    """Join the cluster at ``address`` (else ``$RAY_ADDRESS``, else a new local Ray); a
    process already connected (e.g. a test that started its own cluster) stays on its own."""
    import ray

    if ray.is_initialized():
        return
    target = address or os.environ.get("RAY_ADDRESS") or "local"
    # "local" starts a Ray for this build; plain ray.init() would join whichever cluster was
    # started last on this machine (/tmp/ray), which may be someone else's.
    options: dict[str, Any] = {"include_dashboard": False} if target == "local" else {}
    _check_reachable(target)
    try:
        ray.init(address=target, configure_logging=False, **options)
    except Exception as exc:  # ConnectionError, RuntimeError, ValueError, grpc errors
        raise EmbedderError(f"cannot connect to the Ray cluster at {target!r}: {exc}") from exc


def _check_reachable(target: str) -> None:
    """Fail fast on a ``host:port`` nothing listens on: Ray itself retries such an address
    for many minutes, deaf to SIGTERM meanwhile."""
    host, _, port = target.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return  # "local", "auto": Ray finds (or starts) the cluster itself
    try:
        socket.create_connection((host.strip("[]"), int(port)), _CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise EmbedderError(
            f"cannot connect to the Ray cluster at {target!r}: nothing answers at "
            f"{host}:{port} ({exc})"
        ) from exc


# CPUs reserved per GPU actor when ray_cpus_per_actor is 0: its tokenizer processes.
GPU_ACTOR_CPUS = 4


def cpus_per_actor(settings: IndexerSettings) -> int:
    """``ray_cpus_per_actor``, else 1 for a CPU actor and ``GPU_ACTOR_CPUS`` for a GPU one."""
    if settings.ray.cpus_per_actor:
        return settings.ray.cpus_per_actor
    return GPU_ACTOR_CPUS if settings.ray.gpus_per_actor > 0 else 1


def actor_count(settings: IndexerSettings) -> int:
    """``ray_actors``, else as many actors as the cluster has GPUs (for GPU actors) and CPUs
    for now."""
    if settings.ray.actors:
        return settings.ray.actors
    import ray

    resources = ray.cluster_resources()
    wants = {"CPU": float(cpus_per_actor(settings))}
    if settings.ray.gpus_per_actor > 0:
        wants["GPU"] = settings.ray.gpus_per_actor
    count = min(int(resources.get(kind, 0.0) // need) for kind, need in wants.items())
    if count < 1:
        asked = " and ".join(f"{need:g} {kind}" for kind, need in wants.items())
        raise EmbedderError(
            f"the Ray cluster has too few resources for an embedding actor ({asked} each; "
            f"it offers {dict(sorted(resources.items()))}); set ABSTRACTQA_RAY_ACTORS "
            "if workers join later"
        )
    return count


class RayEmbedder(Embedder):
    """The configured local model, embedding documents on a Ray cluster's actors.

    A copy of the model on the head gives the dimension and token counts the chunker needs.
    """

    def __init__(self, settings: IndexerSettings) -> None:
        if settings.embedding.mode != "local":
            raise EmbedderError(
                "embedding on Ray runs a local model (embed_mode=local); "
                f"embed_mode={settings.embedding.mode} already embeds on its endpoint"
            )
        from indexer.embedders.local import load_local_embedder

        super().__init__(
            model_name=settings.embedding.model, embed_batch_size=settings.embedding.batch_size
        )
        self._settings = settings
        connect(settings.ray.address)  # first: a wrong address fails before the model loads
        self._actors = actor_count(settings)
        # The head only chunks (and, if asked, embeds a query): the CPU is enough for that.
        self._local = load_local_embedder(
            settings.embedding.model,
            device="cpu",
            batch_size=settings.embedding.batch_size,
            runtime=settings.embedding.runtime,
            query_dtype=settings.embedding.query_dtype,
        )

    @property
    def name(self) -> str:
        return self._local.name

    @property
    def dimension(self) -> int:
        return self._local.dimension

    @property
    def max_input_tokens(self) -> int | None:
        return self._local.max_input_tokens

    def count_tokens_many(self, texts: list[str]) -> list[int] | None:
        return self._local.count_tokens_many(texts)

    def _embed(self, texts: list[str], kind: TextKind) -> np.ndarray:
        if kind == "query":
            return self._local.embed_queries(texts)
        return np.concatenate([v for _, v in self.embed_document_batches(texts)])

    def embed_document_batches(self, texts: list[str]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """All of ``texts`` go to the cluster at once, to keep its workers busy; their vectors
        come back in order, one batch of ``embed_batch_size`` rows at a time, as the workers
        finish them (the build checkpoints each)."""
        if not texts:
            return
        batch_size = self.embed_batch_size
        expected = 0
        try:
            for batch in self._dataset(texts, batch_size).iter_batches(
                batch_size=None, batch_format="numpy"
            ):
                rows = batch["row"]
                if len(rows) and (rows[0] != expected or rows[-1] != expected + len(rows) - 1):
                    raise EmbedderError(
                        f"the Ray cluster returned rows {rows[0]}..{rows[-1]} where row "
                        f"{expected} was due"
                    )
                yield rows, np.asarray(batch["vector"], dtype=np.float32)
                expected += len(rows)
        except EmbedderError:
            raise
        except Exception as exc:  # ray.exceptions.RayError and Ray Data's own errors
            raise EmbedderError(
                f"embedding on the Ray cluster failed after {expected} of {len(texts)} texts: {exc}"
            ) from exc

    def _dataset(self, texts: list[str], batch_size: int) -> Any:
        import ray.data

        context = ray.data.DataContext.get_current()
        context.execution_options.preserve_order = True
        # The build reports its own progress; Ray Data's bars and plan would interleave.
        context.enable_progress_bars = False
        context.print_on_execution_start = False
        # Blocks of at most ``batch_size`` texts, one actor call each. from_items builds them
        # here; from_arrow would start a task per block just to read its schema.
        n_blocks = -(-len(texts) // batch_size)
        per_block = -(-len(texts) // n_blocks)  # from_items' even split: the largest block
        items = [{"row": row, "text": text} for row, text in enumerate(texts)]
        gpus = self._settings.ray.gpus_per_actor
        cpus = cpus_per_actor(self._settings)
        dataset = ray.data.from_items(items, override_num_blocks=n_blocks)
        return dataset.map_batches(
            EmbedActor,
            fn_constructor_kwargs={
                "model": self._settings.embedding.model,
                "device": "cuda" if gpus > 0 else "cpu",
                "batch_size": batch_size,
                "runtime": self._settings.embedding.runtime,
                "tokenizer_workers": cpus,
            },
            batch_size=per_block,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=min(self._actors, n_blocks)),
            num_cpus=cpus,
            num_gpus=gpus or None,
        )
