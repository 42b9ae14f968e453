"""CSV or TSV with a header row; columns are named as JSONL fields are (case-insensitive)."""

from __future__ import annotations

import csv
import io

from indexer.models import ReadResult, RecordError
from indexer.readers._text import ROLE_ALIASES, record_from_mapping

DELIMITERS = (",", ";", "\t")
_REQUIRED = ("title", "abstract")


def header_columns(line: str) -> tuple[str, list[str]]:
    """The delimiter and column names of a header line.

    The delimiter that yields title and abstract columns wins, else the one giving most columns.
    """
    candidates = []
    for delimiter in DELIMITERS:
        columns = [name.strip() for name in next(csv.reader([line], delimiter=delimiter), [])]
        score = (not _missing_roles(columns), len(columns))
        candidates.append((score, delimiter, columns))
    # max() keeps the first of equals, so ',' wins ties.
    _, delimiter, columns = max(candidates, key=lambda candidate: candidate[0])
    return delimiter, columns


def names_paper_columns(line: str) -> bool:
    """Whether a line is a CSV header naming a title and an abstract (or summary/text) column."""
    return not _missing_roles(header_columns(line)[1])


def _missing_roles(columns: list[str]) -> list[str]:
    names = {column.casefold() for column in columns}
    return [role for role in _REQUIRED if not names.intersection(ROLE_ALIASES[role])]


def read_csv(text: str, source: str) -> ReadResult:
    """Papers of a CSV file; locations are ``row N (line L)`` with L the row's first line."""
    result = ReadResult(source=source, format="csv")
    header_line = next((line for line in io.StringIO(text) if line.strip()), "")
    delimiter, _ = header_columns(header_line)
    rows = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header: list[str] | None = None
    row_number = 0
    line_before = 0
    try:
        for cells in rows:
            first_line, line_before = line_before + 1, rows.line_num
            if not any(cell.strip() for cell in cells):
                continue
            if header is None:
                header = [cell.strip() for cell in cells]
                missing = _missing_roles(header)
                if missing:
                    names = " or ".join(f"'{role}'" for role in missing)
                    reason = f"header has no {names} column (columns: {', '.join(header)})"
                    result.errors.append(RecordError(source, None, reason))
                    return result
                continue
            row_number += 1
            _read_row(header, cells, f"row {row_number} (line {first_line})", result)
    except csv.Error as exc:
        location = f"line {rows.line_num}"
        result.errors.append(RecordError(source, location, f"invalid CSV: {exc}"))
    return result


def _read_row(header: list[str], cells: list[str], location: str, result: ReadResult) -> None:
    extra = [cell for cell in cells[len(header) :] if cell.strip()]
    if extra:
        # More cells than columns usually means an unquoted delimiter inside a field.
        reason = f"{len(cells)} fields but the header has {len(header)} (unquoted delimiter?)"
        result.errors.append(RecordError(result.source, location, reason))
        return
    fields: dict[str, str] = {}
    for name, cell in zip(header, cells, strict=False):
        if name:
            fields.setdefault(name, cell)
    record = record_from_mapping(fields, result.source, location, result)
    if record is not None:
        result.records.append(record)
