"""The build's stages, in run order: one declarative entry each.

A `Stage` says everything the orchestrator and the approver need to know about a
stage: its agent (whose class names the stage and the artefact it produces), the key
its approved artefact is kept under, the earlier artefacts and settings it reads,
the rule checks that judge it, whether the model judges it too, where a failed check
sends the work back, and the gist the model is shown. `STAGES` is the single source:
the run order, the agents a build serves, the approver's dispatch, feedback's order
and the artefact types are all derived from it. Adding a stage means one entry here,
one agent module, one artefact type and one prompt.

Two settings a stage may read are computed by the orchestrator just before it runs:
`budget_s` (a share of the build's budget left) and `held_out` (the --eval cases,
which also lengthen the stage's deadline).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

from autogenesis.artefacts import Artefact, Blueprint, Check, Package, Requirements
from autogenesis.build.agents import (
    DeploymentStage,
    Design,
    Documentation,
    FeedbackStage,
    Generator,
    PromptDesign,
    StageAgent,
    Testing,
    Tuning,
    Understanding,
)
from autogenesis.build.agents.deployment import deployment_checks
from autogenesis.build.agents.design import blueprint_checks
from autogenesis.build.agents.documentation import docs_checks
from autogenesis.build.agents.feedback import feedback_checks
from autogenesis.build.agents.generator import package_checks
from autogenesis.build.agents.prompt_design import prompt_checks
from autogenesis.build.agents.testing import testing_checks
from autogenesis.build.agents.tuning import tuning_checks
from autogenesis.build.agents.understanding import requirements_checks
from autogenesis.build.prompts import Prompts
from autogenesis.build.scenarios import Runner
from autogenesis.llm.base import Model

Checks = Callable[[Any, Mapping[str, Any]], list[Check] | Awaitable[list[Check]]]
"""(the artefact, validated; the stage's inputs) -> the approver's rule checks."""


@dataclass(frozen=True)
class Wiring:
    """What the stage agents are built with, in the build's process or a worker's:
    `runner` gives the sandbox runner, `clock` the build's clock for tuning, the
    deployed wheel is kept under `dist_dir`, and `model_reads` (or a function of the
    run) says whether stage 1 asks the model for its own reading of the spec."""

    model: Model
    prompts: Prompts
    store: Any
    runner: Callable[[], Runner]
    clock: Callable[[], float]
    dist_dir: Path
    model_reads: bool | Callable[[UUID | None], bool] = False


# The gist of each artefact the approver's model is shown.

def _files(artefact: Mapping[str, Any]) -> str:
    return "Files: " + ", ".join(f["path"] for f in artefact["files"])


def _requirements_gist(artefact: Mapping[str, Any]) -> str:
    agents = "; ".join(f"{a['name']} ({a.get('role', 'worker')}): "
                       f"{', '.join(a['duties'])[:80]}" for a in artefact["agents"])
    return f"Title: {artefact['title']}\nAgents: {agents}"


def _blueprint_gist(artefact: Mapping[str, Any]) -> str:
    agents = ", ".join(f"{a['name']} ({a['kind']})" for a in artefact["agents"])
    return (f"Topology: {artefact['topology']}\nAgents: {agents}\n"
            f"Entry: {artefact['entry']}, exit: {artefact['exit']}")


def _prompts_gist(artefact: Mapping[str, Any]) -> str:
    return "\n".join(f"{p['agent']}: {p['system'][:160]}" for p in artefact["prompts"])


def _report_gist(artefact: Mapping[str, Any]) -> str:
    return "\n".join(f"Example {s['example']}: {s['input'][:80]} -> {s['answer'][:160]}"
                     for s in artefact["scenarios"])


def _readme_gist(artefact: Mapping[str, Any]) -> str:
    return next((f["content"] for f in artefact["files"] if f["path"] == "README.md"),
                "")[:600]


@dataclass(frozen=True)
class Stage:
    agent: type[StageAgent]
    output: str
    """The key later stages read the approved artefact under."""
    inputs: tuple[str, ...]
    """The keys of the build's state the stage reads (those present)."""
    checks: Checks
    make: Callable[[Wiring], StageAgent]
    summary: Callable[[Mapping[str, Any]], str] = _files
    """A few lines of the artefact the model can judge: its gist, not its whole JSON."""
    judged_by_model: bool = True
    """False for measurements, which rules judge completely (a 135M model's opinion of a
    wheel's sha256 is noise)."""
    rework: tuple[tuple[str, str], ...] = ()
    """(failed check, the earlier stage that can fix it), in order of precedence."""

    @property
    def name(self) -> str:
        return self.agent.stage

    @property
    def artefact(self) -> type[Artefact]:
        return self.agent.produces


def _plain(cls: type[StageAgent]) -> Callable[[Wiring], StageAgent]:
    return lambda w: cls(w.model, w.prompts)


def _blueprint(inputs: Mapping[str, Any]) -> Blueprint:
    return Blueprint.model_validate(inputs["blueprint"])


def _package(inputs: Mapping[str, Any]) -> Package:
    return Package.model_validate(inputs["package"])


STAGES: tuple[Stage, ...] = (
    Stage(Understanding, "requirements", ("spec",),
          checks=lambda a, i: requirements_checks(a, i["spec"]),
          make=lambda w: Understanding(w.model, w.prompts, extract=w.model_reads),
          summary=_requirements_gist),
    Stage(Design, "blueprint", ("requirements",),
          checks=lambda a, i: blueprint_checks(
              a, Requirements.model_validate(i["requirements"])),
          make=_plain(Design),
          summary=_blueprint_gist),
    Stage(PromptDesign, "prompt_set", ("blueprint",),
          checks=lambda a, i: prompt_checks(a, _blueprint(i)),
          make=_plain(PromptDesign),
          summary=_prompts_gist),
    Stage(Generator, "package", ("blueprint", "prompt_set"),
          checks=lambda a, i: package_checks(a, _blueprint(i)),
          make=_plain(Generator)),
    Stage(Testing, "test_report", ("blueprint", "package", "held_out"),
          checks=lambda a, i: testing_checks(a, _package(i), _blueprint(i)),
          make=lambda w: Testing(w.model, w.prompts, store=w.store, runner_factory=w.runner),
          summary=_report_gist,
          rework=(("examples_reach_exit", "prompt_design"), ("every_example_run", "generator"),
                  ("tests_pass", "generator"), ("report_matches_package", "testing"),
                  ("matches_one_call", "prompt_design"))),
    Stage(Tuning, "tuning_report",
          ("blueprint", "prompt_set", "package", "test_report", "budget_s"),
          checks=lambda a, i: tuning_checks(a, _blueprint(i)),
          make=lambda w: Tuning(w.model, w.prompts, store=w.store, runner_factory=w.runner,
                                clock=w.clock),
          judged_by_model=False),
    Stage(Documentation, "docs",
          ("blueprint", "prompt_set", "package", "test_report", "tuning_report"),
          checks=lambda a, i: docs_checks(a, _blueprint(i), _package(i)),
          make=_plain(Documentation),
          summary=_readme_gist),
    Stage(DeploymentStage, "deployment", ("blueprint", "package"),
          checks=lambda a, i: deployment_checks(a, _package(i)),
          make=lambda w: DeploymentStage(w.model, w.prompts, store=w.store,
                                         runner_factory=w.runner, dist_dir=w.dist_dir),
          judged_by_model=False,
          rework=(("wheel_built", "generator"), ("installed_in_fresh_venv", "generator"),
                  ("entry_point_runs", "generator"))),
    Stage(FeedbackStage, "feedback", ("test_report", "tuning_report", "iteration"),
          checks=lambda a, i: feedback_checks(a, STAGE_ORDER),
          # feedback asks for changes to the stages before it
          make=lambda w: FeedbackStage(w.model, w.prompts, store=w.store,
                                       order=STAGE_ORDER[:-1]),
          judged_by_model=False),
)

STAGE_ORDER: tuple[str, ...] = tuple(s.name for s in STAGES)
BY_NAME: dict[str, Stage] = {s.name: s for s in STAGES}
AGENTS: tuple[str, ...] = (*STAGE_ORDER, "approver")
"""Every agent a build asks: what `autogenesis worker --agents` may name."""


def stage_agents(wiring: Wiring) -> list[StageAgent]:
    """The stage agents, wired as a build needs them (in its process or a worker's)."""
    return [stage.make(wiring) for stage in STAGES]


def output_of(kind: type[Artefact]) -> str:
    """The key the stage that produces `kind` keeps its approved artefact under."""
    return next(stage.output for stage in STAGES if stage.artefact is kind)
