"""The six topologies a generated system can have, as networks of agents on the bus.

Every topology is a `System`: a `Network` that receives a `Task` (its `input`),
drives its agents with the requests of `protocol` over the bus, and answers with a
`SystemAnswer` (`answer`, `exit`, `approved`, `steps`, and `monitors`: each monitor
agent's note on the run's steps, when the system has monitors). Each worker's step goes through
its approver (the hierarchy rule): the worker answers, the approver
reviews, a rejection goes back to the worker with the feedback, at most
`max_rounds` times; after that the last answer stands with `approved:
false`. Generated packages only say which agents play which part.

- `Pipeline`: workers in order, each seeing what the earlier ones said.
- `FeedbackLoop`: a pipeline whose reviewer (the exit agent) approves each step.
- `Router`: the router chooses one specialist for the input.
- `Hierarchy`: the manager hands the input to every worker, then writes the answer
  from their results.
- `ContractNet`: the manager asks every contractor to bid; the best bid does the work.
- `Consensus`: every member answers, every member votes for the best answer, the
  majority wins, and the aggregator writes the decision.

Members asked at once (hierarchy workers, bidders, panel members) that fail
or do not answer within `member_timeout` are left out by name (`"skipped"`)
and the rest carry on; the answer says so, as it says where a router sent
the input and who won a contract with which bids. A step not approved within
its round limit is named in `"notes"` (printed beside the answer). Facts that
agents' rules computed (`ModelAgent.rules`) lead the answer and are returned
as `"facts"`.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from autogenesis.bus.message import Message
from autogenesis.errors import ConfigError, DeadlineExceeded, RemoteError, RuntimeFailure
from autogenesis.runtime.agent import Agent, Network, handles
from autogenesis.runtime.model_agent import ModelAgent, render_facts
from autogenesis.runtime.protocol import (
    Answer,
    Bid,
    Choice,
    Choose,
    Judgement,
    Review,
    Said,
    Score,
    SystemAnswer,
    Task,
)
from autogenesis.runtime.skills import run_tests
from autogenesis.runtime.skills import within as gather_within


@dataclass(frozen=True)
class Approval:
    approver: str
    max_rounds: int = 2


@dataclass(frozen=True)
class TestRun:
    """The tests `tester` writes are run against the code `author` writes; a failure goes
    back to the author with pytest's output, at most `rounds` runs in all."""

    author: str
    tester: str
    rounds: int = 2
    __test__ = False      # not a pytest test class


@dataclass
class Flow:
    """What one run of a system has done so far (one per conversation being handled)."""

    steps: list[dict[str, Any]] = field(default_factory=list)
    facts: list[tuple[str, str, Any]] = field(default_factory=list)  # (agent, fact, value)
    notes: list[str] = field(default_factory=list)       # sentences the answer ends with
    skipped: dict[str, str] = field(default_factory=dict)   # member -> why left out
    code: dict[str, Any] = field(default_factory=dict)   # files written, test report


