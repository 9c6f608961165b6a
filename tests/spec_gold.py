"""Scoring a plan (stages 1-2) against a gold annotation of what a spec states.

Shared by the tests (`test_understanding.py`: every spec of `tests/specs/` must
read as its gold says) and `bench/understanding.py` (figures over any corpus).
Written apart from the reader it scores: nothing in autogenesis imports it.
A gold entry is the format of `tests/specs/gold.json` (see its `_about`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from autogenesis.artefacts import Blueprint, Requirements

ROLE_OF_KIND = {"chair": "aggregator"}   # the blueprint's older word for an aggregator
SEQUENTIAL = ("pipeline", "feedback_loop")


def fold(name: str) -> str:
    """A name as an ASCII identifier: accents dropped, words joined by '_', no 'agent'."""
    text = unicodedata.normalize("NFKD", name.lower())
    text = "".join(c for c in text if not unicodedata.combining(c))
    words = re.findall(r"[a-z0-9]+", text)
    while len(words) > 1 and words[-1] in ("agent", "agents"):
        words.pop()
    return "_".join(words)


@dataclass
class Score:
    spec: str
    found: int = 0
    gold_agents: int = 0
    predicted: int = 0
    roles_right: int = 0
    groups_right: int = 0
    groups: int = 0
    flow_hits: int = 0
    flow_gold: int = 0
    flow_predicted: int = 0
    topology_right: bool = False
    topology_stated: bool = False
    loops_found: int = 0
    loops: int = 0
    examples_found: int = 0
    examples: int = 0
    seconds: float = 0.0
    misses: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)


def match_agents(gold: Mapping[str, str], names: Sequence[str]) -> dict[str, str]:
    """gold key -> predicted name. Exact folded names first; an alternative list
    (`a|b`) also accepts a predicted name containing one of its alternatives."""
    matched: dict[str, str] = {}
    free = list(names)
    for exact_pass in (True, False):
        for key in gold:
            if key in matched:
                continue
            alternatives = [fold(a) for a in key.split("|")]
            for name in free:
                if name in alternatives or (not exact_pass and len(alternatives) > 1 and any(
                        a and a in name for a in alternatives)):
                    matched[key] = name
                    free.remove(name)
                    break
    return matched


def plan_flow(bp: Blueprint, req: Requirements) -> set[tuple[str, str]]:
    """The hand-offs of the plan: the chain of a sequential topology, else the arrows."""
    if bp.topology in SEQUENTIAL:
        return {(e.source, e.target) for e in bp.edges if e.kind == "sends"}
    return {(link.source, link.target) for link in req.flow}


def score(name: str, gold: Mapping[str, Any], req: Requirements, bp: Blueprint) -> Score:
    s = Score(name)
    stated = [a for a in bp.agents if a.stated or any(
        r.name == a.name for r in req.agents)]
    added = [a.name for a in bp.agents if a not in stated]
    s.added = added
    names = [a.name for a in stated]
    matched = match_agents(gold["agents"], names)
    s.gold_agents, s.predicted, s.found = len(gold["agents"]), len(names), len(matched)
    s.misses += [f"agent missing: {key}" for key in gold["agents"] if key not in matched]
    s.misses += [f"agent extra: {n}" for n in names if n not in matched.values()]
    kinds = {a.name: a.kind for a in bp.agents}
    for key, name in matched.items():
        role = ROLE_OF_KIND.get(kinds[name], kinds[name])
        if role == gold["agents"][key]:
            s.roles_right += 1
        else:
            s.misses.append(f"role of {name}: {role}, gold {gold['agents'][key]}")
    duties = {a.name: " ".join(a.duties).lower() for a in bp.agents}
    for key, wanted in (gold.get("duties") or {}).items():
        name = matched.get(next((k for k in gold["agents"] if fold(key) in
                                 [fold(a) for a in k.split("|")]), key))
        lost = [w for w in wanted if name is None or w.lower() not in duties.get(name, "")]
        if lost:
            s.misses.append(f"duties of {key}: {lost} not found")
    for word, members in (gold.get("groups") or {}).items():
        s.groups += 1
        group = {fold(m): m for m in members}
        if set(group) <= set(names):
            s.groups_right += 1
        else:
            s.misses.append(f"group {word}: members {sorted(set(group) - set(names))} "
                            "not agents")
    to_gold = {name: key for key, name in matched.items()}

    def gold_name(key: str) -> str:
        return next((k for k in gold["agents"] if fold(key) in
                     [fold(a) for a in k.split("|")]), key)
    gold_flow = {(gold_name(a), gold_name(b)) for a, b in gold.get("flow", [])}
    predicted = {(to_gold.get(a, a), to_gold.get(b, b)) for a, b in plan_flow(bp, req)}
    s.flow_gold, s.flow_predicted = len(gold_flow), len(predicted)
    s.flow_hits = len(gold_flow & predicted)
    s.misses += [f"flow missing: {a} -> {b}" for a, b in sorted(gold_flow - predicted)]
    s.misses += [f"flow extra: {a} -> {b}" for a, b in sorted(predicted - gold_flow)]
    if gold.get("topology"):    # null: the spec gives no sign of one, nothing to score
        s.topology_stated = True
        s.topology_right = bp.topology in gold["topology"].split("|")
        if not s.topology_right:
            s.misses.append(f"topology {bp.topology}, gold {gold['topology']}")
    # A loop is found when the blueprint has the approval and the requirements keep the
    # limit as the spec states it (the blueprint's rounds may add the first attempt).
    approvals = {(to_gold.get(a.worker, a.worker), to_gold.get(a.approver, a.approver))
                 for a in bp.approvals}
    stated = {(to_gold.get(lp.worker, lp.worker), to_gold.get(lp.approver, lp.approver)):
              lp.max_rounds for lp in req.loops}
    for worker, approver, rounds in gold.get("approver_loops", []):
        s.loops += 1
        pair = (gold_name(worker), gold_name(approver))
        if pair in approvals and rounds in (None, stated.get(pair)):
            s.loops_found += 1
        else:
            s.misses.append(f"loop {worker} -> {approver} ({rounds or 'no'} limit): "
                            + ("absent" if pair not in approvals
                               else f"limit {stated.get(pair)}"))
    s.examples, s.examples_found = gold.get("examples", 0), len(req.examples)
    if s.examples_found < s.examples:
        s.misses.append(f"examples: {s.examples_found} of {s.examples}")
    return s
