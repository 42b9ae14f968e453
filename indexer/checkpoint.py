"""Vectors an unfinished build has already embedded, so a re-run resumes instead of restarting.

Each embedding call's vectors are appended to ``checkpoint/<embedder>/vectors.f32`` and the
digests of their texts to ``keys.bin``, both flushed and fsynced before the next call: a build
killed at any moment loses at most the call in flight. A re-run with the same inputs chunks
the same texts, finds their digests here and embeds only the rest; the vectors are the ones the
model produced, so the result equals an uninterrupted build. The folder is removed once a
version is committed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import numpy as np

_DIGEST = 16


def text_key(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=_DIGEST).digest()


class EmbedCheckpoint:
    """An append-only text-digest -> vector store for one embedder."""

    def __init__(self, directory: Path, dimension: int) -> None:
        self.directory = directory
        self.dimension = dimension
        directory.mkdir(parents=True, exist_ok=True)
        self._keys_path = directory / "keys.bin"
        self._vectors_path = directory / "vectors.f32"
        row_bytes = 4 * dimension
        keys = self._keys_path.read_bytes() if self._keys_path.exists() else b""
        vec_size = self._vectors_path.stat().st_size if self._vectors_path.exists() else 0
        # A kill between the two appends leaves one file longer: keep what both hold.
        n = min(len(keys) // _DIGEST, vec_size // row_bytes)
        for path, size in ((self._keys_path, n * _DIGEST), (self._vectors_path, n * row_bytes)):
            with path.open("ab") as handle:
                handle.truncate(size)
        self._rows = {keys[i * _DIGEST : (i + 1) * _DIGEST]: i for i in range(n)}
        self.resumed = n
        self._count = n
        self._keys = self._keys_path.open("ab")
        self._vectors = self._vectors_path.open("ab")

    def __len__(self) -> int:
        return len(self._rows)

    def lookup(self, keys: list[bytes]) -> dict[int, np.ndarray]:
        """Position in ``keys`` -> stored vector, for the keys already embedded."""
        hits = {i: self._rows[k] for i, k in enumerate(keys) if k in self._rows}
        if not hits:
            return {}
        stored = np.memmap(self._vectors_path, dtype=np.float32, mode="r").reshape(
            -1, self.dimension
        )
        return {i: np.array(stored[row]) for i, row in hits.items()}

    def append(self, keys: list[bytes], vectors: np.ndarray) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self._vectors.write(vectors.tobytes())
        self._vectors.flush()
        os.fsync(self._vectors.fileno())
        self._keys.write(b"".join(keys))
        self._keys.flush()
        os.fsync(self._keys.fileno())
        for offset, key in enumerate(keys):
            self._rows.setdefault(key, self._count + offset)
        self._count += len(keys)

    def close(self) -> None:
        self._keys.close()
        self._vectors.close()

    def discard(self) -> None:
        self.close()
        shutil.rmtree(self.directory, ignore_errors=True)
