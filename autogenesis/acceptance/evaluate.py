"""Running acceptance checks on an answer: each passes, fails with the reason, or is
left unchecked (a model rubric no model judged; a route a plain answer has none of)."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Sequence

from autogenesis.acceptance.compile import content_words
from autogenesis.artefacts import AcceptanceCheck, CheckResult

_LIST_LINE = re.compile(r"^\s*(?:[-*•]|\d+[.)]|[A-Z][\w ]{0,20}\d[\w ]*:)\s+\S", re.M)
"""A listed item: a bullet, a number, or a numbered label ("Day 2: ..."); a label without
a number ("Flag: urgent") is a fact, not an item."""
_CODE_BLOCK = re.compile(r"```(?:python|py)?\s*\n(.*?)```", re.S)


def _words(answer: str) -> set[str]:
    words = set(content_words(answer))
    return words | {w.rstrip("s") for w in words} | {w + "s" for w in words}


def _has(term: str, answer: str, words: set[str]) -> bool:
    if re.search(r"\d", term):
        return term in answer
    wanted = content_words(term)
    return bool(wanted) and all(w in words or w.rstrip("s") in words for w in wanted)


def _sentences(answer: str) -> int:
    return len([s for s in re.split(r"(?<=[.!?])\s+", answer.strip()) if len(s.split()) >= 3])


def _count(noun: str, answer: str) -> tuple[int, str]:
    if noun == "question":
        return answer.count("?"), "question marks"
    if noun == "sentence":
        return _sentences(answer), "sentences"
    listed = len(_LIST_LINE.findall(answer)) + len(re.findall(   # "Step: ..." lines
        rf"^[ \t]*{re.escape(noun)}\w*[ \t]*:[ \t]+\S", answer, re.M | re.I))
    if listed:
        return listed, "listed lines"
    return _sentences(answer), "sentences (no list)"


def _code(answer: str) -> tuple[bool, str]:
    blocks = _CODE_BLOCK.findall(answer)
    if not blocks:
        start = re.search(r"^(?:def|class|import|from)\b", answer, re.M)
        blocks = [answer[start.start():]] if start else []
    if not blocks:
        return False, "no code in the answer"
    for block in blocks:
        try:
            ast.parse(block)
        except SyntaxError as exc:
            return False, f"the code does not parse: {exc.msg} (line {exc.lineno})"
    return True, f"{len(blocks)} code block(s) parse"


def run_check(check: AcceptanceCheck, answer: str,
              route: Sequence[str] | None = None) -> CheckResult:
    """`check` on `answer`; `route` is the agents that worked on it (None: a plain
    answer, which has no route)."""
    lowered = answer.lower()
    words = _words(answer)
    params = check.params

    def result(passed: bool | None, detail: str) -> CheckResult:
        return CheckResult(kind=check.kind, text=check.text, passed=passed, detail=detail)

    if not answer.strip() and check.kind not in ("rubric", "route"):
        return result(False, "the answer is empty")
    if check.kind == "mentions":
        missing = [t for t in params["terms"] if not _has(t, lowered, words)]
        if params.get("any"):
            return result(len(missing) < len(params["terms"]),
                          "mentioned" if len(missing) < len(params["terms"]) else
                          f"mentions none of {', '.join(missing)}")
        return result(not missing, f"missing: {', '.join(missing)}" if missing else "all there")
    if check.kind == "absent":
        found = [t for t in params["terms"] if _has(t, lowered, words)]
        return result(not found, f"mentions {', '.join(found)}" if found else "none there")
    if check.kind in ("words_max", "words_min"):
        count = len(answer.split())
        ok = count <= params["n"] if check.kind == "words_max" else count >= params["n"]
        return result(ok, f"{count} words")
    if check.kind == "count":
        n, what = _count(params["noun"], answer)
        ok = abs(n - params["n"]) <= 1 if params["noun"] == "sentence" else n >= params["n"]
        return result(ok, f"{n} {what}")
    if check.kind == "decision":
        choice = params["choice"]
        rest = lowered.replace(choice, " ")
        against = [o for o in params.get("not", [])   # "not urgent" holds "urgent": look
                   if re.search(rf"\b{re.escape(o)}\b", lowered if choice in o else rest)]
        unnegated = "" if choice.startswith("not ") else r"(?<!\bnot )"   # nor is it one
        present = re.search(rf"{unnegated}\b{re.escape(choice)}", lowered) is not None
        return result(present and not against,
                      "decided so" if present and not against else
                      f"says {against[0]}" if against else f"does not say {choice}")
    if check.kind == "route":
        if route is None:
            return result(None, "a single answer has no route")
        return result(params["agent"] in route, f"handled by {', '.join(route) or 'nobody'}")
    if check.kind == "code":
        return result(*_code(answer))
    return result(None, "not judged: a model rubric (by: model)")


def run_checks(checks: Iterable[AcceptanceCheck], answer: str,
               route: Sequence[str] | None = None) -> list[CheckResult]:
    return [run_check(check, answer, route) for check in checks]
