"""The deployment check's clean venv: a generated package installs with its declared
dependencies only, from the runtime's wheelhouse, seeing none of the builder's packages.
A package that declares a dependency that does not exist fails deployment with that
reason; one that installs answers its first example through a real model server."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

import pytest
from llama_server import KEY, llama_server
from scripted_build import InProcessRunner, build_model
from test_build import run_build, spec_text

from autogenesis.artefacts import Deployment
from autogenesis.build.orchestrator import Build, BuildOptions, Seams
from autogenesis.build.scenarios import Installed, SandboxRunner
from autogenesis.errors import StageFailed
from autogenesis.store import Store

MISSING = "autogenesis-no-such-dependency"


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory, service_url: str) -> Path:
    """A generated package (trip_planner.md, scripted build model, stages 1-4)."""
    out = tmp_path_factory.mktemp("deploy")
    with Store(service_url, spool_dir=out / "spool") as store:
        return run_build(store, spec_text("trip_planner.md"), out / "generated").package_path


def test_a_package_installs_without_torch_and_answers_through_a_model_server(
        package: Path, tmp_path: Path, service_url: str):
    done = SandboxRunner().install(package, tmp_path, package.name)
    assert done.installed, done.output
    for heavy in ("torch", "transformers", "xgrammar", "hatchling", "pytest"):
        assert f"{heavy} absent" in done.output
    python = tmp_path / "venv" / "bin" / "python"
    sees = subprocess.run([python, "-c", "import torch"], capture_output=True, text=True)
    assert sees.returncode != 0 and "No module named 'torch'" in sees.stderr
    assert 0 < done.venv_bytes < 200e6 and done.install_seconds > 0
    print(f"venv {done.venv_bytes / 1e6:.1f} MB, made and installed in "
          f"{done.install_seconds:.1f}s")

    config = json.loads((package / package.name / "config.json").read_text())
    command = tmp_path / "venv" / "bin" / package.name.replace("_", "-")
    bare = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "AUTOGENESIS_API_KEY": KEY}
    with llama_server() as url:
        # logged to a PostgreSQL server through the runtime's own client
        ran = subprocess.run([command, "--example", "1", "--json"], capture_output=True,
                             text=True, timeout=900, env={
                                 **bare, "AUTOGENESIS_MODEL_URL": url,
                                 "AUTOGENESIS_DATABASE_URL": service_url})
        assert ran.returncode == 0, ran.stderr[-2000:]
        reply = json.loads(ran.stdout)
        assert reply["answer"].strip() and reply["exit"] in config["agents"]
        # no database and no embedded server in the runtime: one line saying what to do
        unlogged = subprocess.run([command, "--example", "1", "--model", url],
                                  capture_output=True, text=True, timeout=900, env=bare)
    assert unlogged.returncode == 1 and "Traceback" not in unlogged.stderr
    assert "install `autogenesis[embedded]`" in unlogged.stderr and "--no-log" in unlogged.stderr
    with Store(service_url, spool_dir=tmp_path / "spool") as store:
        run = next(r for r in store.runs(limit=20) if r.kind == "system"
                   and store.run(r.id)["config"].get("input") == config["examples"][0]["input"])
        completions = store.completions(run.id)
    assert completions and {c["backend"] for c in completions} == {"openai"}
    assert {c["model_id"] for c in completions} == {url}


class DeclaresAMissingDependency(InProcessRunner):
    """The generator's package, with a dependency in pyproject.toml that no index has."""

    def install(self, source: Path, work: Path, slug: str) -> Installed:
        pyproject = source / "pyproject.toml"
        pyproject.write_text(pyproject.read_text().replace(
            'dependencies = ["autogenesis>=0.1"]',
            f'dependencies = ["autogenesis>=0.1", "{MISSING}>=1"]'))
        return super().install(source, work, slug)


def test_a_wheel_declaring_a_dependency_that_does_not_exist_fails_deployment(
        service_store: Store, tmp_path: Path):
    build = Build(service_store, build_model(),
                  options=BuildOptions(out_dir=tmp_path / "out", max_rounds=1),
                  seams=Seams(runner=DeclaresAMissingDependency()))
    with pytest.raises(StageFailed) as failed:
        asyncio.run(build.run(spec_text("trip_planner.md"), spec_path="spec.md"))
    assert failed.value.stage == "deployment", failed.value
    assert "installed_in_fresh_venv" in failed.value.reason
    assert f"No matching distribution found for {MISSING}" in failed.value.reason
    service_store.flush()
    deployed = [Deployment.model_validate(a["body"]) for a in
                service_store.artefacts(build.observer.run_id) if a["kind"] == "Deployment"]
    assert deployed and not any(d.installed for d in deployed)
    assert deployed[-1].wheel.endswith(".whl")   # it built; it did not install
