"""The per-paper CPU work of an add, in worker processes: cleaning, sentence splitting,
tiktoken counts and BM25 tokens.

These stages took ~85% of an add's own time in one process (docs/benchmarks.md, "Corpus
scale"). ``Preparer`` hands whole blocks to a ``ProcessPoolExecutor`` and gives the results
back in submission order, so the segments written are the same as a one-process build's.
Chunking stays with the caller: it may need the embedder's own tokenizer, which lives there.
"""

from __future__ import annotations

import multiprocessing
import os
import select
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

from indexer.config import AUTO_WORKERS_MAX
from indexer.errors import IndexerError
from indexer.lexical import paper_text, tokenize
from indexer.models import Paper, PaperRecord
from indexer.postings import TermCounts
from indexer.segment import record_json
from indexer.text import clean, count_tokens_many, split_cleaned


@dataclass(frozen=True)
class Draft:
    """A paper to write: its id, the record to store, its content hash, the copy it replaces."""

    paper_id: str
    record: PaperRecord
    digest: str
    old: Paper | None


@dataclass(frozen=True)
class Prepared:
    """A paper with its sentences, its stored record (``data``: ``record_json``), the
    tiktoken counts of ``[title, *sentences]`` and its counted BM25 terms."""

    paper: Paper
    data: str
    token_counts: list[int]
    terms: TermCounts


def make_paper(paper_id: str, record: PaperRecord, digest: str, old: Paper | None) -> Paper:
    sources = list(old.sources) if old else []
    if record.source and record.source not in sources:
        sources.append(record.source)
    abstract = clean(record.abstract)
    return Paper(
        paper_id=paper_id,
        title=record.title,
        abstract=abstract,
        sentences=split_cleaned(abstract),
        content_hash=digest,
        authors=list(record.authors),
        url=record.url,
        published=record.published,
        metadata=dict(record.metadata),
        sources=sources,
    )


def prepare_block(drafts: list[Draft]) -> list[Prepared]:
    papers = [make_paper(d.paper_id, d.record, d.digest, d.old) for d in drafts]
    tokens = tokenize([paper_text(p.title, p.abstract) for p in papers]) if papers else []
    return [
        Prepared(
            paper,
            record_json(paper),
            count_tokens_many([paper.title, *paper.sentences]),
            TermCounts.of(terms),
        )
        for paper, terms in zip(papers, tokens, strict=True)
    ]


def _watch_main(main_pid: int) -> None:
    """Exit once the process that started the pool is gone. Its parent, the forkserver, is no
    guide: every forkserver child holds the write end of the forkserver's own liveness pipe, so
    after a SIGKILL of the add the forkserver waits for the workers and they would wait for it
    (seen after a killed 100k build: two workers and a forkserver left running)."""
    try:
        handle = os.pidfd_open(main_pid)
    except (AttributeError, OSError):  # no pidfd (not Linux, or already gone): poll instead
        while _alive(main_pid):
            time.sleep(0.5)
    else:
        select.select([handle], [], [])  # readable once the process has exited
    os._exit(1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _start_worker(main_pid: int) -> None:
    """A worker's start: exit when the add that started it ends, however it ends (so a
    SIGKILLed add leaves no workers behind); then load punkt, tiktoken and the stemmer before
    the first block."""
    threading.Thread(target=_watch_main, args=(main_pid,), name="main-watch", daemon=True).start()
    record = PaperRecord("Warm up", "A sentence. Another one.", "", "")
    prepare_block([Draft("warm-up", record, "", None)])


def worker_count(setting: int) -> int:
    """``ingest_workers``: 0 means one per core this process may run on, at most
    ``AUTO_WORKERS_MAX``: the main process chunks, embeds and writes every block itself, and
    in a profile its share was about a quarter of a worker's per paper."""
    if setting > 0:
        return setting
    return max(1, min(AUTO_WORKERS_MAX, len(os.sched_getaffinity(0))))


class Preparer:
    """Runs ``prepare_block`` on blocks in order: in this process with one worker, else in
    ``workers`` processes with up to ``workers`` blocks in flight (memory: that many blocks
    plus the one being written). The processes start with the second block, so an add of one
    block (an HTTP request, a daily file) never pays for them."""

    def __init__(self, workers: int, log: Callable[[str], None]) -> None:
        self.workers = workers
        self._log = log
        self._executor: ProcessPoolExecutor | None = None
        self._in_flight: deque[Future[list[Prepared]]] = deque()
        self._held: list[Draft] | None = None  # the first block, until a second one shows up

    def submit(self, drafts: list[Draft]) -> list[list[Prepared]]:
        """Queue ``drafts``; returns the blocks now ready, oldest first."""
        if self.workers <= 1:
            return [prepare_block(drafts)]
        if self._executor is None and self._held is None:
            self._held = drafts
            return []
        if self._executor is None:
            # forkserver: workers fork from a clean process. Forked from this one they
            # inherit its threads' locks (a loaded torch model's, a server's) and can hang
            # on their first block, as one did under the real model.
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["indexer.prepare"])
            self._executor = ProcessPoolExecutor(
                self.workers,
                mp_context=context,
                initializer=_start_worker,
                initargs=(os.getpid(),),
            )
            self._log(f"preparing papers in {self.workers} worker processes")
            held, self._held = self._held, None
            if held is not None:
                self._in_flight.append(self._executor.submit(prepare_block, held))
        self._in_flight.append(self._executor.submit(prepare_block, drafts))
        ready = []
        while len(self._in_flight) > self.workers:
            ready.append(self._result(self._in_flight.popleft()))
        return ready

    def drain(self) -> list[list[Prepared]]:
        """Every block still queued, oldest first."""
        ready = []
        if self._held is not None:
            held, self._held = self._held, None
            ready.append(prepare_block(held))
        while self._in_flight:
            ready.append(self._result(self._in_flight.popleft()))
        return ready

    def _result(self, future: Future[list[Prepared]]) -> list[Prepared]:
        try:
            return future.result()
        except BrokenProcessPool as exc:
            raise IndexerError(
                "an ingest worker process died (killed, or out of memory?); nothing of this "
                "add was committed, and what was embedded is kept for the next run "
                "(ABSTRACTQA_INGEST_WORKERS=1 runs without worker processes)"
            ) from exc

    def close(self) -> None:
        self._held = None
        self._in_flight.clear()
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
