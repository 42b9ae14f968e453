"""Admin operations: the admin-key check, reloading the index, adding and removing papers.

Adding and removing run the indexer's incremental path (it embeds only new or changed papers
and writes a new version under the index's write lock), then reload, so the change is served
before the response is sent. Writes are serialised here; reads never wait for them.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
from collections.abc import Callable

import anyio
from pydantic import SecretStr

from indexer import (
    BuildReport,
    Indexer,
    IndexerError,
    IndexLockedError,
    PaperNotFoundError,
    PaperRecord,
    RecordError,
    read_json_papers,
)
from service.admin.models import PaperIn, PapersChanged, ReloadResponse
from service.errors import (
    AdminDisabledError,
    AdminKeyInvalidError,
    AdminKeyRequiredError,
    IndexBusyError,
    IndexWriteError,
    InvalidRequestError,
    NotFoundError,
    ReloadFailedError,
)
from service.runtime.index_check import client_message
from service.runtime.state import ReloadOutcome, ServiceState

log = logging.getLogger("abstractqa.service")

SOURCE = "admin API"  # what papers added over HTTP list as their source


def check_admin_key(configured: SecretStr | None, token: str | None) -> None:
    """Raise unless ``token`` is the configured admin key (compared in constant time)."""
    key = configured.get_secret_value() if configured is not None else ""
    if not key:
        raise AdminDisabledError(
            "admin endpoints are disabled: set ABSTRACTQA_ADMIN_KEY to enable them"
        )
    if token is None:
        raise AdminKeyRequiredError(
            "this endpoint needs the admin key: send 'Authorization: Bearer <admin key>'"
        )
    if not hmac.compare_digest(token.encode("utf-8"), key.encode("utf-8")):
        raise AdminKeyInvalidError("the bearer token is not the admin key")


def to_records(papers: list[PaperIn]) -> list[PaperRecord]:
    """Papers of a request, read exactly as a JSON Lines file would be; any paper the reader
    would reject or change (an unreadable date) fails the whole request, naming it."""
    text = json.dumps([p.model_dump(exclude_none=True) for p in papers], ensure_ascii=False)
    result = read_json_papers(text, SOURCE)
    problems = [*result.errors, *result.warnings]
    if problems:
        raise InvalidRequestError("; ".join(_where(p) for p in problems))
    return result.records


def _where(problem: RecordError) -> str:
    # The reader numbers records from 1 ("record 2"); the request's JSON list counts from 0.
    number = (problem.location or "").removeprefix("record ")
    where = f"papers[{int(number) - 1}]" if number.isdigit() else "papers"
    return f"{where}: {problem.reason}"


class AdminService:
    def __init__(self, state: ServiceState) -> None:
        self._state = state
        self._writes = asyncio.Lock()  # one add/remove at a time; the lock file guards others

    async def reload(self) -> ReloadResponse:
        outcome = await anyio.to_thread.run_sync(self._state.reload)
        return ReloadResponse(
            status="reloaded" if outcome.changed else "already_current",
            old_version=outcome.old_version,
            new_version=outcome.new_version,
            papers=outcome.papers,
            took_ms=outcome.took_ms,
        )

    async def add(self, papers: list[PaperIn]) -> PapersChanged:
        records = to_records(papers)
        return await self._write(lambda indexer: indexer.add_records(records))

    async def remove(self, paper_id: str) -> PapersChanged:
        return await self._write(lambda indexer: indexer.remove([paper_id]), paper_id)

    async def _write(
        self, change: Callable[[Indexer], BuildReport], removing: str | None = None
    ) -> PapersChanged:
        started = time.perf_counter()
        settings = self._state.settings
        # The served model embeds the new papers: the same one, already in memory.
        indexer = Indexer(settings, embedder=self._state.loaded.embedder)
        async with self._writes:
            old = self._state.loaded.index.name
            try:
                report = await anyio.to_thread.run_sync(change, indexer)
            except IndexLockedError as exc:
                raise IndexBusyError(client_message(exc, settings.index.index_dir)) from exc
            except IndexerError as exc:
                if removing is not None and isinstance(exc, PaperNotFoundError):
                    raise NotFoundError(f"no paper with id {removing!r} in the index") from exc
                log.error("admin index write failed: %s", exc)
                raise IndexWriteError(client_message(exc, settings.index.index_dir)) from exc
            outcome = await self._reload_after(report)
        by_outcome: dict[str, list[str]] = {}
        for paper_id, what in report.outcomes.items():
            by_outcome.setdefault(what, []).append(paper_id)
        return PapersChanged(
            added=by_outcome.get("added", []),
            updated=by_outcome.get("updated", []),
            unchanged=by_outcome.get("unchanged", []),
            removed=by_outcome.get("removed", []),
            merged=[_where(w) for w in report.warnings],
            old_version=old,
            version=outcome.new_version,
            papers=outcome.papers,
            took_ms=(time.perf_counter() - started) * 1000,
        )

    async def _reload_after(self, report: BuildReport) -> ReloadOutcome:
        try:
            return await anyio.to_thread.run_sync(self._state.reload)
        except ReloadFailedError as exc:
            written = report.version or "the index's current version"
            raise ReloadFailedError(
                f"the change was written as {written} but is not served yet: {exc.message}"
            ) from exc
