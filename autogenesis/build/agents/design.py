"""Stage 2, design: `Requirements` -> `Blueprint`.

Design follows what the spec states. The topology is the one understanding
read (stated outright, else described by the roles and the flow, else the
keywords, with the reason); only when the spec gives no sign does the model
choose one, under an enum schema. Then rules fill in the rest: the chief of
the topology (the agent whose stated or read role it is: the router, the
manager, the aggregator, the last approver; an agent whose words point to it;
one is added when the spec has none, because every worker needs an approver),
the other supervisors and monitors as the spec gives them, the order of the
workers (the spec's flow, else the order the spec names them), each worker's
approver (the spec's loop with its round limit, else an approver of every
step, else the chief), edges, entry and exit, model settings, a Mermaid
diagram, and which agent applies each rule the spec states
(`autogenesis.build.agents.wiring`).
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any, cast

from autogenesis.artefacts import (
    SUPERVISOR_KINDS,
    TOPOLOGIES,
    AgentDesign,
    AgentDuty,
    Approval,
    Blueprint,
    Check,
    Edge,
    Loop,
    ModelSettings,
    Requirements,
    Topology,
)
from autogenesis.build.agents.base import StageAgent, Work
from autogenesis.build.agents.checks import check, safe_names
from autogenesis.build.agents.wiring import wire_rules
from autogenesis.build.codegen import check_identifier
from autogenesis.errors import ConfigError
from autogenesis.llm.schema import decoding_schema, one_of
from autogenesis.spec import slugify

SUPERVISOR = {"pipeline": "approver", "feedback_loop": "approver", "router": "router",
              "hierarchy": "manager", "contract_net": "manager", "consensus": "aggregator"}
ADDED_NAME = {"approver": "supervisor", "router": "router", "manager": "manager",
              "aggregator": "chair"}
ADDED_DUTY = {
    "approver": "reviews every step's answer and approves it or sends it back with feedback",
    "router": "reads each input and chooses the one agent that should answer it",
    "manager": "hands the work to the workers, approves their results and combines them",
    "aggregator": "collects the answers and votes and writes the final decision",
}
TOPOLOGY_SCHEMA = decoding_schema(one_of("topology", tuple(TOPOLOGIES)))
DEFAULT_MAX_ROUNDS = 2
NEAREST_ROLE = {"manager": ("approver", "aggregator"), "aggregator": ("approver", "manager")}
"""The supervisor that takes the chief's part when the spec gives no agent that role."""


ANSWER_TOKENS = 128
"""The most any step decodes by default: later agents see at most 120 words of an earlier
answer (`runtime.model_agent.CONTEXT_WORDS`), and a small model fills the rest with
repetition. Tuning measures whether fewer serve as well."""


def max_new_tokens(words: int | None) -> int:
    """A token budget that keeps answers inside a limit of `words` words (a token is at
    most a word, usually 0.75 of one), 48-128."""
    return ANSWER_TOKENS if words is None else max(48, min(ANSWER_TOKENS, words))


def _supervisor(agents: Sequence[AgentDuty], kind: str, back_sources: set[str],
                ) -> AgentDuty | None:
    """The agent that plays `kind` in the topology: one whose role says so (the last
    approver has the last word), or for an approver a worker that a back arrow shows
    sending work back; None when the spec has none."""
    roled = [a for a in agents if a.role == kind]
    if roled:
        return roled[-1] if kind == "approver" else roled[0]
    if kind == "approver":
        found = [a for a in agents if a.name in back_sources and a.role == "worker"]
        return found[-1] if found else None
    for nearest in NEAREST_ROLE.get(kind, ()):   # a stated hierarchy whose one supervisor
        roled = [a for a in agents if a.role == nearest]     # approves: it leads
        if roled:
            return roled[-1]
    return None


def worker_order(workers: Sequence[str], links: Sequence[tuple[str, str]]) -> list[str]:
    """Workers in flow order (a topological order, ties by spec order), ignoring back edges."""
    position = {name: i for i, name in enumerate(workers)}
    forward = {(a, b) for a, b in links if a in position and b in position and a != b
               and not ((b, a) in links and position[a] > position[b])}
    incoming = {name: {a for a, b in forward if b == name} for name in workers}
    order: list[str] = []
    while len(order) < len(workers):
        ready = [n for n in workers if n not in order and incoming[n] <= set(order)]
        order.append(ready[0] if ready else next(n for n in workers if n not in order))
    return order


