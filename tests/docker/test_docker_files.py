"""docker/: what can be checked without a Docker engine. The image installs the project through
the Makefile's own targets (so the two cannot drift apart), the one torch install it adds
honours pyproject's pin, everything it copies is in the build context, and compose keeps the
index where the image looks for it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "docker" / "Dockerfile"
COMPOSE = ROOT / "docker" / "compose.yaml"


def instructions() -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` pairs, continuation lines joined, comments dropped."""
    pairs, pending = [], ""
    for line in DOCKERFILE.read_text().splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending += line.removesuffix("\\").strip() + " "
        if not line.endswith("\\"):
            name, arguments = pending.split(None, 1)
            pairs.append((name.upper(), arguments.strip()))
            pending = ""
    return pairs


def runs() -> list[str]:
    return [arguments for name, arguments in instructions() if name == "RUN"]


def env(key: str) -> str:
    envs = " ".join(arguments for name, arguments in instructions() if name == "ENV")
    match = re.search(rf"\b{key}=(\S+)", envs)
    assert match, f"ENV {key} not set"
    return match.group(1)


def test_the_image_installs_the_project_with_the_makefiles_own_targets(tmp_path: Path) -> None:
    makes = [r for r in runs() if r.startswith("make ")]
    assert [m.split()[1] for m in makes] == [".venv/bin/python", "index"]
    # No install of the project of its own: only torch is pip-installed by the Dockerfile.
    pip_runs = [r for r in runs() if "pip install" in r]
    assert len(pip_runs) == 1 and "--index-url https://download.pytorch.org/whl/cpu" in pip_runs[0]
    # What those targets run on a fresh checkout: the README's `make run` install, then the index.
    planned = subprocess.run(
        ["make", "--no-print-directory", "-n", "-B", "index", f"INDEX_DIR={tmp_path / 'index'}"],
        cwd=ROOT,
        # Under `make test` the parent make's flags and level leak in ("make[1]: ..." lines).
        env={k: v for k, v in os.environ.items() if k not in {"MAKEFLAGS", "MFLAGS", "MAKELEVEL"}},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert ".venv/bin/pip install --quiet -e ." in planned
    assert planned[-1] == ".venv/bin/abstractqa index add data/daily-papers.txt"


def test_the_cpu_torch_install_reads_the_pin_from_pyproject() -> None:
    [torch_run] = [r for r in runs() if "download.pytorch.org" in r]
    code = re.search(r"-c '([^']+)'", torch_run)
    assert code, torch_run
    pin = subprocess.run(
        [sys.executable, "-c", code.group(1)], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert pin in dependencies and re.fullmatch(r"torch==[\d.]+", pin)


def test_everything_the_image_copies_is_in_the_build_context() -> None:
    allowed = {
        line[1:].strip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    }
    sources = [
        part
        for name, arguments in instructions()
        if name == "COPY" and not arguments.startswith("--from")
        for part in arguments.split()[:-1]
    ]
    assert sources
    for source in sources:
        assert (ROOT / source).exists(), source
        assert source.strip("/") in allowed, f"{source} is excluded by .dockerignore"


def test_the_image_runs_unprivileged_with_a_readiness_healthcheck() -> None:
    names = [name for name, _ in instructions()]
    last_from = len(names) - 1 - names[::-1].index("FROM")
    final = instructions()[last_from:]
    users = [arguments for name, arguments in final if name == "USER"]
    assert users and users[-1] not in ("root", "0")
    [check] = [arguments for name, arguments in final if name == "HEALTHCHECK"]
    assert "/readyz" in check


def test_compose_keeps_the_index_where_the_image_reads_it_and_wires_ollama() -> None:
    compose = yaml.safe_load(COMPOSE.read_text())
    index_dir = env("ABSTRACTQA_INDEX_DIR")
    services = compose["services"]
    for name in ("abstractqa", "abstractqa-llm"):
        assert f"index:{index_dir}" in services[name]["volumes"], name
        assert services[name]["build"]["dockerfile"] == "docker/Dockerfile"
    llm = services["abstractqa-llm"]
    assert llm["profiles"] == ["llm"] and services["ollama"]["profiles"] == ["llm"]
    assert llm["environment"]["ABSTRACTQA_ANSWER_BACKEND"] == "openai"
    assert llm["environment"]["ABSTRACTQA_LLM_BASE_URL"] == "http://ollama:11434/v1"
    assert "profiles" not in services["abstractqa"]
