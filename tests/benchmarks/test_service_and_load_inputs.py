"""What the service and load benchmarks measure against (no timing): the encoder floor's
configurations include the served one, and the load's query pool never repeats a text."""

from __future__ import annotations

import json
import os
from itertools import islice
from pathlib import Path

from benchmarks.bench_load import query_pool
from benchmarks.bench_service import EncoderConfig, floor_configs, served_config


def test_the_encoder_floor_configurations_include_the_one_the_server_runs() -> None:
    settings = {"query_encoder_workers": 0, "torch_threads": 1, "query_batch_max": 8}
    served = served_config(settings)

    configs = floor_configs(served)

    assert served == EncoderConfig(os.cpu_count() or 1, 1, 8)
    assert served in configs
    assert EncoderConfig(1, os.cpu_count() or 1, 64) in configs  # the earlier floor's setting
    assert len(set(configs)) == len(configs)


def test_the_load_query_pool_sends_each_text_once_beginning_with_the_asked_questions(
    tmp_path: Path,
) -> None:
    beir_queries = tmp_path / "queries.jsonl"
    rows = [{"_id": "1", "text": "retrieval of catalogues"}, {"_id": "2", "text": "first"}]
    beir_queries.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")

    drawn = list(islice(query_pool(["first", "second"], [beir_queries]), 30))

    assert drawn[:3] == ["first", "second", "retrieval of catalogues"]
    assert len(set(drawn)) == len(drawn) == 30
