"""Stage 1, understanding: spec markdown -> `Requirements`.

What the spec states outright comes from `autogenesis.spec.parse_spec`, by
rule, so nothing stated is ever dropped: agents with their roles and lines,
groups, hand-offs, approval loops, examples, limits and the topology with its
reason. The model is asked only for what is implicit, and its answers are
checked (with a larger model than the offline default, the model also gives its own list
of the spec's agents: a third opinion, merged only where the approver's second reading
agrees): a name for each agent the spec gives a duty but no name ("one helper
should break the topic down"), kept only when it fits the duty and is built
from the spec's own words or role words; and, for a spec that names no agent
and enumerates fewer than three responsibilities, the agents it needs, under
the same check. Every refused name is written down in `notes`.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from typing import Annotated
from uuid import UUID

from pydantic import Field

from autogenesis.acceptance import checks_for
from autogenesis.artefacts import (
    AgentDuty,
    Check,
    Example,
    Group,
    Link,
    Loop,
    Requirements,
    Rule,
)
from autogenesis.build.agents.base import StageAgent, Work
from autogenesis.build.agents.checks import check, safe_names
from autogenesis.build.prompts import Prompts
from autogenesis.llm.base import Model
from autogenesis.llm.schema import Decoded, decoding_schema
from autogenesis.spec import check_spec_text, parse_spec, to_name
from autogenesis.spec.mentions import mentions, placed
from autogenesis.spec.names import doer, singular, verb_of
from autogenesis.spec.reader import resolve_loops
from autogenesis.spec.rules import find_rules
from autogenesis.spec.team import enumerated, name_from_spec

NAME_PATTERN = "^[a-z]{3,16}(_[a-z]{3,12})?$"
"""A name the model gives an agent: one or two short lowercase words."""


class AgentName(Decoded):
    name: Annotated[str, Field(pattern=NAME_PATTERN)]


class AgentGuess(Decoded):
    name: Annotated[str, Field(pattern=NAME_PATTERN)]
    duty: Annotated[str, Field(max_length=120)]


class Team(Decoded):
    agents: Annotated[list[AgentGuess], Field(min_length=1, max_length=5)]


NAME_SCHEMA = decoding_schema(AgentName)
AGENTS_SCHEMA = decoding_schema(Team)
MIN_TEAM = 3
"""A task-only spec whose enumeration gives fewer agents asks the model for more."""

DUTY_SKIP = frozenset(("the", "a", "an", "each", "every", "all", "two", "three", "four",
                       "some", "any", "its", "their", "down", "up", "out", "one", "and",
                       "ten", "five", "most", "important", "how", "much", "many"))


def fits(name: str, duty: str) -> bool:
    """A name fits a duty when one of its words shares a stem (4 letters) with the duty's."""
    stems = {w[:4] for w in re.findall(r"[a-z]{4,}", duty.lower())}
    return any(part[:4] in stems for part in name.split("_") if len(part) >= 4)


PHRASAL = {"work out": "calculator", "figure out": "calculator", "find out": "finder",
           "pull out": "extractor", "pick out": "selector", "sort out": "organiser",
           "look up": "finder", "set up": "organiser", "make sure": "checker",
           "come up with": "proposer", "keep track of": "tracker", "write up": "writer",
           "put": "planner"}
"""Verbs whose doer is not the verb + "er" ("work out how much flour" -> a calculator)."""


