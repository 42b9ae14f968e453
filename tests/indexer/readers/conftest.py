"""Fixtures for the reader tests: input files written into tmp_path, and sample abstracts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]

WriteFile = Callable[[str, str | bytes], Path]
MakeAbstract = Callable[[str], str]


@pytest.fixture
def bundled_daily_file() -> Path:
    return REPO_ROOT / "data" / "daily-papers.txt"


@pytest.fixture
def write_file(tmp_path: Path) -> WriteFile:
    """Write text (exactly as given, no newline translation) or bytes to ``tmp_path/name``."""

    def write(name: str, content: str | bytes) -> Path:
        path = tmp_path / name
        data = content if isinstance(content, bytes) else content.encode("utf-8")
        path.write_bytes(data)
        return path

    return write


@pytest.fixture
def make_abstract() -> MakeAbstract:
    """A prose abstract of well over 200 characters about ``topic``."""

    def make(topic: str) -> str:
        return (
            f"We study {topic} in depth and propose a new method for it. "
            f"Experiments on several benchmarks show that our approach to {topic} "
            "outperforms strong baselines by a wide margin while using less compute. "
            "Code and data are released."
        )

    return make
