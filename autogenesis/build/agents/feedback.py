"""Stage 9, feedback & iteration: findings from this run's own log, and what to change.

The agent reads the build's rows back from PostgreSQL (verdicts, events,
messages) beside the test and tuning reports, and turns them into findings:

- `rejection`: a stage of autogenesis was rejected (every verdict that said no);
- `loop` / `deadline`: events the bus or the pipeline logged;
- `failed_tests`, `failed_example`: from the test report;
- `unapproved_steps`: generated agents whose answers their approvers kept rejecting
  in the measured examples (after tuning);
- `slow_stage`: a stage that took more than `SLOW_SHARE` of the build so far.

Change requests go to the stage that can act on a finding: prompt design for
unapproved steps and failed examples, the generator for failed tests. The
earliest requested stage is `next_stage`; the pipeline starts another
iteration there when it has iterations and time left. A stage of
autogenesis rejected `PROPOSE_AFTER` times or more gets a better prompt
proposed by the prompt design agent (over the bus, logged as a message and
in the artefact); it is never applied to `prompts/` by itself.
"""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from uuid import UUID

from autogenesis.artefacts import (
    ChangeRequest,
    Check,
    Feedback,
    Finding,
    PromptProposal,
    TestReport,
    TuningReport,
)
from autogenesis.build.agents.base import StageAgent, Work
from autogenesis.build.agents.checks import check
from autogenesis.build.messages import (
    ImprovePrompt,
    Produce,
    Produced,
    Proposal,
    opened_stage,
)
from autogenesis.build.prompts import Prompts
from autogenesis.bus.message import Message
from autogenesis.llm.base import Model
from autogenesis.runtime.agent import handles

SLOW_SHARE = 0.4
PROPOSE_AFTER = 2
UNAPPROVED_SHARE = 0.5
"""Ask for better prompts when fewer than this share of measured steps were approved."""


