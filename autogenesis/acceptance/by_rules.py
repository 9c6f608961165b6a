"""Which of an example's checks a system's rules decide, not its model's prose.

A check depends on rules when what it looks for is something only a wired
rule says: a flag's label ("suspicious", "not suspicious"), an option of a
stated list, a date a date rule computes. A count is not: a skill can cut a
list to its limit, only the model can write enough items. These are the
checks a system with rules must pass whatever the model writes; the build
reports them apart, and the generated package tests them without a model
(`tests/test_skills.py`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from autogenesis.artefacts import AcceptanceCheck, Blueprint, TestReport, pass_count

_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def rule_words(rules: Iterable[Mapping[str, Any]]) -> set[str]:
    """What the wired rules can say, lower-cased."""
    words: set[str] = set()
    for rule in rules:
        if rule.get("agent") is None:
            continue
        params = rule.get("params", {})
        if rule["kind"] == "flag":
            words |= {params["label"].lower(), f"not {params['label'].lower()}"}
        elif rule["kind"] == "one_of":
            words |= {o.lower() for o in params["options"]}
    return words


def depends_on_rules(check: AcceptanceCheck, rules: Iterable[Mapping[str, Any]]) -> bool:
    """Whether a wired rule, not the model, decides `check`."""
    rules = list(rules)
    words = rule_words(rules)
    dates = any(r["kind"] == "dates" and r.get("agent") is not None for r in rules)
    if check.kind == "decision":
        return str(check.params.get("choice", "")).lower() in words
    if check.kind == "mentions" and check.source == "expected":
        terms = [str(t).lower() for t in check.params.get("terms", ())]
        return bool(terms) and all(t in words or (dates and _ISO.match(t)) for t in terms)
    return False


def rules_decided(report: TestReport,
                  blueprint: Blueprint) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """((passed, judged) for the system, (passed, judged) for one call) on the examples'
    checks that the blueprint's wired rules decide; None when its rules decide none."""
    rules = [r.model_dump() for r in blueprint.rules]
    decided = {(n, c.text) for n, e in enumerate(blueprint.examples, 1) for c in e.checks
               if depends_on_rules(c, rules)}
    if not decided:
        return None
    system = pass_count([r for s in report.scenarios for r in s.checks
                         if (s.example, r.text) in decided])
    single = pass_count([r for b in report.baselines if b.arm == "single" and not b.held_out
                         for r in b.checks if (b.example, r.text) in decided])
    return system, single
