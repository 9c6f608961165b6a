"""`autogenesis build` end to end (all nine stages) with the real default model.

The spec is the free-prose one, so the model has real work: naming the three
agents the spec describes without naming them, writing prompt variants that
are scored by trial runs, the package description, the approver's
judgements, the docs' prose, and the generated system itself answering the
spec's example in the sandbox (tests, tuning trials, the installed wheel).
"""

from __future__ import annotations

import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from test_cli import cli, model_env

from autogenesis.store import Store


@pytest.mark.timeout(900)
def test_build_with_the_default_model(env: dict[str, str], service_url: str, tmp_path: Path):
    out = tmp_path / "generated"
    result = cli("build", "examples/lesson_pipeline.md", "--out", str(out),
                 env=model_env(env), timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "approved" in result.stderr
    package = out / "lesson_builder"
    assert f"built {package}" in result.stdout
    summary = result.stdout.strip().splitlines()
    run_id = uuid.UUID(summary[0].rsplit("run ", 1)[1])
    reached = re.search(r"examples reaching the exit agent \(\w+\): (\d+)/(\d+)",
                        result.stdout)
    assert reached and reached[1] == reached[2] != "0", result.stdout
    assert "installed in a fresh venv and run" in result.stdout
    assert "time by stage: understanding" in result.stdout
    assert re.fullmatch(r"built lesson_builder: passes \d+/\d+ of its spec's checks; one call "
                        r"of the same model passes \d+/\d+.*", summary[-1]), summary[-1]

    with Store(service_url, spool_dir=tmp_path / "spool") as store:
        run = store.run(run_id)
        assert run["status"] == "succeeded" and run["kind"] == "build"
        verdicts = store.verdicts(run_id)
        approved = {v["stage"] for v in verdicts if v["approved"]}
        # testing is approved, or kept after falling short of one call (and says so)
        shortfall = store.events(run_id, "shortfall")
        assert approved | {e["agent"] for e in shortfall} == {
            "understanding", "design", "prompt_design", "generator", "testing", "tuning",
            "documentation", "deployment", "feedback"}
        assert bool(shortfall) == ("kept after falling short of one call" in result.stdout)
        completions = store.completions(run_id)
        agents = {c["agent"] for c in completions}
        assert {"understanding", "prompt_design", "generator", "approver",
                "documentation"} <= agents
        assert all(c["backend"] in ("llamacpp", "transformers") for c in completions)
        files = store._fetch("SELECT path FROM files WHERE run_id = %s", (run_id,))
        assert {f["path"] for f in files} >= {
            "lesson_builder/ARCHITECTURE.md", "lesson_builder/docs/agents.md",
            "lesson_builder/dist/lesson_builder-0.1.0-py3-none-any.whl"}
        systems = [r for r in store.runs(limit=50) if r.kind == "system"]
        mine = [r for r in systems if store.run(r.id)["config"].get("parent_run") ==
                str(run_id)]
        assert mine and all(store.count("completions", r.id) > 0 for r in mine)

    config = (package / "lesson_builder" / "config.json").read_text()
    assert '"reviewer"' in config
    assert (package / "dist" / "lesson_builder-0.1.0-py3-none-any.whl").is_file()
    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                           cwd=package, capture_output=True, text=True, timeout=300)
    assert tests.returncode == 0, tests.stdout[-2000:]
    assert (package / "tests" / "recorded_answers.json").is_file()
    # the live acceptance tests run the real model on both examples: each passes or fails
    # on the spec's checks, none errors
    live = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "-m", "acceptance"], cwd=package, capture_output=True, text=True,
                          timeout=300, env=model_env(env))
    counts = dict((k, int(n)) for n, k in re.findall(r"(\d+) (passed|failed|error)",
                                                   live.stdout.splitlines()[-1]))
    assert counts.get("passed", 0) + counts.get("failed", 0) == 2 and "error" not in counts, \
        live.stdout[-2000:]

    # the logged run re-executes from the log, without the model, byte for byte
    again = subprocess.run([sys.executable, "-m", "autogenesis", "replay", str(run_id),
                            "--reexecute", "--out", str(tmp_path / "again")], env=env,
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stdout + again.stderr[-2000:]
    assert again.stdout.startswith("identical"), again.stdout
    for written in package.rglob("*"):
        if written.is_file() and "__pycache__" not in written.parts \
                and ".pytest_cache" not in written.parts:
            twin = tmp_path / "again" / package.name / written.relative_to(package)
            assert twin.read_bytes() == written.read_bytes(), written
    print(again.stdout)  # the re-execution's time beside the original's (-s shows it)


def test_build_errors_are_one_line(env: dict[str, str], tmp_path: Path):
    empty = tmp_path / "empty.md"
    empty.write_text("  \n")
    result = cli("build", str(empty), env=env)
    assert result.returncode == 1
    assert result.stderr.strip() == f"autogenesis: error: {empty} is empty"
    missing = cli("build", str(tmp_path / "nope.md"), env=env)
    assert missing.returncode == 1 and "does not exist" in missing.stderr
    assert "Traceback" not in missing.stderr
    cases = tmp_path / "cases.jsonl"
    cases.write_text('{"input": "Rome", "checks": [{"mentions": "Rome"}]}\n{"input": 3}\n')
    bad = cli("build", "examples/trip_planner.md", "--eval", str(cases), env=env)
    assert bad.returncode == 1 and bad.stderr.strip() == (
        f"autogenesis: error: {cases}, line 2: \"input\" must be a non-empty string")


def test_build_help_explains_the_options(env: dict[str, str]):
    result = cli("build", "--help", env=env)
    assert result.returncode == 0
    for option in ("--out", "--max-rounds", "--max-iterations", "--budget", "--stage-timeout",
                   "--model", "--backend", "--eval", "--min-pass"):
        assert option in result.stdout
