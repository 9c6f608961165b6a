"""Stage 2, design: `Requirements` -> `Blueprint`.

The topology is the spec's (stated, or found by its keywords); only when the
spec gives no sign does the model choose one, under an enum schema. Then
rules fill in the rest: which agent supervises (an agent whose duties say it
reviews, routes, manages or chairs; one is added when the spec has none,
because every worker needs an approver), the order of the workers (the
spec's flow, else the order the spec names them), edges, entry and exit,
worker -> approver pairs, model settings and a Mermaid diagram.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence

from autogenesis.agents.base import StageAgent, Work
from autogenesis.artefacts import (
    TOPOLOGIES,
    AgentDesign,
    AgentDuty,
    Approval,
    Blueprint,
    Edge,
    ModelSettings,
    Requirements,
)
from autogenesis.codegen import check_identifier
from autogenesis.errors import ConfigError
from autogenesis.spec import slugify

# Words in an agent's name or duties that make it the supervisor of a topology.
SUPERVISOR_WORDS = {
    "approver": r"approv|review|check|verif|judge|critic|proofread|quality",
    "router": r"triage|rout|classif|dispatch|decides which|which specialist",
    "manager": r"manag|lead|coordinat|delegat|broker|boss|announc|award|assign",
    "chair": r"chair|moderat|aggregat|tall(y|ies)|collect|majority",
}
SUPERVISOR = {"pipeline": "approver", "feedback_loop": "approver", "router": "router",
              "hierarchy": "manager", "contract_net": "manager", "consensus": "chair"}
ADDED_NAME = {"approver": "supervisor", "router": "router", "manager": "manager",
              "chair": "chair"}
ADDED_DUTY = {
    "approver": "reviews every step's answer and approves it or sends it back with feedback",
    "router": "reads each input and chooses the one agent that should answer it",
    "manager": "hands the work to the workers, approves their results and combines them",
    "chair": "collects the answers and votes and writes the final decision",
}
TOPOLOGY_SCHEMA = {"type": "object", "properties": {"topology": {"enum": list(TOPOLOGIES)}},
                   "required": ["topology"], "additionalProperties": False}
DEFAULT_MAX_ROUNDS = 2


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
    pattern = re.compile(SUPERVISOR_WORDS[kind], re.I)
    if kind == "approver":  # reviewers say so in their duties (an "editor" may just write)
        found = [a for a in agents if a.name in back_sources
                 or any(pattern.search(d) for d in a.duties)]
    else:
        found = [a for a in agents if pattern.search(a.name)
                 or any(pattern.search(d) for d in a.duties)]
    if not found:
        return None
    return found[-1] if kind == "approver" else found[0]  # the last reviewer has the last word


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
    slug = slugify(title)
    try:
        return check_identifier(slug, "system slug")
    except ConfigError:
        return check_identifier(slugify(f"{slug} system"), "system slug")


def diagram(blueprint_edges: Sequence[Edge], agents: Sequence[AgentDesign], entry: str,
            exit_: str) -> str:
    shapes = {"worker": ("[", "]"), "approver": ("([", "])"), "router": ("{", "}"),
              "manager": ("[[", "]]"), "chair": ("[[", "]]")}
    lines = ["flowchart LR", "    input([input])"]
    for agent in agents:
        left, right = shapes[agent.kind]
        lines.append(f"    {agent.name}{left}\"{agent.name}<br/>{agent.kind}\"{right}")
    lines.append("    answer([answer])")
    lines.append(f"    input --> {entry}")
    for edge in blueprint_edges:
        arrow = {"sends": "-->", "approves": "-. approves .->",
                 "broadcasts": "== broadcasts ==>"}[edge.kind]
        lines.append(f"    {edge.source} {arrow} {edge.target}")
    lines.append(f"    {exit_} --> answer")
    return "\n".join(lines)


class Design(StageAgent):
    stage = "design"
    produces = Blueprint

    async def produce(self, work: Work) -> Blueprint:
        req = Requirements.model_validate(work.inputs["requirements"])
        topology = req.topology_hint or await self._choose_topology(req, work)
        links = [(link.source, link.target) for link in req.flow]
        position = {a.name: i for i, a in enumerate(req.agents)}
        back_sources = {a for a, b in links if (b, a) in links
                        and position.get(a, 0) > position.get(b, 0)}
        kind = SUPERVISOR[topology]
        chief = _supervisor(req.agents, kind, back_sources)
        stated = list(req.agents)
        if chief is not None and len(stated) == 1:  # a lone agent works; someone must approve
            chief = None
        if chief is None:
            name = ADDED_NAME[kind]
            while any(a.name == name for a in stated):
                name += "_agent"
            chief = AgentDuty(name=name, duties=[ADDED_DUTY[kind]], stated=False)
            stated.append(chief)
        workers = worker_order([a.name for a in stated if a.name != chief.name], links)
        settings = ModelSettings(max_new_tokens=max_new_tokens(req.answer_words))
        agents = [AgentDesign(
            name=a.name, kind=kind if a.name == chief.name else "worker",
            role=(f"{kind} of the {topology.replace('_', ' ')}" if a.name == chief.name
                  else "worker"),
            duties=a.duties, stated=a.stated, model=settings,
            inputs=self._inputs(a.name, topology, chief.name, workers),
            outputs=[chief.name] if a.name != chief.name else ["answer"],
        ) for a in stated]
        agents.sort(key=lambda a: ([chief.name, *workers].index(a.name)
                                   if topology not in ("pipeline", "feedback_loop")
                                   else [*workers, chief.name].index(a.name)))
        edges = self._edges(topology, chief.name, workers)
        entry, exit_ = self._entry_exit(topology, chief.name, workers)
        return Blueprint(
            slug=system_slug(req.title), title=req.title, goal=req.goal, topology=topology,
            agents=agents, edges=edges, entry=entry, exit=exit_, order=workers,
            approvals=[Approval(worker=w, approver=chief.name, max_rounds=DEFAULT_MAX_ROUNDS)
                       for w in workers],
            examples=req.examples, answer_words=req.answer_words,
            step_seconds=req.step_seconds or 60.0,
            diagram=diagram(edges, agents, entry, exit_),
        )

    async def _choose_topology(self, req: Requirements, work: Work) -> str:
        result = await self.ask("design", work, schema=TOPOLOGY_SCHEMA, max_new_tokens=16,
                                goal=req.goal, agents=[a.model_dump() for a in req.agents])
        return result.parsed["topology"] if result.parsed else "pipeline"

    @staticmethod
    def _inputs(name: str, topology: str, chief: str, workers: list[str]) -> list[str]:
        if name == chief:
            return ["input", *workers]
        if topology in ("pipeline", "feedback_loop"):
            i = workers.index(name)
            return ["input", *workers[:i]] if i else ["input"]
        return ["input"]

    @staticmethod
    def _edges(topology: str, chief: str, workers: list[str]) -> list[Edge]:
        edges: list[Edge] = []
        if topology in ("pipeline", "feedback_loop"):
            edges += [Edge(source=a, target=b, kind="sends")
                      for a, b in itertools.pairwise(workers)]
            if topology == "feedback_loop":
                edges.append(Edge(source=workers[-1], target=chief, kind="sends"))
        else:
            kind = "broadcasts" if topology in ("contract_net", "consensus") else "sends"
            edges += [Edge(source=chief, target=w, kind=kind) for w in workers]
        edges += [Edge(source=chief, target=w, kind="approves") for w in workers]
        return edges

    @staticmethod
    def _entry_exit(topology: str, chief: str, workers: list[str]) -> tuple[str, str]:
        if topology == "pipeline":
            return workers[0], workers[-1]
        if topology == "feedback_loop":
            return workers[0], chief
        return chief, chief


__all__ = ["Design", "diagram", "max_new_tokens", "system_slug", "worker_order"]
