"""The results-file record of the answer benchmarks (``benchmarks/results/<name>.json``):
``{"name", "command", "date", "commit", "machine", "params", "metrics", "samples"}``.

A local stand-in for the shared ``benchmarks/_results.py`` helper, which is being written at the
same time with this same shape; once it lands, the answer benchmarks should use it instead.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _common import machine

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"


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
