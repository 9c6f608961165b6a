"""A user's held-out cases (`autogenesis build --eval cases.jsonl`): one JSON object per
line, `{"input": "...", "expected": "...", "checks": [...]}`, with `expected` and `checks`
optional. Each becomes an `Example` whose checks are compiled from its expectation and
the spec's constraints, like the spec's own examples, plus the explicit checks given,
each an object with one key:

    {"mentions": ["Paris", "museum"]}   {"absent": ["refund"]}
    {"words_max": 80}   {"words_min": 20}   {"count": [3, "section"]}
    {"decision": "reject"}   {"route": "billing"}   {"code": "python"}

Testing runs them and reports them beside the spec's examples; no other stage sees
them, so nothing is tuned on them."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from autogenesis.acceptance.compile import DECISIONS, checks_for
from autogenesis.artefacts import AcceptanceCheck, Example
from autogenesis.errors import UserError

MAX_CASES = 50
FIELDS = {"input", "expected", "checks"}


def read_cases(path: Path) -> list[dict[str, Any]]:
    """The cases of a JSONL file, validated; a `UserError` naming the line otherwise."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise UserError(f"{path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path} cannot be read: {exc}") from None
    cases = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}, line {number}"
        try:
            case = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UserError(f"{where}: not JSON ({exc.msg})") from None
        cases.append(_case(case, where))
    if not cases:
        raise UserError(f"{path} has no cases: give one JSON object per line, e.g. "
                        '{"input": "...", "expected": "..."}')
    if len(cases) > MAX_CASES:
        raise UserError(f"{path} has {len(cases)} cases; at most {MAX_CASES}")
    return cases


def _case(case: Any, where: str) -> dict[str, Any]:
    if not isinstance(case, dict):
        raise UserError(f"{where}: a case is a JSON object with an \"input\"")
    unknown = sorted(set(case) - FIELDS)
    if unknown:
        raise UserError(f"{where}: unknown field(s) {', '.join(unknown)} (a case has "
                        "input, expected and checks)")
    if not isinstance(case.get("input"), str) or not case["input"].strip():
        raise UserError(f"{where}: \"input\" must be a non-empty string")
    if not isinstance(case.get("expected", ""), str):
        raise UserError(f"{where}: \"expected\" must be a string")
    checks = case.get("checks", [])
    if not isinstance(checks, list):
        raise UserError(f"{where}: \"checks\" must be a list")
    for i, check in enumerate(checks, start=1):
        explicit(check, f"{where}, check {i}")     # as written: it is logged with the run
    return {"input": case["input"].strip(), "expected": case.get("expected", "").strip(),
            "checks": checks}


def _words(value: Any, where: str) -> list[str]:
    terms = [value] if isinstance(value, str) else value
    if not isinstance(terms, list) or not terms or not all(
            isinstance(t, str) and t.strip() for t in terms):
        raise UserError(f"{where}: give a word or a list of words")
    return [" ".join(t.lower().split()) for t in terms]


def _number(value: Any, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise UserError(f"{where}: give a whole number of at least 1")
    return value


def explicit(check: Any, where: str) -> AcceptanceCheck:
    """A check given by a user, `{"kind": value}`, as an `AcceptanceCheck`."""
    if not isinstance(check, dict) or len(check) != 1:
        raise UserError(f"{where}: a check is an object with one key, e.g. "
                        '{"mentions": ["Paris"]}')
    (kind, value), = check.items()
    if kind in ("mentions", "absent"):
        terms = _words(value, where)
        text = f"mentions {', '.join(terms)}" if kind == "mentions" else \
            f"does not mention {', '.join(terms)}"
        return AcceptanceCheck(kind=kind, text=text, params={"terms": terms})
    if kind in ("words_max", "words_min"):
        n = _number(value, where)
        return AcceptanceCheck(kind=kind, params={"n": n},
                               text=f"at {'most' if kind == 'words_max' else 'least'} {n} words")
    if kind == "count":
        if not (isinstance(value, list) and len(value) == 2 and isinstance(value[1], str)):
            raise UserError(f"{where}: count is [number, noun], e.g. [3, \"section\"]")
        n, noun = _number(value[0], where), value[1].strip().lower().rstrip("s")
        return AcceptanceCheck(kind="count", text=f"{n} {noun}(s)", params={"n": n, "noun": noun})
    if kind in ("decision", "route"):
        word = _words(value, where)
        if len(word) != 1:
            raise UserError(f"{where}: {kind} takes one word")
        if kind == "route":
            return AcceptanceCheck(kind="route", text=f"handled by {word[0]}",
                                   params={"agent": word[0]})
        opposite = DECISIONS.get(word[0], "")
        return AcceptanceCheck(kind="decision", text=f"decides {word[0]}",
                               params={"choice": word[0], "not": [opposite] if opposite else []})
    if kind == "code":
        if value != "python":
            raise UserError(f"{where}: code checks Python: {{\"code\": \"python\"}}")
        return AcceptanceCheck(kind="code", text="gives Python code that parses",
                               params={"language": "python"})
    raise UserError(f"{where}: unknown check {kind!r} (mentions, absent, words_max, "
                    "words_min, count, decision, route, code)")


def held_out_examples(cases: Iterable[Mapping[str, Any]], constraints: list[str],
                      agents: list[str]) -> list[Example]:
    """The cases as examples with their checks: compiled ones, then those given."""
    examples = []
    for n, case in enumerate(cases, start=1):
        given = [explicit(c, f"held-out case {n}, check {i}")
                 for i, c in enumerate(case.get("checks", ()), start=1)]
        checks, why = checks_for(case["input"], case.get("expected", ""), constraints, agents)
        examples.append(Example(input=case["input"], expected=case.get("expected", ""),
                                checks=[*checks, *given],
                                unchecked="" if given else why))
    return examples
