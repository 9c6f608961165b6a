"""The log writer: one background thread that batches records into PostgreSQL.

Producers call `submit(record, sink)` (cheap, thread-safe, never blocks on
I/O). The writer thread takes everything queued, up to `max_batch`, and
writes it in one transaction: runs are upserted, every other table is
written with COPY (group commit). Only once that transaction has committed,
or the rows are fsynced into the local spool because the database is
unreachable, does it call each record's `sink` with the records that are now
durable. The bus delivers a message from its sink, which is how "logged
before any handler acts on it" is kept without a round trip per message.

When the database is down the writer spools, tries to reconnect every
`retry_interval` seconds, and on success drains the spool (its own and that
of dead processes) before writing anything new, through an idempotent path
(`ON CONFLICT DO NOTHING`), so no row is lost and none is written twice.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

from autogenesis.store import sql
from autogenesis.store.protocol import Sink  # called once per batch, from the writer thread
from autogenesis.store.records import Event, Record
from autogenesis.store.spool import Spool, SpoolRow, spool_rows

log = logging.getLogger(__name__)

_DRAIN_CHUNK = 20_000


@dataclass
class WriterStats:
    rows_written: int = 0
    rows_spooled: int = 0
    rows_drained: int = 0
    batches: int = 0
    rejected: int = 0


class _Barrier:
    """A queue item that is released once everything queued before it is durable."""

    def __init__(self) -> None:
        self.done = threading.Event()


class _Stop:
    pass


class LogWriter:
    def __init__(
        self,
        conninfo: str,
        spool: Spool,
        *,
        max_batch: int = 10_000,
        retry_interval: float = 0.5,
        connect_timeout: float = 3.0,
    ) -> None:
        self.conninfo = conninfo
        self.spool = spool
        self.max_batch = max_batch
        self.retry_interval = retry_interval
        self.connect_timeout = connect_timeout
        self.stats = WriterStats()
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._conn: psycopg.Connection | None = None
        self._next_retry = 0.0
        self._thread = threading.Thread(target=self._run, name="autogenesis-log-writer",
                                        daemon=True)
        self._closed = False

    # --- producer side ----------------------------------------------------

    def start(self) -> None:
        self._connect()  # fails loudly at start: a first connection must work
        self._drain_spools()
        self._thread.start()

    def submit(self, record: Record, sink: Sink | None = None) -> None:
        self._queue.put((record, sink))

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every record submitted before this call is durable."""
        barrier = _Barrier()
        self._queue.put(barrier)
        return barrier.done.wait(timeout)

    def close(self, timeout: float = 30.0) -> None:
        if self._closed:
            return
        self._closed = True
        self._queue.put(_Stop())
        self._thread.join(timeout)
        if self._conn is not None:
            self._conn.close()
        self.spool.close()

    @property
    def degraded(self) -> bool:
        """True while the database is unreachable and rows go to the spool."""
        return self._conn is None

    # --- writer thread ----------------------------------------------------

    def _run(self) -> None:
        while True:
            batch, barriers, stop = self._take()
            if batch:
                self._write_batch(batch)
            elif self.degraded:
                self._try_recover()
            for barrier in barriers:
                barrier.done.set()
            if stop:
                return

    def _take(self) -> tuple[list[tuple[Record, Sink | None]], list[_Barrier], bool]:
        timeout = self.retry_interval if self.degraded else None
        try:
            first = self._queue.get(timeout=timeout)
        except queue.Empty:
            return [], [], False
        batch: list[tuple[Record, Sink | None]] = []
        barriers: list[_Barrier] = []
        item = first
        while True:
            if isinstance(item, _Barrier):
                barriers.append(item)
            elif isinstance(item, _Stop):
                return batch, barriers, True
            else:
                batch.append(item)
                if len(batch) >= self.max_batch:
                    break
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
        return batch, barriers, False

    def _write_batch(self, batch: list[tuple[Record, Sink | None]]) -> None:
        records = [record for record, _ in batch]
        if self.degraded:
            self._try_recover()
        try:
            if self._conn is None:
                self._spool(records)
            else:
                self._write_online(records)
        except Exception:
            # Our bug, not the database's: keep the rows and the writer alive.
            log.exception("log writer failed on a batch; spooling it")
            self._spool(records)
        self.stats.batches += 1
        self._notify(batch)

    def _write_online(self, records: list[Record]) -> None:
        try:
            try:
                self._write(records)
            except psycopg.OperationalError:
                raise
            except psycopg.Error as exc:
                # Most likely rows already written by a commit whose outcome we never
                # heard; the idempotent path settles it.
                log.warning("batch failed (%s); retrying idempotently", exc)
                self._write_rows_idempotent(spool_rows(records))
        except psycopg.OperationalError as exc:
            self._lose_connection(exc)
            self._spool(records)
            return
        self.stats.rows_written += len(records)

    def _write(self, records: Sequence[Record]) -> None:
        by_table: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
        for record in records:
            by_table[record.table].append(record.row())
        conn = self._conn
        assert conn is not None
        with conn.transaction(), conn.cursor() as cur:
            if "runs" in by_table:
                cur.executemany(sql.UPSERT_RUN_SQL, by_table.pop("runs"))
            for table in sql.TABLES_WITH_RUN:
                rows = by_table.get(table)
                if rows:
                    with cur.copy(sql.copy_sql(table)) as copy:
                        for row in rows:
                            copy.write_row(row)

    def _write_rows_idempotent(self, rows: list[SpoolRow]) -> None:
        """Write rows that may already be in the database; existing ids are kept."""
        conn = self._conn
        assert conn is not None
        try:
            write_idempotent(conn, rows)
        except psycopg.OperationalError:
            raise
        except psycopg.Error as exc:
            if len(rows) == 1:
                self._reject(rows, exc)
                return
            # Find the rows at fault (a run that does not exist, a bad value)
            # and keep the others: slow, but this path is for mistakes only.
            for row in rows:
                self._write_rows_idempotent([row])

    def _reject(self, rows: list[SpoolRow], exc: Exception) -> None:
        """Rows the database refuses even idempotently: keep them, loudly, for a human."""
        rejected = Spool(self.spool.directory / "rejected")
        rejected.append(rows)
        rejected.close()
        self.stats.rejected += len(rows)
        log.error("the database refused %d log rows (%s); they are kept in %s",
                  len(rows), exc, rejected.directory)

    def _spool(self, records: Sequence[Record]) -> None:
        self.spool.append(spool_rows(records))
        self.stats.rows_spooled += len(records)

    def _notify(self, batch: list[tuple[Record, Sink | None]]) -> None:
        by_sink: dict[Sink, list[Record]] = defaultdict(list)
        for record, sink in batch:
            if sink is not None:
                by_sink[sink].append(record)
        for sink, records in by_sink.items():
            try:
                sink(records)
            except Exception:  # a sink's bug must not stop the writer
                log.exception("log sink failed")

    # --- connection and recovery -----------------------------------------

    def _connect(self) -> None:
        self._conn = psycopg.connect(
            self.conninfo, autocommit=True, connect_timeout=max(1, int(self.connect_timeout)),
            application_name="autogenesis-log-writer",
        )

    def _lose_connection(self, exc: Exception) -> None:
        log.warning("database unreachable (%s); spooling log rows to %s",
                    exc, self.spool.directory)
        if self._conn is not None:
            self._conn.close()
        self._conn = None
        self._next_retry = time.monotonic() + self.retry_interval
        self._spool([Event("spool", None, detail={"state": "on", "reason": str(exc)[:500]})])

    def _try_recover(self) -> None:
        if time.monotonic() < self._next_retry:
            return
        self._next_retry = time.monotonic() + self.retry_interval
        try:
            self._connect()
            drained = self._drain_spools()
        except psycopg.OperationalError as exc:
            if self._conn is not None:
                self._conn.close()
            self._conn = None
            log.debug("still no database: %s", exc)
            return
        log.warning("database reachable again; %d spooled rows written", drained)
        self._write([Event("spool", None, detail={"state": "off", "rows": drained})])

    def _drain_spools(self) -> int:
        drained = 0
        own = self.spool.read_own()
        for start in range(0, len(own), _DRAIN_CHUNK):
            self._write_rows_idempotent(own[start:start + _DRAIN_CHUNK])
        if own:
            self.spool.clear_own()
            drained += len(own)
        for path, rows in self.spool.orphans():
            for start in range(0, len(rows), _DRAIN_CHUNK):
                self._write_rows_idempotent(rows[start:start + _DRAIN_CHUNK])
            Spool.remove(path)
            drained += len(rows)
        self.stats.rows_drained += drained
        return drained


def write_idempotent(conn: psycopg.Connection, rows: list[SpoolRow]) -> None:
    """Write rows in the spool's text form, which may already be in the database, in one
    transaction: existing ids are kept (a run's row is upserted), each table's rows in
    the order given."""
    by_table: dict[str, list[list[str | None]]] = defaultdict(list)
    for table, row in rows:
        by_table[table].append(row)
    with conn.transaction(), conn.cursor() as cur:
        if "runs" in by_table:
            cur.executemany(sql.UPSERT_RUN_SQL, by_table.pop("runs"))
        for table in sql.TABLES_WITH_RUN:
            if table not in by_table:
                continue
            cur.execute(sql.create_stage_sql(table))
            with cur.copy(sql.stage_copy_sql(table)) as copy:
                for row in by_table[table]:
                    copy.write_row(row)
            cur.execute(sql.stage_insert_sql(table))
