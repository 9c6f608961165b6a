"""Stage 6, optimisation & tuning: measured changes to the generated system's config.

Inputs: the blueprint, the prompt set, the package and its `TestReport`.
The baseline is the test stage's own measurement of the examples (no
re-run). Then a bounded list of candidate changes, each measured by running
the system on the same examples in the sandbox with the candidate's
config.json, cheapest-to-check first:

1. a repetition penalty (1.3): small models decoding greedily repeat themselves;
2. shorter answers: every agent's `max_new_tokens` cut to 60% of the design's
   (never above what the spec's word limit needs);
3. the other prompt variant, for the agent whose alternative scored closest
   to its kept one in prompt design (within 0.1);
4. a little sampling (temperature 0.3, fixed seed) instead of greedy decoding;
5. a tighter deadline: three times the slowest measured answer.

The metric is the share of the examples' acceptance checks the answers pass
(`METRIC_RULE`); a change is kept when it improves, or holds at fewer output
tokens. Trials stop when the next one would not fit the stage's
time budget; those not run are reported as such. The chosen config is the
artefact's `config` and goes into the package's config.json.
"""

from __future__ import annotations

import copy
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from autogenesis.artefacts import (
    Blueprint,
    Check,
    Measure,
    Package,
    PromptSet,
    Scenario,
    TestReport,
    Trial,
    TuningReport,
    pass_count,
)
from autogenesis.build.agents.base import Work
from autogenesis.build.agents.checks import check
from autogenesis.build.agents.testing import SystemStage, checked, examples_of, scenario_timeout
from autogenesis.build.codegen import materialise
from autogenesis.build.prompts import Prompts
from autogenesis.build.scenarios import Runner
from autogenesis.llm.base import Model

METRIC_RULE = ("per example: 0 if the exit agent gave no answer, else the share of the "
               "example's checks a rule judged that its answer passes (with none: 0.5 + 0.5 "
               "x the fraction of steps their approvers approved); the metric is the mean "
               "over the measured examples. A change is kept when the metric rises, or stays "
               "the same with fewer output tokens.")
MEASURED_EXAMPLES = 1
"""Trials run on the first examples only (the baseline is compared on the same ones)."""
VARIANT_MARGIN = 0.1
SAMPLING = {"temperature": 0.3, "seed": 7}
REPETITION_PENALTY = 1.3


def example_metric(s: Scenario) -> float:
    if not s.reached_exit:
        return 0.0
    passed, judged = pass_count(s.checks)
    if judged:
        return passed / judged
    return 0.5 + 0.5 * (s.steps_approved / s.steps if s.steps else 1.0)


def measure(scenarios: list[Scenario]) -> Measure:
    n = len(scenarios)
    steps = sum(s.steps for s in scenarios)
    passed, judged = pass_count([r for s in scenarios for r in s.checks])
    return Measure(
        metric=round(sum(map(example_metric, scenarios)) / n, 4) if n else 0.0,
        checks_passed=passed, checks_judged=judged,
        reached=sum(s.reached_exit for s in scenarios), examples=n,
        steps_approved=round(sum(s.steps_approved for s in scenarios) / steps, 4)
        if steps else 1.0,
        tokens_out=sum(s.tokens_out for s in scenarios),
        seconds=round(sum(s.latency_s for s in scenarios), 2))


def better(candidate: Measure, best: Measure) -> tuple[bool, str]:
    if candidate.metric > best.metric:
        return True, f"metric {best.metric:.3f} -> {candidate.metric:.3f}"
    if candidate.metric == best.metric and candidate.tokens_out < best.tokens_out:
        return True, (f"metric held at {candidate.metric:.3f} with {candidate.tokens_out} "
                      f"output tokens instead of {best.tokens_out}")
    return False, (f"metric {candidate.metric:.3f} vs {best.metric:.3f}, tokens "
                   f"{candidate.tokens_out} vs {best.tokens_out}")


