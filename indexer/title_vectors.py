"""A segment's title vectors: each paper's bare title embedded on its own, float16, row = paper
row (``title_vectors.npy``, memory-mapped when read).

Why: hybrid search adds the query's cosine to the titles of its candidates as a third, lightly
weighted z-scored list (``Retriever``, ``title_weight``). On held-out folds of both CISI and CACM
it raised nDCG@10 (docs/benchmarks.md, "Retrieval quality"); a title is what its authors chose
to say the paper is about, which a 200-token chunk dilutes. Only the candidates' rows are read,
so a search reads a few hundred rows whatever the index's size; float16 halves the disk (the
cosine feeds a z-score weighted 0.1, far coarser than float16's rounding).

A paper without an abstract has no title vector (a NaN row): its one chunk is its title already,
and it counts as neutral in the title list. Segments written before this file existed have none
at all, and their papers count as neutral too.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from indexer.errors import IndexCorruptError

TITLES_FILE = "title_vectors.npy"
_HEADER = 128  # bytes reserved for the .npy header, rewritten with the shape when sealed


def npy_header(rows: int, dimension: int, descr: str) -> bytes:
    """A fixed-size .npy header, so rows can be appended and the shape written at the end."""
    text = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': ({rows}, {dimension}), }}"
    body = text.ljust(_HEADER - 10 - 1) + "\n"
    return b"\x93NUMPY\x01\x00" + len(body).to_bytes(2, "little") + body.encode("latin1")


def has_title_vector(title: str, abstract: str) -> bool:
    return bool(abstract.strip()) and bool(title.strip())


class TitleVectorsWriter:
    """Appends title vectors (NaN rows for papers without one) while a segment is written."""

    def __init__(self, directory: Path, dimension: int) -> None:
        self.dimension = dimension
        self.rows = 0
        self._file = (directory / TITLES_FILE).open("wb")
        self._file.write(npy_header(0, dimension, "<f2"))

    def add(self, vectors: np.ndarray | None, n_papers: int) -> None:
        """``vectors``: one row per paper (NaN: none); None: none for any of the papers."""
        if vectors is None:
            vectors = np.full((n_papers, self.dimension), np.nan, dtype=np.float16)
        if vectors.shape != (n_papers, self.dimension):
            raise ValueError(f"title vectors of shape {vectors.shape} for {n_papers} papers")
        self._file.write(np.ascontiguousarray(vectors, dtype=np.float16).tobytes())
        self.rows += n_papers

    def seal(self) -> None:
        self._file.seek(0)
        self._file.write(npy_header(self.rows, self.dimension, "<f2"))
        self._file.close()

    def abandon(self) -> None:
        self._file.close()


def open_title_vectors(directory: Path, n_papers: int, dimension: int) -> np.ndarray | None:
    """The segment's title vectors as a plain array over the mapped file (None: a segment
    written before they existed)."""
    path = directory / TITLES_FILE
    if not path.exists():
        return None
    try:
        vectors = np.asarray(np.load(path, mmap_mode="r"))
    except ValueError:  # numpy cannot map a file with no data (a segment of no papers)
        vectors = np.load(path)
    if vectors.shape != (n_papers, dimension) or vectors.dtype != np.float16:
        raise IndexCorruptError(
            f"{path}: title vectors of shape {vectors.shape} ({vectors.dtype}) for {n_papers} "
            f"papers of dimension {dimension}"
        )
    return vectors


def cosines(vectors: np.ndarray, rows: np.ndarray, query: np.ndarray) -> np.ndarray:
    """The query's inner product with the title vectors at ``rows`` (NaN where a paper has
    none); vectors and query are unit length, so these are cosines."""
    picked = np.asarray(vectors[rows], dtype=np.float32)
    return picked @ np.asarray(query, dtype=np.float32)
