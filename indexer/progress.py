"""Progress of long work: a bar on a terminal, plain log lines otherwise, nothing in a library."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO


class Stage:
    """One counted step (e.g. embedding N chunks)."""

    def __init__(self, progress: Progress, name: str, total: int) -> None:
        self._progress = progress
        self.name = name
        self.total = total
        self.done = 0
        self._bar: Any = None
        self._last_pct = -1
        self._last_time = time.monotonic()
        if progress.interactive and total:
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=name, unit="", file=progress.stream, leave=False)
        else:
            progress.log(f"{name}: 0/{total}")

    def update(self, n: int) -> None:
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
            return
        pct = int(100 * self.done / self.total) if self.total else 100
        now = time.monotonic()
        # Plain lines every 10% or every 10 s, so logs stay short but show life.
        if pct // 10 > self._last_pct // 10 or now - self._last_time >= 10:
            self._last_pct, self._last_time = pct, now
            self._progress.log(f"{self.name}: {self.done}/{self.total} ({pct}%)")

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()

    def __enter__(self) -> Stage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Progress:
    """Reports to ``stream``; ``interactive`` (default: the stream is a terminal) draws bars."""

    def __init__(self, stream: TextIO | None = None, interactive: bool | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.interactive = self.stream.isatty() if interactive is None else interactive

    def log(self, message: str) -> None:
        print(message, file=self.stream, flush=True)

    def stage(self, name: str, total: int) -> Stage:
        return Stage(self, name, total)


class SilentProgress(Progress):
    """For library and service use: reports nothing."""

    def __init__(self) -> None:
        super().__init__(stream=sys.stderr, interactive=False)

    def log(self, message: str) -> None:
        pass
