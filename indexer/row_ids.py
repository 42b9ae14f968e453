"""A segment's paper ids by row, memory-mapped: the UTF-8 ids end to end in one file and the
end offset of each row's id in another.

Search turns hundreds of candidate rows into paper ids per query (every dense candidate chunk
is grouped by its paper). Through SQLite that was a B-tree descent per row into pages that also
hold the records, ~65 ms of a 226 ms search on a 1,000,000-paper index; from these files it is a
slice per row. Segments written before these files existed have neither, and ``open`` returns
None for them: their ids still come from SQLite.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from indexer.errors import IndexCorruptError

IDS_FILE = "paper_ids.npy"
ENDS_FILE = "paper_id_ends.npy"


def write_paper_ids(directory: Path, paper_ids: Sequence[str]) -> list[Path]:
    encoded = [paper_id.encode("utf-8") for paper_id in paper_ids]
    ends = np.cumsum(np.fromiter(map(len, encoded), np.int64, len(encoded)), dtype=np.int64)
    np.save(directory / ENDS_FILE, ends)
    np.save(directory / IDS_FILE, np.frombuffer(b"".join(encoded), dtype=np.uint8))
    return [directory / ENDS_FILE, directory / IDS_FILE]


def _load(path: Path) -> np.ndarray:
    try:
        return np.load(path, mmap_mode="r")
    except ValueError:  # numpy cannot map a file with no data (a segment of no papers)
        return np.load(path)


class RowIds:
    """Row -> paper id of one segment."""

    def __init__(self, ends: np.ndarray, text: np.ndarray) -> None:
        # Plain arrays over the mapped memory: slicing a memmap costs microseconds per slice.
        self._ends = np.asarray(ends)
        self._text = np.asarray(text)

    @classmethod
    def open(cls, directory: Path, n_papers: int) -> RowIds | None:
        if not (directory / ENDS_FILE).exists():
            return None
        ends, text = _load(directory / ENDS_FILE), _load(directory / IDS_FILE)
        if ends.shape != (n_papers,) or (n_papers and int(ends[-1]) != len(text)):
            raise IndexCorruptError(
                f"{directory / ENDS_FILE}: {len(ends)} paper ids of {len(text)} bytes for "
                f"{n_papers} papers"
            )
        return cls(ends, text)

    def at(self, rows: Sequence[int]) -> dict[int, str]:
        wanted = np.asarray(rows, dtype=np.int64)
        ends = self._ends[wanted]
        starts = np.where(wanted > 0, self._ends[np.maximum(wanted - 1, 0)], 0)
        text = self._text
        return {
            row: text[start:end].tobytes().decode("utf-8")
            for row, start, end in zip(wanted.tolist(), starts.tolist(), ends.tolist(), strict=True)
        }