class System(Network):
    """A generated system: agents, who approves whom, and how work flows (`run`)."""

    topology = "system"

    def __init__(self, name: str, agents: Sequence[ModelAgent], *, entry: str, exit: str,
                 order: Sequence[str], approvals: Mapping[str, Approval] | None = None,
                 monitors: Sequence[str] = (), timeout: float = 300.0,
                 member_timeout: float | None = None,
                 test_runs: Sequence[TestRun] = ()) -> None:
        super().__init__(name, agents, entry=entry, timeout=timeout)
        self.exit = exit
        self.order = list(order)
        self.approvals = dict(approvals or {})
        self.monitors = list(monitors)
        self.member_timeout = member_timeout
        self.test_runs = list(test_runs)
        self._flows: dict[UUID, Flow] = {}     # per conversation being handled
        for name_ in [exit, *self.order, *self.approvals, *self.monitors,
                      *(a.approver for a in self.approvals.values())]:
            if name_ not in self.agents:
                raise ConfigError(f"system {name!r} refers to an unknown agent {name_!r}")

    def flow(self, within: Message) -> Flow:
        """What the run that `within` belongs to has done so far."""
        return self._flows[within.conversation_id]

    def duties(self, names: Sequence[str]) -> dict[str, str]:
        return {n: (type(self.agents[n]).__doc__ or n).strip().splitlines()[0] for n in names}

    async def handle(self, message: Message) -> Message | Mapping[str, Any] | None:
        """A system answers `Task`s (it does not forward as a plain `Network` does)."""
        return await Agent.handle(self, message)

    @handles(Task)
    async def on_task(self, request: Task, message: Message) -> SystemAnswer:
        task = request.input.strip()
        if not task:
            raise ConfigError("a system needs a task: {'input': '...'}")
        flow = self._flows[message.conversation_id] = Flow()
        try:
            answer = await self.run(task, message)
        finally:
            del self._flows[message.conversation_id]
        steps = flow.steps
        facts = self.merged(flow.facts)
        if facts:
            answer = self.restated(answer, facts)
        answer = "\n\n".join(p for p in (render_facts(facts), answer, " ".join(
            n[:1].upper() + n[1:] + "." for n in flow.notes)) if p)
        optional: dict[str, Any] = {}     # given only when there is something to say
        if facts:
            optional["facts"] = facts
        unapproved = [f"{s['agent']}'s work was not approved by {s['approver']} within its "
                      f"{s['rounds']} round(s); the last version stands"
                      for s in steps if not s["approved"]]
        if unapproved:      # said beside the answer (stderr of `python -m`), not in it
            optional["notes"] = unapproved
        if flow.skipped:
            optional["skipped"] = flow.skipped
        if flow.code:
            optional["code"] = flow.code
        if self.monitors:
            optional["monitors"] = await self.monitor(task, steps, message)
        return SystemAnswer(answer=answer, exit=self.exit, steps=steps,
                            approved=all(step["approved"] for step in steps), **optional)

    def restated(self, answer: str, facts: Mapping[str, Any]) -> str:
        """`answer` without the lines a model wrote restating facts ("Flag: urgent"), its
        prompt ("Task: ...", "From triager:") or another agent's: the rules' facts lead
        the answer once, and a small model copying them can only get them wrong."""
        labels = {k.replace("_", " ").lower() for k in facts}
        senders = {"task", *self.agents}
        kept = [line for line in answer.splitlines() if line[:1].isspace()   # code
                or ((label := line.strip().split(":", 1)[0].strip(" -*").lower()) not in labels
                and not (line.strip().endswith(":") and label.removeprefix("from ")
                         in senders) and label != "task")]
        return "\n".join(kept).strip()

    async def monitor(self, task: str, steps: Sequence[Mapping[str, Any]],
                      within: Message) -> dict[str, str]:
        """Each monitor's note on the run: it is shown every step (agent, rounds,
        approved or not) and says which went wrong."""
        report = "\n".join(
            f"{s['agent']}: {'approved' if s['approved'] else 'NOT approved'} after "
            f"{s['rounds']} round(s)" for s in steps) or "no step ran"
        notes = {}
        for name in self.monitors:
            reply = Answer.of(await self.call(name, Task(
                input=task, context=[Said(agent="steps", answer=report)]), within=within))
            notes[name] = reply.answer
        return notes

    async def run(self, task: str, within: Message) -> str:
        raise NotImplementedError

    async def step(self, worker: str, task: str, within: Message, *,
                   context: Sequence[Said] = (),
                   timeout: float | None = None) -> str:
        """One worker's answer, reworked until its approver approves or rounds run out.
        `timeout` bounds each of the worker's answers (not its approver's reviews); a
        rework that is late leaves the answer before it standing."""
        approval = self.approvals.get(worker)
        feedback: str | None = None
        rounds = approval.max_rounds if approval else 1
        approved = approval is None
        answer = ""
        for round_ in range(1, rounds + 1):
            try:
                reply = Answer.of(await self.call(worker, Task(
                    input=task, context=list(context), feedback=feedback, round=round_),
                    within=within, timeout=timeout))
            except RemoteError as exc:
                if exc.error_type != "LoopDetected" or round_ == 1:
                    raise
                break  # the worker answered the rejection with the same answer: keep it
            except DeadlineExceeded:
                if round_ == 1:
                    raise
                break  # a late rework: the answer before it stands
            answer = reply.answer
            self.learn(within, worker, reply.facts)
            if approval is None or reply.by == "rule":
                approved = True     # what a rule computed, a rework would compute again
                break
            verdict = Judgement.of(await self.call(approval.approver, Review(
                input=task, worker=worker, answer=answer, round=round_), within=within))
            if verdict.approved:
                approved = True
                break
            feedback = verdict.feedback
        step = {"agent": worker, "rounds": round_, "approved": approved, "approver":
                approval.approver if approval and reply.by != "rule" else None}
        if reply.by == "rule":
            step["by"] = "rule"
        self.flow(within).steps.append(step)
        return answer

    async def run_tests(self, run: TestRun, task: str, within: Message,
                        context: list[Said]) -> None:
        """Run the tester's tests against the author's code in the sandbox; a failure goes
        back to the author with the output, at most `run.rounds` runs. The code, the tests
        and the last report come back in the reply's `code`; `facts` says how it went."""
        at = {entry["agent"]: i for i, entry in enumerate(context)}
        code, tests = context[at[run.author]]["answer"], context[at[run.tester]]["answer"]
        stopped = ""
        for attempt in range(1, run.rounds + 1):
            outcome = await asyncio.to_thread(run_tests, code, tests)
            if outcome.ok or attempt == run.rounds:
                break
            # no tests at all is the tester's to fix; failing tests go back to the author
            fixer = run.tester if outcome.no_tests else run.author
            feedback = (f"{outcome.summary()}. Write pytest functions (def test_...(): "
                        f"assert ...) that import from solution." if outcome.no_tests else
                        f"The tests failed ({outcome.summary()}):\n{outcome.output[-800:]}")
            try:
                reply = Answer.of(await self.call(fixer, Task(
                    input=task, context=context[:at[fixer]], round=attempt + 1,
                    feedback=feedback), within=within))
            except RemoteError as exc:
                if exc.error_type != "LoopDetected":
                    raise
                stopped = f"; {fixer} gave the same answer again"
                break       # which would fail the same way
            context[at[fixer]] = Said(agent=fixer, answer=reply.answer)
            code, tests = context[at[run.author]]["answer"], context[at[run.tester]]["answer"]
        self.flow(within).code.update({
            "solution.py": code, "test_solution.py": tests,
            "tests": {"passed": outcome.passed, "failed": outcome.failed,
                      "errors": outcome.errors, "runs": attempt, "output": outcome.output}})
        self.learn(within, run.tester, {"tests": (
            f"{outcome.summary()} after {attempt} run(s)"
            + ("" if outcome.ok else "; no tests were written" if outcome.no_tests
               else f"; {run.author}'s code still fails its tests")
            + ("" if outcome.ok else stopped))})

    def learn(self, within: Message, agent: str, facts: Mapping[str, Any] | None) -> None:
        """Keep what an agent's rules computed (a later round's value replaces its own)."""
        self.flow(within).facts += [(agent, name, value)
                                                for name, value in (facts or {}).items()]

    def merged(self, given: Sequence[tuple[str, str, Any]]) -> dict[str, Any]:
        """The facts by name, in the order of the agents (not of who finished first); one
        that several agents give (each panel member's "score") is kept once per agent
        ("optimist_score")."""
        givers: dict[str, set[str]] = {}
        for agent, name, _ in given:
            givers.setdefault(name, set()).add(agent)
        rank = {name: i for i, name in enumerate(self.agents)}
        ordered = sorted(given, key=lambda g: rank.get(g[0], len(rank)))   # stable
        return {(name if len(givers[name]) == 1 else f"{agent}_{name}"): value
                for agent, name, value in ordered}

    def note(self, within: Message, text: str) -> None:
        """A sentence the answer ends with: what the flow did that the user should know."""
        self.flow(within).notes.append(text)

    async def conclude(self, task: str, context: list[Said], within: Message) -> str:
        """The exit agent's answer from what the members said."""
        final = Answer.of(await self.call(self.exit, Task(input=task, context=context),
                                          within=within))
        self.learn(within, self.exit, final.facts)
        return final.answer

    async def members(self, calls: Mapping[str, Any], within: Message,
                      what: str = "answer") -> dict[str, Any]:
        """Await the members' calls at once; those that fail or are late (each request
        bounded by `member_timeout`) are left out by name, and the answer says so. No
        member at all is a failure."""
        answers, skipped = await gather_within(calls, self.timeout)
        if skipped:
            self.flow(within).skipped.update(skipped)
            self.note(within, "Left out: " + "; ".join(f"{name} {why}"
                                                      for name, why in skipped.items()))
        if not answers:
            raise RuntimeFailure(f"no member could {what}: " + "; ".join(
                f"{name} {why}" for name, why in skipped.items()))
        return answers


