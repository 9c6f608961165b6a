"""`autogenesis runs prune`: retention deletes exactly the old finished runs, with all
their rows and the runs they started, in one transaction (real PostgreSQL)."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from autogenesis.bus import Message
from autogenesis.store import Store
from autogenesis.store.records import Event, Run, now

from conftest import REPO


@pytest.fixture
def store(service_url: str, tmp_path: Path):
    with Store(service_url, spool_dir=tmp_path / "spool") as opened:
        yield opened


def logged(store: Store, name: str, *, days: int, status: str = "succeeded",
           kind: str = "build", parent: Run | None = None) -> Run:
    started = now() - timedelta(days=days)
    run = Run(kind=kind, name=name, status=status, started_at=started,  # type: ignore[arg-type]
              finished_at=None if status == "running" else started + timedelta(minutes=2),
              config={"parent_run": str(parent.id)} if parent else {})
    store.log(run)
    store.log(Message.new(run_id=run.id, sender="pipeline", recipient="design",
                          kind="produce", body={"n": 1}))
    store.log(Event("error", run.id, agent="design", detail={"why": name}))
    return run


def test_prune_deletes_old_finished_runs_with_their_rows_and_children(store: Store,
                                                                      env: dict[str, str]):
    old = logged(store, "old", days=40)
    child = logged(store, "old-child", days=40, kind="system", parent=old)
    failed = logged(store, "failed", days=40, status="failed")
    running = logged(store, "running", days=40, status="running")
    recent = logged(store, "recent", days=2)
    kept_child = logged(store, "recent-child", days=40, kind="system", parent=recent)
    lone = logged(store, "lone-system", days=40, kind="system")
    store.flush()
    ours = {r.id for r in (old, child, failed, running, recent, kept_child, lone)}

    dry = subprocess.run([sys.executable, "-m", "autogenesis", "runs", "prune",
                          "--older-than", "30d", "--keep-failed", "--dry-run"], env=env,
                         capture_output=True, text=True, timeout=120, cwd=REPO)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.startswith("would delete 3 run(s)")
    assert all(store.run(r) is not None for r in ours)

    done = subprocess.run([sys.executable, "-m", "autogenesis", "runs", "prune",
                           "--older-than", "30d", "--keep-failed"], env=env,
                          capture_output=True, text=True, timeout=120, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("deleted 3 run(s)") and "3 messages" in done.stdout
    left = {r for r in ours if store.run(r) is not None}
    assert left == {failed.id, running.id, recent.id, kept_child.id}
    for gone in (old, child, lone):
        assert store.count("messages", gone.id) == 0 and store.count("events", gone.id) == 0
    assert store.count("messages", recent.id) == 1

    assert store.prune(now() - timedelta(days=30))["runs"] == 1   # now the failed one
    assert store.run(failed.id) is None and store.run(running.id) is not None

    bad = subprocess.run([sys.executable, "-m", "autogenesis", "runs", "prune",
                          "--older-than", "soon"], env=env, capture_output=True, text=True,
                         timeout=120, cwd=REPO)
    assert bad.returncode == 1 and "give a number and a unit" in bad.stderr
