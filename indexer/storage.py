"""The index directory: immutable segments, versions that name them, a pointer to the current
version, and a write lock (Lucene's segments and commit point).

Layout::

    INDEX_DIR/
      CURRENT               name of the current version (replaced atomically)
      .lock                 held by the one process writing
      segments/
        s000001/            a sealed segment (indexer/segment.py); never modified
        .build-<random>/    a segment being written (removed if its writer died)
      versions/
        v000001/            manifest.json (written last: segments, counts, embedder, files)
                            and tombstones.json (the rows deleted from each segment)
        .build-<random>/    a version being written
      checkpoint/           vectors embedded by an unfinished build (indexer/checkpoint.py)

A version is written under ``.build-*``, fsynced, renamed to ``vNNNNNN`` and only then named in
``CURRENT`` by an atomic rename, so a crash at any moment leaves the previous version current
and intact. Versions share segments: an add writes one new segment, a removal only a version.
Segments no kept version names are deleted when versions are pruned.
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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from indexer.errors import (
    IndexCorruptError,
    IndexLockedError,
    IndexNotFoundError,
    LegacyFormatError,
)

FORMAT_VERSION = 3
# Formats 1 and 2 kept a whole copy of every paper, chunk and vector in each version; they are
# read only to upgrade them (`abstractqa index upgrade`, or any write) into one segment.
READABLE_FORMATS = (3,)
LEGACY_FORMATS = (1, 2)
MANIFEST = "manifest.json"
TOMBSTONES = "tombstones.json"
POINTER = "CURRENT"
VERSIONS = "versions"
SEGMENTS = "segments"
_VERSION_NAME = re.compile(r"^v(\d{6,})$")
_SEGMENT_NAME = re.compile(r"^s(\d{6,})$")
_BUILD_PREFIX = ".build-"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


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


def describe_files(directory: Path, exclude: str | None = None) -> dict[str, dict[str, Any]]:
    """Size and sha256 of every file under ``directory`` (relative names)."""
    files = sorted(p for p in directory.rglob("*") if p.is_file() and p.name != exclude)
    return {
        str(p.relative_to(directory)): {"bytes": p.stat().st_size, "sha256": sha256_file(p)}
        for p in files
    }


def fsync_tree(directory: Path) -> None:
    files = [p for p in directory.rglob("*") if p.is_file()]
    for path in files:
        _fsync_path(path)
    for folder in {p.parent for p in files} | {directory}:
        _fsync_path(folder)


def verify_files(
    directory: Path, files: dict[str, Any], hashes: bool, what: str = "the manifest"
) -> None:
    """Every listed file is present, of its size, and (``hashes``) of its sha256."""
    for name, meta in files.items():
        path = directory / name
        if not path.is_file():
            raise IndexCorruptError(f"{path}: missing")
        size = path.stat().st_size
        if size != meta["bytes"]:
            raise IndexCorruptError(
                f"{path}: {size} bytes, {what} says {meta['bytes']} (truncated or altered)"
            )
        if hashes and sha256_file(path) != meta["sha256"]:
            raise IndexCorruptError(f"{path}: content differs from {what}'s sha256")


def read_json(path: Path, missing: str) -> Any:
    """``path``'s JSON, or an ``IndexCorruptError`` naming it (``missing`` says why it may be
    absent)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise IndexCorruptError(f"{path}: missing ({missing})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise IndexCorruptError(f"{path}: not valid JSON ({exc})") from exc


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
        self.segments = self.root / SEGMENTS

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
        manifest = read_json(path, "the version is incomplete")
        found = manifest.get("format_version") if isinstance(manifest, dict) else None
        if found in LEGACY_FORMATS:
            raise LegacyFormatError(
                f"{path}: index format version {found} (one full copy per version); run "
                "`abstractqa index upgrade` once to turn it into segments (no re-embedding)"
            )
        if found not in READABLE_FORMATS:
            raise IndexCorruptError(
                f"{path}: index format version {found!r}, this abstractqa reads "
                f"{', '.join(map(str, READABLE_FORMATS))}"
            )
        return manifest

    def read_legacy_manifest(self, version: Path) -> dict[str, Any]:
        manifest = json.loads((version / MANIFEST).read_text(encoding="utf-8"))
        if not isinstance(manifest, dict) or manifest.get("format_version") not in LEGACY_FORMATS:
            raise IndexCorruptError(f"{version / MANIFEST}: not a format 1 or 2 manifest")
        return manifest

    def segment_dir(self, name: str) -> Path:
        if not _SEGMENT_NAME.match(str(name)):
            raise IndexCorruptError(f"a manifest names segment {str(name)[:60]!r}, not a segment")
        return self.segments / name

    def read_segment_meta(self, name: str) -> dict[str, Any]:
        path = self.segment_dir(name) / "segment.json"
        meta = read_json(path, "the segment is gone or incomplete")
        if not isinstance(meta, dict) or not isinstance(meta.get("files"), dict):
            raise IndexCorruptError(f"{path}: not a segment description")
        return meta

    def verify(self, version: Path, manifest: dict[str, Any], hashes: bool = True) -> None:
        """Check the version's own files and every file of the segments it names: present,
        same size, and (``hashes``) same sha256."""
        verify_files(version, manifest.get("files", {}), hashes)
        for entry in manifest.get("segments", []):
            name = entry["name"] if isinstance(entry, dict) else entry
            meta = self.read_segment_meta(name)
            verify_files(self.segment_dir(name), meta["files"], hashes, "its segment.json")

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

    def _fresh(self, parent: Path) -> Path:
        parent.mkdir(parents=True, exist_ok=True)
        path = parent / f"{_BUILD_PREFIX}{uuid.uuid4().hex}"
        path.mkdir()
        return path

    def clear_builds(self) -> None:
        """Remove what a dead writer left half-written (call with the write lock held)."""
        for parent in (self.versions, self.segments):
            if parent.is_dir():
                for stale in parent.glob(f"{_BUILD_PREFIX}*"):
                    shutil.rmtree(stale, ignore_errors=True)

    def new_build_dir(self) -> Path:
        """A fresh directory for a version being written (call with the write lock held)."""
        return self._fresh(self.versions)

    def new_segment_dir(self) -> Path:
        """A path for a segment being written; SegmentWriter creates it."""
        self.segments.mkdir(parents=True, exist_ok=True)
        return self.segments / f"{_BUILD_PREFIX}{uuid.uuid4().hex}"

    def segment_names(self) -> list[str]:
        if not self.segments.is_dir():
            return []
        names = [p.name for p in self.segments.iterdir() if _SEGMENT_NAME.match(p.name)]
        return sorted(names, key=lambda n: int(n[1:]))

    def seal_segment(self, build: Path) -> str:
        """Give a written segment its final name (the next free one)."""
        names = self.segment_names()
        name = f"s{(int(names[-1][1:]) + 1 if names else 1):06d}"
        meta_path = build / "segment.json"
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        meta["name"] = name
        write_atomic(meta_path, json.dumps(meta, indent=2).encode())
        os.rename(build, self.segments / name)
        _fsync_path(self.segments)
        return name

    def next_name(self) -> str:
        names = self.version_names()
        return f"v{(int(names[-1][1:]) + 1 if names else 1):06d}"

    def commit(self, build: Path, manifest: dict[str, Any]) -> Path:
        """Seal ``build`` as the next version and make it current."""
        name = manifest["version"]
        manifest["files"] = describe_files(build, exclude=MANIFEST)
        fsync_tree(build)
        write_atomic(build / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True).encode())
        final = self.versions / name
        os.rename(build, final)
        _fsync_path(self.versions)
        write_atomic(self.root / POINTER, f"{name}\n".encode())
        return final

    def prune(self, keep: int) -> list[str]:
        """Delete all but the newest ``keep`` versions (never the current one), then every
        segment that no remaining version names."""
        current = self.current_name()
        removed = []
        for name in self.version_names()[:-keep] if keep > 0 else []:
            if name != current:
                shutil.rmtree(self.versions / name, ignore_errors=True)
                removed.append(name)
        self.collect_segments()
        return removed

    def collect_segments(self) -> list[str]:
        """Delete segments that no version names (left by merges, pruning or a dead build)."""
        used: set[str] = set()
        for name in self.version_names():
            try:
                manifest = json.loads((self.versions / name / MANIFEST).read_text("utf-8"))
            except (OSError, ValueError):
                return []  # an unreadable version: keep everything rather than guess
            for entry in manifest.get("segments", []):
                used.add(entry["name"] if isinstance(entry, dict) else str(entry))
        unused = [n for n in self.segment_names() if n not in used]
        for name in unused:
            shutil.rmtree(self.segments / name, ignore_errors=True)
        return unused
