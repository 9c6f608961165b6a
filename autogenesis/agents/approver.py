"""The hierarchy approver: judges every artefact and answers with a `Verdict`.

Rules first (`checks.py`): any failed blocking check rejects, and its detail
is a reason the worker gets back. The model second, for what rules cannot
see (does the content serve the goal?): one short judgement under a JSON
schema, recorded as a check. With the default small model that judgement is
advisory (`model_blocking=False`): it is logged beside the rules but cannot
reject on its own; with a capable model set `model_blocking=True`. A worker
serving the approver for many builds passes a function of the run id instead,
which reads each build's own setting.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from uuid import UUID

from autogenesis.agents import checks
from autogenesis.artefacts import (
    STAGE_ARTEFACTS,
    Blueprint,
    Check,
    Deployment,
    Docs,
    Feedback,
    Package,
    PromptSet,
    Requirements,
    TestReport,
    TuningReport,
    Verdict,
)
from autogenesis.bus.context import current_caller
from autogenesis.bus.message import Message
from autogenesis.canonical import sha256_of
from autogenesis.llm.base import Decoding, Model
from autogenesis.prompts import Prompts
from autogenesis.runtime.agent import Agent
from autogenesis.runtime.model_agent import JUDGEMENT_SCHEMA

JUDGED_BY_MODEL = ("understanding", "design", "prompt_design", "generator", "testing",
                   "documentation")
"""Stages whose content the model also judges; the others are measurements, which rules
judge completely (a 135M model's opinion of a wheel's sha256 is noise)."""

REWORK = {
    # stage: [(failed check, the earlier stage that can fix it), ...] in order of precedence
    "testing": [("examples_reach_exit", "prompt_design"), ("every_example_run", "generator"),
                ("tests_pass", "generator"), ("report_matches_package", "testing"),
                ("matches_one_call", "prompt_design")],
    "deployment": [("wheel_built", "generator"), ("installed_in_fresh_venv", "generator"),
                   ("entry_point_runs", "generator")],
}


SHORTFALLS = frozenset({"matches_one_call"})
"""Checks that measure how well a working system answers, not whether it works: a
rejection on these alone is a shortfall (`Verdict.shortfall`). It is reworked like any
other while the build's budget allows, and then the build goes on with the best version
and reports the shortfall instead of failing."""


def rework_stage(stage: str, found: list[Check]) -> str | None:
    """Which stage should redo its work after `stage` was rejected (None: `stage` itself)."""
    failed = {c.name for c in found if not c.passed and c.blocking}
    for name, target in REWORK.get(stage, ()):
        if name in failed and target != stage:
            return target
    return None


def summary(stage: str, artefact: Mapping[str, Any]) -> str:
    """A few lines the model can judge: the artefact's gist, not its whole JSON."""
    if stage == "understanding":
        agents = "; ".join(f"{a['name']} ({a.get('role', 'worker')}): "
                           f"{', '.join(a['duties'])[:80]}" for a in artefact["agents"])
        return f"Title: {artefact['title']}\nAgents: {agents}"
    if stage == "design":
        agents = ", ".join(f"{a['name']} ({a['kind']})" for a in artefact["agents"])
        return (f"Topology: {artefact['topology']}\nAgents: {agents}\n"
                f"Entry: {artefact['entry']}, exit: {artefact['exit']}")
    if stage == "prompt_design":
        return "\n".join(f"{p['agent']}: {p['system'][:160]}" for p in artefact["prompts"])
    if stage == "testing":
        return "\n".join(f"Example {s['example']}: {s['input'][:80]} -> {s['answer'][:160]}"
                         for s in artefact["scenarios"])
    if stage == "documentation":
        readme = next((f["content"] for f in artefact["files"] if f["path"] == "README.md"), "")
        return readme[:600]
    return "Files: " + ", ".join(f["path"] for f in artefact["files"])


