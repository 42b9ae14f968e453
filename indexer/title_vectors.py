"""A segment's title vectors: each paper's bare title embedded on its own, float16, row = paper
row (``title_vectors.npy``, memory-mapped when read).

Why: hybrid search adds the query's cosine to the titles of its candidates as a third, lightly
weighted z-scored list (``Retriever``, ``title_weight``). On held-out folds of both CISI and CACM
it raised nDCG@10 (docs/benchmarks.md, "Retrieval quality"); a title is what its authors chose
to say the paper is about, which a 200-token chunk dilutes. Only the candidates' rows are read,
so a search reads a few hundred rows whatever the index's size; float16 halves the disk (the
cosine feeds a z-score weighted 0.1, far coarser than float16's rounding).

A paper without abstract sentences has no title vector (a NaN row): its one chunk is its title
already, and it counts as neutral in the title list. A segment none of whose papers has one
writes no file: segments written before title vectors existed, and merges or upgrades of only
such papers (a merge copies vectors, it never embeds), whose papers count as neutral too until
``index rebuild`` embeds them again.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from indexer.errors import IndexCorruptError
from indexer.npy_files import npy_header

TITLES_FILE = "title_vectors.npy"


def has_title_vector(title: str, sentences: list[str]) -> bool:
    """Whether a paper gets a title vector: it has a title and abstract sentences (without
    them its one chunk is the title, as ``chunk_paper`` makes it)."""
    return bool(sentences) and bool(title.strip())


class TitleVectorsWriter:
    """Appends title vectors (NaN rows for papers without one) while a segment is written."""

    def __init__(self, directory: Path, dimension: int) -> None:
        self.dimension = dimension
        self.rows = 0
        self._path = directory / TITLES_FILE
        self._file = self._path.open("wb")
        self._file.write(npy_header(0, dimension, "<f2"))
        self._any = False

    def check(self, vectors: np.ndarray | None, n_papers: int) -> None:
        """Raises ``ValueError`` unless ``vectors`` is None or one row per paper."""
        if vectors is not None and vectors.shape != (n_papers, self.dimension):
            raise ValueError(f"title vectors of shape {vectors.shape} for {n_papers} papers")

    def add(self, vectors: np.ndarray | None, n_papers: int) -> None:
        """``vectors``: one row per paper (NaN: none); None: none for any of the papers."""
        self.check(vectors, n_papers)
        if vectors is None:
            vectors = np.full((n_papers, self.dimension), np.nan, dtype=np.float16)
        else:
            self._any = self._any or not np.isnan(vectors).all()
        self._file.write(np.ascontiguousarray(vectors, dtype=np.float16).tobytes())
        self.rows += n_papers

    def seal(self) -> None:
        self._file.seek(0)
        self._file.write(npy_header(self.rows, self.dimension, "<f2"))
        self._file.close()
        if not self._any:
            self._path.unlink()  # rows that are all NaN would cost disk and say nothing

    def abandon(self) -> None:
        self._file.close()


def open_title_vectors(directory: Path, n_papers: int, dimension: int) -> np.ndarray | None:
    """The segment's title vectors as a plain array over the mapped file (None: a segment with
    no paper that has one)."""
    path = directory / TITLES_FILE
    if not path.exists():
        return None
    # numpy cannot map a file with no data (a segment of no papers)
    vectors = np.asarray(np.load(path, mmap_mode="r" if n_papers else None))
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
