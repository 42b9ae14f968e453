"""``abstractqa mcp`` as a process: stdout carries nothing but the protocol, and an index that
cannot be served ends it before it speaks."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from tests.conftest import ROOT
from tests.service.mcp.conftest import stdio_parameters


def message(body: dict[str, Any]) -> str:
    return json.dumps({"jsonrpc": "2.0", **body}) + "\n"


def environment(index_dir: Path) -> dict[str, str]:
    parameters = stdio_parameters(index_dir)
    return {"PATH": os.environ.get("PATH", ""), **(parameters.env or {})}


def test_stdout_carries_only_protocol_messages_and_logs_go_to_stderr(stdio_index: Path) -> None:
    parameters = stdio_parameters(stdio_index)
    with subprocess.Popen(
        [parameters.command, *parameters.args],
        cwd=ROOT,
        env=environment(stdio_index),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(
            message(
                {
                    "id": 1,
                    "method": "initialize",
                    "params": {
                        "protocolVersion": "2025-06-18",
                        "capabilities": {},
                        "clientInfo": {"name": "raw-test", "version": "0"},
                    },
                }
            )
            + message({"method": "notifications/initialized"})
            + message({"id": 2, "method": "tools/list"})
        )
        process.stdin.flush()
        lines = []
        while line := process.stdout.readline():
            lines.append(line)
            if json.loads(line).get("id") == 2:
                break
        # communicate() closes stdin: the client goes, and the server ends.
        rest, errors = process.communicate(timeout=120)
    lines += rest.splitlines(keepends=True)
    replies = [json.loads(line) for line in lines]
    assert all(reply["jsonrpc"] == "2.0" for reply in replies)
    assert replies[0]["result"]["serverInfo"]["name"] == "abstractqa"
    assert {t["name"] for t in replies[1]["result"]["tools"]} == {
        "search_papers",
        "ask",
        "get_paper",
    }
    assert errors.count("index v000001 loaded: 54 papers") == 1  # loaded once, logged on stderr
    assert process.returncode == 0


def test_a_missing_index_ends_the_command_with_an_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "no-index"
    parameters = stdio_parameters(missing)
    finished = subprocess.run(
        [parameters.command, *parameters.args],
        cwd=ROOT,
        env=environment(missing),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert finished.returncode == 1
    assert finished.stdout == ""
    assert finished.stderr.startswith("error: ")
    assert str(missing) in finished.stderr
