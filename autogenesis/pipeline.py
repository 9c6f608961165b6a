"""The build: stages run over the bus for one run, each artefact judged by the approver.

`run_build` logs a run, attaches the stage agents and the approver to a bus,
and for each stage in order (understanding, design, prompt design,
generator):

1. requests the artefact from the stage's agent, within the stage's deadline;
2. logs it as version n of its kind, with the message that carried it;
3. asks the approver for a verdict and logs it;
4. on a reject, sends the reasons back for rework, at most `max_rounds` rounds.
   A worker answering with the same artefact it gave last round is looping:
   the request is repeated once with the prompt perturbed, then the stage
   fails with `StageFailed`.

The approved package is written to `<out>/<slug>/` (a temporary folder
swapped in), and every file is logged with the artefact and message that
produced it. Each stage is one conversation on the bus, so the bus's own
loop detection and deadlines apply to it.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

from autogenesis.agents import STAGES, Approver, StageAgent, Work
from autogenesis.artefacts import Artefact, Package, Verdict
from autogenesis.bus import Bus, Message
from autogenesis.codegen import write_package
from autogenesis.errors import DeadlineExceeded, RemoteError, StageFailed
from autogenesis.llm.base import Model
from autogenesis.llm.logged import LoggedModel
from autogenesis.prompts import Prompts
from autogenesis.store import Store
from autogenesis.store.records import Artefact as ArtefactRecord
from autogenesis.store.records import Event, GeneratedFile, Run
from autogenesis.store.records import Verdict as VerdictRecord

COORDINATOR = "pipeline"
# Which earlier artefacts each stage reads (keys of `inputs`).
STAGE_INPUTS = {
    "understanding": ("spec",),
    "design": ("requirements",),
    "prompt_design": ("blueprint",),
    "generator": ("blueprint", "prompt_set"),
}
OUTPUT_KEY = {"understanding": "requirements", "design": "blueprint",
              "prompt_design": "prompt_set", "generator": "package"}


@dataclass(frozen=True)
class BuildOptions:
    out_dir: Path = Path("generated")
    max_rounds: int = 3
    stage_timeout: float = 600.0
    model_blocking: bool = False


@dataclass(frozen=True)
class Progress:
    """One line of news from the build, for the CLI's progress display."""

    stage: str
    round: int
    status: str          # working, judging, approved, rejected, loop, failed
    elapsed: float
    detail: str = ""


@dataclass
class StageResult:
    stage: str
    artefact: Artefact
    verdict: Verdict
    rounds: int
    artefact_id: UUID       # the approved version's row
    message_id: UUID        # the reply that carried it
    seconds: float = 0.0


@dataclass
class BuildResult:
    run_id: UUID
    package_path: Path
    package: Package
    stages: list[StageResult] = field(default_factory=list)
    seconds: float = 0.0


def _no_progress(_: Progress) -> None:
    return None


