"""The embedded server's life across processes: reuse, orphans, SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import psycopg
import pytest

from conftest import PYTHON, REPO

# Starts (or joins) the embedded server, prints its postmaster pid and a query
# result, then waits for a line on stdin before exiting normally.
HOLDER = """
import sys
from pathlib import Path
import psycopg
from autogenesis.store import embedded
url = embedded.start(Path(sys.argv[1]))
pid = int((Path(sys.argv[1]) / "postmaster.pid").read_text().split()[0])
with psycopg.connect(url) as conn:
    one = conn.execute("SELECT 1").fetchone()[0]
print(pid, one, url, flush=True)
sys.stdin.readline()
"""


class Holder:
    def __init__(self, pgdata: Path) -> None:
        self.process = subprocess.Popen([PYTHON, "-c", HOLDER, str(pgdata)], cwd=REPO,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True)
        line = self.process.stdout.readline()
        assert line, self.process.stderr.read()
        pid, one, self.url = line.split()
        self.server_pid = int(pid)
        assert one == "1"

    def exit(self) -> int:
        self.process.stdin.close()
        return self.process.wait(30)


def running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is not running either
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "State:\tZ" not in status.read_text()


def wait_stopped(pid: int, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while running(pid):
        assert time.monotonic() < deadline, f"server {pid} still running"
        time.sleep(0.05)


def handles(pgdata: Path) -> list[int]:
    return json.loads((pgdata / ".handle_pids.json").read_text())


@pytest.fixture
def pgdata(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("emb") / "pgdata"


def test_a_second_process_reuses_the_running_server_and_the_last_one_stops_it(
        pgdata: Path) -> None:
    first = Holder(pgdata)
    second = Holder(pgdata)
    assert second.server_pid == first.server_pid
    assert sorted(handles(pgdata)) == sorted([first.process.pid, second.process.pid])
    assert second.exit() == 0
    assert running(first.server_pid)
    assert first.exit() == 0
    wait_stopped(first.server_pid)


def test_an_orphaned_server_is_recovered_after_kill_9(pgdata: Path) -> None:
    dead = Holder(pgdata)
    os.kill(dead.process.pid, signal.SIGKILL)
    dead.process.wait(10)
    assert running(dead.server_pid)  # orphaned: nobody will stop it
    assert handles(pgdata) == [dead.process.pid]

    heir = Holder(pgdata)
    assert heir.server_pid == dead.server_pid  # reused, not a second server
    assert handles(pgdata) == [heir.process.pid]  # the dead pid was dropped
    assert heir.exit() == 0
    wait_stopped(heir.server_pid)  # and the server is no longer orphaned


def test_sigterm_releases_the_server(pgdata: Path) -> None:
    holder = Holder(pgdata)
    holder.process.send_signal(signal.SIGTERM)
    assert holder.process.wait(30) == 128 + signal.SIGTERM
    wait_stopped(holder.server_pid)
    assert handles(pgdata) == []


def test_a_server_killed_with_its_owner_is_started_again(pgdata: Path) -> None:
    dead = Holder(pgdata)
    os.kill(dead.process.pid, signal.SIGKILL)
    os.kill(dead.server_pid, signal.SIGKILL)
    dead.process.wait(10)
    wait_stopped(dead.server_pid)

    fresh = Holder(pgdata)
    assert fresh.server_pid != dead.server_pid
    with psycopg.connect(fresh.url) as conn:
        assert conn.execute("SELECT 2").fetchone()[0] == 2
    assert fresh.exit() == 0
    wait_stopped(fresh.server_pid)
