"""Checking the index's current version before the service serves it.

Used by ``abstractqa serve`` before the port opens and by every reload, so both refuse the
same damage with the same message: a missing directory or ``CURRENT``, a pointer to a missing
version, a manifest that is absent, not JSON or lacks a field, and any listed file that is
missing, truncated, emptied or altered. Every failure is an ``IndexStoreError`` whose message
starts with the path of the file at fault.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from indexer.bm25 import BM25_DIR
from indexer.errors import IndexCorruptError
from indexer.index import CHUNKS_FILE, PAPERS_FILE, IndexVersion, check_embedder, open_version
from indexer.storage import MANIFEST, IndexDir
from indexer.vector_store import ID_MAP_FILE, INDEX_FILE

# A version lacking any of these in its manifest cannot be served, whatever else it holds.
REQUIRED_FILES = (PAPERS_FILE, CHUNKS_FILE, INDEX_FILE, ID_MAP_FILE)


def _require(path: Path, manifest: dict[str, Any], key: str, kind: type) -> Any:
    value = manifest.get(key)
    if not isinstance(value, kind):
        raise IndexCorruptError(f"{path}: no valid {key!r} field (the manifest is damaged)")
    return value


def _check_manifest(version: Path, manifest: dict[str, Any]) -> None:
    """The manifest fields the service relies on are there and well-formed."""
    path = version / MANIFEST
    if _require(path, manifest, "version", str) != version.name:
        raise IndexCorruptError(
            f"{path}: names version {manifest['version']!r} but lies in {version.name}"
        )
    counts = _require(path, manifest, "counts", dict)
    embedder = _require(path, manifest, "embedder", dict)
    files = _require(path, manifest, "files", dict)
    if not all(isinstance(counts.get(k), int) for k in ("papers", "chunks")):
        raise IndexCorruptError(f"{path}: no valid paper and chunk counts")
    if not isinstance(embedder.get("name"), str) or not isinstance(embedder.get("dimension"), int):
        raise IndexCorruptError(f"{path}: no valid embedder name and dimension")
    for name, meta in files.items():
        if not (
            isinstance(meta, dict)
            and isinstance(meta.get("bytes"), int)
            and isinstance(meta.get("sha256"), str)
        ):
            raise IndexCorruptError(f"{path}: no valid size and sha256 for {name}")
    unlisted = [name for name in REQUIRED_FILES if name not in files]
    if not any(name.startswith(f"{BM25_DIR}/") for name in files):
        unlisted.append(f"{BM25_DIR}/")
    if unlisted:
        raise IndexCorruptError(f"{path}: does not list {', '.join(unlisted)}")


def check_current(
    index_dir: Path, expected_embedder: str | None, hashes: bool = True
) -> tuple[Path, dict[str, Any]]:
    """The current version's directory and manifest, after checking every file it lists."""
    root = IndexDir(index_dir)
    try:
        version = root.current()
        manifest = root.read_manifest(version)
        _check_manifest(version, manifest)
        check_embedder(manifest, expected_embedder, index_dir)
        root.verify(version, manifest, hashes=hashes)
    except OSError as exc:  # e.g. a file the service may not read, or CURRENT is a directory
        where = exc.filename or index_dir
        raise IndexCorruptError(f"{where}: cannot be read ({exc.strerror or exc})") from exc
    return version, manifest


def open_current(index_dir: Path, expected_embedder: str | None) -> IndexVersion:
    """Check, then load, the current version (blocking; seconds for a large index)."""
    version, manifest = check_current(index_dir, expected_embedder)
    return open_version(version, manifest)


def client_message(exc: Exception, index_dir: Path) -> str:
    """``exc``'s message without the index directory's server path: files are named relative
    to it (``versions/v000002/vectors.faiss``), as clients should see them."""
    message = str(exc)
    for root in dict.fromkeys((str(index_dir), str(Path(index_dir).resolve()))):
        message = message.replace(f"{root}/", "")
        if root.startswith("/"):
            message = message.replace(root, "the index directory")
    return message
