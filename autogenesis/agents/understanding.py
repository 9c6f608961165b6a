"""Stage 1, understanding: spec markdown -> `Requirements`.

What the spec states outright comes from `autogenesis.spec.parse_spec`, by
rule, so nothing stated is ever dropped. The model is asked only for what
is implicit: a name for each agent the spec gives a duty but no name ("one
helper should break the topic down"), and, for a spec that names no agent
at all, the list of agents it needs.
"""

from __future__ import annotations

import itertools
import re

from autogenesis.agents.base import StageAgent, Work
from autogenesis.artefacts import AgentDuty, Example, Link, Requirements
from autogenesis.spec import check_spec_text, parse_spec, to_name

NAME_SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string", "pattern": "^[a-z]{3,16}(_[a-z]{3,12})?$"}},
    "required": ["name"],
    "additionalProperties": False,
}
AGENTS_SCHEMA = {
    "type": "object",
    "properties": {"agents": {
        "type": "array", "minItems": 1, "maxItems": 5,
        "items": {"type": "object",
                  "properties": {"name": {"type": "string",
                                          "pattern": "^[a-z]{3,16}(_[a-z]{3,12})?$"},
                                 "duty": {"type": "string", "maxLength": 120}},
                  "required": ["name", "duty"], "additionalProperties": False}}},
    "required": ["agents"],
    "additionalProperties": False,
}


DUTY_SKIP = frozenset(("the", "a", "an", "each", "every", "all", "two", "three", "four",
                       "some", "any", "its", "their", "down", "up", "out", "one", "and"))


def fits(name: str, duty: str) -> bool:
    """A name fits a duty when one of its words shares a stem (4 letters) with the duty's."""
    stems = {w[:4] for w in re.findall(r"[a-z]{4,}", duty.lower())}
    return any(part[:4] in stems for part in name.split("_") if len(part) >= 4)


def duty_name(duty: str, taken: set[str]) -> str:
    """A name made from the duty itself: its verb as a doer, after its object
    ("write two quiz questions" -> "quiz_writer", "explain each idea" -> "idea_explainer")."""
    words = re.findall(r"[a-z]+", duty.lower())
    if not words:
        return _unique("helper_agent", taken)
    verb = words[0]
    doer = verb + ("r" if verb.endswith("e") else "er")
    thing = next((w for w in words[1:] if w not in DUTY_SKIP and len(w) > 2), None)
    name = f"{thing.rstrip('s')}_{doer}" if thing else doer
    return _unique(to_name(name) or "helper_agent", taken)


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name}_{n}", n + 1
    return candidate


class Understanding(StageAgent):
    stage = "understanding"
    produces = Requirements

    async def produce(self, work: Work) -> Requirements:
        text = check_spec_text(work.inputs["spec"])
        parsed = parse_spec(text)
        title = parsed.title or " ".join((parsed.goal or "system").split()[:6])
        goal = parsed.goal or title
        # (position in the spec, agent): stated agents and named implied roles interleave.
        placed: list[tuple[int, AgentDuty]] = [
            (a.pos, AgentDuty(name=a.name, duties=a.duties or [f"does the "
                              f"{a.name.replace('_', ' ')} step of the flow"]))
            for a in parsed.agents]
        taken = {a.name for a in parsed.agents}
        for role in parsed.implied:
            name, by = await self._name_role(title, role.duty, taken, work)
            taken.add(name)
            placed.append((role.pos, AgentDuty(name=name, duties=[role.duty], stated=False,
                                               named_by=by)))
        if not placed:
            for agent in await self._list_agents(text, work):
                taken.add(agent.name)
                placed.append((len(placed), agent))
        agents = [agent for _, agent in sorted(placed, key=lambda p: p[0])]
        flow = [Link(source=a, target=b) for a, b in parsed.flow]
        if not flow and parsed.order:
            flow = [Link(source=a, target=b) for a, b in itertools.pairwise(parsed.order)]
        return Requirements(
            title=title, goal=goal, agents=agents, flow=flow,
            examples=[Example(input=i, expected=e) for i, e in parsed.examples],
            constraints=parsed.constraints, topology_hint=parsed.topology_hint,
            answer_words=parsed.answer_words, step_seconds=parsed.step_seconds,
        )

    async def _name_role(self, title: str, duty: str, taken: set[str],
                         work: Work) -> tuple[str, str]:
        """(name, "model") when the model's name is new and fits the duty, else one made
        from the duty by rule."""
        result = await self.ask("understanding", work, schema=NAME_SCHEMA, max_new_tokens=24,
                                title=title, duty=duty, taken=sorted(taken))
        name = to_name(result.parsed["name"]) if result.parsed else None
        if name is None or name in taken or not fits(name, duty):
            return duty_name(duty, taken), "rule"  # small models repeat themselves or drift
        return name, "model"

    async def _list_agents(self, text: str, work: Work) -> list[AgentDuty]:
        result = await self.ask("understanding_agents", work, schema=AGENTS_SCHEMA,
                                max_new_tokens=200, spec=text)
        agents: list[AgentDuty] = []
        taken: set[str] = set()
        for item in (result.parsed or {}).get("agents", []):
            name = to_name(item["name"])
            if name is None or not item["duty"].strip():
                continue
            name = _unique(name, taken)
            taken.add(name)
            agents.append(AgentDuty(name=name, duties=[item["duty"].strip()], stated=False,
                                    named_by="model"))
        if not agents:  # the model gave nothing usable: one agent does the whole goal
            agents.append(AgentDuty(name="assistant_agent", duties=["does what the spec asks"],
                                    stated=False, named_by="rule"))
        return agents
