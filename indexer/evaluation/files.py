"""The files of a BEIR collection and of our question sets, read and checked: JSON Lines of
objects and tab-separated judgements, every problem named by file and line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from indexer.errors import InputError

QRELS_HEADER = ("query-id", "corpus-id", "score")
Qrels = dict[str, dict[str, int]]


class EvaluationInputError(InputError):
    """A file of an evaluation set is missing or malformed; the message names file and line."""


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise EvaluationInputError(f"{path}: not UTF-8 text ({exc.reason})") from exc
    except OSError as exc:
        raise EvaluationInputError(f"{path}: cannot read: {exc.strerror or exc}") from exc


def read_json_objects(path: Path, fields: str) -> list[dict[str, Any]]:
    """The JSON objects of a JSON Lines file, checked as ``json_objects`` does."""
    return [row for _, row in json_objects(path, _lines(path), fields)]


def json_objects(path: Path, lines: list[str], fields: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(where, object)`` for each non-blank line; a line that is not a JSON object stops
    the evaluation with its line number (``fields`` names what an object should hold)."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}: line {number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise EvaluationInputError(f"{where}: invalid JSON: {exc.msg}") from exc
        if not isinstance(row, dict):
            raise EvaluationInputError(f"{where}: expected a JSON object with {fields}")
        yield where, row


def load_queries(path: Path) -> dict[str, str]:
    """``{query id: text}`` from JSON Lines of ``{"_id", "text"}``."""
    queries: dict[str, str] = {}
    for where, row in json_objects(path, _lines(path), "_id and text"):
        query_id, text = row.get("_id"), row.get("text")
        if isinstance(query_id, bool) or not isinstance(query_id, str | int):
            raise EvaluationInputError(f"{where}: no _id (a string)")
        if not isinstance(text, str) or not text.strip():
            raise EvaluationInputError(f"{where}: no text (a non-empty string)")
        if str(query_id) in queries:
            raise EvaluationInputError(f"{where}: query id {query_id!r} appears twice")
        queries[str(query_id)] = text
    if not queries:
        raise EvaluationInputError(f"{path}: no queries")
    return queries


def load_qrels(path: Path) -> Qrels:
    """``{query id: {corpus id: score}}`` from the tab-separated judgements."""
    qrels: Qrels = {}
    for number, line in enumerate(_lines(path), start=1):
        if not line.strip():
            continue
        fields = [f.strip() for f in line.split("\t")]
        if number == 1 and tuple(f.lower() for f in fields) == QRELS_HEADER:
            continue
        where = f"{path}: line {number}"
        if len(fields) != 3 or not fields[0] or not fields[1]:
            raise EvaluationInputError(
                f"{where}: expected 3 tab-separated fields (query-id, corpus-id, score), "
                f"got {line!r}"
            )
        try:
            score = int(fields[2])
        except ValueError:
            raise EvaluationInputError(f"{where}: score {fields[2]!r} is not an integer") from None
        qrels.setdefault(fields[0], {})[fields[1]] = score
    if not qrels:
        raise EvaluationInputError(f"{path}: no judgements")
    return qrels
