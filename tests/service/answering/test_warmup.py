"""A loaded service warms what answering loads lazily, before any question (in a fresh
interpreter: this one has long imported all of it)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = """
import json, sys
from pathlib import Path
from service.runtime.state import ServiceState
from service.settings import Settings

lazy = ("llama_index.core.prompts", "nltk.tokenize.punkt", "tiktoken")
state = ServiceState(Settings(index_dir=Path(sys.argv[1]), sentence_cache_papers=1))
state.load()
state.close()  # waits for the warm-up thread
print(json.dumps({name: name in sys.modules for name in lazy}))
"""


def test_the_warm_up_loads_the_prompt_renderer_sentence_splitter_and_token_counter(
    corpus_index_dir: Path,
) -> None:
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(corpus_index_dir)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )

    loaded = json.loads(run.stdout.strip().splitlines()[-1])
    assert loaded == dict.fromkeys(loaded, True), loaded
