"""JSON Lines (BEIR ``corpus.jsonl``, the arXiv snapshot, OpenAlex works), or a .json
document: an array of objects, or objects pretty-printed over several lines.

Lines are parsed one by one; a document is parsed incrementally with ijson, one object at a
time, so neither needs the whole file in memory.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from indexer.models import PaperRecord, ReadResult
from indexer.readers._tally import Tally
from indexer.readers._text import record_from_mapping

# Turns one JSON object into a record (title or abstract may be empty).
Mapper = Callable[[dict[str, Any], str, Tally], PaperRecord]


def jsonl_records(
    lines: Iterable[tuple[int, str]], tally: Tally, mapper: Mapper = record_from_mapping
) -> Iterator[PaperRecord]:
    """Papers of JSON Lines; locations are ``line N``."""
    for number, line in lines:
        if not line.strip():
            continue
        location = f"line {number}"
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            tally.error(location, f"invalid JSON: {exc.msg} (column {exc.colno})")
            continue
        except RecursionError:
            tally.error(location, "invalid JSON: nested too deep")
            continue
        record = _record(value, location, tally, mapper)
        if record is not None:
            yield record


def document_records(
    items: Iterable[Any], tally: Tally, mapper: Mapper = record_from_mapping
) -> Iterator[PaperRecord]:
    """Papers of a JSON document's objects (from ijson); locations are ``record N``."""
    import ijson

    number = 0
    try:
        for number, value in enumerate(items, start=1):
            record = _record(value, f"record {number}", tally, mapper)
            if record is not None:
                yield record
    except ijson.JSONError as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        tally.error(f"record {number + 1}", f"invalid JSON, the rest is not read: {reason}")


def is_document(start: str) -> bool:
    """Whether text that starts a JSON file is a document rather than JSON Lines: an array,
    or an object whose first two lines are not objects of their own (pretty-printed)."""
    start = start.lstrip("\ufeff \t\r\n")
    if start.startswith("["):
        return True
    if not start.startswith("{"):
        return False
    lines = [line for line in start.split("\n")[:-1] if line.strip()][:2]
    return bool(lines) and all(not isinstance(_parse(line), dict) for line in lines)


def first_object(text: str) -> dict[str, Any] | None:
    """The first line's JSON object, if it is one; for telling the JSON Lines formats apart."""
    first = next((line for line in text.split("\n") if line.strip()), "")
    value = _parse(first)
    return value if isinstance(value, dict) else None


def read_json_papers(text: str, source: str, format: str = "jsonl") -> ReadResult:
    """Papers of JSON Lines or a JSON document given as text."""
    from indexer.readers.stream import read_text

    return read_text(text, source, format)


def _parse(line: str) -> Any:
    try:
        return json.loads(line)
    except (ValueError, RecursionError):
        return None


def _record(value: Any, location: str, tally: Tally, mapper: Mapper) -> PaperRecord | None:
    if not isinstance(value, dict):
        tally.error(location, f"expected a JSON object, got {_json_type(value)}")
        return None
    return mapper(value, location, tally)


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