class Approver(Agent):
    def __init__(self, model: Model, prompts: Prompts, *,
                 model_blocking: bool | Callable[[UUID | None], bool] = False) -> None:
        super().__init__("approver")
        self.model = model
        self.prompts = prompts
        self.model_blocking = model_blocking

    async def handle(self, message: Message) -> Mapping[str, Any]:
        body = message.body
        verdict = await self.judge(body["stage"], body["artefact"], body["inputs"])
        # The artefact's hash names what was judged (two rejections with the same reasons
        # are two verdicts on two artefacts, not a loop).
        digest = sha256_of(body["artefact"])
        return {"verdict": verdict.model_dump(mode="json"), "artefact_sha256": digest}

    async def judge(self, stage: str, artefact: Mapping[str, Any],
                    inputs: Mapping[str, Any]) -> Verdict:
        found = await self.rule_checks(stage, artefact, inputs)
        goal = self._goal(stage, artefact, inputs)
        if all(c.passed for c in found) and stage in JUDGED_BY_MODEL:
            found.append(await self.model_check(stage, artefact, goal))
        reasons = [f"{c.name}: {c.detail}" for c in found if not c.passed and c.blocking]
        failed = {c.name for c in found if not c.passed and c.blocking}
        return Verdict(stage=stage, kind=self._kind(stage), approved=not reasons,
                       reasons=reasons, checks=found,
                       rework=rework_stage(stage, found) if reasons else None,
                       shortfall=bool(failed) and failed <= SHORTFALLS)

    async def rule_checks(self, stage: str, artefact: Mapping[str, Any],
                          inputs: Mapping[str, Any]) -> list[Check]:
        if stage == "understanding":
            return checks.requirements_checks(Requirements.model_validate(artefact),
                                              inputs["spec"])
        if stage == "design":
            return checks.blueprint_checks(Blueprint.model_validate(artefact),
                                           Requirements.model_validate(inputs["requirements"]))
        if stage == "prompt_design":
            return checks.prompt_checks(PromptSet.model_validate(artefact),
                                        Blueprint.model_validate(inputs["blueprint"]))
        if stage == "generator":
            return await checks.package_checks(Package.model_validate(artefact),
                                               Blueprint.model_validate(inputs["blueprint"]))
        if stage == "testing":
            return checks.testing_checks(TestReport.model_validate(artefact),
                                         Package.model_validate(inputs["package"]),
                                         Blueprint.model_validate(inputs["blueprint"]))
        if stage == "tuning":
            return checks.tuning_checks(TuningReport.model_validate(artefact),
                                        Blueprint.model_validate(inputs["blueprint"]))
        if stage == "documentation":
            return checks.docs_checks(Docs.model_validate(artefact),
                                      Blueprint.model_validate(inputs["blueprint"]),
                                      Package.model_validate(inputs["package"]))
        if stage == "deployment":
            return checks.deployment_checks(Deployment.model_validate(artefact),
                                            Package.model_validate(inputs["package"]))
        if stage == "feedback":
            return checks.feedback_checks(Feedback.model_validate(artefact), STAGE_ARTEFACTS)
        raise ValueError(f"the approver has no checks for stage {stage!r}")

    async def model_check(self, stage: str, artefact: Mapping[str, Any], goal: str) -> Check:
        messages = self.prompts.messages("approver", goal=goal, stage=stage,
                                         kind=self._kind(stage),
                                         summary=summary(stage, artefact))
        result = await self.model.generate(messages, schema=JUDGEMENT_SCHEMA,
                                           settings=Decoding(max_new_tokens=64))
        blocking = self._blocking()
        if result.parsed is None:
            return Check(name="model_judgement", passed=True, by="model", blocking=blocking,
                         detail=f"the model gave no judgement: {result.problem}")
        return Check(name="model_judgement", passed=bool(result.parsed["approved"]), by="model",
                     blocking=blocking, detail=result.parsed["feedback"])

    def _blocking(self) -> bool:
        if callable(self.model_blocking):
            caller = current_caller()
            return self.model_blocking(caller.run_id if caller else None)
        return self.model_blocking

    @staticmethod
    def _kind(stage: str) -> str:
        return STAGE_ARTEFACTS[stage].__name__

    @staticmethod
    def _goal(stage: str, artefact: Mapping[str, Any], inputs: Mapping[str, Any]) -> str:
        if stage == "understanding":
            return artefact["goal"]
        source = inputs.get("blueprint") or inputs.get("requirements") or {}
        return source.get("goal", "")