def stage_seconds(messages: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """Seconds per stage from the log: first to last message of each stage's conversations."""
    spans: dict[Any, list[Any]] = defaultdict(list)
    stage_of: dict[Any, str] = {}
    for m in messages:
        spans[m["conversation_id"]].append(m["created_at"])
        if (stage := opened_stage(m)) is not None:
            stage_of[m["conversation_id"]] = stage
    seconds: dict[str, float] = defaultdict(float)
    for conversation, stage in stage_of.items():
        times = spans[conversation]
        seconds[stage] += (max(times) - min(times)).total_seconds()
    return dict(seconds)


class FeedbackStage(StageAgent):
    stage = "feedback"
    produces = Feedback

    def __init__(self, model: Model, prompts: Prompts, *, store: Any,
                 order: Sequence[str]) -> None:
        """`order`: the stages feedback may ask to change, in run order (the earliest
        asked is where the next iteration starts)."""
        super().__init__(model, prompts)
        self.store = store
        self.order = tuple(order)

    @handles(Produce)
    async def on_produce(self, request: Produce, message: Message) -> Produced:
        artefact = await self.review(Work.asked(request, message), message)
        return Produced(artefact=artefact.model_dump(mode="json"), round=request.round)

    async def review(self, work: Work, within: Message) -> Feedback:
        run_id = work.run_id
        assert run_id is not None
        await asyncio.to_thread(self.store.flush)
        verdicts, events, messages = await asyncio.to_thread(self._read, run_id)
        report = TestReport.model_validate(work.inputs["test_report"])
        tuning = TuningReport.model_validate(work.inputs["tuning_report"])
        findings: list[Finding] = []
        requests: list[ChangeRequest] = []

        def find(kind: str, stage: str, detail: str, evidence: list[str],
                 request: tuple[str, str] | None = None) -> None:
            findings.append(Finding(kind=kind, stage=stage, detail=detail, evidence=evidence))
            if request is not None:
                requests.append(ChangeRequest(stage=request[0], request=request[1],
                                              finding=len(findings) - 1))

        rejected: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
        for v in verdicts:
            if not v["approved"]:
                rejected[v["stage"]].append(v)
        for stage, rows in rejected.items():
            reasons = sorted({r for v in rows for r in v["reasons"]})
            find("rejection", stage, f"rejected {len(rows)} time(s): " + "; ".join(reasons)[:600],
                 [str(v["id"]) for v in rows])
        for e in events:
            if e["kind"] in ("loop", "deadline"):
                find(e["kind"], e["agent"] or "pipeline", str(e["detail"])[:300], [str(e["id"])])
        if report.tests.failed or report.tests.errors:
            find("failed_tests", "testing", f"{report.tests.failed} failed, "
                 f"{report.tests.errors} error(s)", [],
                 ("generator", "the package's own tests fail: " + report.tests.output[-300:]))
        for s in report.scenarios:
            if not s.reached_exit:
                find("failed_example", "testing", f"example {s.example} never reached the exit "
                     f"agent: {s.error or 'no answer'}", [s.run_id or ""],
                     ("prompt_design", f"example {s.example} ({s.input[:80]!r}) got no answer"))
        if tuning.after.steps_approved < UNAPPROVED_SHARE:
            agents = Counter(a for s in report.scenarios for a in s.unapproved)
            names = ", ".join(f"{a} ({n}x)" for a, n in agents.most_common())
            find("unapproved_steps", "tuning",
                 f"after tuning {tuning.after.steps_approved:.0%} of the measured steps were "
                 f"approved; not approved: {names}", [s.run_id or "" for s in report.scenarios],
                 ("prompt_design", f"the approvers rejected the answers of {names}: make "
                  "their prompts ask for shorter, more direct answers to the task"))
        seconds = stage_seconds(messages)
        total = sum(seconds.values())
        for stage, spent in sorted(seconds.items(), key=lambda kv: -kv[1]):
            if total and spent > SLOW_SHARE * total:
                find("slow_stage", stage, f"{spent:.1f}s of {total:.1f}s "
                     f"({spent / total:.0%})", [])
        proposals = [await self._propose(stage, rows, within)
                     for stage, rows in rejected.items() if len(rows) >= PROPOSE_AFTER]
        targets = [r.stage for r in requests if r.stage in self.order]
        next_stage = min(targets, key=self.order.index) if targets else None
        return Feedback(iteration=int(work.inputs.get("iteration", 1)), findings=findings,
                        requests=requests, proposals=proposals, next_stage=next_stage)

    def _read(self, run_id: UUID) -> tuple[list[dict[str, Any]], ...]:
        return (self.store.verdicts(run_id), self.store.events(run_id),
                self.store.messages(run_id))

    async def _propose(self, stage: str, rows: list[Mapping[str, Any]],
                       within: Message) -> PromptProposal:
        reasons = sorted({r for v in rows for r in v["reasons"]})[:6]
        reply = await self.call("prompt_design", ImprovePrompt(stage=stage, reasons=reasons),
                                within=within)
        return PromptProposal(stage=stage, template=f"prompts/{stage}.j2", rejections=len(rows),
                              proposal=Proposal.of(reply).proposal)


# --- the approver's checks of this stage's artefact ---------------------------


def feedback_checks(fb: Feedback, stages: Iterable[str]) -> list[Check]:
    known = set(stages)
    return [
        check("requests_target_stages",
              (f"request to unknown stage {r.stage!r}" for r in fb.requests
               if r.stage not in known)),
        check("requests_answer_findings",
              (f"request {i} cites finding {r.finding}, which does not exist"
               for i, r in enumerate(fb.requests) if r.finding >= len(fb.findings))),
        check("next_stage_requested",
              [] if fb.next_stage is None or fb.next_stage in {r.stage for r in fb.requests}
              else [f"next stage {fb.next_stage!r} was not requested"]),
    ]
