"""Where each stated rule is applied in the designed system (design's rules part).

A rule goes to the agent whose duty states it: the agent on the rule's spec
line, else the one whose duties hold its words, else the worker whose duties
share most words with it. A rule about answering in time goes to the whole
system when it asks members at once (consensus, hierarchy, contract net).
A rule lands only on an agent that is given tasks; a rule no skill can apply
stays unwired, with the reason, and the approver and the summary say so.
"The tests are run against the function" pairs the agent that writes the
code with the later one that writes its tests (`code_pair`): the system runs
the tests in the sandbox and sends failures back to the author. An agent
whose duty its rules cover (nothing left but "reads the payment") gives what
the rules compute and writes no prose: a rule is not something to talk about.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from autogenesis.artefacts import AgentDesign, Rule

CONCURRENT = ("consensus", "hierarchy", "contract_net")
"""Topologies whose members are asked at once, so one that is late can be left out."""
_AUTHOR = re.compile(r"\b(?:writes?|implements?|codes?|programs?|fix(?:es)?)\b[^.;]*"
                     r"\b(?:function|code|program|script|class|module)\b", re.I)
_TESTER = re.compile(r"\b(?:writes?|turns?|creates?|produces?|adds?)\b[^.;]*\btests?\b",
                     re.I)
_STOP = frozenset([
    "a", "an", "the", "and", "or", "of", "to", "for", "in", "on", "at", "by", "with", "that",
    "this", "it", "its", "is", "are", "be", "as", "from", "into", "each", "every", "all",
    "any", "if", "when", "then", "their", "his", "her", "them", "they", "who", "which", "what"
])


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z][a-z0-9'-]+", text.lower()) if w not in _STOP}


def task_takers(topology: str, agents: Sequence[AgentDesign], order: Sequence[str],
                exit_: str) -> list[str]:
    """The agents a topology gives tasks to (the others only review, route or watch)."""
    takers = list(order)
    if topology in ("hierarchy", "consensus") and exit_ not in takers:
        takers.append(exit_)
    return [a.name for a in agents if a.name in takers]


def _owner(rule: Rule, agents: Sequence[AgentDesign], lines: dict[str, int | None],
           takers: Sequence[str]) -> str | None:
    by_line = [a.name for a in agents if rule.line is not None and lines.get(a.name) ==
               rule.line]
    said = " ".join(rule.text.split()).lower()
    by_words = [a.name for a in agents
                if any(said in " ".join(d.split()).lower() or " ".join(d.split()).lower()
                       in said for d in a.duties)]
    for name in [*by_line, *by_words]:
        if name in takers:
            return name
    wanted = _words(rule.text)
    scored = sorted(((len(wanted & _words(" ".join(a.duties))), -i, a.name)
                     for i, a in enumerate(agents) if a.name in takers), reverse=True)
    if scored and scored[0][0] > 0:
        return scored[0][2]
    return None


def code_pair(agents: Sequence[AgentDesign], order: Sequence[str]) -> tuple[str, str] | None:
    """(the agent that writes the code, the later one that writes its tests), if any."""
    duties = {a.name: " ".join(a.duties) for a in agents if a.name in order}
    testers = [n for n in order if n in duties and _TESTER.search(duties[n])]
    authors = [n for n in order if n in duties and _AUTHOR.search(duties[n])
               and n not in testers]
    return next(((a, t) for t in testers for a in authors
                 if order.index(a) < order.index(t)), None)


def wire_rules(rules: Sequence[Rule], agents: Sequence[AgentDesign], *, topology: str,
               order: Sequence[str], exit_: str, lines: dict[str, int | None],
               rounds: dict[str, int] | None = None) -> tuple[list[Rule], list[str]]:
    """Every rule with where it is wired (or why not), and the agents that write no
    prose because their rules cover their duty."""
    takers = task_takers(topology, agents, order, exit_)
    wired: list[Rule] = []
    for rule in rules:
        if rule.kind == "run_tests":
            pair = code_pair(agents, order) if topology in ("pipeline", "feedback_loop") \
                else None
            wired.append(rule.model_copy(update=(
                {"agent": pair[1], "why": "", "params": {
                    **rule.params, "author": pair[0], "tester": pair[1],
                    "rounds": (rounds or {}).get(pair[0], 2)}} if pair else
                {"agent": None, "why": "no agent writes the code and a later one its tests, "
                                       "one after the other: the tests are not run"})))
        elif rule.kind == "award":
            wired.append(rule.model_copy(update=(
                {"agent": "", "why": ""} if topology == "contract_net" else
                {"agent": None, "why": f"a {topology.replace('_', ' ')} takes no bids"})))
        elif rule.kind == "deadline":
            wired.append(rule.model_copy(update=(
                {"agent": ""} if topology in CONCURRENT else
                {"agent": None, "why": f"a {topology.replace('_', ' ')} asks one agent at a "
                                       "time: there are no members to leave out"})))
        elif rule.kind == "count" and (rule.params.get("each") or
                                       ("high" in rule.params and rule.params["high"] is None)):
            wired.append(rule.model_copy(update={
                "agent": None, "why": "a count per item or a least number is checked in the "
                                      "answers; a skill can only cut a list, not add to it"}))
        elif (owner := _owner(rule, agents, lines, takers)) is not None:
            wired.append(rule.model_copy(update={"agent": owner, "why": ""}))
        else:
            wired.append(rule.model_copy(update={
                "agent": None, "why": "no agent that is given tasks states it"}))
    rule_only = []
    for agent in agents:
        mine = [r for r in wired if r.agent == agent.name and r.kind != "run_tests"]
        if not mine:
            continue
        duties = [" ".join(d.split()).lower() for d in agent.duties]
        if any(d.startswith(" ".join(r.text.split()).lower()) for d in duties for r in mine
               if r.kind == "extract"):
            rule_only.append(agent.name)    # its output is the fields
            continue
        mine = [r for r in mine if r.kind != "count"]     # a count limits prose
        if not mine:
            continue
        left = _words(" ".join(agent.duties))
        for rule in mine:
            left -= _words(rule.text)
        left -= {"reads", "read", "takes", "receives", "gets", "checks", "check", "input",
                 "request", "message"}
        if len(left) <= 2:
            rule_only.append(agent.name)
    return wired, rule_only
