"""What `abstractqa serve` does for its process before the app starts: torch's thread count,
and the model's libraries imported in the background.

Most of the time from launch to ready is importing torch, transformers and
sentence-transformers (docs/benchmarks.md, "Cold start"). The service loads the model only
after uvicorn has started; importing those libraries from the first moment, in a thread, lets
the import overlap the app's own imports (FastAPI, llama-index), the index check and the
server start-up. The loader then finds the modules imported, or waits for the import under
way (Python's import locks make that safe).
"""

from __future__ import annotations

import logging
import os
import sys
import threading

from service.settings import Settings

log = logging.getLogger("abstractqa.service")


def set_torch_threads(settings: Settings) -> None:
    """Apply ``torch_threads`` (0: leave torch's default). Before torch is imported this is
    OMP_NUM_THREADS, which torch reads when it loads; an OMP_NUM_THREADS set by the operator
    wins."""
    if settings.torch_threads <= 0:
        return
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(settings.torch_threads)
    else:
        os.environ.setdefault("OMP_NUM_THREADS", str(settings.torch_threads))


def preimport_model_libraries(settings: Settings) -> threading.Thread | None:
    """Start importing the local embedder's libraries; None when the embedder is remote."""
    if settings.embed_mode != "sentence-transformers":
        return None
    # Not a daemon: an interpreter that exits while a thread is inside torch's import aborts.
    thread = threading.Thread(target=_import_model_libraries, name="preimport")
    thread.start()
    return thread


def _import_model_libraries() -> None:
    try:
        import sentence_transformers  # noqa: F401  (imports torch and transformers)
    except Exception as exc:  # the loader imports them again and reports the failure
        log.debug("background import of sentence-transformers failed: %s", exc)
