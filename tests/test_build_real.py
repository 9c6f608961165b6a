"""`autogenesis build` end to end (stages 1-4) with the real default model.

The spec is the free-prose one, so the model has real work: naming the three
agents the spec describes without naming them, writing prompt variants that
are scored by trial runs, the package description and the approver's
judgements.
"""

from __future__ import annotations

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
    run_id = uuid.UUID(result.stdout.strip().rsplit("run ", 1)[1])

    with Store(service_url, spool_dir=tmp_path / "spool") as store:
        run = store.run(run_id)
        assert run["status"] == "succeeded" and run["kind"] == "build"
        assert store.count("verdicts", run_id) >= 4
        completions = store.completions(run_id)
        agents = {c["agent"] for c in completions}
        assert {"understanding", "prompt_design", "generator", "approver"} <= agents
        assert all(c["backend"] in ("llamacpp", "transformers") for c in completions)
        assert store.count("files", run_id) == 9

    config = (package / "lesson_builder" / "config.json").read_text()
    assert '"reviewer"' in config
    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                           cwd=package, capture_output=True, text=True, timeout=300)
    assert tests.returncode == 0, tests.stdout[-2000:]


def test_build_errors_are_one_line(env: dict[str, str], tmp_path: Path):
    empty = tmp_path / "empty.md"
    empty.write_text("  \n")
    result = cli("build", str(empty), env=env)
    assert result.returncode == 1
    assert result.stderr.strip() == f"autogenesis: error: {empty} is empty"
    missing = cli("build", str(tmp_path / "nope.md"), env=env)
    assert missing.returncode == 1 and "does not exist" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_build_help_explains_the_options(env: dict[str, str]):
    result = cli("build", "--help", env=env)
    assert result.returncode == 0
    for option in ("--out", "--max-rounds", "--stage-timeout", "--model", "--backend"):
        assert option in result.stdout