class Pipeline(System):
    topology = "pipeline"

    async def run(self, task: str, within: Message) -> str:
        context: list[Said] = []
        written = None      # the last answer a worker wrote (not only computed by rules)
        for worker in self.order:
            answer = await self.step(worker, task, within, context=context)
            context.append(Said(agent=worker, answer=answer))
            if self.flow(within).steps[-1].get("by") != "rule":
                written = answer
            for run in self.test_runs:
                if run.tester == worker and run.author in {c["agent"] for c in context}:
                    await self.run_tests(run, task, within, context)
                    written = next(c["answer"] for c in context if c["agent"] == run.author)
        return written if written is not None else context[-1]["answer"]


class FeedbackLoop(Pipeline):
    topology = "feedback_loop"


class Router(System):
    topology = "router"

    async def run(self, task: str, within: Message) -> str:
        chosen = Choice.of(await self.call(self.entry, Choose(
            input=task, options=self.duties(self.order)), within=within)).choice
        if chosen not in self.order:
            raise ConfigError(f"router chose {chosen!r}, not one of {self.order}")
        answer = await self.step(chosen, task, within)
        return f"Routed to {chosen}.\n\n{answer}"


class Hierarchy(System):
    topology = "hierarchy"

    async def run(self, task: str, within: Message) -> str:
        answers = await self.members({w: self.step(w, task, within,
                                                   timeout=self.member_timeout)
                                      for w in self.order}, within)
        return await self.conclude(task, [Said(agent=w, answer=a)
                                          for w, a in answers.items()], within)


