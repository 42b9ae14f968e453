"""docs/benchmarks.md and benchmarks/results/ agree: every marked table of the doc is exactly
what benchmarks/render_docs.py draws from its results file, and that file exists."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.render_docs import DOC, RESULTS_DIR, RenderError, blocks, render, rendered_table

LINES = DOC.read_text(encoding="utf-8").splitlines()


def test_the_benchmarks_doc_has_marked_tables_and_each_names_an_existing_results_file() -> None:
    found = blocks(LINES, DOC)

    assert len(found) >= 8
    for block in found:
        assert (RESULTS_DIR / f"{block.name}.json").is_file(), block


@pytest.mark.parametrize("block", blocks(LINES, DOC), ids=lambda b: f"{b.name}:{b.table}@{b.start}")
def test_every_table_in_the_doc_equals_its_rendering_from_the_results_file(block) -> None:
    in_doc = LINES[block.start : block.end]

    assert in_doc, "empty block: run benchmarks/render_docs.py"
    assert in_doc == rendered_table(block, RESULTS_DIR, DOC)


def _results(tmp_path: Path) -> Path:
    """A results dir holding a copy of the real coldstart results."""
    target = tmp_path / "results"
    target.mkdir()
    (target / "coldstart.json").write_bytes((RESULTS_DIR / "coldstart.json").read_bytes())
    return target


def test_rendering_fills_a_block_and_leaves_the_prose_alone(tmp_path: Path) -> None:
    text = "Intro 1.5 s.\n<!-- results:coldstart:runs -->\nstale | 9 |\n<!-- /results -->\nEnd.\n"
    document = json.loads((RESULTS_DIR / "coldstart.json").read_text(encoding="utf-8"))

    out = render(text, _results(tmp_path), tmp_path / "doc.md")

    lines = out.splitlines()
    assert lines[0] == "Intro 1.5 s." and lines[-1] == "End."
    assert "stale" not in out
    ready = document["metrics"]["ready_s"]
    assert (
        lines[4]
        == f"| launch -> `/readyz` 200, s | {ready:.2f} | "
        + ", ".join(f"{run['ready_s']:.2f}" for run in document["samples"]["runs"])
        + " |"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a\n<!-- results:coldstart:nope -->\n<!-- /results -->\n", r"line 2: no table 'nope'"),
        ("a\nb\n<!-- results:coldstart:runs -->\n", r"line 3: the block is never closed"),
        ("<!-- /results -->\n", r"line 1: <!-- /results --> without an opening marker"),
        ("<!-- results:coldstart -->\n", r"line 1: malformed marker"),
        (
            "<!-- results:coldstart:runs -->\n<!-- results:coldstart:phases -->\n",
            r"line 2: a block opens inside the block of line 1",
        ),
    ],
)
def test_malformed_markers_are_refused_with_the_line(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(RenderError, match=message):
        render(text, _results(tmp_path), tmp_path / "doc.md")


def test_a_block_whose_results_file_is_missing_names_the_line_and_the_file(
    tmp_path: Path,
) -> None:
    text = "x\n<!-- results:service:sweep -->\n<!-- /results -->\n"

    with pytest.raises(RenderError, match=r"doc\.md: line 2: .*service\.json: no such results"):
        render(text, _results(tmp_path), tmp_path / "doc.md")