def duty_name(duty: str, taken: set[str]) -> str:
    """A name made from the duty itself: its verb as a doer, after its object
    ("write two quiz questions" -> "quiz_writer", "explain each idea" -> "idea_explainer",
    "turns each fact into a question" -> "question_writer",
    "work out how much flour ..." -> "flour_calculator")."""
    lowered = duty.lower()
    into = re.search(r"\b(?:turns?|converts?|transforms?|makes?)\b.*?\binto\s+(?:an?\s+|the\s+)?"
                     r"(?:[\w-]+\s+)?([a-z]+)", lowered)
    if into:
        return _unique(to_name(f"{singular(into.group(1))}_writer") or "helper_agent", taken)
    phrasal = next((p for p in PHRASAL if re.match(rf"{p}s?\b", lowered)
                    or (re.match(rf"{p.split()[0]}s?\b", lowered) and p.split()[-1] in
                    lowered.split()[1:3])), None)
    words = re.findall(r"[a-z]+", lowered)
    if not words:
        return _unique("helper_agent", taken)
    verb = verb_of(words[0])
    if phrasal:
        words = [words[0], *(w for w in words[1:] if w not in phrasal.split())]
    thing = next((w for w in words[1:] if w not in DUTY_SKIP and len(w) > 2), None)
    role = PHRASAL[phrasal] if phrasal else doer(verb)
    name = f"{singular(thing)}_{role}" if thing else role
    return _unique(to_name(name) or "helper_agent", taken)


def _line_of(text: str, phrase: str) -> int | None:
    """The first line of `text` that holds the last word of `phrase` (lines wrap)."""
    last = phrase.split()[-1].lower() if phrase.split() else ""
    return next((i for i, line in enumerate(text.splitlines(), 1) if last in line.lower()),
                None)


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name}_{n}", n + 1
    return candidate


