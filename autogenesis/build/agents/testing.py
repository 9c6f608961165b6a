"""Stage 5, integration & testing: `Blueprint` + `Package` -> `TestReport`.

The package is written to a temporary folder and run there in the sandbox
(`autogenesis.build.scenarios`): first its own pytest suite, then the system on
every spec example with the real model (the spec's goal when it gave
none). Each system run is a logged run of kind `system` whose parent is the
build; its messages, model calls and events come back from the sandbox in a
trace file. Every answer is held against its example's acceptance checks
(`autogenesis.acceptance`), and so are the answers of two baselines, made here
and logged like every call of the build:

- `single`: one plain call of the same model with the spec's goal and the
  agents' duties as its prompt;
- `vote`: for an example with a definite answer (a decision check), as many
  sampled calls of that prompt as the system made model calls on it (equal
  budget); a decision check passes for the vote when more than half of the
  samples that can be judged pass it (a majority vote on a yes/no decision).
"""

from __future__ import annotations

import asyncio
import functools
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import UUID

from autogenesis.acceptance import run_checks
from autogenesis.artefacts import (
    AcceptanceCheck,
    Artefact,
    BaselineRun,
    Blueprint,
    Check,
    CheckResult,
    Package,
    Scenario,
    TestReport,
)
from autogenesis.build.agents.base import StageAgent, Work
from autogenesis.build.agents.checks import check
from autogenesis.build.codegen import materialise
from autogenesis.build.prompts import Prompts
from autogenesis.build.scenarios import (
    PYTEST_TIMEOUT_S,
    SCENARIO_MEMORY_MB,
    Outcome,
    Runner,
    scenario,
)
from autogenesis.llm.base import Decoding, Model
from autogenesis.llm.concurrent import at_once, in_threads
from autogenesis.sandbox import network_isolation
from autogenesis.store.records import Run

DEFINITE = ("decision",)
"""Check kinds with one right answer among few: what a majority vote can settle."""
VOTE_TEMPERATURE = 0.7
MAX_SCENARIO_S = 180.0
"""A scenario's deadline, at most: the spec's step limits can be far more generous."""


Asked = tuple[int | str, dict[str, Any], int, dict[str, Any] | None]
"""A run of the system to make: what to pass it (an example's number or a text), the
example, its number, and what its run's config adds."""


class RunLog:
    """Starts, fills from a trace, and finishes the `system` runs of one stage."""

    def __init__(self, store: Any, model: Model) -> None:
        self.store = store
        self.model = model

    def run(self, runner: Runner, folder: Path, slug: str, which: int | str, *,
            parent: UUID | None, stage: str, timeout: float, exit_agent: str,
            example: dict[str, Any], number: int, command: list[str] | None = None,
            config: dict[str, Any] | None = None) -> Scenario:
        run = self._start(slug, parent, stage, example, number, config)
        outcome = runner.example(folder, slug, which, run.id, timeout=timeout, command=command)
        return self._finish(run, outcome, example, number, exit_agent)

    def run_at_once(self, runner: Runner, folder: Path, slug: str,
                    asked: list[Asked],
                    *, parent: UUID | None, stage: str, timeout: float, exit_agent: str,
                    limit: int) -> list[Scenario]:
        """Runs of the system on each asked (which, example, number, config), at most
        `limit` at once when the runner lets them overlap (they share the build's
        model), else in turn. The runs are started and finished in the asked order."""
        if limit <= 1 or not getattr(runner, "at_once", False):
            return [self.run(runner, folder, slug, which, parent=parent, stage=stage,
                             timeout=timeout, exit_agent=exit_agent, example=example,
                             number=number, config=config)
                    for which, example, number, config in asked]
        runs = [self._start(slug, parent, stage, example, number, config)
                for _, example, number, config in asked]
        outcomes = in_threads([functools.partial(runner.example, folder, slug, which, run.id,
                                                 timeout=timeout)
                               for (which, *_), run in zip(asked, runs, strict=True)], limit)
        return [self._finish(run, outcome, example, number, exit_agent)
                for (_, example, number, _), run, outcome in zip(asked, runs, outcomes,
                                                                 strict=True)]

    def _start(self, slug: str, parent: UUID | None, stage: str, example: dict[str, Any],
               number: int, config: dict[str, Any] | None) -> Run:
        run: Run = self.store.start_run(Run(
            kind="system", name=slug, model=self.model.identity.model_id,
            config={"parent_run": str(parent) if parent else None, "stage": stage,
                    "example": number, "input": example["input"], **(config or {})}))
        return run

    def _finish(self, run: Run, outcome: Outcome, example: dict[str, Any], number: int,
                exit_agent: str) -> Scenario:
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


