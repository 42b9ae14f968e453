"""The one rule for an embedder's name, the identity an index stores in its manifest.

An index opens only with an embedder of the same name, so the name depends on the backend and
the model alone, never on the device, the batch size or the precision vectors are computed in:
an index built on a GPU in bfloat16 opens on a CPU. Dependency-free, so that any backend (and
the settings, which only know the configured model) can use it.
"""

from __future__ import annotations

from typing import Literal

BUNDLED_MODEL = "all-MiniLM-L6-v2"
Backend = Literal["local", "openai"]
# Local models keep the prefix indexes have always recorded for them, whichever runtime runs
# them (torch directly or sentence-transformers).
_PREFIX: dict[str, str] = {"local": "sentence-transformers", "openai": "openai"}


def embedder_identity(backend: Backend, model: str) -> str:
    """``<prefix>:<model>``, e.g. ``sentence-transformers:all-MiniLM-L6-v2``."""
    return f"{_PREFIX[backend]}:{model}"
