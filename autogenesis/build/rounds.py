"""One stage's rounds: its agent makes the artefact, the approver judges it, and a
rejection goes back with the reasons.

Each round asks the stage's agent for its artefact (`Produce`), logs it as the next
version of its kind, and asks the approver to judge it (`Judge`); the verdict is logged
beside it. A rejection the stage itself can fix is worked again with the reasons, at
most `max_rounds` rounds; one an earlier stage can fix returns the verdict to the
orchestrator, which sends the work there. A worker that answers a rejection with the
same artefact is looping: it is asked once more with the prompt perturbed, then the
stage fails. The stage's requests are one conversation on the bus (`_Exchange`), within
the stage's deadline.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from autogenesis.artefacts import Artefact
from autogenesis.build.messages import COORDINATOR, Judge, Judged, Produce, Produced
from autogenesis.build.stages import Stage
from autogenesis.build.state import Attempt, Progress, StageResult
from autogenesis.bus import Bus, Message
from autogenesis.bus.body import Body
from autogenesis.errors import DeadlineExceeded, RemoteError, StageFailed
from autogenesis.store.protocol import LogStore
from autogenesis.store.records import Artefact as ArtefactRecord
from autogenesis.store.records import Event
from autogenesis.store.records import Verdict as VerdictRecord

HELD_OUT_S = 240.0
"""Testing's deadline grows by this much per --eval case (a sandboxed run of the system, at
most `testing.MAX_SCENARIO_S`, and its baselines' calls)."""


@dataclass
class Rounds:
    """The rounds of a build's stages, logged to `store`; `progress` hears of each round
    (`elapsed`: seconds since the build started). The versions of each artefact kind are
    counted across the build."""

    store: LogStore
    progress: Callable[[Progress], None]
    elapsed: Callable[[], float]
    stage_timeout: float
    max_rounds: int
    concurrency: int = 1

    def __post_init__(self) -> None:
        self._versions: Counter[str] = Counter()

    def log_artefact(self, run_id: UUID, stage: str, artefact: Artefact,
                      message_id: UUID) -> ArtefactRecord:
        kind = type(artefact).__name__
        self._versions[kind] += 1
        record = ArtefactRecord(run_id=run_id, stage=stage, kind=kind,
                                version=self._versions[kind],
                                body=artefact.model_dump(mode="json"),
                                sha256=artefact.digest(), message_id=message_id)
        self.store.log(record)
        return record

    async def run(self, bus: Bus, run_id: UUID, step: Stage, inputs: dict[str, Any],
                  attempt: Attempt) -> StageResult:
        """One stage's artefact and verdict, reworked up to `max_rounds` times (then
        `StageFailed`). With `attempt.rounds`, that many attempts and the last one is
        returned whatever its verdict (`plan`). `inputs` are the stage's own: a stage that
        reads the --eval cases gets more time for each."""
        stage, feedback, previous = step.name, attempt.feedback, attempt.previous
        iteration, rounds = attempt.iteration, attempt.rounds
        exchange = _Exchange(bus, run_id, stage, deadline=time.monotonic() + (
            self.stage_timeout + HELD_OUT_S * len(inputs.get("held_out", ()))))
        perturb = False
        limit = rounds or self.max_rounds
        for round_ in range(1, limit + 2):
            if round_ > limit and not perturb:
                break  # the extra round is only for a perturbed retry
            self.progress(Progress(stage, round_, "working", self.elapsed(),
                                   iteration=iteration))
            at_once = {"concurrency": self.concurrency} if self.concurrency > 1 else {}
            reply = await exchange.request(stage, Produce(
                inputs=inputs, round=round_, feedback=feedback, perturb=perturb, **at_once),
                round_)
            artefact = step.artefact.model_validate(Produced.of(reply).artefact)
            digest = artefact.digest()
            record = self.log_artefact(run_id, stage, artefact, reply.id)
            if feedback and digest == previous:
                self.store.log(Event("loop", run_id, agent=stage, message_id=reply.id,
                                     detail={"kind": "same_artefact", "round": round_,
                                             "perturbed": perturb, "sha256": digest}))
                self.progress(Progress(stage, round_, "loop", self.elapsed(),
                                       "same artefact as the rejected one", iteration))
                if perturb:
                    raise StageFailed(stage, "the worker answered the rejection with the same "
                                      "artefact again, even with a perturbed prompt; last "
                                      "reasons: " + "; ".join(feedback), rounds=round_)
                perturb = True
                continue
            self.progress(Progress(stage, round_, "judging", self.elapsed(),
                                   iteration=iteration))
            judged = await exchange.request("approver", Judge(
                stage=stage, artefact=artefact.model_dump(mode="json"), inputs=inputs), round_)
            verdict = Judged.of(judged).verdict
            self.store.log(VerdictRecord(
                run_id=run_id, artefact_id=record.id, stage=stage, approved=verdict.approved,
                reasons=verdict.reasons, checks=[c.model_dump() for c in verdict.checks],
                message_id=judged.id))
            status = "approved" if verdict.approved else "rejected"
            self.progress(Progress(stage, round_, status, self.elapsed(),
                                   "; ".join(verdict.reasons), iteration))
            result = StageResult(stage, artefact, verdict, round_, record.id, reply.id,
                                 iteration=iteration)
            if verdict.approved or verdict.rework not in (None, stage) or (
                    rounds is not None and round_ >= rounds):
                return result
            feedback, previous = verdict.reasons, digest
        raise StageFailed(stage, f"still rejected after {self.max_rounds} round(s): "
                          + "; ".join(feedback), rounds=self.max_rounds)



@dataclass
class _Exchange:
    """One stage's conversation on the bus: the first request starts it and every later
    one (rework, the approver's judgement) follows up on its first reply, all within the
    stage's deadline, so the bus's loop detection and deadlines see one conversation."""

    bus: Bus
    run_id: UUID
    stage: str
    deadline: float
    root: Message | None = None

    async def request(self, to: str, request: Body, round_: int) -> Message:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise StageFailed(self.stage, "its deadline passed (--stage-timeout)",
                              rounds=round_)
        if self.root is None:
            message = Message.new(run_id=self.run_id, sender=COORDINATOR, recipient=to,
                                  kind=request.kind, body=request.dump(), expects_reply=True)
        else:
            message = self.root.follow_up(to, request.dump(), kind=request.kind,
                                          sender=COORDINATOR, expects_reply=True)
        try:
            reply = await self.bus.request(message, timeout=left)
        except DeadlineExceeded as exc:
            raise StageFailed(self.stage, f"{to} did not answer within the stage's deadline "
                              f"({exc.limit:.0f}s)", rounds=round_) from exc
        except RemoteError as exc:
            raise StageFailed(self.stage, f"{exc.agent} failed: {exc.error_type}: "
                              f"{exc.detail}", rounds=round_) from exc
        self.root = self.root or reply
        return reply