class Understanding(StageAgent):
    """`extract` (or a function of the run, for a worker serving many builds): also ask
    the model for its own list of the spec's agents, a third opinion beside the rules and
    the approver's second reading. A build setting (`model_reads`), logged with the run,
    so that a re-execution asks the same; on by default only for a model other than the
    small offline one, whose list is noise."""

    stage = "understanding"
    produces = Requirements

    def __init__(self, model: Model, prompts: Prompts, *,
                 extract: bool | Callable[[UUID | None], bool] = False) -> None:
        super().__init__(model, prompts)
        self.extract = extract

    def _extracts(self, work: Work) -> bool:
        return self.extract(work.run_id) if callable(self.extract) else self.extract

    async def produce(self, work: Work) -> Requirements:
        text = check_spec_text(work.inputs["spec"])
        parsed = parse_spec(text)
        title = parsed.title or " ".join((parsed.goal or "system").split()[:4])
        goal = parsed.goal or title
        notes: list[str] = []        # what this stage adds to the reader's notes
        # (position in the spec, agent): stated agents and named implied roles interleave.
        placed: list[tuple[int, AgentDuty]] = [
            (a.pos, AgentDuty(name=a.name, duties=a.duties or [f"does the "
                              f"{a.name.replace('_', ' ')} step of the flow"],
                              role=a.role or "worker", line=a.line or None))
            for a in parsed.agents]
        taken = {a.name for a in parsed.agents}
        groups = [Group(word=g.word, members=list(g.members), count=g.count, line=g.line)
                  for g in parsed.groups]
        for role in parsed.implied:
            name, by = await self._name_role(title, role.duty, taken, text, work, notes)
            taken.add(name)
            placed.append((role.pos, AgentDuty(name=name, duties=[role.duty], stated=False,
                                               named_by=by, role=role.role or "worker",
                                               line=role.line)))
            for i, group in enumerate(groups):
                if group.word == role.group:
                    groups[i] = group.model_copy(update={"members": [*group.members, name]})
        topology, reason = parsed.topology_hint, parsed.topology_reason
        if placed and self._extracts(work):
            for agent in await self._third_opinion(text, [a for _, a in placed], work, notes):
                taken.add(agent.name)
                placed.append((parsed.seen + len(placed) + 1, agent))
        if not placed:
            for agent in await self._task_team(text, work, notes):
                taken.add(agent.name)
                placed.append((len(placed), agent))
            if not reason.startswith("stated"):   # keywords of a task are not a design
                topology, reason = "hierarchy", ("the spec names no agents: a manager hands "
                                                 "each request to the agents of its "
                                                 "responsibilities and combines their work")
        agents = [agent for _, agent in sorted(placed, key=lambda p: p[0])]
        for group in groups:
            if group.count is not None and group.count != len(group.members) and \
                    group.members:
                notes.append(f"{group.count} {group.word}(s) stated, {len(group.members)} "
                             f"found: {', '.join(group.members)}")
        loops = resolve_loops(parsed, [(a.name, a.role, a.duties) for a in agents])
        notes = [*parsed.notes, *(n for n in notes if n not in parsed.notes)]
        flow = [Link(source=a, target=b) for a, b in parsed.flow]
        if not flow and parsed.order and topology in ("pipeline", "feedback_loop"):
            # numbered steps are a flow; a numbered list of a panel's members is not
            flow = [Link(source=a, target=b) for a, b in itertools.pairwise(parsed.order)]
        return Requirements(
            title=title, goal=goal, agents=agents, flow=flow,
            examples=[self._example(i, e, parsed.constraints, [a.name for a in agents])
                      for i, e in parsed.examples],
            constraints=parsed.constraints, topology_hint=topology,
            answer_words=parsed.answer_words, step_seconds=parsed.step_seconds,
            groups=groups,
            loops=[Loop(worker=lp.worker, approver=lp.approver, max_rounds=lp.max_rounds,
                        counts="returns" if lp.counts == "returns" else "rounds",
                        line=lp.line or None) for lp in loops],
            every_step=[a for a in parsed.every_step if a in taken],
            topology_reason=reason, notes=notes,
            rules=[Rule(kind=r.kind, text=r.text, line=r.line,
                        params=r.params) for r in find_rules(text)],
        )

    @staticmethod
    def _example(given: str, expected: str, constraints: list[str],
                 agents: list[str]) -> Example:
        """An example with the checks its answer must pass (`autogenesis.acceptance`)."""
        checks, why = checks_for(given, expected, constraints, agents)
        return Example(input=given, expected=expected, checks=checks, unchecked=why)

    async def _name_role(self, title: str, duty: str, taken: set[str], spec: str,
                         work: Work, notes: list[str]) -> tuple[str, str]:
        """(name, "model") when the model's name is new, fits the duty and is built from
        the spec's words; else one made from the duty by rule."""
        result = await self.ask("understanding", work, schema=NAME_SCHEMA, max_new_tokens=24,
                                title=title, duty=duty, taken=sorted(taken))
        name = to_name(result.parsed["name"]) if result.parsed else None
        if name is not None and not name_from_spec(name, spec):
            notes.append(f"the model named the agent that does {duty!r} {name!r}, which is "
                         "not built from the spec's words: refused")
            name = None
        if name is None or name in taken or not fits(name, duty):
            return duty_name(duty, taken), "rule"  # small models repeat themselves or drift
        return name, "model"

    async def _third_opinion(self, text: str, agents: list[AgentDuty], work: Work,
                             notes: list[str]) -> list[AgentDuty]:
        """The model's own list of the spec's agents, under a JSON schema. Where it agrees
        with the rules nothing changes; an agent only it found is added when its name is
        built from the spec's words and names a mention of the approver's second reading
        (`mentions`) that the rules left unplaced: two opinions of three. The outcome is
        written in `notes`."""
        result = await self.ask("understanding_agents", work, schema=AGENTS_SCHEMA,
                                max_new_tokens=240, spec=text)
        known = {a.name for a in agents}
        found = mentions(text)
        agreed, added, refused = [], [], []
        for item in (result.parsed or {}).get("agents", []):
            name = to_name(item["name"])
            if name is None:
                continue
            missed = [m for m in found if placed(m, [name]) and not placed(m, known)]
            if name in known:
                agreed.append(name)
            elif missed and name_from_spec(name, text) and item["duty"].strip():
                added.append(AgentDuty(name=name, duties=[item["duty"].strip()], stated=False,
                                       named_by="model"))
                known.add(name)
            else:
                refused.append(name)
        notes.append(f"the model's own reading listed {len(agreed) + len(added) + len(refused)}"
                     f" agent(s): {len(agreed)} agree with the rules"
                     + (f"; added {', '.join(a.name for a in added)} (the second reading "
                        "finds them too)" if added else "")
                     + (f"; not taken: {', '.join(refused)}" if refused else ""))
        return added

    async def _task_team(self, text: str, work: Work, notes: list[str]) -> list[AgentDuty]:
        """The team of a spec that names no agent: one per responsibility it enumerates;
        the model is asked only when the enumeration gives fewer than `MIN_TEAM`, and its
        names must be built from the spec's words."""
        agents = [AgentDuty(name=r.name, duties=[r.duty], stated=False, named_by="rule",
                            line=_line_of(text, r.duty)) for r in enumerated(text)]
        if len(agents) >= MIN_TEAM:
            return agents
        taken = {a.name for a in agents}
        result = await self.ask("understanding_agents", work, schema=AGENTS_SCHEMA,
                                max_new_tokens=200, spec=text)
        for item in (result.parsed or {}).get("agents", []):
            name = to_name(item["name"])
            if name is None or not item["duty"].strip() or name in taken:
                continue
            if not name_from_spec(name, text):
                notes.append(f"the model proposed an agent {name!r}, which is not built from "
                             "the spec's words: refused")
                continue
            taken.add(name)
            agents.append(AgentDuty(name=name, duties=[item["duty"].strip()], stated=False,
                                    named_by="model"))
        if not agents:  # nothing usable: one agent does the whole goal
            agents.append(AgentDuty(name="assistant_agent", duties=["does what the spec asks"],
                                    stated=False, named_by="rule"))
        return agents