def system_slug(title: str) -> str:
    slug = slugify(title) or "system"
    try:
        return check_identifier(slug, "system slug")
    except ConfigError:
        return check_identifier(slugify(f"{slug} system") or "system", "system slug")


def diagram(blueprint_edges: Sequence[Edge], agents: Sequence[AgentDesign], entry: str,
            exit_: str) -> str:
    shapes = {"worker": ("[", "]"), "approver": ("([", "])"), "router": ("{", "}"),
              "manager": ("[[", "]]"), "aggregator": ("[[", "]]"), "monitor": ("[/", "/]")}
    lines = ["flowchart LR", "    input([input])"]
    for agent in agents:
        left, right = shapes[agent.kind]
        lines.append(f"    {agent.name}{left}\"{agent.name}<br/>{agent.kind}\"{right}")
    lines.append("    answer([answer])")
    lines.append(f"    input --> {entry}")
    for edge in blueprint_edges:
        arrow = {"sends": "-->", "approves": "-. approves .->",
                 "broadcasts": "== broadcasts ==>", "monitors": "-. watches .->"}[edge.kind]
        lines.append(f"    {edge.source} {arrow} {edge.target}")
    lines.append(f"    {exit_} --> answer")
    return "\n".join(lines)


class Design(StageAgent):
    stage = "design"
    produces = Blueprint

    async def produce(self, work: Work) -> Blueprint:
        req = Requirements.model_validate(work.inputs["requirements"])
        topology = req.topology_hint
        reason = req.topology_reason
        if topology is None:
            topology = await self._choose_topology(req, work)
            reason = "the spec gives no sign of one: chosen by the model"
        links = [(link.source, link.target) for link in req.flow]
        position = {a.name: i for i, a in enumerate(req.agents)}
        back_sources = {a for a, b in links if (b, a) in links
                        and position.get(a, 0) > position.get(b, 0)}
        kind = SUPERVISOR[topology]
        chief = _supervisor(req.agents, kind, back_sources)
        if chief is None and kind == "router" and reason.startswith("stated") and \
                len(req.agents) >= 3:       # a stated router: the input goes to the first
            chief = req.agents[0]             # agent the spec lists
            reason += f"; {chief.name}, listed first, routes"
        stated = list(req.agents)
        if chief is not None and len(stated) == 1:  # a lone agent works; someone must approve
            chief = None
        if chief is None:
            name = ADDED_NAME[kind]
            while any(a.name == name for a in stated):
                name += "_agent"
            chief = AgentDuty(name=name, duties=[ADDED_DUTY[kind]], stated=False, role=kind)
            stated.append(chief)
        kinds = {a.name: (kind if a.name == chief.name else
                          "worker" if a.role in SUPERVISOR_KINDS and a.role != "approver"
                          else a.role) for a in stated}
        if "worker" not in kinds.values():    # only supervisors stated: they do the work
            kinds = {name: kind if name == chief.name else "worker"
                     for name, kind in kinds.items()}
        workers = worker_order([a.name for a in stated if kinds[a.name] == "worker"], links)
        approvals = self._approvals(req, workers, chief.name, kinds)
        approver_of = {a.worker: a.approver for a in approvals}
        settings = ModelSettings(max_new_tokens=max_new_tokens(req.answer_words))
        agents = [AgentDesign(
            name=a.name, kind=kinds[a.name],
            role=(f"{kind} of the {topology.replace('_', ' ')}" if a.name == chief.name
                  else kinds[a.name]),
            duties=a.duties, stated=a.stated, model=settings,
            inputs=self._inputs(a.name, topology, chief.name, workers),
            outputs=[approver_of.get(a.name, chief.name)] if a.name != chief.name
            else ["answer"],
        ) for a in stated]
        placed = [*workers, chief.name] if topology in ("pipeline", "feedback_loop") \
            else [chief.name, *workers]
        agents.sort(key=lambda a: placed.index(a.name) if a.name in placed else len(placed))
        final_review = chief.stated and chief.name not in req.every_step
        edges = self._edges(topology, chief.name, workers, final_review)
        edges += [Edge(source=a.approver, target=a.worker, kind="approves")
                  for a in approvals]
        edges += [Edge(source=m, target=w, kind="monitors")
                  for m in (n for n, k in kinds.items() if k == "monitor") for w in workers]
        entry, exit_ = self._entry_exit(topology, chief.name, workers)
        rules, rule_only = wire_rules(req.rules, agents, topology=topology, order=workers,
                                      exit_=exit_, lines={a.name: a.line for a in stated},
                                      rounds={a.worker: a.max_rounds for a in approvals})
        return Blueprint(
            slug=system_slug(req.title), title=req.title, goal=req.goal, topology=topology,
            agents=agents, edges=edges, entry=entry, exit=exit_, order=workers,
            approvals=approvals, examples=req.examples, answer_words=req.answer_words,
            step_seconds=req.step_seconds or 60.0,
            diagram=diagram(edges, agents, entry, exit_), topology_reason=reason,
            rules=rules, rule_only=rule_only,
        )

    @staticmethod
    def _approvals(req: Requirements, workers: list[str], chief: str,
                   kinds: dict[str, str]) -> list[Approval]:
        """Each worker's approver: the one the spec's loop names (with its round limit),
        else an approver the spec says approves every step, else the chief."""
        stated: dict[str, Loop] = {}
        for each in req.loops:
            if each.worker in workers and each.approver in kinds:
                stated.setdefault(each.worker, each)
        every = next((a for a in req.every_step if a in kinds), None)
        approvals = []
        for worker in workers:
            loop = stated.get(worker)
            approver = loop.approver if loop else every or chief
            rounds = (loop.attempts if loop else None) or DEFAULT_MAX_ROUNDS
            approvals.append(Approval(worker=worker, approver=approver, max_rounds=rounds))
        return approvals

    async def _choose_topology(self, req: Requirements, work: Work) -> Topology:
        result = await self.ask("design", work, schema=TOPOLOGY_SCHEMA, max_new_tokens=16,
                                goal=req.goal, agents=[a.model_dump() for a in req.agents])
        # the schema's enum is the topologies: the grammar keeps the model to one of them
        return cast(Topology, result.parsed["topology"]) if result.parsed else "pipeline"

    @staticmethod
    def _inputs(name: str, topology: str, chief: str, workers: list[str]) -> list[str]:
        if name == chief or name not in workers:    # supervisors and monitors see all
            return ["input", *workers]
        if topology in ("pipeline", "feedback_loop"):
            i = workers.index(name)
            return ["input", *workers[:i]] if i else ["input"]
        return ["input"]

    @staticmethod
    def _edges(topology: str, chief: str, workers: list[str],
               final_review: bool) -> list[Edge]:
        """The message edges: a chain for a pipeline (ending at the approver when it
        reviews the finished work), the chief to every worker otherwise."""
        edges: list[Edge] = []
        if topology in ("pipeline", "feedback_loop"):
            edges += [Edge(source=a, target=b, kind="sends")
                      for a, b in itertools.pairwise(workers)]
            if topology == "feedback_loop" or final_review:
                edges.append(Edge(source=workers[-1], target=chief, kind="sends"))
        else:
            kind = "broadcasts" if topology in ("contract_net", "consensus") else "sends"
            edges += [Edge(source=chief, target=w, kind=kind) for w in workers]
        return edges

    @staticmethod
    def _entry_exit(topology: str, chief: str, workers: list[str]) -> tuple[str, str]:
        if topology == "pipeline":
            return workers[0], workers[-1]
        if topology == "feedback_loop":
            return workers[0], chief
        return chief, chief