Change = tuple[str, str | None, str, Any, Callable[[dict[str, Any]], None]]
"""(description, agent or None for all, setting, value, apply-to-config)."""


def candidates(config: dict[str, Any], blueprint: Blueprint, prompts: PromptSet,
               report: TestReport) -> list[Change]:
    changes: list[Change] = []
    agents = config["agents"]
    if all(a.get("repetition_penalty", 1.0) == 1.0 for a in agents.values()):
        def penalised(c: dict[str, Any]) -> None:
            for agent in c["agents"].values():
                agent["repetition_penalty"] = REPETITION_PENALTY
        changes.append((f"repetition_penalty 1.0 -> {REPETITION_PENALTY}", None,
                        "repetition_penalty", REPETITION_PENALTY, penalised))
    words = config.get("answer_words")
    current = max(a["max_new_tokens"] for a in agents.values())
    # Steps feed each other: an intermediate answer need not use the whole word limit.
    target = max(32, min(int(words * 1.6), int(current * 0.6)) if words
                 else int(current * 0.6))
    if target < current:
        def shorter(c: dict[str, Any]) -> None:
            for agent in c["agents"].values():
                agent["max_new_tokens"] = min(agent["max_new_tokens"], target)
        changes.append((f"max_new_tokens {current} -> {target}", None, "max_new_tokens",
                        target, shorter))
    # The other prompt variant, for the one agent whose alternative came closest.
    close = []
    for agent in blueprint.agents:
        kept = prompts.prompt(agent.name)
        other = [v for v in prompts.scored if v.agent == agent.name and kept is not None
                 and v.variant != kept.variant and v.score >= kept.score - VARIANT_MARGIN]
        if kept is not None and other:
            close.append((kept.score - other[0].score, agent.name, kept.variant,
                          other[0].variant))
    for _, name, was, alternative in sorted(close)[:1]:
        def variant(c: dict[str, Any], name: str = name, text: str = alternative) -> None:
            c["agents"][name]["variant"] = text
        changes.append((f"{name}: prompt variant {was} -> {alternative}", name,
                        "prompt_variant", alternative, variant))
    if all(a["temperature"] == 0 for a in agents.values()):
        def sampling(c: dict[str, Any]) -> None:
            for agent in c["agents"].values():
                agent.update(SAMPLING)
        changes.append((f"temperature 0 -> {SAMPLING['temperature']} (seed "
                        f"{SAMPLING['seed']})", None, "temperature", SAMPLING["temperature"],
                        sampling))
    slowest = max((s.latency_s for s in report.scenarios if s.reached_exit), default=0.0)
    deadline = round(max(30.0, 3 * slowest), 1)
    if slowest and deadline < config["deadline_s"]:
        def tighter(c: dict[str, Any]) -> None:
            c["deadline_s"] = deadline
        changes.append((f"deadline_s {config['deadline_s']} -> {deadline}", None, "deadline_s",
                        deadline, tighter))
    return changes


def apply_variant(config: dict[str, Any], prompts: PromptSet) -> dict[str, Any]:
    """Resolve `variant` markers: swap in the other variant's prompt text."""
    for name, agent in config["agents"].items():
        wanted = agent.pop("variant", None)
        if wanted is None:
            continue
        other = prompts.variant(name, wanted)
        if other is not None and other.system:
            agent["system"] = other.system
            agent["examples"] = []  # the shots were the kept variant's answers
    return config


