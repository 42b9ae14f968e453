"""The ``abstractqa`` command: the indexer's commands plus ``serve`` and ``mcp``."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from indexer import cli as indexer_cli
from indexer import eval_cli
from service.evaluation import cli as answers_cli


def _serve(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from indexer import embedder_name
    from service.runtime.index_check import check_current
    from service.runtime.startup import set_torch_threads
    from service.settings import Settings, invalid_settings

    overrides: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "log_level": args.log_level,
    } | ({"index_dir": args.index_dir} if getattr(args, "index_dir", None) else {})
    try:
        settings = Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:  # e.g. ABSTRACTQA_RATE_LIMIT=60/fortnight: say which, exit 2
        print(invalid_settings(exc), file=sys.stderr)
        return 2
    # Refuse to start on a missing, damaged or mismatched index, naming the file, before the
    # port opens (an IndexerError: message and exit code 1); the model and the index itself
    # then load in the background. Reloads run the same check.
    _, manifest = check_current(settings.index.index_dir, embedder_name(settings))
    set_torch_threads(settings)

    import uvicorn

    from service.app import create_app
    from service.observability.logs import configure_logging
    from service.security.connections import uvicorn_options

    configure_logging(settings.observability.format, settings.observability.level)
    logging.getLogger("abstractqa.service").info(
        "serving index %s (%d papers) on http://%s:%d",
        manifest["version"],
        manifest["counts"]["papers"],
        settings.runtime.host,
        settings.runtime.port,
    )
    # Our handler formats uvicorn's lines too (log_config=None); the access log is our own
    # (service.observability.middleware), with request ids and durations.
    uvicorn.run(
        create_app(settings),
        host=settings.runtime.host,
        port=settings.runtime.port,
        log_level=settings.observability.level,
        log_config=None,
        access_log=False,
        # Header timeout, per-client connection cap, keep-alive, trusted proxies.
        **uvicorn_options(settings),
    )
    return 0


def _mcp(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from indexer import embedder_name
    from service.runtime.index_check import check_current
    from service.runtime.startup import set_torch_threads
    from service.settings import Settings, invalid_settings

    overrides = {"index_dir": args.index_dir} if getattr(args, "index_dir", None) else {}
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        print(invalid_settings(exc), file=sys.stderr)
        return 2
    # As `serve` does: a missing or damaged index is an error naming the file (exit code 1)
    # before any client is told the server is there.
    check_current(settings.index.index_dir, embedder_name(settings))
    set_torch_threads(settings)

    from service.mcp.stdio import serve_stdio
    from service.observability.logs import configure_logging

    # Logs go to stderr: stdout carries the protocol only.
    configure_logging(settings.observability.format, settings.observability.level)
    serve_stdio(settings)
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
    serve.add_argument(
        "--log-level",
        default=None,
        choices=["debug", "info", "warning", "error"],
        help="least severe level logged (default: $ABSTRACTQA_LOG_LEVEL or info); the format "
        "is $ABSTRACTQA_LOG_FORMAT: json, text, or auto (text on a terminal, else json)",
    )
    serve.set_defaults(handler=_serve)
    mcp = commands.add_parser(
        "mcp",
        parents=[parent],
        help="serve the MCP tools over stdio (for Claude Desktop and other MCP clients)",
        description="Speak the Model Context Protocol on stdin/stdout over the local index: "
        "tools search_papers, ask and get_paper, resources paper://{paper_id}. Logs go to "
        "stderr.",
    )
    mcp.set_defaults(handler=_mcp)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return indexer_cli.run(args)


if __name__ == "__main__":
    sys.exit(main())
