"""Shared fixtures: real PostgreSQL servers, never a mock.

Two servers back the store tests:

- "service": the PostgreSQL server of the machine (127.0.0.1:5432 here, or
  AUTOGENESIS_TEST_DATABASE_URL): each test session creates a database of its
  own and drops it at the end;
- "embedded": the embedded server of autogenesis, started in a temporary
  AUTOGENESIS_HOME for this session.
"""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from autogenesis.store import Store, embedded
from autogenesis.store.memory import MemoryStore
from autogenesis.store.protocol import LogStore

ADMIN_URL = os.environ.get("AUTOGENESIS_TEST_DATABASE_URL",
                           "postgresql://postgres@127.0.0.1:5432/postgres")
REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable


def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


@pytest.fixture(scope="session")
def admin_url() -> str:
    try:
        with psycopg.connect(ADMIN_URL, connect_timeout=5):
            pass
    except psycopg.OperationalError as exc:
        pytest.fail(
            f"the tests need a PostgreSQL server at {ADMIN_URL} "
            f"(set AUTOGENESIS_TEST_DATABASE_URL to another admin URL): {exc}"
        )
    return ADMIN_URL


@pytest.fixture(scope="session")
def make_database(admin_url: str) -> Iterator:
    """Create fresh, empty databases on the service server; all dropped at session end."""
    created: list[str] = []

    def make() -> str:
        name = f"ag_test_{os.getpid()}_{secrets.token_hex(4)}"
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        created.append(name)
        return _with_database(admin_url, name)

    yield make
    with psycopg.connect(admin_url, autocommit=True) as conn:
        for name in created:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="session")
def service_url(make_database) -> str:
    """One migrated database on the service server, shared by the session."""
    url = make_database()
    Store(url, spool_dir=Path("/nonexistent")).upgrade()
    return url


@pytest.fixture(scope="session")
def embedded_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("home")


@pytest.fixture(scope="session")
def embedded_url(embedded_home: Path) -> str:
    url = embedded.start(embedded_home / "pgdata")
    Store(url, spool_dir=Path("/nonexistent")).upgrade()
    return url


@pytest.fixture(params=["service", "embedded"])
def store_url(request: pytest.FixtureRequest) -> str:
    return request.getfixturevalue(f"{request.param}_url")


@pytest.fixture
def store(store_url: str, tmp_path: Path) -> Iterator[Store]:
    with Store(store_url, spool_dir=tmp_path / "spool") as opened:
        yield opened


@pytest.fixture
def env(tmp_path: Path, service_url: str) -> dict[str, str]:
    """Environment for CLI subprocesses: the service database, a private home."""
    return {
        **os.environ,
        "AUTOGENESIS_HOME": str(tmp_path / "home"),
        "AUTOGENESIS_DATABASE_URL": service_url,
    }


@pytest.fixture(params=[pytest.param("memory", marks=pytest.mark.fast), "service"])
def build_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LogStore]:
    """A log for a build's control flow: in memory (the fast tier: `pytest -m fast`) and
    on the service server."""
    if request.param == "memory":
        yield MemoryStore()
        return
    with Store(request.getfixturevalue("service_url"), spool_dir=tmp_path / "spool") as opened:
        yield opened


@pytest.fixture
def service_store(service_url: str, tmp_path: Path) -> Iterator[Store]:
    """A store on the service server only, for builds too slow to run on both servers."""
    with Store(service_url, spool_dir=tmp_path / "spool") as opened:
        yield opened
