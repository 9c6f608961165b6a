"""Migrations on real, blank databases of the service server."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import psycopg
import pytest

from autogenesis.errors import MigrationError
from autogenesis.store import Store
from autogenesis.store.migrations import default_migrations_dir, load_migrations

from conftest import PYTHON, REPO

LOG_TABLES = {"runs", "messages", "completions", "artefacts", "verdicts", "events", "files",
              "observations"}


def tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
    return {row[0] for row in rows}


def store(url: str, tmp_path: Path) -> Store:
    return Store(url, spool_dir=tmp_path / "spool")


def test_blank_database_gets_the_whole_schema_and_a_rerun_changes_nothing(
        make_database, tmp_path: Path) -> None:
    url = make_database()
    assert tables(url) == set()
    applied = store(url, tmp_path).upgrade()
    assert [m.version for m in applied] == list(range(1, len(load_migrations()) + 1))
    assert tables(url) == LOG_TABLES | {"schema_migrations"}
    assert store(url, tmp_path).upgrade() == []
    info = store(url, tmp_path).info()
    assert info.pending == []
    assert [v for v, _, _ in info.applied] == [m.version for m in applied]


def copy_migrations(tmp_path: Path) -> Path:
    directory = tmp_path / "migrations"
    shutil.copytree(default_migrations_dir(), directory)
    return directory


def migrated_copy(make_database, tmp_path: Path) -> tuple[str, Path]:
    """A fresh database upgraded from a private copy of the migrations."""
    url = make_database()
    directory = copy_migrations(tmp_path)
    store(url, tmp_path).upgrade(directory)
    return url, directory


def add_migration(directory: Path, name: str, text: str) -> str:
    """Append the next migration; return its NNNN_name."""
    full = f"{len(load_migrations(directory)) + 1:04d}_{name}"
    (directory / f"{full}.sql").write_text(text)
    return full


def test_an_older_database_is_upgraded_with_only_the_new_migrations(
        make_database, tmp_path: Path) -> None:
    url, directory = migrated_copy(make_database, tmp_path)
    added = add_migration(directory, "add_notes", "ALTER TABLE runs ADD COLUMN notes text;")
    assert store(url, tmp_path).info(directory).pending == [added]
    applied = store(url, tmp_path).upgrade(directory)
    assert [m.version for m in applied] == [int(added[:4])]
    with psycopg.connect(url) as conn:
        conn.execute("SELECT notes FROM runs")


def test_an_edited_applied_migration_is_refused(make_database, tmp_path: Path) -> None:
    url, directory = migrated_copy(make_database, tmp_path)
    first = sorted(directory.glob("*.sql"))[0]
    first.write_text(first.read_text() + "\n-- a harmless looking edit\n")
    with pytest.raises(MigrationError, match="changed after it was applied"):
        store(url, tmp_path).upgrade(directory)


def test_a_failing_migration_is_rolled_back_whole(make_database, tmp_path: Path) -> None:
    url, directory = migrated_copy(make_database, tmp_path)
    added = add_migration(directory, "broken",
                          "CREATE TABLE half_done (id int); SELECT * FROM no_such_table;")
    with pytest.raises(MigrationError, match="rolled back"):
        store(url, tmp_path).upgrade(directory)
    assert "half_done" not in tables(url)
    assert store(url, tmp_path).info(directory).pending == [added]


def test_gaps_in_numbering_are_refused(tmp_path: Path) -> None:
    directory = copy_migrations(tmp_path)
    skipped = len(load_migrations(directory)) + 2     # one number left out
    (directory / f"{skipped:04d}_far_ahead.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="numbered"):
        load_migrations(directory)


def test_concurrent_processes_apply_each_migration_once(make_database, tmp_path: Path) -> None:
    url = make_database()
    script = (
        "import sys; from pathlib import Path; from autogenesis.store import Store; "
        "print(len(Store(sys.argv[1], spool_dir=Path('/nonexistent')).upgrade()))"
    )
    processes = [
        subprocess.Popen([PYTHON, "-c", script, url], cwd=REPO, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    results = [p.communicate(timeout=60) for p in processes]
    assert all(p.returncode == 0 for p in processes), results
    applied_counts = sorted(int(out) for out, _ in results)
    assert applied_counts == [0, 0, 0, len(load_migrations())]
    with psycopg.connect(url) as conn:
        versions = conn.execute("SELECT version FROM schema_migrations").fetchall()
    assert len(versions) == len(load_migrations())
