"""The results file every benchmark writes (benchmarks/_results.py), on real files."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from benchmarks._results import KEYS, ResultsError, read_results, write_results


def test_a_results_file_records_command_date_commit_machine_params_metrics_and_samples(
    tmp_path: Path,
) -> None:
    path = write_results(
        "demo",
        params={"papers": 20, "sizes": (1, 2)},
        metrics={"ndcg": np.float64(0.5), "runs": np.int64(3)},
        samples={"latency_ms": [1.5, 2.5]},
        results_dir=tmp_path,
        command=["python", "benchmarks/demo.py", "--papers", "20"],
    )

    assert path == tmp_path / "demo.json"
    document = json.loads(path.read_text(encoding="utf-8"))
    assert set(KEYS) <= set(document)
    assert document["name"] == "demo"
    assert document["command"] == ["python", "benchmarks/demo.py", "--papers", "20"]
    assert datetime.fromisoformat(document["date"]).utcoffset().total_seconds() == 0
    assert re.fullmatch(r"[0-9a-f]{40}", document["commit"])
    assert isinstance(document["dirty"], bool)
    assert {"cpus", "cpu_model", "memory_gib", "python", "torch", "load_average"} <= set(
        document["machine"]
    )
    assert document["params"] == {"papers": 20, "sizes": [1, 2]}
    assert document["metrics"] == {"ndcg": 0.5, "runs": 3}
    assert document["samples"] == {"latency_ms": [1.5, 2.5]}
    assert read_results("demo", tmp_path) == document
    assert [p.name for p in tmp_path.iterdir()] == ["demo.json"]  # no partial file left


def test_reading_a_missing_results_file_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(ResultsError, match=r"absent\.json: no such results file"):
        read_results("absent", tmp_path)


def test_reading_a_file_without_the_layouts_keys_names_what_is_missing(tmp_path: Path) -> None:
    (tmp_path / "old.json").write_text(json.dumps({"name": "old", "metrics": {}}), "utf-8")

    with pytest.raises(ResultsError, match=r"old\.json: not a results file, no command, date"):
        read_results("old", tmp_path)


def test_a_results_file_holding_another_benchmarks_name_is_refused(tmp_path: Path) -> None:
    write_results("first", {}, {}, results_dir=tmp_path, command=["x"])
    (tmp_path / "first.json").rename(tmp_path / "second.json")

    with pytest.raises(ResultsError, match="holds the results of 'first', not 'second'"):
        read_results("second", tmp_path)
