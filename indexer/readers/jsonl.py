"""JSON Lines (and BEIR ``corpus.jsonl``), or a .json file holding an array of objects."""

from __future__ import annotations

import json
from typing import Any

from indexer.models import ReadResult, RecordError
from indexer.readers._text import record_from_mapping, split_lines


def read_jsonl(text: str, source: str, format: str = "jsonl") -> ReadResult:
    """Papers of a JSON Lines file (locations ``line N``) or a JSON array (``record N``)."""
    result = ReadResult(source=source, format=format)
    if text.lstrip().startswith("["):
        _read_document(text, result)
        return result
    lines = split_lines(text)
    first = next((line for line in lines if line.strip()), "")
    if _parse(first) is None and _read_document(text, result, quiet=True):
        # A pretty-printed object spread over lines, as .json files often are.
        return result
    for number, line in enumerate(lines, start=1):
        if line.strip():
            _read_value(line, f"line {number}", result)
    return result


def first_object(text: str) -> dict[str, Any] | None:
    """The first line's JSON object, if it is one; for telling BEIR from plain JSONL."""
    first = next((line for line in split_lines(text) if line.strip()), "")
    value = _parse(first)
    return value if isinstance(value, dict) else None


def _parse(line: str) -> Any:
    try:
        return json.loads(line)
    except (ValueError, RecursionError):
        return None


def _read_document(text: str, result: ReadResult, quiet: bool = False) -> bool:
    """Read the whole text as one JSON value; False (and, unless quiet, an error) if it is not."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        if not quiet:
            reason = f"invalid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
            result.errors.append(RecordError(result.source, None, reason))
        return False
    except RecursionError:
        if not quiet:
            result.errors.append(RecordError(result.source, None, "invalid JSON: nested too deep"))
        return False
    items = value if isinstance(value, list) else [value]
    for number, item in enumerate(items, start=1):
        _add(item, f"record {number}", result)
    return True


def _read_value(line: str, location: str, result: ReadResult) -> None:
    try:
        value = json.loads(line)
    except json.JSONDecodeError as exc:
        reason = f"invalid JSON: {exc.msg} (column {exc.colno})"
        result.errors.append(RecordError(result.source, location, reason))
        return
    except RecursionError:
        result.errors.append(RecordError(result.source, location, "invalid JSON: nested too deep"))
        return
    _add(value, location, result)


def _add(value: Any, location: str, result: ReadResult) -> None:
    if not isinstance(value, dict):
        reason = f"expected a JSON object, got {_json_type(value)}"
        result.errors.append(RecordError(result.source, location, reason))
        return
    record = record_from_mapping(value, result.source, location, result)
    if record is not None:
        result.records.append(record)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "list"
