"""What the running service holds: the embedder, the open index version and its retriever.

Loading (model + index) happens off the event loop after start-up; until it is done the
service is alive (``/healthz``) but not ready (``/readyz`` answers 503).

``reload`` switches to a new index version without dropping requests: the new version is
checked and loaded completely, then the one ``_loaded`` reference is swapped. A request reads
``state.loaded`` once and finishes on the version it started with.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import Any

from indexer import (
    AnnParams,
    Embedder,
    IndexerError,
    IndexVersion,
    Retriever,
    build_embedder,
    current_version_name,
    embedder_name,
    open_index,
)
from service.answering.warmup import warm_answering
from service.errors import IndexNotReadyError, ReloadFailedError, ServiceError
from service.runtime import heap
from service.runtime.index_check import check_current, client_message, open_current
from service.runtime.query_encoder import QueryEncoder
from service.runtime.sentence_vectors import SentenceVectors
from service.settings import Settings

log = logging.getLogger("abstractqa.service")


@dataclass
class Loaded:
    index: IndexVersion
    embedder: Embedder
    retriever: Retriever
    sentences: SentenceVectors
    warm_stop: threading.Event = field(default_factory=threading.Event)  # ends its warm-up
    # Set once its background warm-up has ended (finished, failed or stopped): until then
    # requests share the cores with it (/readyz "warm").
    warmed: threading.Event = field(default_factory=threading.Event)


@dataclass(frozen=True)
class ReloadOutcome:
    old_version: str | None
    new_version: str
    papers: int
    changed: bool
    took_ms: float


_OPEN_STATES: weakref.WeakSet[ServiceState] = weakref.WeakSet()


@atexit.register
def _close_open_states() -> None:
    # A state whose app never ran its shutdown (a server killed mid-start, a test whose server
    # did not stop in time) still has daemon threads that may be inside torch; the interpreter
    # killing those at exit aborts the process ("terminate called without an active exception").
    for state in list(_OPEN_STATES):
        state.close(timeout_s=10.0)


class ServiceState:
    """The service's loaded parts, or why they are not loaded."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None) -> None:
        _OPEN_STATES.add(self)
        self.settings = settings
        self._embedder = embedder
        self._loaded: Loaded | None = None
        self._queries: QueryEncoder | None = None  # follows the embedder, not the index version
        self.error: str | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._swap_lock = threading.Lock()  # one reload at a time
        self._threads_lock = threading.Lock()
        self._pointer_problem: str | None = None  # what the watch last found wrong with CURRENT

    @property
    def ready(self) -> bool:
        return self._loaded is not None

    @property
    def loaded(self) -> Loaded:
        if self._loaded is None:
            reason = f": {self.error}" if self.error else "; try again shortly"
            raise IndexNotReadyError(f"the index is not loaded{reason}")
        return self._loaded

    @property
    def query_encoder(self) -> QueryEncoder:
        """The one path by which requests embed queries (batched and cached)."""
        if self._queries is None:
            self.loaded  # noqa: B018 -- raises IndexNotReadyError with the reason
            raise IndexNotReadyError("the query encoder is not started; try again shortly")
        return self._queries

    def _serving(self, index: IndexVersion, embedder: Embedder) -> Loaded:
        """What requests use of ``index``: its retrieval as the settings configure it and a
        sentence-vector cache (a load and a reload build the same)."""
        return Loaded(
            index,
            embedder,
            Retriever.from_settings(index, embedder, self.settings),
            SentenceVectors(index, embedder, self.settings.runtime.sentence_cache_papers),
        )

    def load(self) -> None:
        """Load the embedder and the current index version (blocking)."""
        try:
            embedder = self._embedder or build_embedder(self.settings)
            index = open_index(
                self.settings.index.index_dir,
                expected_embedder=embedder_name(self.settings)
                if self._embedder is None
                else embedder.name,
                params=AnnParams.from_settings(self.settings.index),
            )
            if self._queries is None or self._queries.embedder is not embedder:
                self._close_queries()
                self._queries = QueryEncoder.from_settings(embedder, self.settings)
            loaded = self._serving(index, embedder)
            self._loaded = loaded
            self.error = None
            log.info("index %s loaded: %d papers", index.name, len(index.papers))
        except Exception as exc:
            self.error = str(exc)
            log.error("cannot load the index: %s", exc)
            raise
        # This version, not whatever is served when the thread starts (a reload may swap first).
        self._spawn(self._warm, "sentence-warmup", loaded)

    def reload(self) -> ReloadOutcome:
        """Serve the index's current version if it is not the one served (blocking).

        On failure the served version stays and ``ReloadFailedError`` names the file or reason.
        """
        with self._swap_lock:
            started = time.perf_counter()
            old = self._loaded
            if old is None:
                return self._first_load(started)
            index_dir = self.settings.index.index_dir
            try:
                version, manifest = check_current(index_dir, old.embedder.name, hashes=False)
                if version.name == old.index.name and manifest.get(
                    "created"
                ) == old.index.manifest.get("created"):
                    return ReloadOutcome(
                        old.index.name, old.index.name, len(old.index.papers), False, _ms(started)
                    )
                params = AnnParams.from_settings(self.settings.index)
                index = open_current(index_dir, old.embedder.name, params)
            except IndexerError as exc:
                message = f"still serving {old.index.name}; {client_message(exc, index_dir)}"
                log.error("index reload failed, still serving %s: %s", old.index.name, exc)
                raise ReloadFailedError(message) from exc
            new = self._serving(index, old.embedder)
            new.sentences.adopt(old.sentences)
            self._loaded = new  # the swap: requests from here on get the new version
            old.warm_stop.set()
            if not self._stop.is_set():  # no new warm-up once close() has begun
                self._spawn(self._warm, "sentence-warmup", new)
            else:
                new.warmed.set()  # nothing will warm it: /readyz must not wait for it
            log.info(
                "index reloaded: %s -> %s (%d papers)",
                old.index.name,
                index.name,
                len(index.papers),
            )
            return ReloadOutcome(old.index.name, index.name, len(index.papers), True, _ms(started))

    def _first_load(self, started: float) -> ReloadOutcome:
        """A reload before any version was served: retries a start-up load that failed."""
        if self.error is None:
            raise IndexNotReadyError("the index is still loading; try again shortly")
        try:
            self.load()
        except Exception as exc:
            raise ReloadFailedError(
                f"nothing is served; {client_message(exc, self.settings.index.index_dir)}"
            ) from exc
        index = self.loaded.index
        return ReloadOutcome(None, index.name, len(index.papers), True, _ms(started))

    def start_watching(self) -> None:
        """Poll the index pointer every ``watch_interval_s`` and reload when it changes."""
        self._spawn(self._watch, "index-watch")

    def _watch(self) -> None:
        failed: str | None = None  # retried only once the pointer names another version
        while not self._stop.wait(self.settings.runtime.watch_interval_s):
            try:
                failed = self._poll(failed)
            except Exception:  # the watch must outlive whatever one poll meets
                log.exception("index watch: unexpected error; trying again at the next poll")

    def _poll(self, failed: str | None) -> str | None:
        """One look at the pointer: reload when it names another version. Returns the version
        that failed to load, if any (not retried until the pointer changes)."""
        try:
            name = current_version_name(self.settings.index.index_dir)
        except IndexerError as exc:
            # Keep serving what is loaded; said once per distinct problem, not every poll.
            problem = client_message(exc, self.settings.index.index_dir)
            if problem != self._pointer_problem:
                served = self._loaded.index.name if self._loaded is not None else "nothing"
                log.error("index watch: %s; still serving %s", problem, served)
            self._pointer_problem = problem
            return failed
        if self._pointer_problem is not None:
            log.info("index watch: CURRENT names %s again", name)
            self._pointer_problem = None
        loaded = self._loaded
        if loaded is None and self.error is None:
            return failed  # the start-up load is still running
        if name == failed or (loaded is not None and name == loaded.index.name):
            return failed
        try:
            self.reload()
        except ServiceError as exc:
            log.error("index watch: %s", exc.message)
            return name
        except Exception:
            log.exception("index watch: cannot load %s", name)
            return name
        return None

    def pointer_problem(self) -> str | None:
        """Why the index's ``CURRENT`` cannot be read now (relative paths, for clients), or
        None. The loaded version keeps being served meanwhile."""
        try:
            current_version_name(self.settings.index.index_dir)
        except IndexerError as exc:
            return client_message(exc, self.settings.index.index_dir)
        return None

    def start_loading(self) -> None:
        """Load in a background thread; failures are kept in ``error`` (shown by /readyz)."""
        self._spawn(self._load_quietly, "index-loader")

    def close(self, timeout_s: float = 30.0) -> None:
        """Stop background work and wait for it: a thread still inside torch when the
        interpreter exits aborts the process."""
        self._stop.set()
        if self._loaded is not None:
            self._loaded.warm_stop.set()
        with self._threads_lock:
            threads = list(self._threads)
        for thread in threads:
            if thread is not threading.current_thread():
                thread.join(timeout_s)
        if self._loaded is not None:  # swapped in by a reload that was running meanwhile
            self._loaded.warm_stop.set()
        self._close_queries(timeout_s)

    def _close_queries(self, timeout_s: float = 30.0) -> None:
        if self._queries is not None:
            self._queries.close(timeout_s)

    def _spawn(self, target: Any, name: str, *args: Any) -> None:
        thread = threading.Thread(target=target, name=name, args=args, daemon=True)
        with self._threads_lock:  # reloads spawn warm-ups: forget the threads that ended
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
        thread.start()

    def _load_quietly(self) -> None:
        try:
            self.load()
        except Exception:  # the reason is kept in self.error
            log.debug("index loading failed", exc_info=True)

    def _warm(self, loaded: Loaded) -> None:
        try:
            self._warm_parts(loaded)
        finally:
            loaded.warmed.set()

    def _warm_parts(self, loaded: Loaded) -> None:
        try:
            warm_answering()
        except Exception as exc:  # the first question loads what is missing
            log.warning("answering warm-up failed: %s", exc)
        try:
            # Its own stop: a reload ends the old version's warm-up, close() the current one's.
            loaded.sentences.warm(loaded.warm_stop)
        except Exception as exc:  # warming is an optimisation; answering embeds on demand
            log.warning("sentence warm-up stopped: %s", exc)
        if self.settings.runtime.gc_freeze and not loaded.warm_stop.is_set():
            frozen = heap.freeze_survivors()
            log.debug("heap settled: %d objects frozen", frozen)


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
