"""Render the tables of docs/benchmarks.md from the results files in benchmarks/results/.

The doc marks each generated table with a pair of comments; what lies between them is
rewritten, the prose around them stays as written::

    <!-- results:cv_retrieval:scores -->
    | collection | ... |
    <!-- /results -->

``cv_retrieval`` is the results file (``benchmarks/results/cv_retrieval.json``), ``scores`` the
table (``doc_tables.TABLES``). ``--check`` rewrites nothing and exits 1 when the doc differs from
what the results files give (tests/benchmarks/test_docs_agree.py asserts the same).

    .venv/bin/python benchmarks/render_docs.py [--check] [--doc docs/benchmarks.md]
        [--results-dir benchmarks/results]
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import RESULTS_DIR, ROOT, ResultsError, read_results
from doc_tables import TABLES

DOC = ROOT / "docs" / "benchmarks.md"
_OPEN = re.compile(r"^<!-- results:([\w.-]+):([\w.-]+) -->$")
_CLOSE = "<!-- /results -->"


class RenderError(Exception):
    """The doc's markers are malformed or name an unknown table or results file; the message
    names the doc and the line."""


@dataclass(frozen=True)
class Block:
    """One marked table: the results file, the table, and its lines in the doc (the content
    is ``lines[start:end]``, between the two marker lines)."""

    name: str
    table: str
    start: int
    end: int


def blocks(lines: list[str], doc: Path) -> list[Block]:
    """The marked blocks of the doc, in order."""
    found: list[Block] = []
    opened: tuple[str, str, int] | None = None
    for number, line in enumerate(lines):
        match = _OPEN.match(line.strip())
        if match is not None:
            if opened is not None:
                raise RenderError(
                    f"{doc}: line {number + 1}: a block opens inside the block of line {opened[2]}"
                )
            if (match[1], match[2]) not in TABLES:
                raise RenderError(
                    f"{doc}: line {number + 1}: no table {match[2]!r} of results {match[1]!r} "
                    f"(known: {', '.join(f'{n}:{t}' for n, t in TABLES)})"
                )
            opened = (match[1], match[2], number + 1)
        elif line.strip() == _CLOSE:
            if opened is None:
                raise RenderError(f"{doc}: line {number + 1}: {_CLOSE} without an opening marker")
            found.append(Block(opened[0], opened[1], opened[2], number))
            opened = None
        elif line.strip().startswith("<!-- results"):
            raise RenderError(f"{doc}: line {number + 1}: malformed marker {line.strip()!r}")
    if opened is not None:
        raise RenderError(f"{doc}: line {opened[2]}: the block is never closed ({_CLOSE})")
    return found


def rendered_table(block: Block, results_dir: Path, doc: Path) -> list[str]:
    try:
        document = read_results(block.name, results_dir)
    except ResultsError as exc:
        raise RenderError(f"{doc}: line {block.start}: {exc}") from exc
    # A table that combines two results files (gpu_embed's estimates) reads the other from here.
    document["_results_dir"] = str(results_dir)
    try:
        text = TABLES[(block.name, block.table)](document)
    except (KeyError, TypeError, ValueError, ZeroDivisionError, ResultsError) as exc:
        raise RenderError(
            f"{doc}: line {block.start}: table {block.table!r} cannot be drawn from "
            f"{results_dir / block.name}.json: {type(exc).__name__}: {exc}"
        ) from exc
    return text.splitlines()


def render(text: str, results_dir: Path = RESULTS_DIR, doc: Path = DOC) -> str:
    """``text`` (the doc) with every marked block's content drawn from the results files."""
    lines = text.splitlines()
    out: list[str] = []
    position = 0
    for block in blocks(lines, doc):
        out += lines[position : block.start]
        out += rendered_table(block, results_dir, doc)
        position = block.end
    out += lines[position:]
    return "\n".join(out) + ("\n" if text.endswith("\n") else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--doc", type=Path, default=DOC)
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("--check", action="store_true", help="only say whether the doc agrees")
    args = parser.parse_args(argv)
    text = args.doc.read_text(encoding="utf-8")
    try:
        new = render(text, args.results_dir, args.doc)
    except RenderError as exc:
        print(exc, file=sys.stderr)
        return 2
    if args.check:
        if new != text:
            print(
                f"{args.doc}: tables differ from the results files; run {__file__}", file=sys.stderr
            )
            return 1
        return 0
    if new != text:
        args.doc.write_text(new, encoding="utf-8")
        print(f"rewrote the tables of {args.doc}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
