"""The six topologies a generated system can have, as networks of agents on the bus.

Every topology is a `System`: a `Network` that receives `{"input": ...}`,
drives its agents with requests over the bus, and answers
`{"answer", "exit", "approved", "steps"}` (and `"monitors"`: each monitor
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
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from autogenesis.bus.message import Message
from autogenesis.errors import ConfigError, RemoteError
from autogenesis.runtime.agent import Network
from autogenesis.runtime.model_agent import ModelAgent


@dataclass(frozen=True)
class Approval:
    approver: str
    max_rounds: int = 2


class System(Network):
    """A generated system: agents, who approves whom, and how work flows (`run`)."""

    topology = "system"

    def __init__(self, name: str, agents: Sequence[ModelAgent], *, entry: str, exit: str,
                 order: Sequence[str], approvals: Mapping[str, Approval] | None = None,
                 monitors: Sequence[str] = (), timeout: float = 300.0) -> None:
        super().__init__(name, agents, entry=entry, timeout=timeout)
        self.exit = exit
        self.order = list(order)
        self.approvals = dict(approvals or {})
        self.monitors = list(monitors)
        self._steps: dict[UUID, list[dict[str, Any]]] = {}  # per conversation being handled
        for name_ in [exit, *self.order, *self.approvals, *self.monitors,
                      *(a.approver for a in self.approvals.values())]:
            if name_ not in self.agents:
                raise ConfigError(f"system {name!r} refers to an unknown agent {name_!r}")

    def duties(self, names: Sequence[str]) -> dict[str, str]:
        return {n: (type(self.agents[n]).__doc__ or n).strip().splitlines()[0] for n in names}

    async def handle(self, message: Message) -> Mapping[str, Any]:
        task = str(message.body.get("input", "")).strip()
        if not task:
            raise ConfigError("a system needs {'input': '...'}")
        steps = self._steps[message.conversation_id] = []
        try:
            answer = await self.run(task, message)
        finally:
            del self._steps[message.conversation_id]
        body: dict[str, Any] = {"answer": answer, "exit": self.exit, "steps": steps,
                                "approved": all(step["approved"] for step in steps)}
        if self.monitors:
            body["monitors"] = await self.monitor(task, steps, message)
        return body

    async def monitor(self, task: str, steps: Sequence[Mapping[str, Any]],
                      within: Message) -> dict[str, str]:
        """Each monitor's note on the run: it is shown every step (agent, rounds,
        approved or not) and says which went wrong."""
        report = "\n".join(
            f"{s['agent']}: {'approved' if s['approved'] else 'NOT approved'} after "
            f"{s['rounds']} round(s)" for s in steps) or "no step ran"
        notes = {}
        for name in self.monitors:
            reply = await self.request(name, "task", {
                "input": task, "context": [{"agent": "steps", "answer": report}]},
                within=within)
            notes[name] = reply.body["answer"]
        return notes

    async def run(self, task: str, within: Message) -> str:
        raise NotImplementedError

    async def step(self, worker: str, task: str, within: Message, *,
                   context: Sequence[Mapping[str, str]] = ()) -> str:
        """One worker's answer, reworked until its approver approves or rounds run out."""
        approval = self.approvals.get(worker)
        feedback: str | None = None
        rounds = approval.max_rounds if approval else 1
        approved = approval is None
        answer = ""
        for round_ in range(1, rounds + 1):
            try:
                reply = await self.request(worker, "task", {
                    "input": task, "context": list(context), "feedback": feedback,
                    "round": round_}, within=within)
            except RemoteError as exc:
                if exc.error_type != "LoopDetected" or round_ == 1:
                    raise
                break  # the worker answered the rejection with the same answer: keep it
            answer = reply.body["answer"]
            if approval is None:
                break
            verdict = await self.request(approval.approver, "review", {
                "input": task, "worker": worker, "answer": answer, "round": round_},
                within=within)
            if verdict.body["approved"]:
                approved = True
                break
            feedback = verdict.body["feedback"]
        self._steps[within.conversation_id].append(
            {"agent": worker, "rounds": round_, "approved": approved, "approver":
             approval.approver if approval else None})
        return answer


class Pipeline(System):
    topology = "pipeline"

    async def run(self, task: str, within: Message) -> str:
        context: list[dict[str, str]] = []
        for worker in self.order:
            answer = await self.step(worker, task, within, context=context)
            context.append({"agent": worker, "answer": answer})
        return context[-1]["answer"]


class FeedbackLoop(Pipeline):
    topology = "feedback_loop"


class Router(System):
    topology = "router"

    async def run(self, task: str, within: Message) -> str:
        choice = await self.request(self.entry, "choose", {
            "input": task, "options": self.duties(self.order)}, within=within)
        chosen = choice.body["choice"]
        if chosen not in self.order:
            raise ConfigError(f"router chose {chosen!r}, not one of {self.order}")
        return await self.step(chosen, task, within)


class Hierarchy(System):
    topology = "hierarchy"

    async def run(self, task: str, within: Message) -> str:
        answers = await asyncio.gather(*(self.step(w, task, within) for w in self.order))
        context = [{"agent": w, "answer": a} for w, a in zip(self.order, answers, strict=True)]
        final = await self.request(self.exit, "task", {"input": task, "context": context},
                                   within=within)
        return final.body["answer"]


class ContractNet(System):
    topology = "contract_net"

    async def run(self, task: str, within: Message) -> str:
        bids = await asyncio.gather(*(
            self.request(c, "bid", {"input": task}, within=within) for c in self.order))
        scores = [bid.body["score"] for bid in bids]
        winner = self.order[scores.index(max(scores))]
        return await self.step(winner, task, within)


class Consensus(System):
    topology = "consensus"

    async def run(self, task: str, within: Message) -> str:
        answers = await asyncio.gather(*(self.step(m, task, within) for m in self.order))
        proposals = dict(zip(self.order, answers, strict=True))
        votes = await asyncio.gather(*(self.request(m, "choose", {
            "input": task, "options": proposals}, within=within) for m in self.order))
        tally = Counter(vote.body["choice"] for vote in votes)
        best = max(self.order, key=lambda m: (tally[m], -self.order.index(m)))
        context = [{"agent": best, "answer": proposals[best]},
                   {"agent": "votes", "answer": ", ".join(f"{m}: {tally[m]}"
                                                          for m in self.order)}]
        final = await self.request(self.exit, "task", {"input": task, "context": context},
                                   within=within)
        return final.body["answer"]


TOPOLOGY_CLASSES: dict[str, type[System]] = {
    cls.topology: cls
    for cls in (Pipeline, FeedbackLoop, Router, Hierarchy, ContractNet, Consensus)
}
