"""The index directory: immutable versions, a pointer to the current one, and a write lock.

Layout::

    INDEX_DIR/
      CURRENT               name of the current version (replaced atomically)
      .lock                 held by the one process writing a new version
      versions/
        v000001/            a complete version; never modified once named
          manifest.json     written last; lists every file with its size and sha256
          papers.jsonl  chunks.jsonl  vectors.faiss  id_map.json  bm25/...
        .build-<random>/    a version being written (removed if its writer died)

A version is written under ``.build-*``, its files fsynced, then renamed to ``vNNNNNN`` and only
then named in ``CURRENT`` by an atomic rename, so a crash at any moment leaves the previous
version current and intact.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from indexer.errors import IndexCorruptError, IndexLockedError, IndexNotFoundError

FORMAT_VERSION = 2
# Version 1 held a chunk-level BM25; its papers, chunks and vectors read the same, and the
# paper-level BM25 is rebuilt in memory on open (well under a second per thousand papers).
READABLE_FORMATS = (1, 2)
MANIFEST = "manifest.json"
POINTER = "CURRENT"
VERSIONS = "versions"
_VERSION_NAME = re.compile(r"^v(\d{6,})$")
_BUILD_PREFIX = ".build-"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``path`` so that readers see either the old or the new content, never a part."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with tmp.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    _fsync_path(path.parent)


class IndexDir:
    """One index directory; reading needs no lock, writing a version takes ``.lock``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.versions = self.root / VERSIONS

    def exists(self) -> bool:
        # Anything at CURRENT (even a directory) means an index is here: reading it then says
        # what is wrong, instead of a writer starting a new, empty index over the old one.
        pointer = self.root / POINTER
        return pointer.exists() or pointer.is_symlink()

    def current_name(self) -> str:
        pointer = self.root / POINTER
        try:
            name = pointer.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            raise IndexNotFoundError(
                f"no index at {self.root} (no {POINTER} file); build one with "
                "`abstractqa index add FILE...`"
            ) from None
        except UnicodeDecodeError as exc:
            raise IndexCorruptError(
                f"{pointer}: does not name an index version: not UTF-8 text (byte {exc.start})"
            ) from exc
        except IsADirectoryError as exc:
            raise IndexCorruptError(f"{pointer}: is a directory, not a file") from exc
        except OSError as exc:
            raise IndexCorruptError(f"{pointer}: cannot be read ({exc.strerror or exc})") from exc
        if not _VERSION_NAME.match(name):
            raise IndexCorruptError(f"{pointer}: does not name an index version: {name[:60]!r}")
        return name

    def current(self) -> Path:
        path = self.versions / self.current_name()
        if not path.is_dir():
            raise IndexCorruptError(f"{self.root / POINTER} names {path.name}, which is missing")
        return path

    def version_names(self) -> list[str]:
        if not self.versions.is_dir():
            return []
        names = [p.name for p in self.versions.iterdir() if _VERSION_NAME.match(p.name)]
        return sorted(names, key=lambda n: int(n[1:]))

    def read_manifest(self, version: Path) -> dict[str, Any]:
        path = version / MANIFEST
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise IndexCorruptError(f"{path}: missing (the version is incomplete)") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise IndexCorruptError(f"{path}: not valid JSON ({exc})") from exc
        if not isinstance(manifest, dict) or manifest.get("format_version") not in READABLE_FORMATS:
            found = manifest.get("format_version") if isinstance(manifest, dict) else None
            raise IndexCorruptError(
                f"{path}: index format version {found!r}, this abstractqa reads "
                f"{', '.join(map(str, READABLE_FORMATS))}"
            )
        return manifest

    def verify(self, version: Path, manifest: dict[str, Any], hashes: bool = True) -> None:
        """Check every file the manifest lists: present, same size, and (``hashes``) same sha256."""
        for name, meta in manifest.get("files", {}).items():
            path = version / name
            if not path.is_file():
                raise IndexCorruptError(f"{path}: missing")
            size = path.stat().st_size
            if size != meta["bytes"]:
                raise IndexCorruptError(
                    f"{path}: {size} bytes, the manifest says {meta['bytes']} "
                    "(truncated or altered)"
                )
            if hashes and sha256_file(path) != meta["sha256"]:
                raise IndexCorruptError(f"{path}: content differs from the manifest's sha256")

    @contextmanager
    def write_lock(self, timeout_s: float = 30.0) -> Iterator[None]:
        """Hold the index's write lock; waits up to ``timeout_s`` for another writer."""
        self.root.mkdir(parents=True, exist_ok=True)
        handle = (self.root / ".lock").open("a+")
        deadline = time.monotonic() + timeout_s
        try:
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise IndexLockedError(
                            f"{self.root}: another abstractqa process is writing this index "
                            f"(waited {timeout_s:.0f} s for {self.root / '.lock'})"
                        ) from None
                    time.sleep(0.1)
            yield
        finally:
            handle.close()

    def new_build_dir(self) -> Path:
        """A fresh directory for a version being written (call with the write lock held)."""
        self.versions.mkdir(parents=True, exist_ok=True)
        for stale in self.versions.glob(f"{_BUILD_PREFIX}*"):
            shutil.rmtree(stale, ignore_errors=True)
        path = self.versions / f"{_BUILD_PREFIX}{uuid.uuid4().hex}"
        path.mkdir()
        return path

    def next_name(self) -> str:
        names = self.version_names()
        return f"v{(int(names[-1][1:]) + 1 if names else 1):06d}"

    def commit(self, build: Path, manifest: dict[str, Any]) -> Path:
        """Seal ``build`` as the next version and make it current."""
        name = manifest["version"]
        files = sorted(p for p in build.rglob("*") if p.is_file())
        manifest["files"] = {
            str(p.relative_to(build)): {"bytes": p.stat().st_size, "sha256": sha256_file(p)}
            for p in files
        }
        for path in files:
            _fsync_path(path)
        for directory in {p.parent for p in files}:
            _fsync_path(directory)
        write_atomic(build / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True).encode())
        final = self.versions / name
        os.rename(build, final)
        _fsync_path(self.versions)
        write_atomic(self.root / POINTER, f"{name}\n".encode())
        return final

    def prune(self, keep: int) -> list[str]:
        """Delete all but the newest ``keep`` versions (never the current one)."""
        current = self.current_name()
        removed = []
        for name in self.version_names()[:-keep] if keep > 0 else []:
            if name != current:
                shutil.rmtree(self.versions / name, ignore_errors=True)
                removed.append(name)
        return removed