def one_call_messages(prompts: Prompts, blueprint: Blueprint, given: str
                      ) -> list[dict[str, str]]:
    """The baseline's prompt (`prompts/baseline.j2`): the spec's goal and the workers'
    duties, done in one answer to `given`. Prompt design offers its system message to the
    answering agent."""
    return prompts.messages(
        "baseline", title=blueprint.title, goal=blueprint.goal, input=given,
        duties=[d for a in blueprint.agents if a.kind == "worker" for d in a.duties],
        words=blueprint.answer_words)


def checks_of(example: dict[str, Any]) -> list[AcceptanceCheck]:
    return [AcceptanceCheck.model_validate(c) for c in example.get("checks", ())]


def checked(scenario: Scenario, example: dict[str, Any]) -> Scenario:
    """The scenario with its example's acceptance checks run on its answer (the agents that
    sent messages are its route)."""
    return scenario.model_copy(update={"checks": run_checks(checks_of(example),
                                                            scenario.answer, scenario.route)})


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
        runs = [(False, ran, example) for ran, (_, example) in
                zip(report.scenarios, examples_of(blueprint), strict=True)]
        runs += [(True, ran, example) for ran, example in
                 zip(report.held_out, work.inputs.get("held_out", ()), strict=True)]
        arms = await at_once([self.baselines(blueprint, ran.example, example, ran.calls, work)
                              for _, ran, example in runs], work.concurrency)
        baselines = [arm.model_copy(update={"held_out": held_out})
                     for (held_out, _, _), made in zip(runs, arms, strict=True) for arm in made]
        return report.model_copy(update={"baselines": baselines})

    async def baselines(self, blueprint: Blueprint, number: int, example: dict[str, Any],
                        calls: int, work: Work) -> list[BaselineRun]:
        """The example's baseline arms: one call and, on a decision, the vote."""
        single = await self.single_call(blueprint, number, example)
        if not any(c.kind in DEFINITE for c in checks_of(example)):
            return [single]
        return [single, await self.vote(blueprint, number, example, max(1, calls),
                                        work.concurrency)]

    def baseline_messages(self, blueprint: Blueprint, example: dict[str, Any]
                          ) -> tuple[list[dict[str, str]], int]:
        """The one-call prompt for `example`, and its token limit (the design's largest)."""
        return (one_call_messages(self.prompts, blueprint, example["input"]),
                max(a.model.max_new_tokens for a in blueprint.agents))

    async def single_call(self, blueprint: Blueprint, number: int,
                          example: dict[str, Any]) -> BaselineRun:
        """What one plain call of the same model makes of the example. (Its time is the
        call's latency in the log; a measured time in the artefact would differ when the
        build is re-executed.)"""
        messages, tokens = self.baseline_messages(blueprint, example)
        result = await self.model.generate(messages, settings=Decoding(max_new_tokens=tokens))
        answer = result.text.strip()
        return BaselineRun(arm="single", example=number, answer=answer[:2000],
                           checks=run_checks(checks_of(example), answer),
                           tokens_in=result.tokens_in, tokens_out=result.tokens_out)

    async def vote(self, blueprint: Blueprint, number: int, example: dict[str, Any],
                   k: int, concurrency: int = 1) -> BaselineRun:
        """`k` sampled answers to the one-call prompt (seeds 1..k), voted on the example's
        decision checks; the answer shown is the first sample that agrees with the vote."""
        messages, tokens = self.baseline_messages(blueprint, example)
        definite = [c for c in checks_of(example) if c.kind in DEFINITE]
        samples = await at_once([self.model.generate(messages, settings=Decoding(
            max_new_tokens=tokens, temperature=VOTE_TEMPERATURE, seed=seed))
            for seed in range(1, k + 1)], concurrency)
        judged = [run_checks(definite, s.text) for s in samples]
        voted = []
        for i, stated in enumerate(definite):
            ballots = [r[i].passed for r in judged if r[i].passed is not None]
            yes = sum(bool(b) for b in ballots)
            voted.append(CheckResult(kind=stated.kind, text=stated.text,
                                     passed=yes > len(ballots) / 2 if ballots else None,
                                     detail=f"{yes} of {len(ballots)} samples"))
        agree = next((s for s, r in zip(samples, judged, strict=True)
                      if [x.passed for x in r] == [v.passed for v in voted]), samples[0])
        return BaselineRun(arm="vote", example=number, answer=agree.text.strip()[:2000],
                           checks=voted, calls=k,
                           tokens_in=sum(s.tokens_in for s in samples),
                           tokens_out=sum(s.tokens_out for s in samples))

    def run_stage(self, work: Work) -> TestReport:
        blueprint = Blueprint.model_validate(work.inputs["blueprint"])
        package = Package.model_validate(work.inputs["package"])
        runner = self.runner_factory()
        timeout = scenario_timeout(package.config() or {})
        with tempfile.TemporaryDirectory(prefix="autogenesis-test-") as tmp:
            folder = materialise(package, Path(tmp) / package.slug)
            tests = runner.pytest(folder)
            examples = examples_of(blueprint)
            cases = list(work.inputs.get("held_out", ()))   # the user's --eval cases:
            asked: list[Asked] = [(which, example, n, None)  # run and scored, never tuned on
                                  for n, (which, example) in enumerate(examples, start=1)]
            asked += [(case["input"], case, n, {"held_out": True})
                      for n, case in enumerate(cases, start=1)]
            ran = self.runs.run_at_once(runner, folder, package.slug, asked,
                                        parent=work.run_id, stage=self.stage, timeout=timeout,
                                        exit_agent=blueprint.exit, limit=work.concurrency)
            scenarios = [checked(s, e) for s, (_, e) in zip(ran, examples, strict=False)]
            held_out = [checked(s, case) for s, case in zip(ran[len(examples):], cases,
                                                             strict=True)]
        return TestReport(package_sha256=package.sha256, tests=tests, scenarios=scenarios,
                          held_out=held_out,
                          network="none" if network_isolation() else "shared",
                          memory_mb=SCENARIO_MEMORY_MB, timeout_s=max(timeout, PYTEST_TIMEOUT_S))


