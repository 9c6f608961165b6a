"""A log without a database: records appended to a JSON-lines file.

A generated system run in the sandbox has no network, so it cannot reach
PostgreSQL. With `python -m <slug> --trace FILE --run-id ID` it logs through
a `TraceLog` instead: every message, model call and event is written to
FILE as one line in the spool's row form (`{"t": table, "r": [values]}`),
and the trusted side reads the file back and writes the rows of that run to
the database (`read_trace` + `Store.ingest`). The file is flushed after
every record, so a run killed at its deadline keeps what it did so far.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO
from uuid import UUID

from autogenesis.store.protocol import Sink
from autogenesis.store.records import Record, Run, RunStatus
from autogenesis.store.spool import SpoolRow, row_line, spool_rows
from autogenesis.store.sql import COLUMNS

TRACED_TABLES = ("messages", "completions", "events")
"""What a traced run may log; the run row itself is written by whoever started it."""


class TraceLog:
    """The part of `Store` a running system uses (`log`, `flush`, runs), into a file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[str] | None = path.open("a", encoding="utf-8")

    def log(self, record: Record, sink: Sink | None = None) -> None:
        if self._file is None:
            raise ValueError(f"the trace {self.path} is closed")
        for table, values in spool_rows([record]):
            self._file.write(row_line(table, values))
        self._file.flush()
        if sink is not None:
            sink([record])

    def flush(self, timeout: float | None = None) -> bool:
        return True

    def start_run(self, run: Run) -> Run:
        return run  # the parent logged it

    def finish_run(self, run: Run, status: RunStatus, *, error: str | None = None,
                   package_path: str | None = None) -> Run:
        return run.finished(status, error=error)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> TraceLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_trace(path: Path, run_id: UUID) -> list[SpoolRow]:
    """The rows of run `run_id` in a trace file written by untrusted code.

    Only messages, completions and events of that run, with the right number
    of columns, are kept; a torn or foreign line is dropped.
    """
    rows: list[SpoolRow] = []
    if not path.is_file():
        return rows
    wanted = str(run_id)
    with path.open(encoding="utf-8", errors="replace") as lines:
        for line in lines:
            try:
                item = json.loads(line)
                table, values = item["t"], item["r"]
            except (json.JSONDecodeError, KeyError, TypeError):
                continue
            if table not in TRACED_TABLES or not isinstance(values, list):
                continue
            columns = COLUMNS[table]
            if len(values) != len(columns) or values[columns.index("run_id")] != wanted:
                continue
            if not all(v is None or isinstance(v, str) for v in values):
                continue
            rows.append((table, values))
    return rows
