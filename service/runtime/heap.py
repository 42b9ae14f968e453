"""Keep the loaded heap out of the garbage collector's full passes.

A served index, the model and the imported libraries are some 330,000 tracked objects that live
as long as the process. Every full (generation 2) collection walks all of them: about 190 ms
with the GIL held, on this kind of machine, landing on whatever requests are in flight — the
stalls behind the p99 at 16 clients (docs/benchmarks.md, "Service latency"). Once a version is
loaded and its sentence vectors are warm, ``freeze_survivors`` collects once and moves every
survivor to the permanent generation (``gc.freeze``), so later full passes only walk what
requests create. The next load or reload does it again: ``gc.unfreeze`` first hands the
previous version's objects back to the collector, so a replaced version's cycles are still freed.
"""

from __future__ import annotations

import gc
import threading

_lock = threading.Lock()


def freeze_survivors() -> int:
    """Collect, then freeze what survived; returns the number of frozen objects."""
    with _lock:
        gc.unfreeze()
        gc.collect()
        gc.freeze()
        return gc.get_freeze_count()
