"""A local, durable spool for log rows the database could not take.

Each process appends to its own file `spool/<pid>-<random>.jsonl` and holds
an exclusive `flock` on it while it lives. Rows are written as JSON lines
and fsynced before the records count as logged, so a row in the spool
survives the process being killed. When the database is back the owner
drains its file; files whose owner died (their lock can be taken) are
drained by whichever process gets there next. A torn last line (the
process died mid-write, before the fsync returned) is dropped: it was never
acknowledged, so nothing acted on it.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import secrets
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from autogenesis.store.records import Record

SpoolRow = tuple[str, list[str | None]]
"""(table, values as COPY text): the form rows take in the spool."""

log = logging.getLogger(__name__)


def row_line(table: str, values: list[str | None]) -> str:
    """One row as a line of JSON, `{"t": table, "r": values}`: the spool's, a trace's and
    an exported run's form. Non-ASCII is escaped, so any text (a lone surrogate in a
    model's output included) can be written as UTF-8."""
    return json.dumps({"t": table, "r": values}, separators=(",", ":")) + "\n"


def as_text(value: Any) -> str | None:
    """A column value as PostgreSQL text input (what COPY reads)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (str, int, float, UUID)):
        return str(value)
    raise TypeError(f"cannot spool a value of type {type(value).__name__}")


def spool_rows(records: Sequence[Record]) -> list[SpoolRow]:
    """Records in the spool's form: (table, column values as text)."""
    return [(r.table, [as_text(v) for v in r.row()]) for r in records]


class Spool:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._fd: int | None = None
        self._path: Path | None = None
        self.pending = 0
        """Rows in this process's spool file not yet written to the database."""

    def append(self, rows: list[SpoolRow]) -> None:
        """Append rows and fsync: when this returns, the rows survive a crash."""
        if not rows:
            return
        fd = self._own_fd()
        data = "".join(row_line(t, r) for t, r in rows)
        os.write(fd, data.encode())
        os.fsync(fd)
        self.pending += len(rows)

    def read_own(self) -> list[SpoolRow]:
        if self._path is None or self.pending == 0:
            return []
        return list(_read(self._path))

    def clear_own(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            os.fsync(self._fd)
        self.pending = 0

    def orphans(self) -> Iterator[tuple[Path, list[SpoolRow]]]:
        """Spool files of processes that died, each locked by us while the caller drains it.

        The caller deletes a file with `remove()` once its rows are in the database.
        """
        if not self.directory.is_dir():
            return
        for path in sorted(self.directory.glob("*.jsonl")):
            if path == self._path:
                continue
            try:
                fd = os.open(path, os.O_RDWR)
            except FileNotFoundError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)  # its owner is alive and will drain it itself
                continue
            try:
                yield path, list(_read(path))
            finally:
                os.close(fd)

    @staticmethod
    def remove(path: Path) -> None:
        path.unlink(missing_ok=True)

    def close(self) -> None:
        """Release this process's spool file; an empty one is deleted."""
        if self._fd is None:
            return
        if self.pending == 0 and self._path is not None:
            self._path.unlink(missing_ok=True)
        os.close(self._fd)
        self._fd = None
        self._path = None

    def _own_fd(self) -> int:
        if self._fd is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._path = self.directory / f"{os.getpid()}-{secrets.token_hex(4)}.jsonl"
            fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX)
            self._fd = fd
        return self._fd


def _read(path: Path) -> Iterator[SpoolRow]:
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            try:
                item = json.loads(line)
            except json.JSONDecodeError:
                log.warning("%s:%d: dropping a torn spool line (never acknowledged)", path, number)
                continue
            yield item["t"], item["r"]
