"""Checking the index's current version before the service serves it.

Used by ``abstractqa serve`` before the port opens and by every reload, so both refuse the
same damage with the same message. The checks themselves are the indexer's (``check_version``:
a missing directory or ``CURRENT``, a pointer to a missing version, a damaged manifest, a
missing segment, and any file that is missing, truncated or altered); every failure is an
``IndexStoreError`` whose message starts with the path of the file at fault.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from indexer import AnnParams, IndexVersion, check_version, open_index


def check_current(
    index_dir: Path, expected_embedder: str | None, hashes: bool | None = None
) -> tuple[Path, dict[str, Any]]:
    """The current version's directory and manifest, after checking every file it names."""
    _, version, manifest = check_version(index_dir, expected_embedder, hashes)
    return version, manifest


def open_current(
    index_dir: Path, expected_embedder: str | None, params: AnnParams | None = None
) -> IndexVersion:
    """Check, then open, the current version (maps files; no per-paper work), to be searched
    with ``params`` (the settings' ``AnnParams.from_settings``)."""
    return open_index(index_dir, expected_embedder, params=params)


def client_message(exc: Exception, index_dir: Path) -> str:
    """``exc``'s message without the index directory's server path: files are named relative
    to it (``segments/s000002/vectors.npy``), as clients should see them."""
    message = str(exc)
    for root in dict.fromkeys((str(index_dir), str(Path(index_dir).resolve()))):
        message = message.replace(f"{root}/", "")
        if root.startswith("/"):
            message = message.replace(root, "the index directory")
    return message
