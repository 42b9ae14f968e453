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

    def stream_stage(self, name: str) -> StreamStage:
        return StreamStage(self, name)


class SilentProgress(Progress):
    """For library and service use: reports nothing."""

    def __init__(self) -> None:
        super().__init__(stream=sys.stderr, interactive=False)

    def log(self, message: str) -> None:
        pass


class StreamStage:
    """Items of unknown total (records streamed from files): count, rate and, when the
    share of input read is known, an ETA; a plain line every 10 s (a bar on a terminal)."""

    def __init__(self, progress: Progress, name: str) -> None:
        self._progress = progress
        self.name = name
        self.done = 0
        self.fraction: float | None = None
        self._started = self._last = time.monotonic()
        self._bar: Any = None
        if progress.interactive:
            from tqdm import tqdm

            self._bar = tqdm(desc=name, unit=" papers", file=progress.stream, leave=False)

    def update(self, n: int, fraction: float | None = None) -> None:
        self.done += n
        if fraction is not None:
            self.fraction = fraction
        if self._bar is not None:
            self._bar.update(n)
            return
        now = time.monotonic()
        if now - self._last >= 10:
            self._last = now
            self._progress.log(self.line(now))

    def line(self, now: float | None = None) -> str:
        elapsed = max(1e-9, (now or time.monotonic()) - self._started)
        text = f"{self.name}: {self.done} ({self.done / elapsed:.0f}/s)"
        if self.fraction:
            remaining = elapsed * (1 - self.fraction) / self.fraction
            text += f", {100 * self.fraction:.0f}% of the input, ETA {remaining:.0f} s"
        return text

    def __enter__(self) -> StreamStage:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.close()
        elif self.done:
            self._progress.log(self.line())