class Build:
    def __init__(self, store: Store, model: Model, *, options: BuildOptions | None = None,
                 prompts: Prompts | None = None,
                 progress: Callable[[Progress], None] = _no_progress) -> None:
        self.store = store
        self.model = LoggedModel(model, store)
        self.options = options or BuildOptions()
        self.prompts = prompts or Prompts()
        self.progress = progress

    async def run(self, spec: str, *, spec_path: str | None = None,
                  name: str = "build") -> BuildResult:
        run = self.store.start_run(Run(
            kind="build", name=name, spec_path=spec_path,
            spec_sha256=hashlib.sha256(spec.encode()).hexdigest(),
            model=self.model.identity.model_id,
            config={"backend": self.model.identity.backend,
                    "max_rounds": self.options.max_rounds,
                    "stage_timeout": self.options.stage_timeout,
                    "model_blocking": self.options.model_blocking,
                    "out_dir": str(self.options.out_dir)}))
        started = time.monotonic()
        try:
            result = await self._stages(run, spec, started)
        except BaseException as exc:
            status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
            self.store.finish_run(run, status, error=str(exc) or type(exc).__name__)
            self.store.flush()
            raise
        result.seconds = time.monotonic() - started
        self.store.finish_run(run, "succeeded", package_path=str(result.package_path))
        self.store.flush()
        return result

    async def _stages(self, run: Run, spec: str, started: float) -> BuildResult:
        inputs: dict[str, Any] = {"spec": spec}
        results: list[StageResult] = []
        agents: list[StageAgent] = [cls(self.model, self.prompts) for cls in STAGES]
        approver = Approver(self.model, self.prompts,
                            model_blocking=self.options.model_blocking)
        async with Bus(self.store, default_timeout=self.options.stage_timeout) as bus:
            for agent in [*agents, approver]:
                await agent.attach(bus)
            for agent in agents:
                stage_started = time.monotonic()
                result = await self._stage(bus, run.id, agent, {
                    k: inputs[k] for k in STAGE_INPUTS[agent.stage]}, started)
                result.seconds = time.monotonic() - stage_started
                inputs[OUTPUT_KEY[agent.stage]] = result.artefact.model_dump(mode="json")
                results.append(result)
        last = results[-1]
        package = last.artefact
        assert isinstance(package, Package)
        path = write_package(package, self.options.out_dir)
        for file in package.files:
            self.store.log(GeneratedFile(run_id=run.id, path=f"{package.slug}/{file.path}",
                                         sha256=file.sha256, size=file.size,
                                         artefact_id=last.artefact_id,
                                         message_id=last.message_id))
        return BuildResult(run.id, path, package, results)

    async def _stage(self, bus: Bus, run_id: UUID, agent: StageAgent, inputs: dict[str, Any],
                     started: float) -> StageResult:
        stage = agent.stage
        deadline = time.monotonic() + self.options.stage_timeout
        root: Message | None = None
        feedback: list[str] = []
        previous: str | None = None
        perturb = False
        for round_ in range(1, self.options.max_rounds + 2):
            if round_ > self.options.max_rounds and not perturb:
                break  # the extra round is only for a perturbed retry
            self.progress(Progress(stage, round_, "working", time.monotonic() - started))
            body = Work(inputs, round_, feedback, perturb).body()
            reply = await self._request(bus, run_id, stage, stage, "produce", body, root,
                                        deadline, round_)
            root = root or reply
            artefact = agent.produces.model_validate(reply.body["artefact"])
            digest = artefact.digest()
            record = ArtefactRecord(run_id=run_id, stage=stage, kind=type(artefact).__name__,
                                    version=round_, body=artefact.model_dump(mode="json"),
                                    sha256=digest, message_id=reply.id)
            self.store.log(record)
            if digest == previous:
                self.store.log(Event("loop", run_id, agent=stage, message_id=reply.id,
                                     detail={"kind": "same_artefact", "round": round_,
                                             "perturbed": perturb, "sha256": digest}))
                self.progress(Progress(stage, round_, "loop", time.monotonic() - started,
                                       "same artefact as the rejected one"))
                if perturb:
                    raise StageFailed(stage, "the worker answered the rejection with the same "
                                      "artefact again, even with a perturbed prompt; last "
                                      "reasons: " + "; ".join(feedback), rounds=round_)
                perturb = True
                continue
            self.progress(Progress(stage, round_, "judging", time.monotonic() - started))
            judged = await self._request(bus, run_id, stage, "approver", "judge", {
                "stage": stage, "artefact": artefact.model_dump(mode="json"), "inputs": inputs,
            }, root, deadline, round_)
            verdict = Verdict.model_validate(judged.body["verdict"])
            self.store.log(VerdictRecord(
                run_id=run_id, artefact_id=record.id, stage=stage, approved=verdict.approved,
                reasons=verdict.reasons, checks=[c.model_dump() for c in verdict.checks],
                message_id=judged.id))
            status = "approved" if verdict.approved else "rejected"
            self.progress(Progress(stage, round_, status, time.monotonic() - started,
                                   "; ".join(verdict.reasons)))
            if verdict.approved:
                return StageResult(stage, artefact, verdict, round_, record.id, reply.id)
            feedback, previous = verdict.reasons, digest
        raise StageFailed(stage, f"still rejected after {self.options.max_rounds} round(s): "
                          + "; ".join(feedback), rounds=self.options.max_rounds)

    async def _request(self, bus: Bus, run_id: UUID, stage: str, to: str, kind: str,
                       body: dict[str, Any], root: Message | None, deadline: float,
                       round_: int) -> Message:
        left = deadline - time.monotonic()
        if left <= 0:
            raise StageFailed(stage, f"its deadline of {self.options.stage_timeout:.0f}s "
                              "passed", rounds=round_)
        if root is None:
            message = Message.new(run_id=run_id, sender=COORDINATOR, recipient=to, kind=kind,
                                  body=body, expects_reply=True)
        else:
            message = root.follow_up(to, body, kind=kind, sender=COORDINATOR,
                                     expects_reply=True)
        try:
            return await bus.request(message, timeout=left)
        except DeadlineExceeded as exc:
            raise StageFailed(stage, f"{to} did not answer within the stage's deadline "
                              f"({exc.limit:.0f}s)", rounds=round_) from exc
        except RemoteError as exc:
            raise StageFailed(stage, f"{exc.agent} failed: {exc.error_type}: {exc.detail}",
                              rounds=round_) from exc
