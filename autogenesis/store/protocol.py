"""What a build, its bus, its model and a replay need of the log: `LogStore`.

Three stores implement it: PostgreSQL (`Store`, the real one), the replay's
`Mirror` (which holds every record against a logged run's) and `MemoryStore`
(tests). Reads return rows as PostgreSQL does: {column: value}, JSON columns
parsed, ids as UUIDs, each table in the order of `autogenesis/store/sql.py`'s
queries. tests/test_store_conformance.py holds the stores to the same answers.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, Protocol
from uuid import UUID

from autogenesis.store import sql
from autogenesis.store.records import RawRow, Record, Run, RunStatus

Row = dict[str, Any]
Sink = Callable[[list[Any]], None]
"""Hears of records once they are written (the bus acknowledges a message this way)."""


def in_call_order(rows: list[Row]) -> list[Row]:
    """Model calls or observations as the server orders them: per agent, each agent's in
    call order (`sql.SELECT_COMPLETIONS_SQL`)."""
    return sorted(rows, key=lambda r: (r["agent"], r["call_index"], r["created_at"]))


def call_counts(rows: list[Row]) -> dict[str, int]:
    """Per agent, one past the highest call index in `rows` (`LogStore.call_counts`)."""
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["agent"]] = max(counts.get(row["agent"], 0), row["call_index"] + 1)
    return counts


class LogStore(Protocol):
    def log(self, record: Record, sink: Sink | None = None) -> None:
        """Log `record` (written in the background); `sink` hears of it once written."""

    def flush(self, timeout: float | None = 30.0) -> bool:
        """Wait until everything logged so far is written (False: not within timeout)."""

    def ingest(self, rows: list[tuple[str, list[str | None]]]) -> int:
        """Log rows in text form (a sandboxed run's trace)."""

    def start_run(self, run: Run) -> Run: ...

    def finish_run(self, run: Run, status: RunStatus, *, error: str | None = None,
                   package_path: str | None = None) -> Run: ...

    def run_lock(self, run_id: UUID) -> AbstractContextManager[bool]:
        """Hold the run's lock while the block runs; False when another holds it."""

    def run(self, run_id: UUID) -> Row | None: ...

    def messages(self, run_id: UUID) -> list[Row]: ...

    def completions(self, run_id: UUID) -> list[Row]: ...

    def verdicts(self, run_id: UUID) -> list[Row]: ...

    def events(self, run_id: UUID | None, kind: str | None = None) -> list[Row]: ...

    def artefacts(self, run_id: UUID) -> list[Row]: ...

    def files(self, run_id: UUID) -> list[Row]: ...

    def observations(self, run_id: UUID) -> list[Row]: ...

    def children(self, run_id: UUID) -> list[Row]:
        """The runs `run_id` started (its generated system's), in start order."""

    def existing(self, table: str, ids: list[UUID]) -> set[UUID]: ...

    def count(self, table: str, run_id: UUID) -> int: ...

    def call_counts(self, table: str, run_id: UUID) -> dict[str, int]:
        """Per agent, one past the highest call index logged (completions, observations)."""


class RunLogging:
    """Starting and finishing a run and ingesting a trace, in terms of `log`: the same
    in every store (a subclass may override `ingest`, as the replay's Mirror does)."""

    def log(self, record: Record, sink: Sink | None = None) -> None:
        raise NotImplementedError

    def start_run(self, run: Run) -> Run:
        self.log(run)
        return run

    def finish_run(self, run: Run, status: RunStatus, *, error: str | None = None,
                   package_path: str | None = None) -> Run:
        finished = run.finished(status, error=error, package_path=package_path)
        self.log(finished)
        return finished

    def ingest(self, rows: list[tuple[str, list[str | None]]]) -> int:
        """Log rows in text form (a sandboxed run's trace, see `runtime.trace`)."""
        for table, values in rows:
            if table not in sql.TABLES_WITH_RUN:
                raise ValueError(f"unknown log table {table!r}")
            self.log(RawRow(table, tuple(values)))
        return len(rows)
