"""The package as a user installs it: a real (non-editable) wheel carries the prompt templates."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ["answer", "condense", "no_answer", "source", "system"]


def test_prompts_are_found_from_an_installed_wheel(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(ROOT),
            "--no-deps",
            "--no-build-isolation",
            "--quiet",
            "-w",
            str(wheels),
        ],
        check=True,
        cwd=tmp_path,
    )
    wheel = next(wheels.glob("abstractqa-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {f"prompts/{name}.txt" for name in TEMPLATES} <= names
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--quiet",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
    )
    code = (
        "import prompts, sys; assert prompts.__file__.startswith(sys.argv[1]), prompts.__file__; "
        f"print(all(prompts.load(n) for n in {TEMPLATES!r}))"
    )
    out = subprocess.run(
        [
            sys.executable,
            "-I",
            "-c",
            f"import sys; sys.path.insert(0, {str(target)!r}); {code}",
            str(target),
        ],
        check=True,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert out.stdout.strip() == "True"
