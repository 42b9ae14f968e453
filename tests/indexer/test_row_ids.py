"""Paper ids by row (indexer/row_ids.py): what a segment writes equals its SQLite papers, and
a segment written before the table existed still answers from SQLite."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from indexer.ann import AnnParams
from indexer.chunking import ChunkSpec
from indexer.errors import IndexCorruptError
from indexer.models import Paper
from indexer.row_ids import ENDS_FILE, IDS_FILE, RowIds
from indexer.segment import Segment, SegmentWriter

IDS = ["a", "bé-ü", "2401.00001", "x" * 300, "ünïcödé-日本語", "last"]


def _segment(directory: Path) -> Segment:
    writer = SegmentWriter(directory, dimension=2, base=10)
    papers = [Paper(pid, f"Title {pid}", "Some text.", ["Some text."], pid) for pid in IDS]
    specs = [[ChunkSpec(0, 1, "Some text.")] for _ in papers]
    writer.add(papers, specs, np.zeros((len(papers), 2), dtype=np.float32))
    return Segment(directory, writer.seal("flat", AnnParams()), deleted_rows=[1])


def _sqlite_ids(segment: Segment) -> dict[int, str]:
    return {int(r): str(p) for r, p in segment.query("SELECT row, paper_id FROM papers")}


def test_a_new_segment_reads_every_rows_paper_id_from_its_table_as_sqlite_holds_it(
    tmp_path: Path,
) -> None:
    segment = _segment(tmp_path / "s")
    table = RowIds.open(segment.directory, segment.n_papers)

    assert table is not None
    rows = [5, 0, 3, 3, 1]
    assert table.at(rows) == {r: IDS[r] for r in rows}
    assert segment.paper_ids_at(range(len(IDS))) == _sqlite_ids(segment)
    assert set(segment.meta["files"]) >= {ENDS_FILE, IDS_FILE}  # checked like every file
    segment.close()


def test_a_segment_written_before_the_table_answers_paper_ids_from_sqlite(tmp_path: Path) -> None:
    written = _segment(tmp_path / "s")
    written.close()
    directory = written.directory
    (directory / ENDS_FILE).unlink()
    (directory / IDS_FILE).unlink()

    old = Segment(directory, written.meta)

    assert RowIds.open(directory, old.n_papers) is None
    assert old.paper_ids_at([4, 0]) == {4: IDS[4], 0: IDS[0]}
    old.close()


def test_a_table_of_another_length_than_the_segment_is_reported_corrupt(tmp_path: Path) -> None:
    written = _segment(tmp_path / "s")
    written.close()
    directory = written.directory
    np.save(directory / ENDS_FILE, np.array([1, 2], dtype=np.int64))

    with pytest.raises(IndexCorruptError, match="paper ids"):
        RowIds.open(directory, len(IDS))
