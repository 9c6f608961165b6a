"""The Python each wired rule becomes in a generated package's `skills.py`.

A rule (`artefacts.Rule`, wired by design) becomes a plain function of the
input that calls `autogenesis.runtime.skills` with the spec's own terms,
numbers and offsets, written out as Python literals (`repr`): the user reads
`skills.over(text, 10000.0)`, not a configuration format. A choice from a
stated list, a score within stated bounds and the fields an agent extracts
become typed fields the agent asks the model for under a grammar when no
rule gave them; a stated count ("three questions") becomes a function that
keeps at most that many items of the agent's answer; a deadline becomes the
system's `member_timeout`. (A count as a typed list of exactly that many
strings was tried: the default 135M model fills such arrays with junk like
"1.1.1.1" or "{{", where its prose at least lists the items.)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from autogenesis.artefacts import Rule


@dataclass
class RuleCode:
    """One wired rule as code: a function for skills.py (or none) and what its agent
    declares."""

    agent: str
    kind: str
    text: str
    line: int | None
    function: str = ""                 # its name in skills.py; "" when it needs none
    body: list[str] = field(default_factory=list)
    fields: dict[str, dict[str, Any]] = field(default_factory=dict)
    data: dict[str, str] = field(default_factory=dict)   # data files: name -> content
    after: bool = False                # applied to the agent's answer, not its input
    limit: int | None = None           # the most items it keeps (a count)


def _what(text: str) -> str:
    return re.sub(r"[^a-z0-9 ]", "", str(text).lower()).strip()


def _clause(clause: dict[str, Any]) -> str:
    """One condition of a flag as a line of Python, with the spec's words as a comment."""
    what, op = _what(clause.get("what", "")), clause["op"]
    if op in ("over", "under"):
        n = float(clause["n"])
        return f"skills.{op}(text, {n!r}),  # {what} {op} {n:g}"
    found = f"skills.mentioned(text, {list(clause['terms'])!r})"
    return {"in": f"bool({found}),  # {what} one of them",
            "not_in": f"not {found},  # {what} none of them"}.get(op, f"bool({found}),")


def _flag(rule: Rule) -> list[str]:
    join = "all" if rule.params.get("join") == "all" else "any"
    return ["hits = [", *(f"    {_clause(c)}" for c in rule.params["clauses"]), "]",
            f"return {{'flag': skills.flag({join}(hits), {rule.params['label']!r})}}"]


def rule_code(rule: Rule, taken: set[str]) -> RuleCode | None:
    """The code of one wired rule; None for a rule the system applies (a deadline, tests
    that are run)."""
    if not rule.agent or rule.kind in ("deadline", "run_tests", "award"):
        return None                   # the system applies these, not an agent's function
    code = RuleCode(agent=rule.agent, kind=rule.kind, text=rule.text, line=rule.line)
    p = rule.params
    suffix = {"flag": "flag", "dates": "dates", "total": "total", "not_future": "date",
              "one_of": p.get("what", "choice"), "range": p.get("what", "score"),
              "lookup": p.get("value", "value"), "count": p.get("noun", "items"),
              "extract": "fields"}[rule.kind]
    name = f"{rule.agent}_{suffix}"
    while name in taken:
        name += "_2"
    if rule.kind == "flag":
        code.body = _flag(rule)
    elif rule.kind == "one_of":
        code.body = [f"return {{{p['what']!r}: skills.choose(text, {list(p['options'])!r})}}"]
        code.fields = {p["what"]: {"enum": list(p["options"])}}
    elif rule.kind == "range":
        code.fields = {p["what"]: {"type": "integer", "minimum": int(p["low"]),
                                   "maximum": int(p["high"])}}
        return code                   # the model gives it, under the bounds: no function
    elif rule.kind == "dates":
        offsets = {str(k): int(v) for k, v in p["offsets"].items()}
        code.body = [f"return skills.dates_after(text, {offsets!r})"]
    elif rule.kind == "total":
        code.body = [f"ok, why = skills.check_total(text, {p.get('total_word', 'total')!r})",
                     "return {'total': ('adds up: ' if ok else 'does not add up: ') + why}"]
    elif rule.kind == "not_future":
        code.body = ["_, why = skills.not_future(text, date.today())",
                     "return {'date': why}"]
    elif rule.kind == "lookup":
        table = f"{p['table']}.csv"
        code.body = [f"return {{{p['value']!r}: skills.lookup(text, DATA / {table!r}, "
                     f"{p['key']!r}, {p['value']!r})}}"]
        code.data = {table: f"{p['key']},{p['value']}\n"}
    elif rule.kind == "count":          # at most that many items of the answer
        high = p.get("high", p["n"])
        if high is None:
            return None
        code.after, code.limit = True, int(high)
        code.body = [f"return skills.keep_items(answer, {int(high)!r})"]
    elif rule.kind == "extract":
        code.fields = {name: {"type": "string"} for name in p["fields"]}
        return code
    else:
        return None
    code.function = name
    taken.add(name)
    return code


def rules_code(rules: list[Rule]) -> list[RuleCode]:
    taken: set[str] = set()
    return [c for r in rules if r.wired and (c := rule_code(r, taken)) is not None]


def award(rules: list[Rule]) -> dict[str, str] | None:
    """How a contract net's winner is chosen, when the spec states it."""
    stated = next((r for r in rules if r.kind == "award" and r.agent == ""), None)
    return None if stated is None else {"by": stated.params["by"],
                                        "quantity": stated.params.get("quantity", "")}


def member_timeout(rules: list[Rule]) -> float | None:
    """The stated time a member has to answer, when the system applies one."""
    limits = [float(r.params["seconds"]) for r in rules
              if r.kind == "deadline" and r.agent == ""]
    return min(limits) if limits else None
