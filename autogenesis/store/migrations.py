"""Schema migrations: an append-only, ordered list of `.sql` files.

`NNNN_name.sql` is version NNNN; versions run 1, 2, 3... with no gaps. Each
migration is applied in its own transaction and recorded in
`schema_migrations` with the file's sha256, so an applied migration that was
edited afterwards is refused instead of silently diverging. A PostgreSQL
advisory lock makes concurrent migrators (two processes starting at once)
apply each migration exactly once.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from pathlib import Path

import psycopg

from autogenesis.errors import MigrationError
from autogenesis.store import sql

_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str = field(repr=False)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


@dataclass(frozen=True)
class MigrationStatus:
    applied: list[tuple[int, str, datetime]]
    pending: list[Migration]


def default_migrations_dir() -> Path:
    """`migrations/` of the source tree, or its copy inside an installed wheel."""
    packaged = resources.files("autogenesis") / "_migrations"
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[2] / "migrations"


def load_migrations(directory: Path | None = None) -> list[Migration]:
    directory = directory or default_migrations_dir()
    migrations = []
    for path in sorted(directory.glob("*.sql")):
        match = _FILE.match(path.name)
        if not match:
            raise MigrationError(f"{path}: migration files are named NNNN_name.sql")
        migrations.append(Migration(int(match[1]), match[2], path.read_text(encoding="utf-8")))
    for expected, migration in enumerate(migrations, start=1):
        if migration.version != expected:
            raise MigrationError(
                f"migrations must be numbered 1, 2, 3...: found {migration.version:04d} "
                f"where {expected:04d} was expected in {directory}"
            )
    if not migrations:
        raise MigrationError(f"no migrations found in {directory}")
    return migrations


def _check_applied(applied: list[tuple[int, str, str, datetime]],
                   migrations: list[Migration]) -> None:
    known = {m.version: m for m in migrations}
    for version, name, digest, _ in applied:
        migration = known.get(version)
        if migration is None:
            raise MigrationError(
                f"the database has migration {version:04d}_{name} which this version of "
                "autogenesis does not know: upgrade autogenesis"
            )
        if migration.sha256 != digest:
            raise MigrationError(
                f"migration {version:04d}_{name}.sql was changed after it was applied; "
                "applied migrations are never edited: add a new migration instead"
            )


def status(conn: psycopg.Connection, migrations: list[Migration]) -> MigrationStatus:
    exists = conn.execute(sql.MIGRATIONS_TABLE_EXISTS_SQL).fetchone()
    if not (exists and exists[0]):
        return MigrationStatus(applied=[], pending=list(migrations))
    applied = conn.execute(sql.SELECT_APPLIED_SQL).fetchall()
    _check_applied(applied, migrations)
    done = {row[0] for row in applied}
    return MigrationStatus(
        applied=[(v, n, at) for v, n, _, at in applied],
        pending=[m for m in migrations if m.version not in done],
    )


def upgrade(conn: psycopg.Connection, migrations: list[Migration]) -> list[Migration]:
    """Apply every pending migration in order; return the ones this call applied.

    `conn` must be in autocommit mode: each migration gets its own transaction
    while the session-level advisory lock is held across all of them.
    """
    if not conn.autocommit:
        raise MigrationError("upgrade() needs an autocommit connection")
    applied_now: list[Migration] = []
    conn.execute(sql.MIGRATION_LOCK_SQL, (sql.MIGRATION_LOCK_KEY,))
    try:
        conn.execute(sql.CREATE_MIGRATIONS_TABLE_SQL)
        for migration in status(conn, migrations).pending:
            try:
                with conn.transaction():
                    conn.execute(migration.sql)
                    conn.execute(
                        sql.RECORD_MIGRATION_SQL,
                        (migration.version, migration.name, migration.sha256),
                    )
            except psycopg.Error as exc:
                raise MigrationError(
                    f"migration {migration.version:04d}_{migration.name}.sql failed and was "
                    f"rolled back: {exc}"
                ) from exc
            applied_now.append(migration)
    finally:
        conn.execute(sql.MIGRATION_UNLOCK_SQL, (sql.MIGRATION_LOCK_KEY,))
    return applied_now