# --- the approver's checks of this stage's artefact ---------------------------


def testing_checks(report: TestReport, pkg: Package, bp: Blueprint) -> list[Check]:
    tests = report.tests
    expected = max(1, len(bp.examples))
    return [
        check("report_matches_package", [] if report.package_sha256 == pkg.sha256 else
              ["the report is about another package"]),
        check("tests_pass",
              [f"the package's tests: {tests.passed} passed, {tests.failed} failed, "
               f"{tests.errors} error(s){', timed out' if tests.timed_out else ''}: "
               f"{tests.output[-400:]}"] if tests.failed or tests.errors or tests.returncode
              else [], f"{tests.passed} passed in {tests.seconds:.1f}s"),
        check("every_example_run", [] if len(report.scenarios) == expected else
              [f"{len(report.scenarios)} scenario(s) for {expected} example(s)"]),
        check("examples_reach_exit",
              (f"example {s.example} never reached the exit agent {bp.exit!r}: "
               f"{s.error or 'its answer was empty or came from ' + repr(s.exit_agent)}"
               for s in report.scenarios if not s.reached_exit),
              f"{report.reached}/{len(report.scenarios)} reached {bp.exit!r}"),
        Check(name="examples_pass_checks", blocking=False,
              passed=(passes := report.passes("system"))[0] == passes[1],
              detail=f"{passes[0]}/{passes[1]} of the examples' checks pass: "
              + "; ".join(f"example {s.example}: {r.text} ({r.detail})"
                          for s in report.scenarios for r in s.checks if r.passed is False)[:600]),
        Check(name="matches_one_call",
              passed=passes[0] >= (single := report.passes("single"))[0],
              detail=f"the system passes {passes[0]}/{passes[1]}, one call of the same model "
                     f"{single[0]}/{single[1]}"),
        *([Check(name="matches_vote", blocking=False, passed=decided[0] >= decided[1],
                 detail=f"on the decisions a vote of as many calls settles, the system "
                        f"passes {decided[0]}/{decided[2]}, the vote {decided[1]}/{decided[2]}")]
          if (decided := report.decisions())[2] else []),
        Check(name="network_isolated", passed=report.network == "none", blocking=False,
              detail="own empty network namespace" if report.network == "none" else
              "no network namespace could be made here: the runs had the host's network"),
    ]