class Tuning(SystemStage):
    """`clock` reads the build's clock (the pipeline passes its observer's, so that a replay
    takes the same budget decisions)."""

    stage = "tuning"
    produces = TuningReport

    def __init__(self, model: Model, prompts: Prompts, *, store: Any,
                 runner_factory: Callable[[], Runner],
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(model, prompts, store=store, runner_factory=runner_factory)
        self.clock = clock

    def run_stage(self, work: Work) -> TuningReport:
        started = self.clock()
        blueprint = Blueprint.model_validate(work.inputs["blueprint"])
        prompt_set = PromptSet.model_validate(work.inputs["prompt_set"])
        package = Package.model_validate(work.inputs["package"])
        report = TestReport.model_validate(work.inputs["test_report"])
        budget = float(work.inputs.get("budget_s", 120.0))
        config_file = f"{package.slug}/config.json"
        config = package.config() or {}
        measured = examples_of(blueprint)[:MEASURED_EXAMPLES]
        before = measure(report.scenarios[:len(measured)])
        best, chosen = before, config
        # A trial costs about what the test stage's runs of the same examples cost.
        estimate = sum(s.latency_s for s in report.scenarios[:len(measured)]) + 5.0 * len(measured)
        trials: list[Trial] = []
        runner = self.runner_factory()
        with tempfile.TemporaryDirectory(prefix="autogenesis-tune-") as tmp:
            folder = materialise(package, Path(tmp) / package.slug)
            for description, agent, setting, value, change in candidates(
                    config, blueprint, prompt_set, report):
                if self.clock() - started + estimate > budget:
                    trials.append(Trial(change=description, agent=agent, setting=setting,
                                        value=value, kept=False,
                                        reason=f"not tried: the next trial (~{estimate:.0f}s) "
                                        f"would pass the stage's budget of {budget:.0f}s"))
                    continue
                candidate = copy.deepcopy(chosen)
                change(candidate)
                candidate = apply_variant(candidate, prompt_set)
                (folder / config_file).write_text(json.dumps(candidate, indent=2) + "\n",
                                                  encoding="utf-8")
                timeout = scenario_timeout(candidate)
                scenarios = [checked(self.runs.run(runner, folder, package.slug, which,
                                                   parent=work.run_id, stage=self.stage,
                                                   timeout=timeout, exit_agent=blueprint.exit,
                                                   example=example, number=n,
                                                   config={"trial": description}), example)
                             for n, (which, example) in enumerate(measured, start=1)]
                result = measure(scenarios)
                kept, reason = better(result, best)
                trials.append(Trial(change=description, agent=agent, setting=setting,
                                    value=value, measure=result, kept=kept, reason=reason))
                if kept:
                    best, chosen = result, candidate
        return TuningReport(metric_rule=METRIC_RULE, before=before, after=best, trials=trials,
                            config=chosen, budget_s=round(budget, 1),
                            spent_s=round(self.clock() - started, 1))


# --- the approver's checks of this stage's artefact ---------------------------


def tuning_checks(report: TuningReport, bp: Blueprint) -> list[Check]:
    config = report.config
    agents = config.get("agents", {})
    problems = [f"config.json and the blueprint disagree on {sorted(missing)}"
                for missing in [{a.name for a in bp.agents} ^ set(agents)] if missing]
    for name, agent in agents.items():
        if not 8 <= agent.get("max_new_tokens", 0) <= 2048:
            problems.append(f"{name}: max_new_tokens {agent.get('max_new_tokens')} out of range")
        if not 0 <= agent.get("temperature", -1) <= 2:
            problems.append(f"{name}: temperature {agent.get('temperature')} out of range")
    if not config.get("deadline_s", 0) > 0:
        problems.append("deadline_s must be positive")
    unmeasured = [t.change for t in report.trials if t.kept and t.measure is None]
    return [
        check("no_regression", [] if report.after.metric >= report.before.metric else
              [f"the metric fell from {report.before.metric} to {report.after.metric}"],
              f"metric {report.before.metric} -> {report.after.metric}"),
        check("kept_changes_measured", (f"{c!r} was kept without a measurement"
                                        for c in unmeasured)),
        check("config_valid", problems),
        Check(name="within_budget", passed=report.spent_s <= report.budget_s * 1.5,
              blocking=False, detail=f"{report.spent_s:.0f}s of {report.budget_s:.0f}s"),
    ]
