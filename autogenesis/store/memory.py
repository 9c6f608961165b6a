"""The log in this process's memory: `LogStore` without PostgreSQL.

For tests of the build's control flow (rework, loops, iterations, budget) that
need the log's reads but not its server, and for the fast test tier
(`pytest -m fast`). It reads back what it was given as PostgreSQL would: the
same columns, JSON columns parsed, ids as UUIDs, each table in the order the
server's queries give (`autogenesis/store/sql.py`); the store conformance suite
(tests/test_store_conformance.py) holds it and PostgreSQL to the same answers.
Nothing survives the process: the real path logs to PostgreSQL.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from autogenesis.store import sql
from autogenesis.store.protocol import LogStore, RunLogging, Sink, call_counts, in_call_order
from autogenesis.store.records import RawRow, Record
from autogenesis.store.spool import SpoolRow

_UUIDS = {"id", "run_id", "message_id", "conversation_id", "reply_to", "artefact_id"}
_TIMES = {"created_at", "deadline", "started_at", "finished_at"}
_INTS = {"hop", "call_index", "seed", "tokens_in", "tokens_out", "batch_size", "version",
         "size"}


def _typed(column: str, value: Any) -> Any:
    """A column value as the server returns it, from a record's value or its text."""
    if value is None:
        return None
    if column in sql.JSON_COLUMNS:
        return json.loads(value) if isinstance(value, str) else value
    if not isinstance(value, str):
        return float(value) if column == "latency_ms" else value
    if column in _UUIDS:
        return UUID(value)
    if column in _TIMES:
        return datetime.fromisoformat(value)
    if column in _INTS:
        return int(value)
    if column == "latency_ms":
        return float(value)
    if column in ("expects_reply", "approved"):
        return value == "t"
    return value


def _id(value: UUID | str | None) -> UUID | None:
    """An id as PostgreSQL takes it: a UUID or its text."""
    return None if value is None else value if isinstance(value, UUID) else UUID(str(value))


class MemoryStore(RunLogging):
    """A `LogStore` whose rows live in a dict of lists; safe to share between threads."""

    location = "memory"

    def __init__(self) -> None:
        self._rows: dict[str, list[dict[str, Any]]] = {t: [] for t in sql.COLUMNS}
        self._ids: dict[str, set[UUID]] = {t: set() for t in sql.COLUMNS}
        self._lock = threading.Lock()
        self._held: set[UUID] = set()

    def __enter__(self) -> MemoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def close(self) -> None:
        return None

    # --- writing ------------------------------------------------------------

    def log(self, record: Record, sink: Sink | None = None) -> None:
        row = {c: _typed(c, v) for c, v in zip(sql.COLUMNS[record.table], record.row(),
                                                 strict=True)}
        with self._lock:
            self._put(record.table, row)
        if sink is not None:
            sink([record])

    def _put(self, table: str, row: dict[str, Any]) -> None:
        if table == "runs":   # upserted; an older copy never undoes a finish
            old = next((r for r in self._rows["runs"] if r["id"] == row["id"]), None)
            if old is None:
                self._rows["runs"].append(row)
                self._ids["runs"].add(row["id"])
            elif old["finished_at"] is None or row["finished_at"] is not None:
                old.update({c: row[c] for c in ("status", "model", "config", "package_path",
                                                "error", "finished_at")})
            return
        if row["id"] not in self._ids[table]:   # an id already logged is kept as it was
            self._rows[table].append(row)
            self._ids[table].add(row["id"])

    def flush(self, timeout: float | None = 30.0) -> bool:
        return True

    def restore(self, rows: list[SpoolRow]) -> int:
        for table, values in rows:
            if table != "runs" and table not in sql.TABLES_WITH_RUN:
                raise ValueError(f"unknown log table {table!r}")
            self.log(RawRow(table, tuple(values)))
        return len(rows)

    @contextmanager
    def run_lock(self, run_id: UUID) -> Iterator[bool]:
        with self._lock:
            free = run_id not in self._held
            self._held.add(run_id)
        try:
            yield free
        finally:
            if free:
                with self._lock:
                    self._held.discard(run_id)

    # --- reading ------------------------------------------------------------

    def _select(self, table: str, run_id: UUID | None) -> list[dict[str, Any]]:
        wanted = _id(run_id)
        with self._lock:
            return [dict(r) for r in self._rows[table] if r["run_id"] == wanted]

    def run(self, run_id: UUID) -> dict[str, Any] | None:
        wanted = _id(run_id)
        with self._lock:
            return next((dict(r) for r in self._rows["runs"] if r["id"] == wanted), None)

    def messages(self, run_id: UUID) -> list[dict[str, Any]]:
        return self._select("messages", run_id)

    def completions(self, run_id: UUID) -> list[dict[str, Any]]:
        """Grouped by agent, each agent's in call order."""
        return in_call_order(self._select("completions", run_id))

    def verdicts(self, run_id: UUID) -> list[dict[str, Any]]:
        return self._select("verdicts", run_id)

    def events(self, run_id: UUID | None, kind: str | None = None) -> list[dict[str, Any]]:
        return [e for e in self._select("events", run_id) if kind is None or e["kind"] == kind]

    def artefacts(self, run_id: UUID) -> list[dict[str, Any]]:
        return self._select("artefacts", run_id)

    def files(self, run_id: UUID) -> list[dict[str, Any]]:
        return self._select("files", run_id)

    def observations(self, run_id: UUID) -> list[dict[str, Any]]:
        return in_call_order(self._select("observations", run_id))

    def children(self, run_id: UUID) -> list[dict[str, Any]]:
        with self._lock:
            rows = [dict(r) for r in self._rows["runs"]
                    if (r["config"] or {}).get("parent_run") == str(run_id)]
        return sorted(rows, key=lambda r: (r["started_at"], str(r["id"])))

    def existing(self, table: str, ids: list[UUID]) -> set[UUID]:
        if table not in sql.TABLES_WITH_RUN:
            raise ValueError(f"unknown log table {table!r}")
        with self._lock:
            return {i for i in map(_id, ids) if i is not None} & self._ids[table]

    def count(self, table: str, run_id: UUID) -> int:
        if table not in sql.TABLES_WITH_RUN:
            raise ValueError(f"unknown log table {table!r}")
        return len(self._select(table, run_id))

    def call_counts(self, table: str, run_id: UUID) -> dict[str, int]:
        if table not in ("completions", "observations"):
            raise ValueError(f"no call indices in table {table!r}")
        return call_counts(self._select(table, run_id))


if TYPE_CHECKING:   # the in-memory log is a LogStore (mypy checks this line)
    _checked: type[LogStore] = MemoryStore
