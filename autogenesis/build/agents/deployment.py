"""Stage 8, deployment: the finished package built, installed in a fresh venv, and run.

1. The package (tuned config and docs included) is written to a temporary
   folder and the runner (`scenarios.SandboxRunner.install`) builds its wheel
   with `pip wheel --no-deps --no-build-isolation --no-index` (hatchling from
   this environment), in the sandbox, offline.
2. A fresh virtual environment is made with `python -m venv --without-pip`; it
   sees none of this environment's packages. The wheel is installed into it with
   its declared dependencies, from the wheelhouse only (`build.wheelhouse`: the
   runtime's wheels, no network), so a dependency that is missing or does not
   exist fails here. The module must import from the new environment; its size
   and the install's time are recorded.
3. The installed console script runs once on the spec's first example with
   the build's model, lent to it (`llm.served`: the venv holds no model
   backend), in the sandbox, logged as a `system` run of the build.

The wheel is copied to `dist_dir/<package sha256[:16]>/` (the pipeline moves it into
`generated/<slug>/dist/`); the Dockerfile and docker-compose.yml are the
generator's, and their hashes are recorded.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from autogenesis.artefacts import (
    Blueprint,
    Check,
    Deployment,
    Package,
)
from autogenesis.build.agents.base import Work
from autogenesis.build.agents.checks import check
from autogenesis.build.agents.testing import SystemStage, examples_of
from autogenesis.build.codegen import materialise
from autogenesis.build.prompts import Prompts
from autogenesis.build.scenarios import Runner
from autogenesis.canonical import file_sha256
from autogenesis.llm.base import Model

RUN_TIMEOUT_S = 180.0
VENV_NOTE = ("python -m venv --without-pip, seeing none of the builder's packages; the wheel "
             "and its declared dependencies installed with pip --no-index from the "
             "runtime's wheelhouse")


class DeploymentStage(SystemStage):
    stage = "deployment"
    produces = Deployment

    def __init__(self, model: Model, prompts: Prompts, *, store: Any,
                 runner_factory: Callable[[], Runner], dist_dir: Path) -> None:
        super().__init__(model, prompts, store=store, runner_factory=runner_factory)
        self.dist_dir = dist_dir

    def run_stage(self, work: Work) -> Deployment:
        blueprint = Blueprint.model_validate(work.inputs["blueprint"])
        package = Package.model_validate(work.inputs["package"])
        slug, dist = package.slug, package.slug.replace("_", "-")
        files = {f.path: f for f in package.files}
        runner = self.runner_factory()
        with tempfile.TemporaryDirectory(prefix="autogenesis-deploy-") as tmp:
            root = Path(tmp)
            source = materialise(package, root / "src")
            done = runner.install(source, root, slug)
            if done.wheel is None:
                return self._failed(package, files, done.output, done.network)
            wheel = done.wheel
            keep = self.dist_dir / package.sha256[:16]  # one folder per package version
            keep.mkdir(parents=True, exist_ok=True)
            shutil.copy2(wheel, keep / wheel.name)
            which, example = examples_of(blueprint)[0]
            ran = self.runs.run(runner, root, slug, which, parent=work.run_id,
                                stage=self.stage, timeout=RUN_TIMEOUT_S,
                                exit_agent=blueprint.exit, example=example, number=1,
                                command=done.command, config={"installed": str(wheel.name)}) \
                if done.installed else None
            return Deployment(
                wheel=wheel.name, wheel_sha256=file_sha256(wheel),
                wheel_size=wheel.stat().st_size, package_sha256=package.sha256,
                dockerfile_sha256=files["Dockerfile"].sha256,
                compose_sha256=files["docker-compose.yml"].sha256, venv=VENV_NOTE,
                installed=done.installed, install_output=done.output,
                venv_bytes=done.venv_bytes, install_s=done.install_seconds,
                command=[f"venv/bin/{dist}", *([] if ran is None else ["--example", "1"])],
                returncode=0 if ran is not None and ran.reached_exit else 1,
                answer=ran.answer if ran is not None else "",
                seconds=round(done.seconds + (ran.latency_s if ran else 0.0), 2),
                network=done.network)

    @staticmethod
    def _failed(package: Package, files: dict[str, Any], why: str, network: str) -> Deployment:
        return Deployment(wheel="", wheel_sha256="", wheel_size=0,
                          package_sha256=package.sha256,
                          dockerfile_sha256=files["Dockerfile"].sha256,
                          compose_sha256=files["docker-compose.yml"].sha256, venv=VENV_NOTE,
                          installed=False, install_output=why[-600:], command=[],
                          returncode=1, seconds=0.0, network=network)


# --- the approver's checks of this stage's artefact ---------------------------


def deployment_checks(dep: Deployment, pkg: Package) -> list[Check]:
    files = {f.path: f for f in pkg.files}
    container = []
    if "Dockerfile" not in files or files["Dockerfile"].sha256 != dep.dockerfile_sha256:
        container.append("the Dockerfile is not the package's")
    if "docker-compose.yml" not in files or \
            files["docker-compose.yml"].sha256 != dep.compose_sha256:
        container.append("docker-compose.yml is not the package's")
    return [
        check("wheel_built",
              [] if dep.wheel.endswith(".whl") and re.fullmatch(r"[0-9a-f]{64}", dep.wheel_sha256)
              else [f"no wheel was built: {dep.install_output[-400:]}"],
              f"{dep.wheel} ({dep.wheel_size} bytes)"),
        check("built_from_package", [] if dep.package_sha256 == pkg.sha256 else
              ["the wheel was built from another version of the package"]),
        check("installed_in_fresh_venv", [] if dep.installed else
              [f"the wheel did not install in a fresh venv: {dep.install_output[-400:]}"]),
        check("entry_point_runs", [] if dep.returncode == 0 and dep.answer.strip() else
              [f"`{' '.join(dep.command)}` gave no answer (exit code {dep.returncode})"]),
        check("container_files", container),
    ]