class ContractNet(System):
    """Without an `award` rule, each contractor bids how well the task fits it (0-10) and
    the best fit wins; with one ("the lowest bid wins"), each bids the stated
    `quantity` and the lowest (or highest) number wins. Ties go to the earlier one."""

    topology = "contract_net"

    def __init__(self, *args: Any, award: str | None = None, quantity: str = "",
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.award = award
        better = "lower" if award == "lowest" else "higher"
        self.quantity = quantity or f"a number (the {better} the better)"

    async def run(self, task: str, within: Message) -> str:
        request = Bid(input=task, quantity=self.quantity) if self.award else Bid(input=task)
        bids = await self.members({c: self.call(c, request, within=within,
                                                timeout=self.member_timeout)
                                   for c in self.order}, within, what="bid")
        scores = {name: score for name, bid in bids.items()
                  if (score := Score.of(bid).score) == score}       # a number, not NaN
        if not scores:
            raise RuntimeFailure("no contractor gave a bid: the task cannot be placed")
        sign = -1 if self.award == "lowest" else 1
        winner = max(scores, key=lambda name: (sign * scores[name], -self.order.index(name)))
        answer = await self.step(winner, task, within)
        listing = ", ".join(f"{name} {score:g}" for name, score in scores.items())
        return f"Awarded to {winner} (bids: {listing}).\n\n{answer}"


class Consensus(System):
    topology = "consensus"

    async def run(self, task: str, within: Message) -> str:
        proposals = await self.members({m: self.step(m, task, within,
                                                     timeout=self.member_timeout)
                                        for m in self.order}, within)
        votes = await self.members({m: self.call(m, Choose(input=task, options=proposals),
                                                 within=within, timeout=self.member_timeout)
                                    for m in proposals}, within, what="vote")
        tally = Counter(Choice.of(vote).choice for vote in votes.values())
        best = max(proposals, key=lambda m: (tally[m], -self.order.index(m)))
        return await self.conclude(task, [
            Said(agent=best, answer=proposals[best]),
            Said(agent="votes", answer=", ".join(f"{m}: {tally[m]}" for m in proposals))],
            within)


TOPOLOGY_CLASSES: dict[str, type[System]] = {
    cls.topology: cls
    for cls in (Pipeline, FeedbackLoop, Router, Hierarchy, ContractNet, Consensus)
}
