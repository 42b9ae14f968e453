"""What the answer benchmarks (bench_answers.py, cv_abstention.py) share: an index of the
bundled corpus and the service state over it. Results go through ``_results.py``."""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from service.runtime.state import ServiceState

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "data" / "daily-papers.txt"


def bundled_index(index_dir: Path | None) -> Path:
    """``index_dir`` when given (an index of the bundled corpus), else a fresh one."""
    if index_dir is not None:
        return index_dir
    sys.path.insert(0, str(ROOT))
    from indexer.builder import Indexer
    from indexer.config import IndexerSettings

    built = Path(tempfile.mkdtemp(prefix="abstractqa-answers-")) / "index"
    Indexer(IndexerSettings(index_dir=built)).add([CORPUS])
    return built


@contextmanager
def bundled_state(index_dir: Path | None) -> Iterator[ServiceState]:
    """The service's state over ``bundled_index(index_dir)`` with the default settings, loaded."""
    from service.runtime.state import ServiceState
    from service.settings import Settings

    state = ServiceState(Settings(index_dir=bundled_index(index_dir)))
    state.load()
    try:
        yield state
    finally:
        state.close()
