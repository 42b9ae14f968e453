"""What reading one input found besides its records: errors, warnings and counts."""

from __future__ import annotations

from indexer.models import RecordError

MAX_KEPT = 1000  # errors (and warnings) kept per input; the counts stay exact


class Tally:
    """Errors and warnings of one input, each list cut at its first MAX_KEPT entries."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.errors: list[RecordError] = []
        self.warnings: list[RecordError] = []
        self.n_errors = 0
        self.n_warnings = 0

    def error(self, location: str | None, reason: str) -> None:
        self.n_errors += 1
        if len(self.errors) < MAX_KEPT:
            self.errors.append(RecordError(self.source, location, reason))

    def warning(self, location: str | None, reason: str) -> None:
        self.n_warnings += 1
        if len(self.warnings) < MAX_KEPT:
            self.warnings.append(RecordError(self.source, location, reason))
