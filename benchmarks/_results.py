"""The results file every benchmark writes: ``benchmarks/results/<name>.json``.

One layout for all of them, so that docs/benchmarks.md can be rendered from the files
(``benchmarks/render_docs.py``) and any figure traced to the run that produced it::

    {"name": "service",
     "command": ["/path/python", "benchmarks/bench_service.py", "--repeat", "3"],
     "date": "2026-11-30T01:23:45+00:00",          # ISO 8601, UTC, when the file was written
     "commit": "0d1402b…", "dirty": false,          # git rev-parse HEAD; uncommitted changes?
     "machine": {"cpus", "cpu_model", "memory_gib", "python", "torch", "load_average", …},
     "params": {...},                               # what the run was asked to do
     "metrics": {...},                              # the figures the docs quote
     "samples": {...}}                              # raw samples or their percentiles

Use from a benchmark script (its directory is on ``sys.path``)::

    from _results import write_results
    path = write_results("service", params=vars(args), metrics=..., samples=...)

``metrics`` and ``samples`` must be JSON-serialisable (numbers, strings, lists, dicts).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "benchmarks" / "results"
KEYS = ("name", "command", "date", "commit", "dirty", "machine", "params", "metrics", "samples")


class ResultsError(Exception):
    """A results file is missing or not in the layout above; the message names the file."""


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True, timeout=30
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip()


def git_state() -> tuple[str | None, bool | None]:
    """HEAD's commit and whether tracked files differ from it (None, None outside a checkout).
    Results files themselves do not count: a run rewrites them before it is committed."""
    named = os.environ.get("ABSTRACTQA_BENCH_COMMIT")
    if named:
        # A copy of the working tree elsewhere (the GPU machine) whose .git, if any, is not the
        # tree's: the commit the copy was made from, as the command that ran it says; whether
        # the copy was clean is then unknown.
        return named, None
    commit = _git("rev-parse", "HEAD")
    if commit is None:
        return None, None
    status = _git(
        "status", "--porcelain", "--untracked-files=no", "--", ".", ":!benchmarks/results"
    )
    return commit, None if status is None else bool(status)


def record(
    name: str,
    params: Mapping[str, Any],
    metrics: Mapping[str, Any],
    samples: Mapping[str, Any] | None = None,
    command: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The results document of one run (``command`` defaults to this process's argv)."""
    commit, dirty = git_state()
    return {
        "name": name,
        "command": list(command if command is not None else sys.orig_argv),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": commit,
        "dirty": dirty,
        "machine": machine(),
        "params": _plain(params),
        "metrics": _plain(metrics),
        "samples": _plain(samples or {}),
    }


def write_results(
    name: str,
    params: Mapping[str, Any],
    metrics: Mapping[str, Any],
    samples: Mapping[str, Any] | None = None,
    *,
    results_dir: Path = RESULTS_DIR,
    command: Sequence[str] | None = None,
) -> Path:
    """Write ``<results_dir>/<name>.json`` (replacing it whole, never half-written)."""
    return write_document(record(name, params, metrics, samples, command), results_dir)


def write_document(document: Mapping[str, Any], results_dir: Path = RESULTS_DIR) -> Path:
    """Write a document made by ``record`` as ``<results_dir>/<its name>.json``, atomically."""
    path = results_dir / f"{document['name']}.json"
    results_dir.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps(document, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    partial.replace(path)
    return path


def read_results(name: str, results_dir: Path = RESULTS_DIR) -> dict[str, Any]:
    """The document of ``<results_dir>/<name>.json``, checked for the layout's keys."""
    path = results_dir / f"{name}.json"
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ResultsError(f"{path}: no such results file (run its benchmark)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ResultsError(f"{path}: unreadable results file: {exc}") from exc
    missing = [key for key in KEYS if not isinstance(document, dict) or key not in document]
    if missing:
        raise ResultsError(f"{path}: not a results file, no {', '.join(missing)}")
    if document["name"] != name:
        raise ResultsError(f"{path}: holds the results of {document['name']!r}, not {name!r}")
    return document


def _plain(value: Any) -> Any:
    """JSON-ready: tuples become lists, numpy scalars Python numbers, keys strings."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item") and callable(value.item):  # numpy scalar
        return value.item()
    return value
