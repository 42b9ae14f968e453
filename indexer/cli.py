"""The indexer's commands: ``index add|remove|rebuild|compact|upgrade|verify|info`` and ``search``.

``service.cli`` mounts these under the one ``abstractqa`` command (the indexer never imports
the service).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from indexer.config import SEARCH_MODES, IndexerSettings
from indexer.errors import IndexerError, InputError, NothingToIndexError
from indexer.progress import Progress
from indexer.readers import FORMATS, ReadOptions, RecordFilter, parse_where
from indexer.storage import IndexDir


def settings_from(args: argparse.Namespace) -> IndexerSettings:
    """Settings from the environment, with ``--index-dir`` taking precedence."""
    overrides: dict[str, Any] = {}
    if getattr(args, "index_dir", None):
        overrides["index_dir"] = Path(args.index_dir)
    ray = getattr(args, "ray", None)
    if ray is not None:
        overrides["embed_executor"] = "ray"
        if ray:  # --ray ADDRESS; a bare --ray keeps $ABSTRACTQA_RAY_ADDRESS / $RAY_ADDRESS
            overrides["ray_address"] = ray
    return IndexerSettings(**overrides)


def common_options() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--index-dir",
        default=argparse.SUPPRESS,
        help="index directory (default: $ABSTRACTQA_INDEX_DIR, else ./index)",
    )
    return parent


def add_commands(commands: Any, parent: argparse.ArgumentParser) -> None:
    index = commands.add_parser("index", help="build and maintain the index", parents=[parent])
    sub = index.add_subparsers(dest="index_command", required=True, metavar="COMMAND")
    add = sub.add_parser(
        "add",
        parents=[parent],
        help="add or update papers from files",
        description="Read each FILE (- for standard input; .gz and .zst are decompressed) "
        "record by record and index the papers found.",
    )
    add.add_argument("files", nargs="+", type=Path, metavar="FILE")
    add.add_argument("--format", choices=FORMATS, help="input format (default: detected)")
    add.add_argument(
        "--where",
        action="append",
        type=_where,
        default=[],
        metavar="EXPR",
        help="index only records matching FIELD=PATTERN[,PATTERN...] (glob, case-sensitive; "
        "a record field or metadata key) or year>=N, year<=N, year=N; repeat to AND them",
    )
    add.add_argument(
        "--title-only",
        choices=("index", "skip"),
        default="index",
        help="records with a title and no abstract: index them by title (default) or skip them",
    )
    add.add_argument(
        "--ray",
        nargs="?",
        const="",
        default=None,
        metavar="ADDRESS",
        help="embed on a Ray cluster: ADDRESS (ray://head:10001, head:6379, auto), else "
        "$ABSTRACTQA_RAY_ADDRESS or $RAY_ADDRESS, else a Ray started here; put it after the "
        "files or write --ray=ADDRESS",
    )
    add.set_defaults(handler=_add)
    remove = sub.add_parser("remove", parents=[parent], help="remove papers by id")
    remove.add_argument("paper_ids", nargs="+", metavar="PAPER_ID")
    remove.set_defaults(handler=_remove)
    for name, handler, what in (
        ("rebuild", _rebuild, "re-chunk and re-embed every paper (e.g. new embedder)"),
        ("upgrade", _upgrade, "turn a format 1/2 index into segments (no re-embedding)"),
        ("compact", _compact, "merge every segment into one, dropping removed papers"),
        ("verify", _verify, "check every file of the current version (sha256)"),
    ):
        sub.add_parser(name, parents=[parent], help=what).set_defaults(handler=handler)
    info = sub.add_parser("info", parents=[parent], help="describe the current index version")
    info.add_argument("--json", action="store_true", help="print the manifest as JSON")
    info.set_defaults(handler=_info)

    search = commands.add_parser("search", parents=[parent], help="search the indexed papers")
    search.add_argument("query")
    search.add_argument("-k", type=int, default=10, help="number of papers (default 10)")
    search.add_argument("--mode", choices=SEARCH_MODES, default="hybrid")
    search.add_argument("--json", action="store_true", help="print JSON")
    search.set_defaults(handler=_search)


def _report(report: Any, progress: Progress) -> int:
    for warning in report.warnings:
        progress.log(f"warning: {warning}")
    for error in report.errors:
        progress.log(f"error: {error}")
    print(report.summary())
    return 0


def _indexer(args: argparse.Namespace) -> Any:
    from indexer.builder import Indexer

    progress = Progress()
    return Indexer(settings_from(args), progress=progress), progress


def _where(expression: str) -> RecordFilter:
    try:
        return parse_where(expression)
    except InputError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _add(args: argparse.Namespace) -> int:
    if args.ray and Path(args.ray).exists():
        # nargs="?" took a FILE for the address (``index add --ray papers.jsonl``).
        print(
            f"error: --ray took {args.ray!r} for the Ray address; put FILE arguments before "
            "--ray or write --ray=ADDRESS",
            file=sys.stderr,
        )
        return 2
    indexer, progress = _indexer(args)
    options = ReadOptions(
        format=args.format, where=tuple(args.where), title_only=args.title_only == "index"
    )
    try:
        return _report(indexer.add(args.files, options), progress)
    except NothingToIndexError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _remove(args: argparse.Namespace) -> int:
    indexer, progress = _indexer(args)
    return _report(indexer.remove(args.paper_ids), progress)


def _rebuild(args: argparse.Namespace) -> int:
    indexer, progress = _indexer(args)
    return _report(indexer.rebuild(), progress)


def _upgrade(args: argparse.Namespace) -> int:
    from indexer.legacy import upgrade

    settings = settings_from(args)
    root = IndexDir(settings.index.index_dir)
    with root.write_lock():
        name = upgrade(root, settings, Progress())
        root.prune(settings.index.keep_versions)
    print(f"upgraded: version {name} (current), one segment, nothing re-embedded")
    return 0


def _compact(args: argparse.Namespace) -> int:
    indexer, _ = _indexer(args)
    report = indexer.compact()
    if report.version:
        print(f"merged {report.segments_merged} segments; version: {report.version} (current)")
    else:
        print("nothing to compact: one segment, no removed papers")
    return 0


def _verify(args: argparse.Namespace) -> int:
    from indexer.index import check_version

    settings = settings_from(args)
    _, version, manifest = check_version(settings.index.index_dir, None, hashes=True)
    print(
        f"ok: {version.name}, {len(manifest['segments'])} segments, every file matches its sha256"
    )
    return 0


def _index_rule(settings: dict[str, Any]) -> str:
    """Why the segments have their types, for versions written with vector_index=auto."""
    if settings.get("vector_index_rule") != "auto":
        return ""
    return (
        f" (auto per segment: HNSW from {settings['hnsw_min_vectors']} vectors, "
        f"ivf_sq8 from {settings.get('ivf_min_vectors')})"
    )


def _info(args: argparse.Namespace) -> int:
    from indexer.index import index_bytes

    root = IndexDir(settings_from(args).index.index_dir)
    version = root.current()
    manifest = root.read_manifest(version)
    if args.json:
        print(json.dumps(manifest, indent=2, sort_keys=True))
        return 0
    counts, embedder = manifest["counts"], manifest["embedder"]
    size = index_bytes(root, manifest)
    lines = [
        f"index:      {root.root.resolve()}",
        f"version:    {manifest['version']} (created {manifest['created']}; "
        f"{len(root.version_names())} kept on disk)",
        f"format:     {manifest['format_version']}",
        f"papers:     {counts['papers']}",
        f"chunks:     {counts['chunks']} ({counts['sentences']} sentences)",
        f"embedder:   {embedder['name']} (dimension {embedder['dimension']})",
        f"vectors:    {counts['vectors']} in a {manifest['settings']['vector_index']} index"
        + _index_rule(manifest["settings"]),
        f"chunking:   {manifest['settings']['chunk_tokens']} tokens, "
        f"{manifest['settings']['chunk_overlap_sentences']} sentence(s) overlap",
        f"segments:   {counts.get('segments', len(manifest['segments']))} "
        f"({counts.get('deleted', 0)} removed papers awaiting a merge)",
        f"size:       {size / 1e6:.1f} MB",
        "sources:",
    ]
    for path, source in sorted(manifest["sources"].items()):
        lines.append(
            f"  {path}  ({source.get('format')}, {source.get('papers')} papers, "
            f"{source.get('ingested')})"
        )
    op = manifest.get("operation", {})
    lines.append(
        f"last change: {op.get('operation')}: {op.get('added', 0)} added, "
        f"{op.get('updated', 0)} updated, {op.get('removed', 0)} removed"
    )
    print("\n".join(lines))
    return 0


def _search(args: argparse.Namespace) -> int:
    from indexer.ann import AnnParams
    from indexer.embedders import build_embedder
    from indexer.embedders.factory import embedder_name
    from indexer.index import open_index
    from indexer.retrieval import Retriever

    if not 1 <= args.k <= 1000:
        print("error: -k must be between 1 and 1000", file=sys.stderr)
        return 2
    settings = settings_from(args)
    index = open_index(
        settings.index.index_dir,
        expected_embedder=embedder_name(settings),
        params=AnnParams.from_settings(settings.index),
    )
    retriever = Retriever.from_settings(index, build_embedder(settings), settings)
    hits = retriever.search(args.query, k=args.k, mode=args.mode)
    if args.json:
        results = [
            {
                "paper_id": h.paper.paper_id,
                "title": h.paper.title,
                "score": h.score,
                "url": h.paper.url,
                "snippet": " ".join(h.sentences),
            }
            for h in hits
        ]
        print(json.dumps({"query": args.query, "mode": args.mode, "results": results}, indent=2))
        return 0
    if not hits:
        print("no matching papers")
    for rank, hit in enumerate(hits, 1):
        print(f"{rank:>2}. {hit.score:.4f}  {hit.paper.title}  [{hit.paper.paper_id}]")
    return 0


def run(args: argparse.Namespace) -> int:
    """Run a parsed indexer command; indexer errors become a message and exit code 1."""
    try:
        return int(args.handler(args))
    except IndexerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; the current index version is unchanged", file=sys.stderr)
        return 130
