"""The hierarchy approver: judges every artefact and answers with a `Verdict`.

Rules first (each stage's checks, beside its agent): any failed blocking check
rejects, and its detail is a reason the worker gets back. The model second, for what rules cannot
see (does the content serve the goal?): one short judgement under a JSON
schema, recorded as a check. With the default small model that judgement is
advisory (`model_blocking=False`): it is logged beside the rules but cannot
reject on its own; with a capable model set `model_blocking=True`. A worker
serving the approver for many builds passes a function of the run id instead,
which reads each build's own setting.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any
from uuid import UUID

from autogenesis.artefacts import Check, Verdict
from autogenesis.build.messages import Judge, Judged
from autogenesis.build.prompts import Prompts
from autogenesis.bus.context import current_caller
from autogenesis.bus.message import Message
from autogenesis.canonical import sha256_of
from autogenesis.llm.base import Decoding, Model
from autogenesis.runtime.agent import Agent, handles
from autogenesis.runtime.model_agent import JUDGEMENT_SCHEMA

if TYPE_CHECKING:
    from autogenesis.build.stages import Stage

SHORTFALLS = frozenset({"matches_one_call"})
"""Checks that measure how well a working system answers, not whether it works: a
rejection on these alone is a shortfall (`Verdict.shortfall`). It is reworked like any
other while the build's budget allows, and then the build goes on with the best version
and reports the shortfall instead of failing."""


def rework_stage(stage: Stage, found: list[Check]) -> str | None:
    """Which stage should redo its work after `stage` was rejected (None: `stage` itself)."""
    failed = {c.name for c in found if not c.passed and c.blocking}
    for name, target in stage.rework:
        if name in failed and target != stage.name:
            return target
    return None


class Approver(Agent):
    def __init__(self, model: Model, prompts: Prompts, stages: Iterable[Stage], *,
                 model_blocking: bool | Callable[[UUID | None], bool] = False) -> None:
        super().__init__("approver")
        self.model = model
        self.prompts = prompts
        self.stages = {stage.name: stage for stage in stages}
        self.model_blocking = model_blocking

    @handles(Judge)
    async def on_judge(self, request: Judge, message: Message) -> Judged:
        verdict = await self.judge(request.stage, request.artefact, request.inputs)
        return Judged(verdict=verdict, artefact_sha256=sha256_of(request.artefact))

    async def judge(self, name: str, artefact: Mapping[str, Any],
                    inputs: Mapping[str, Any]) -> Verdict:
        stage = self.stages.get(name)
        if stage is None:
            raise ValueError(f"the approver has no checks for stage {name!r}")
        found = stage.checks(stage.artefact.model_validate(artefact), inputs)
        found = list(await found if inspect.isawaitable(found) else found)
        if all(c.passed for c in found) and stage.judged_by_model:
            found.append(await self.model_check(stage, artefact,
                                                self._goal(artefact, inputs)))
        reasons = [f"{c.name}: {c.detail}" for c in found if not c.passed and c.blocking]
        failed = {c.name for c in found if not c.passed and c.blocking}
        return Verdict(stage=name, kind=stage.artefact.__name__, approved=not reasons,
                       reasons=reasons, checks=found,
                       rework=rework_stage(stage, found) if reasons else None,
                       shortfall=bool(failed) and failed <= SHORTFALLS)

    async def model_check(self, stage: Stage, artefact: Mapping[str, Any], goal: str) -> Check:
        messages = self.prompts.messages("approver", goal=goal, stage=stage.name,
                                         kind=stage.artefact.__name__,
                                         summary=stage.summary(artefact))
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
    def _goal(artefact: Mapping[str, Any], inputs: Mapping[str, Any]) -> str:
        """The build's goal: from the artefacts the stage read, or (understanding, which
        reads only the spec) from the one it made."""
        source = inputs.get("blueprint") or inputs.get("requirements") or artefact
        return str(source.get("goal", ""))
