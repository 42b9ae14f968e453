"""Silence the progress bars and chatter of third-party libraries (our own progress is ours)."""

from __future__ import annotations

import logging
import os
import sys

_done = False


def silence_library_output() -> None:
    global _done
    if _done:
        return
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    for name in ("sentence_transformers", "transformers", "huggingface_hub", "bm25s", "faiss"):
        logging.getLogger(name).setLevel(logging.ERROR)
    # Importing transformers costs seconds: only quieten it once something else imported it.
    transformers = sys.modules.get("transformers")
    if transformers is not None:
        transformers.utils.logging.disable_progress_bar()
        transformers.utils.logging.set_verbosity_error()
        _done = True
