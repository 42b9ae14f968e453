"""What `abstractqa serve` sets for its process before the app starts: torch's thread count.

The query encoder runs one worker per core (``query_encoder_workers``), each encoding its own
batch; torch spreading every forward pass over all cores as well would put two threads on each
core. On one intra-op thread per worker nothing waits at a barrier for a thread that the HTTP
work or another process has pre-empted, which on a shared 2-core machine made torch's default
several times slower (docs/benchmarks.md, "Service latency").

Importing the model's libraries in a background thread while the app's own modules import
was tried for the cold start and measured slower (both imports hold the GIL), so start-up
stays sequential.
"""

from __future__ import annotations

import os
import sys

from service.settings import Settings


def set_torch_threads(settings: Settings) -> None:
    """Apply ``torch_threads`` (0: leave torch's default). Before torch is imported this is
    OMP_NUM_THREADS, which torch reads when it loads; an OMP_NUM_THREADS set by the operator
    wins."""
    if settings.runtime.torch_threads <= 0:
        return
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(settings.runtime.torch_threads)
    else:
        os.environ.setdefault("OMP_NUM_THREADS", str(settings.runtime.torch_threads))
