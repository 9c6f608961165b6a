"""Stage 5, integration & testing: `Blueprint` + `Package` -> `TestReport`.

The package is written to a temporary folder and run there in the sandbox
(`autogenesis.scenarios`): first its own pytest suite, then the system on
every spec example with the real model (the spec's goal when it gave
none). Each system run is a logged run of kind `system` whose parent is the
build; its messages, model calls and events come back from the sandbox in a
trace file. Every answer is held against its example's acceptance checks
(`autogenesis.acceptance`), and so is the answer of the baseline: one plain
call of the same model with the spec's goal and the agents' duties as its
prompt, made here and logged like every call of the build.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import UUID

from autogenesis.acceptance import run_checks
from autogenesis.agents.base import StageAgent, Work
from autogenesis.artefacts import (
    AcceptanceCheck,
    Artefact,
    BaselineRun,
    Blueprint,
    Package,
    Scenario,
    TestReport,
)
from autogenesis.codegen import materialise
from autogenesis.llm.base import Decoding, Model
from autogenesis.prompts import Prompts
from autogenesis.sandbox import network_isolation
from autogenesis.scenarios import PYTEST_TIMEOUT_S, SCENARIO_MEMORY_MB, Runner, scenario
from autogenesis.store.records import Run

MAX_SCENARIO_S = 180.0
"""A scenario's deadline, at most: the spec's step limits can be far more generous."""


class RunLog:
    """Starts, fills from a trace, and finishes the `system` runs of one stage."""

    def __init__(self, store: Any, model: Model) -> None:
        self.store = store
        self.model = model

    def run(self, runner: Runner, folder: Path, slug: str, which: int | str, *,
            parent: UUID | None, stage: str, timeout: float, exit_agent: str,
            example: dict[str, Any], number: int, command: list[str] | None = None,
            config: dict[str, Any] | None = None) -> Scenario:
        run = self.store.start_run(Run(
            kind="system", name=slug, model=self.model.identity.model_id,
            config={"parent_run": str(parent) if parent else None, "stage": stage,
                    "example": number, "input": example["input"], **(config or {})}))
        outcome = runner.example(folder, slug, which, run.id, timeout=timeout, command=command)
        self.store.ingest(outcome.rows)
        result = scenario(number, example, exit_agent, outcome, run.id)
        self.store.finish_run(run, "succeeded" if result.reached_exit else "failed",
                              error=result.error or None)
        return result


def examples_of(blueprint: Blueprint) -> list[tuple[int | str, dict[str, Any]]]:
    """(what to pass the system, the example) per spec example; the goal if none."""
    if blueprint.examples:
        return [(i, e.model_dump()) for i, e in enumerate(blueprint.examples, start=1)]
    return [(blueprint.goal, {"input": blueprint.goal, "expected": ""})]


def checks_of(example: dict[str, Any]) -> list[AcceptanceCheck]:
    return [AcceptanceCheck.model_validate(c) for c in example.get("checks", ())]


def checked(scenario: Scenario, example: dict[str, Any]) -> Scenario:
    """The scenario with its example's acceptance checks run on its answer (the agents that
    sent messages are its route)."""
    route = sorted(set(scenario.path))
    return scenario.model_copy(update={"checks": run_checks(checks_of(example),
                                                            scenario.answer, route)})


def scenario_timeout(config: dict[str, Any]) -> float:
    return min(float(config.get("deadline_s", MAX_SCENARIO_S)), MAX_SCENARIO_S)


class SystemStage(StageAgent):
    """A stage that runs the generated system (testing, tuning, deployment): blocking
    subprocess work, done on a thread, each run logged through `runs`."""

    def __init__(self, model: Model, prompts: Prompts, *, store: Any,
                 runner_factory: Callable[[], Runner]) -> None:
        super().__init__(model, prompts)
        self.runs = RunLog(store, model)
        self.runner_factory = runner_factory

    async def produce(self, work: Work) -> Artefact:
        return await asyncio.to_thread(self.run_stage, work)

    def run_stage(self, work: Work) -> Artefact:
        raise NotImplementedError


class Testing(SystemStage):
    stage = "testing"
    produces = TestReport

    async def produce(self, work: Work) -> TestReport:
        report = await asyncio.to_thread(self.run_stage, work)
        blueprint = Blueprint.model_validate(work.inputs["blueprint"])
        baselines = [await self.single_call(blueprint, n, example)
                     for n, (_, example) in enumerate(examples_of(blueprint), start=1)]
        return report.model_copy(update={"baselines": baselines})

    async def single_call(self, blueprint: Blueprint, number: int,
                          example: dict[str, Any]) -> BaselineRun:
        """The baseline: what one plain call of the same model makes of the example. (Its
        time is the call's latency in the log; a measured time in the artefact would
        differ when the build is re-executed.)"""
        messages = self.prompts.messages(
            "baseline", title=blueprint.title, goal=blueprint.goal, input=example["input"],
            duties=[d for a in blueprint.agents if a.kind == "worker" for d in a.duties],
            words=blueprint.answer_words)
        tokens = max(a.model.max_new_tokens for a in blueprint.agents)
        result = await self.model.generate(messages, settings=Decoding(max_new_tokens=tokens))
        answer = result.text.strip()
        return BaselineRun(arm="single", example=number, answer=answer[:2000],
                           checks=run_checks(checks_of(example), answer),
                           tokens_in=result.tokens_in, tokens_out=result.tokens_out)

    def run_stage(self, work: Work) -> TestReport:
        blueprint = Blueprint.model_validate(work.inputs["blueprint"])
        package = Package.model_validate(work.inputs["package"])
        runner = self.runner_factory()
        timeout = scenario_timeout(package.config() or {})
        with tempfile.TemporaryDirectory(prefix="autogenesis-test-") as tmp:
            folder = materialise(package, Path(tmp) / package.slug)
            tests = runner.pytest(folder)
            scenarios = [
                checked(self.runs.run(runner, folder, package.slug, which,
                                      parent=work.run_id, stage=self.stage, timeout=timeout,
                                      exit_agent=blueprint.exit, example=example, number=n),
                        example)
                for n, (which, example) in enumerate(examples_of(blueprint), start=1)]
        return TestReport(package_sha256=package.sha256, tests=tests, scenarios=scenarios,
                          network="none" if network_isolation() else "shared",
                          memory_mb=SCENARIO_MEMORY_MB, timeout_s=max(timeout, PYTEST_TIMEOUT_S))