# --- the approver's checks of this stage's artefact ---------------------------


def requirements_checks(req: Requirements, spec: str) -> list[Check]:
    parsed = parse_spec(spec)
    found = mentions(spec)      # the second, independent reading
    names = {a.name for a in req.agents}
    implied = [a for a in req.agents if not a.stated]
    examples = {(e.input, e.expected) for e in req.examples}
    return [
        check("spec_agents_present",
              (f"agent {a.name!r} named in the spec (line {a.line}) is missing"
               for a in parsed.agents if a.name not in names),
              f"{len(parsed.agents)} named agent(s) present"),
        check("implied_agents_named",
              [f"the spec gives {len(parsed.implied)} duty(ies) to unnamed agents but "
               f"{len(implied)} implied agent(s) were named"]
              if len(implied) < len(parsed.implied) else [],
              f"{len(implied)} implied agent(s)"),
        check("examples_parsed",
              (f"example {i!r} is missing" for i, e in parsed.examples
               if (i, e) not in examples), f"{len(req.examples)} example(s)"),
        check("flow_agents_known",
              (f"flow {link.source} -> {link.target} names an unknown agent"
               for link in req.flow if {link.source, link.target} - names)),
        check("nothing_empty",
              [*(["the title is empty"] if not req.title.strip() else []),
               *(["the goal is empty"] if not req.goal.strip() else []),
               *(f"agent {a.name!r} has no duties" for a in req.agents
                 if not any(d.strip() for d in a.duties))]),
        check("names_safe", safe_names(names, "agent name")),
        check("names_unique", [f"agent names repeat: {sorted(names)}"]
              if len(names) != len(req.agents) else []),
        check("spec_mentions_placed",
              (f"the spec mentions {m.phrase!r} (line {m.line}), which is no agent of the "
               "requirements" for m in found if not placed(m, names)),
              f"{len(found)} agent mention(s) found by a second reading, all placed"),
        check("names_from_spec",
              (f"agent {a.name!r} was named by the model with words that are not the spec's"
               for a in req.agents if a.named_by == "model"
               and not name_from_spec(a.name, spec))),
        check("loops_known",
              (f"the loop {lp.worker} -> {lp.approver} names an unknown agent"
               for lp in req.loops if {lp.worker, lp.approver} - names)),
        check("examples_checked",
              (f"example {n} ({e.input[:40]!r}) has no check a rule can run and no reason "
               "why" for n, e in enumerate(req.examples, 1)
               if not any(c.by == "rule" for c in e.checks) and not e.unchecked),
              f"{sum(len(e.checks) for e in req.examples)} check(s) over "
              f"{len(req.examples)} example(s)"),
    ]
