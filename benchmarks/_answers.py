"""What the answer benchmarks (bench_answers.py, cv_abstention.py) share: an index of the
bundled corpus, and the results-file record (``benchmarks/results/<name>.json``):
``{"name", "command", "date", "commit", "machine", "params", "metrics", "samples"}``.

The record is a local stand-in for the shared ``benchmarks/_results.py`` helper, which is being
written at the same time with this same shape; once it lands, these benchmarks should use it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from _common import machine

if TYPE_CHECKING:
    from service.state import ServiceState

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
CORPUS = ROOT / "data" / "daily-papers.txt"


def bundled_index(index_dir: Path | None) -> Path:
    """``index_dir`` when given (an index of the bundled corpus), else a fresh one."""
    if index_dir is not None:
        return index_dir
    sys.path.insert(0, str(ROOT))
    from indexer.builder import Indexer
    from indexer.config import IndexerSettings

    built = Path(tempfile.mkdtemp(prefix="abstractqa-answers-")) / "index"
    Indexer(IndexerSettings(index_dir=built)).add([CORPUS])
    return built


@contextmanager
def bundled_state(index_dir: Path | None) -> Iterator[ServiceState]:
    """The service's state over ``bundled_index(index_dir)`` with the default settings, loaded."""
    from service.settings import Settings
    from service.state import ServiceState

    state = ServiceState(Settings(index_dir=bundled_index(index_dir)))
    state.load()
    try:
        yield state
    finally:
        state.close()


def record(
    name: str, params: dict[str, Any], metrics: dict[str, Any], samples: Any
) -> dict[str, Any]:
    about = machine()
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout.strip()
    return {
        "name": name,
        "command": " ".join([os.path.relpath(sys.executable, ROOT), *sys.argv]),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": commit or None,
        "machine": {
            "cpus": os.cpu_count(),
            "cpu_model": about["cpu"],
            "memory_gib": float(about["memory"].split()[0])
            if about["memory"] != "unknown"
            else None,
            "python": about["python"],
            "torch": about["torch"],
        },
        "params": params,
        "metrics": metrics,
        "samples": samples,
    }


def write(result: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{result['name']}.json"
    path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return path