__all__ = ["Design", "diagram", "max_new_tokens", "system_slug", "worker_order"]


# --- the approver's checks of this stage's artefact ---------------------------


def _reachable(start: str, edges: Iterable[tuple[str, str]]) -> set[str]:
    neighbours: dict[str, set[str]] = {}
    for a, b in edges:
        neighbours.setdefault(a, set()).add(b)
    seen, queue = {start}, deque([start])
    while queue:
        for nxt in neighbours.get(queue.popleft(), ()):
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return seen


def blueprint_checks(bp: Blueprint, req: Requirements) -> list[Check]:
    names = [a.name for a in bp.agents]
    known = set(names)
    undirected = [(e.source, e.target) for e in bp.edges] + \
                 [(e.target, e.source) for e in bp.edges]
    directed = [(e.source, e.target) for e in bp.edges if e.kind != "approves"]
    duties = {d for a in bp.agents for d in a.duties}
    approver_of = {a.worker: a for a in bp.approvals}
    kinds = {a.name: a.kind for a in bp.agents}
    hierarchy = []
    for agent in bp.agents:
        if agent.kind != "worker":
            continue
        pair = approver_of.get(agent.name)
        reviewer = approver_of.get(pair.approver) if pair else None
        if pair is None:
            hierarchy.append(f"worker {agent.name!r} has no approver")
        elif pair.approver == agent.name:
            hierarchy.append(f"worker {agent.name!r} approves itself")
        elif kinds.get(pair.approver) not in SUPERVISOR_KINDS and not (
                kinds.get(pair.approver) == "worker" and reviewer is not None
                and kinds.get(reviewer.approver) in SUPERVISOR_KINDS):
            hierarchy.append(f"{agent.name!r} is approved by {pair.approver!r}, which is not "
                             "a supervising agent, nor a worker the spec says reviews it "
                             "under one")
    stated_loops: dict[str, list[Any]] = {}
    for lp in req.loops:
        if kinds.get(lp.worker) == "worker":
            stated_loops.setdefault(lp.worker, []).append(lp)
    loops_lost = [
        f"the spec's loop {worker} -> {' or '.join(lp.approver for lp in loops)} is not "
        f"{worker}'s approval ({pair.approver if pair else 'none'}"
        f"{f', {pair.max_rounds} rounds' if pair else ''})"
        for worker, loops in stated_loops.items()
        if (pair := approver_of.get(worker)) is None or not any(
            pair.approver == lp.approver and lp.attempts in (None, pair.max_rounds)
            for lp in loops)]
    return [
        check("spec_agents_present",
              (f"agent {a.name!r} of the requirements is missing" for a in req.agents
               if a.name not in known), f"{len(req.agents)} agent(s) present"),
        check("names_safe", [*safe_names([bp.slug], "system slug"),
                             *safe_names(names, "agent name"),
                             *([f"agent names repeat: {names}"] if len(known) < len(names)
                               else [])]),
        check("agents_known",
              (f"{what} {name!r} is not an agent" for what, name in
               [("entry", bp.entry), ("exit", bp.exit), *(("order", n) for n in bp.order),
                *(("edge end", n) for e in bp.edges for n in (e.source, e.target)),
                *(("approval", n) for a in bp.approvals for n in (a.worker, a.approver))]
               if name not in known)),
        check("graph_connected",
              (f"{name!r} is not connected to {bp.entry!r}" for name in names
               if name not in _reachable(bp.entry, undirected))),
        check("entry_to_exit_path",
              [] if bp.exit in _reachable(bp.entry, directed)
              else [f"no path of messages from {bp.entry!r} to {bp.exit!r}"]),
        check("duties_covered",
              (f"duty {d!r} of {a.name!r} is covered by no agent" for a in req.agents
               for d in a.duties if d not in duties)),
        check("hierarchy_rule", hierarchy,
              f"{len(bp.approvals)} worker -> approver pair(s)"),
        check("loops_kept", loops_lost, f"{len(req.loops)} stated loop(s) kept"),
        check("roles_kept",
              (f"{a.name!r} is a {a.role} in the requirements but a {kinds.get(a.name)} in "
               "the blueprint" for a in req.agents
               if a.role in ("approver", "monitor") and kinds.get(a.name) != a.role)),
        check("workers_ordered",
              (f"worker {a.name!r} is missing from the order" for a in bp.agents
               if a.kind == "worker" and a.name not in bp.order)),
        check("diagram_complete",
              (f"the diagram does not show {name!r}" for name in names
               if name not in bp.diagram)),
        rules_wired(bp, req, known),
    ]


def rules_wired(bp: Blueprint, req: Requirements, known: set[str]) -> Check:
    """Every rule the spec states is applied by an agent of the system (or by the system
    itself), or the blueprint says why not."""
    designed = {(r.kind, r.text, r.line): r for r in bp.rules}
    problems = []
    for rule in req.rules:
        wired = designed.get((rule.kind, rule.text, rule.line))
        if wired is None:
            problems.append(f"the {rule.kind} rule {rule.text!r} was dropped")
        elif wired.agent is None and not wired.why.strip():
            problems.append(f"the {rule.kind} rule {rule.text!r} is not wired and no reason "
                            "is given")
        elif wired.agent and wired.agent not in known:
            problems.append(f"the {rule.kind} rule {rule.text!r} is wired to "
                            f"{wired.agent!r}, which is not an agent")
    count = sum(r.wired for r in bp.rules)
    unwired = "; ".join(f"{r.text} ({r.why})" for r in bp.rules if not r.wired)
    return check("rules_wired", problems,
                 f"{count} of {len(req.rules)} stated rule(s) applied by code"
                 + (f"; not wired: {unwired}" if unwired else ""))
