"""The store: the one object that talks to PostgreSQL.

`Store.open()` resolves the server (the embedded one, or
`AUTOGENESIS_DATABASE_URL`), brings the schema up to date, and from then
on offers two kinds of methods: `log()` for the write-behind log (batched,
spooled when the database is away) and plain read methods for the CLI.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import UUID

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from autogenesis.canonical import canonical_json
from autogenesis.config import Settings, redact_url
from autogenesis.errors import StoreUnavailable, UserError
from autogenesis.store import embedded, migrations, sql
from autogenesis.store.protocol import RunLogging, Sink
from autogenesis.store.records import Record
from autogenesis.store.spool import Spool, SpoolRow, as_text
from autogenesis.store.writer import LogWriter, write_idempotent

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunSummary:
    id: UUID
    kind: str
    name: str
    spec_path: str | None
    status: str
    model: str | None
    package_path: str | None
    error: str | None
    started_at: datetime
    finished_at: datetime | None
    messages: int
    approved: int

    @property
    def duration(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


@dataclass(frozen=True)
class StoreInfo:
    location: str
    version: str
    applied: list[tuple[int, str, datetime]]
    pending: list[str]
    spooled_files: int


def resolve_conninfo(settings: Settings) -> tuple[str, str]:
    """(conninfo, where) for the configured server, starting the embedded one if needed."""
    if settings.database_url:
        return settings.database_url, redact_url(settings.database_url)
    return embedded.start(settings.pgdata), f"embedded PostgreSQL in {settings.pgdata}"


class Store(RunLogging):
    def __init__(self, conninfo: str, *, spool_dir: Path, location: str = "") -> None:
        self.conninfo = conninfo
        self.location = location or redact_url(conninfo)
        self.spool_dir = spool_dir
        self._pool: ConnectionPool | None = None
        self._writer: LogWriter | None = None

    @classmethod
    def open(cls, settings: Settings | None = None, *, migrate: bool = True) -> Store:
        """Connect to the configured server; apply pending migrations unless `migrate=False`."""
        settings = settings or Settings.from_env()
        conninfo, location = resolve_conninfo(settings)
        store = cls(conninfo, spool_dir=settings.spool_dir, location=location)
        try:
            if migrate:
                store.upgrade()
            else:
                store.ping()
        except BaseException:
            store.close()
            raise
        return store

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    # --- schema -----------------------------------------------------------

    def upgrade(self, directory: Path | None = None) -> list[migrations.Migration]:
        """Apply pending migrations (safe to run from several processes at once)."""
        with self._direct(autocommit=True) as conn:
            return migrations.upgrade(conn, migrations.load_migrations(directory))

    def info(self, directory: Path | None = None) -> StoreInfo:
        with self._direct(autocommit=True) as conn:
            state = migrations.status(conn, migrations.load_migrations(directory))
            row = conn.execute(sql.SERVER_VERSION_SQL).fetchone()
            version = row[0] if row else "unknown"
        return StoreInfo(
            location=self.location,
            version=version,
            applied=state.applied,
            pending=[f"{m.version:04d}_{m.name}" for m in state.pending],
            spooled_files=len(list(self.spool_dir.glob("*.jsonl")))
            if self.spool_dir.is_dir() else 0,
        )

    def ping(self) -> None:
        with self._direct(autocommit=True) as conn:
            conn.execute("SELECT 1")

    # --- the log ----------------------------------------------------------

    @property
    def writer(self) -> LogWriter:
        if self._writer is None:
            writer = LogWriter(self.conninfo, Spool(self.spool_dir))
            try:
                writer.start()
            except psycopg.OperationalError as exc:
                raise StoreUnavailable(
                    f"cannot reach the database at {self.location}: {exc}"
                ) from exc
            self._writer = writer
        return self._writer

    def log(self, record: Record, sink: Sink | None = None) -> None:
        """Queue `record` for the log; `sink(records)` is called once it is durable."""
        self.writer.submit(record, sink)

    def flush(self, timeout: float | None = 30.0) -> bool:
        """Wait until every record logged so far is durable (database or spool)."""
        return self._writer.flush(timeout) if self._writer is not None else True

    def prune(self, cutoff: datetime, *, keep_failed: bool = False,
              dry_run: bool = False) -> dict[str, int]:
        """Delete finished runs started before `cutoff`, with everything logged under them
        and the runs they started, in one transaction. Rows deleted per table."""
        deleted: dict[str, int] = {}
        with self._direct(autocommit=False) as conn, conn.transaction():
            ids = [row[0] for row in conn.execute(
                sql.PRUNE_SELECT_SQL, {"cutoff": cutoff, "keep_failed": keep_failed})]
            deleted["runs"] = len(ids)
            for table in sql.TABLES_WITH_RUN:
                count = conn.execute(sql.PRUNE_COUNT_SQL.format(table=table), (ids,)).fetchone()
                deleted[table] = count[0] if count else 0
            if not dry_run:
                conn.execute(sql.PRUNE_DELETE_SQL, (ids,))   # the rest goes by ON DELETE CASCADE
                gone = conn.execute(sql.PRUNE_PROCESS_EVENTS_SQL, (cutoff,)).rowcount
                deleted["events"] += max(gone, 0)
        return deleted

    # --- reads ------------------------------------------------------------

    def runs(self, *, status: str | None = None, spec: str | None = None,
             kind: str | None = None, limit: int = 50) -> list[RunSummary]:
        rows = self._fetch(sql.SELECT_RUNS_SQL, {"status": status, "spec": spec, "kind": kind,
                                                 "limit": limit})
        return [RunSummary(**row) for row in rows]

    def run(self, run_id: UUID) -> dict[str, Any] | None:
        rows = self._fetch(sql.SELECT_RUN_SQL, (run_id,))
        return rows[0] if rows else None

    def runs_starting(self, prefix: str) -> list[UUID]:
        """Ids of runs whose id starts with `prefix` (at most 5)."""
        rows = self._fetch(sql.SELECT_RUNS_STARTING_SQL, (prefix.lower() + "%",))
        return [row["id"] for row in rows]

    def messages(self, run_id: UUID) -> list[dict[str, Any]]:
        return self._fetch(sql.SELECT_MESSAGES_SQL, (run_id,))

    def completions(self, run_id: UUID) -> list[dict[str, Any]]:
        """The run's model calls, grouped by agent, each agent's in call order."""
        return self._fetch(sql.SELECT_COMPLETIONS_SQL, (run_id,))

    def verdicts(self, run_id: UUID) -> list[dict[str, Any]]:
        return self._fetch(sql.SELECT_VERDICTS_SQL, (run_id,))

    def events(self, run_id: UUID | None, kind: str | None = None) -> list[dict[str, Any]]:
        return self._fetch(sql.SELECT_EVENTS_SQL, {"run_id": run_id, "kind": kind})

    def artefacts(self, run_id: UUID) -> list[dict[str, Any]]:
        return self._fetch(sql.SELECT_ARTEFACTS_SQL, (run_id,))

    def files(self, run_id: UUID) -> list[dict[str, Any]]:
        return self._fetch(sql.SELECT_FILES_SQL, (run_id,))

    def observations(self, run_id: UUID) -> list[dict[str, Any]]:
        """The run's observations (`autogenesis.build.observe`), per agent in call order."""
        return self._fetch(sql.SELECT_OBSERVATIONS_SQL, (run_id,))

    def children(self, run_id: UUID) -> list[dict[str, Any]]:
        """Runs that `run_id` started (its generated system's runs), in start order."""
        return self._fetch(sql.SELECT_CHILD_RUNS_SQL, (str(run_id),))

    def export_run(self, run_id: UUID) -> list[SpoolRow]:
        """Run `run_id` and everything it logged, with the runs it started and theirs, as
        rows in the spool's text form: what `restore` writes back, in another database
        or later (a logged run kept as a test fixture, or sent with a bug report)."""
        run = self.run(run_id)
        if run is None:
            raise UserError(f"no run {run_id} in the log (autogenesis runs lists them)")
        runs = [run, *self.children(run_id)]
        rows: list[SpoolRow] = [("runs", _as_text("runs", r)) for r in runs]
        readers = {"messages": self.messages, "completions": self.completions,
                   "artefacts": self.artefacts, "verdicts": self.verdicts,
                   "events": self.events, "files": self.files,
                   "observations": self.observations}
        for each in runs:
            for table in sql.TABLES_WITH_RUN:
                rows += [(table, _as_text(table, row)) for row in readers[table](each["id"])]
        return rows

    def restore(self, rows: list[SpoolRow]) -> int:
        """Write exported rows (`export_run`); rows already in the database are kept as
        they are, so restoring twice changes nothing."""
        for table, _ in rows:
            if table != "runs" and table not in sql.TABLES_WITH_RUN:
                raise ValueError(f"unknown log table {table!r}")
        self.flush()
        with self._direct(autocommit=False) as conn:
            write_idempotent(conn, rows)
        return len(rows)

    def runs_with_files(self, paths: list[str], sha256s: list[str]) -> list[UUID]:
        """Builds that logged files with these paths and contents, most matches first."""
        rows = self._fetch(sql.SELECT_RUNS_WITH_FILES_SQL, (paths, sha256s))
        return [row["id"] for row in rows]

    def existing(self, table: str, ids: list[UUID]) -> set[UUID]:
        """Which of `ids` are in `table` already."""
        if table not in sql.TABLES_WITH_RUN:
            raise ValueError(f"unknown log table {table!r}")
        if not ids:
            return set()
        return {row["id"] for row in self._fetch(sql.existing_ids_sql(table), (ids,))}

    @contextmanager
    def run_lock(self, run_id: UUID) -> Iterator[bool]:
        """Hold run `run_id`'s lock while the block runs: yields False when another
        process holds it (the run is live there). A killed process lets go at once."""
        try:
            conn = psycopg.connect(self.conninfo, autocommit=True, connect_timeout=5)
        except psycopg.OperationalError as exc:
            # The log spools while the database is away; the run goes on without its lock.
            log.warning("run %s goes on without its lock: %s", run_id, exc)
            yield True
            return
        with conn:
            got = conn.execute(sql.RUN_LOCK_SQL, (sql.RUN_LOCK_CLASS, str(run_id))).fetchone()
            yield bool(got and got[0])

    def count(self, table: str, run_id: UUID) -> int:
        if table not in sql.TABLES_WITH_RUN:
            raise ValueError(f"unknown log table {table!r}")
        return int(self._fetch(sql.count_sql(table), (run_id,))[0]["count"])

    def call_counts(self, table: str, run_id: UUID) -> dict[str, int]:
        """How many calls (completions) or observations each agent of run `run_id` has
        logged, counted as one past the highest index: where its next one is numbered."""
        if table not in ("completions", "observations"):
            raise ValueError(f"no call indices in table {table!r}")
        return {row["agent"]: row["count"]
                for row in self._fetch(sql.call_counts_sql(table), (run_id,))}

    # --- connections ------------------------------------------------------

    def _fetch(self, query: str, params: Any) -> list[dict[str, Any]]:
        try:
            with self._readers().connection() as conn, conn.cursor(row_factory=dict_row) as cur:
                cur.execute(query, params)
                return cur.fetchall()
        except psycopg.OperationalError as exc:
            raise StoreUnavailable(f"cannot reach the database at {self.location}: {exc}") from exc

    def _readers(self) -> ConnectionPool:
        if self._pool is None:
            self._pool = ConnectionPool(self.conninfo, min_size=1, max_size=4, open=True,
                                        timeout=10, name="autogenesis-readers")
        return self._pool

    @contextmanager
    def _direct(self, *, autocommit: bool) -> Iterator[psycopg.Connection]:
        try:
            conn = psycopg.connect(self.conninfo, autocommit=autocommit, connect_timeout=5)
        except psycopg.OperationalError as exc:
            raise StoreUnavailable(f"cannot reach the database at {self.location}: {exc}") from exc
        with conn:
            yield conn


def _as_text(table: str, row: dict[str, Any]) -> list[str | None]:
    """A row as read back, in the text form COPY reads (JSON columns as canonical JSON)."""
    return [None if row[c] is None else canonical_json(row[c]) if c in sql.JSON_COLUMNS
            else as_text(row[c]) for c in sql.COLUMNS[table]]


if TYPE_CHECKING:   # PostgreSQL's log is a LogStore (mypy checks this line)
    from autogenesis.store.protocol import LogStore

    _checked: type[LogStore] = Store
