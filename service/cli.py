"""The ``abstractqa`` command: the indexer's commands plus ``serve``."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from indexer import cli as indexer_cli
from indexer.evaluation import cli as eval_cli
from service import eval_cli as answers_cli


def _serve(args: argparse.Namespace) -> int:
    from indexer.embedders.factory import embedder_name
    from indexer.index import check_embedder
    from indexer.storage import IndexDir
    from service.settings import Settings

    overrides: dict[str, Any] = {"host": args.host, "port": args.port} | (
        {"index_dir": args.index_dir} if getattr(args, "index_dir", None) else {}
    )
    settings = Settings(**{k: v for k, v in overrides.items() if v is not None})
    # Refuse to start on a missing, damaged or mismatched index, naming the file, before the
    # port opens; the model and the index itself then load in the background.
    root = IndexDir(settings.index_dir)
    version = root.current()
    manifest = root.read_manifest(version)
    check_embedder(manifest, embedder_name(settings), settings.index_dir)
    root.verify(version, manifest)

    import uvicorn

    from service.app import create_app

    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    print(
        f"abstractqa: serving index {manifest['version']} ({manifest['counts']['papers']} papers) "
        f"on http://{settings.host}:{settings.port}",
        file=sys.stderr,
        flush=True,
    )
    uvicorn.run(
        create_app(settings), host=settings.host, port=settings.port, log_level=args.log_level
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parent = indexer_cli.common_options()
    parser = argparse.ArgumentParser(
        prog="abstractqa",
        description="Question answering over research-paper abstracts, with cited sentences.",
        parents=[parent],
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    indexer_cli.add_commands(commands, parent)
    answers_cli.add_commands(eval_cli.add_commands(commands, parent), parent)
    serve = commands.add_parser("serve", parents=[parent], help="run the HTTP service")
    serve.add_argument(
        "--host", default=None, help="interface to bind (default: $ABSTRACTQA_HOST or 127.0.0.1)"
    )
    serve.add_argument(
        "--port", type=int, default=None, help="port (default: $ABSTRACTQA_PORT or 8000)"
    )
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    serve.set_defaults(handler=_serve)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return indexer_cli.run(args)


if __name__ == "__main__":
    sys.exit(main())
