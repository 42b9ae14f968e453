"""The ``abstractqa`` command: the indexer's commands plus ``serve``."""

from __future__ import annotations

import argparse
import sys

from indexer import cli as indexer_cli


def build_parser() -> argparse.ArgumentParser:
    parent = indexer_cli.common_options()
    parser = argparse.ArgumentParser(
        prog="abstractqa",
        description="Question answering over research-paper abstracts, with cited sentences.",
        parents=[parent],
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    indexer_cli.add_commands(commands, parent)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return indexer_cli.run(args)


if __name__ == "__main__":
    sys.exit(main())
