"""CSV or TSV with a header row; columns are named as JSONL fields are (case-insensitive)."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator

from indexer.models import PaperRecord, ReadResult
from indexer.readers._tally import Tally
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


class _Lines:
    """The decoded lines fed to csv.reader, remembering where the current row started."""

    def __init__(self, lines: Iterable[tuple[int, str]]) -> None:
        self._lines = iter(lines)
        self.row_start: int | None = None
        self.last = 0

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        number, text = next(self._lines)
        if self.row_start is None:
            self.row_start = number
        self.last = number
        return text + "\n"


def csv_records(
    lines: Iterable[tuple[int, str]], tally: Tally, header_line: str
) -> Iterator[PaperRecord]:
    """Papers of a CSV file whose first non-blank line is ``header_line``; locations are
    ``row N (line L)`` with L the row's first line."""
    delimiter, _ = header_columns(header_line)
    source = _Lines(lines)
    rows = csv.reader(source, delimiter=delimiter)
    header: list[str] | None = None
    row_number = 0
    try:
        for cells in rows:
            first_line, source.row_start = source.row_start, None
            if not any(cell.strip() for cell in cells):
                continue
            if header is None:
                header = [cell.strip() for cell in cells]
                missing = _missing_roles(header)
                if missing:
                    names = " or ".join(f"'{role}'" for role in missing)
                    reason = f"header has no {names} column (columns: {', '.join(header)})"
                    tally.error(None, reason)
                    return
                continue
            row_number += 1
            record = _read_row(header, cells, f"row {row_number} (line {first_line})", tally)
            if record is not None:
                yield record
    except csv.Error as exc:
        tally.error(f"line {source.last}", f"invalid CSV: {exc}")


def read_csv(text: str, source: str) -> ReadResult:
    """Papers of a CSV file given as text (see ``csv_records``)."""
    from indexer.readers.stream import read_text

    return read_text(text, source, "csv")


def _read_row(
    header: list[str], cells: list[str], location: str, tally: Tally
) -> PaperRecord | None:
    extra = [cell for cell in cells[len(header) :] if cell.strip()]
    if extra:
        # More cells than columns usually means an unquoted delimiter inside a field.
        reason = f"{len(cells)} fields but the header has {len(header)} (unquoted delimiter?)"
        tally.error(location, reason)
        return None
    fields: dict[str, str] = {}
    for name, cell in zip(header, cells, strict=False):
        if name:
            fields.setdefault(name, cell)
    return record_from_mapping(fields, location, tally)
