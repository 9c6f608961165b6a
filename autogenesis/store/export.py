"""A logged run as a file: `autogenesis runs export` writes it, `runs import` reads it.

One JSON object per line, `{"t": table, "r": [column values as the text COPY reads]}`
(`Store.export_run`), gzip-compressed when the file name ends in `.gz`. A run
imported into another database can be inspected, replayed and re-executed there.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import IO, cast

from autogenesis.errors import UserError
from autogenesis.store import sql
from autogenesis.store.spool import SpoolRow, row_line


def _open(path: Path, mode: str) -> IO[str]:
    if path.suffix == ".gz":
        return cast(IO[str], gzip.open(path, mode + "t", encoding="utf-8"))
    return path.open(mode, encoding="utf-8")


def write_rows(path: Path, rows: list[SpoolRow]) -> None:
    with _open(path, "w") as out:
        for table, values in rows:
            out.write(row_line(table, values))


def read_rows(path: Path) -> list[SpoolRow]:
    """The rows of an exported run; a clear error for a file that is not one."""
    rows: list[SpoolRow] = []
    try:
        with _open(path, "r") as lines:
            for number, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                    table, values = row["t"], row["r"]
                except (ValueError, TypeError, KeyError):
                    raise UserError(f"{path}:{number}: not a row of an exported run") from None
                if table not in sql.COLUMNS or not isinstance(values, list) or len(
                        values) != len(sql.COLUMNS[table]):
                    raise UserError(f"{path}:{number}: not a row of an exported run "
                                    f"(table {table!r})")
                rows.append((table, values))
    except OSError as exc:   # missing, unreadable, or not gzip
        raise UserError(f"cannot read {path}: {exc}") from exc
    if not any(table == "runs" for table, _ in rows):
        raise UserError(f"{path} holds no run (made by `autogenesis runs export`?)")
    return rows
