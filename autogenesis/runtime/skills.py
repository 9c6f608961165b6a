"""Deterministic building blocks for the rules a spec states.

A small model misses "flag it when the amount is over 10000"; a comparison
does not. Generated packages wire these functions into their `skills.py`
where the spec states a rule, with the spec's own terms, offsets and limits
as arguments, so the rules are plain code a user can read, test and edit.

Every function is pure (no model, no clock unless given one) except
`within`, which waits on coroutines with a deadline, and `run_tests`, which
runs generated code and its tests with pytest in the sandbox. A rule that cannot
apply to its input raises `SkillError` with a sentence saying why ("no date
in the input", "data/prices.csv has no rows: fill it in").
"""

from __future__ import annotations

import asyncio
import csv
import json
import re
from collections import Counter
from collections.abc import Awaitable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TypeVar

from autogenesis.errors import UserError

T = TypeVar("T")


class SkillError(UserError):
    """A rule could not be applied to its input; the message says why."""


# --- words ----------------------------------------------------------------------------


def _term_pattern(term: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w-]){re.escape(term.strip())}(?:s|es)?(?![\w-])", re.I)


def mentioned(text: str, terms: Iterable[str]) -> list[str]:
    """The `terms` that `text` mentions, as whole words (or their plurals: "desks"
    mentions "desk"), ignoring case."""
    return [t for t in terms if t.strip() and _term_pattern(t).search(text)]


def matches(text: str, pattern: str) -> list[str]:
    """Every match of the regular expression `pattern` in `text`."""
    return [m.group(0) for m in re.finditer(pattern, text, re.I)]


def classify(text: str, labels: Mapping[str, Sequence[str]], default: str) -> str:
    """The first label whose terms `text` mentions, else `default`."""
    for label, terms in labels.items():
        if mentioned(text, terms):
            return label
    return default


def flag(hit: bool, label: str) -> str:
    """`label` when the rule holds, else "not <label>"."""
    return label if hit else f"not {label}"


def choose(text: str, options: Sequence[str]) -> str | None:
    """The one option `text` mentions; None when it mentions none or several (the model,
    constrained to `options`, decides then)."""
    found = mentioned(text, options)
    return found[0] if len(found) == 1 else None


# --- numbers --------------------------------------------------------------------------

_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_MONTHS = [
    "january", "february", "march", "april", "may", "june", "july", "august", "september",
    "october", "november", "december"
]
_WRITTEN_DATE = re.compile(
    rf"\b(?:(?P<d1>\d{{1,2}})\s+(?P<m1>{'|'.join(_MONTHS)})|(?P<m2>{'|'.join(_MONTHS)})"
    rf"\s+(?P<d2>\d{{1,2}}),?)\s+(?P<y>\d{{4}})\b", re.I)
_NUMBER = re.compile(r"(?<![\w.])-?\d{1,3}(?:[ ,]\d{3})+(?:\.\d+)?(?![\w])|(?<![\w.])-?\d+"
                     r"(?:\.\d+)?(?![\w])")
_TIME = re.compile(r"\b\d{1,2}:\d{2}\b")


def _without_dates(text: str) -> str:
    text = _DATE.sub(" ", text)
    text = _WRITTEN_DATE.sub(" ", text)
    return _TIME.sub(" ", text)


def numbers(text: str) -> list[Decimal]:
    """The numbers in `text`, leaving out dates and clock times ("12 500" and "12,500"
    are one number)."""
    found = []
    for match in _NUMBER.finditer(_without_dates(text)):
        try:
            found.append(Decimal(re.sub(r"[ ,]", "", match.group(0))))
        except InvalidOperation:  # pragma: no cover - the pattern only matches numbers
            continue
    return found


def over(text: str, limit: float) -> bool:
    """Whether a number in `text` is over `limit`."""
    return any(n > Decimal(str(limit)) for n in numbers(text))


def under(text: str, limit: float) -> bool:
    """Whether a number in `text` is under `limit`."""
    return any(n < Decimal(str(limit)) for n in numbers(text))


def _amounts(text: str) -> list[tuple[int, Decimal]]:
    """Money-like numbers (with two decimals) and where they stand; all numbers if
    none has decimals."""
    plain = _without_dates(text)
    found = [(m.start(), Decimal(m.group(0).replace(",", "")))
             for m in re.finditer(r"(?<![\w.])\d[\d,]*\.\d{2}(?![\d])", plain)]
    if found:
        return found
    return [(m.start(), Decimal(re.sub(r"[ ,]", "", m.group(0))))
            for m in _NUMBER.finditer(plain)]


def check_total(text: str, total_word: str = "total") -> tuple[bool, str]:
    """Whether the amounts before `total_word` add up to the amount after it, with a
    sentence naming what does not add up."""
    at = re.search(rf"\b{re.escape(total_word)}\b", text, re.I)
    if at is None:
        raise SkillError(f"the input states no {total_word}")
    amounts = _amounts(text)
    parts = [n for pos, n in amounts if pos < at.start()]
    after = [n for pos, n in amounts if pos > at.start()]
    if not after:
        raise SkillError(f"the input gives no amount for the {total_word}")
    if not parts:
        raise SkillError(f"the input gives no amounts to add up to the {total_word}")
    total, summed = after[0], sum(parts, Decimal(0))
    listing = " + ".join(str(p) for p in parts)
    if summed == total:
        return True, f"{listing} = {summed}, the {total_word} stated"
    return False, (f"{listing} = {summed}, not the {total_word} {total} stated "
                   f"(off by {total - summed})")


# --- dates ----------------------------------------------------------------------------


def dates_in(text: str) -> list[date]:
    """The dates `text` gives: 2026-05-04, 4 May 2026, May 4, 2026."""
    found: list[tuple[int, date]] = []
    for m in _DATE.finditer(text):
        try:
            found.append((m.start(), date(int(m[1]), int(m[2]), int(m[3]))))
        except ValueError:
            continue
    for m in _WRITTEN_DATE.finditer(text):
        month = _MONTHS.index((m["m1"] or m["m2"]).lower()) + 1
        try:
            found.append((m.start(), date(int(m["y"]), month, int(m["d1"] or m["d2"]))))
        except ValueError:
            continue
    return [d for _, d in sorted(found, key=lambda f: f[0])]


def dates_after(text: str, offsets: Mapping[str, int]) -> dict[str, str]:
    """For each name, the input's first date plus that many days (ISO dates)."""
    found = dates_in(text)
    if not found:
        raise SkillError("the input gives no date (write it as 2026-05-04 or 4 May 2026)")
    return {name: (found[0] + timedelta(days=days)).isoformat()
            for name, days in offsets.items()}


def not_future(text: str, today: date) -> tuple[bool, str]:
    """Whether the input's first date is not after `today`."""
    found = dates_in(text)
    if not found:
        raise SkillError("the input gives no date (write it as 2026-05-04 or 4 May 2026)")
    if found[0] > today:
        return False, f"the date {found[0].isoformat()} is in the future"
    return True, f"the date {found[0].isoformat()} is not in the future"


# --- counts, limits, votes ------------------------------------------------------------


def at_most(items: Sequence[T], limit: int) -> list[T]:
    """The first `limit` items."""
    return list(items[:max(0, limit)])


_ITEM = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")


def keep_items(text: str, limit: int) -> str:
    """`text` with at most `limit` list items ("- ..." or "1. ..." lines); other lines
    stay as they are."""
    kept, items = [], 0
    for line in text.splitlines():
        if _ITEM.match(line):
            items += 1
            if items > limit:
                continue
        kept.append(line)
    return "\n".join(kept)


def count_within(items: Sequence[Any], low: int | None, high: int | None) -> tuple[bool, str]:
    """Whether there are between `low` and `high` items (either may be open)."""
    n = len(items)
    if low is not None and n < low:
        return False, f"{n} given, at least {low} wanted"
    if high is not None and n > high:
        return False, f"{n} given, at most {high} wanted"
    return True, f"{n} given"


def majority(votes: Iterable[str]) -> tuple[str | None, dict[str, int]]:
    """The option with more than half the votes (None if none has), and the tally."""
    tally = Counter(votes)
    total = sum(tally.values())
    winner = next((o for o, n in tally.most_common(1) if n * 2 > total), None)
    return winner, dict(tally)


async def within(calls: Mapping[str, Awaitable[T]], seconds: float,
                 ) -> tuple[dict[str, T], dict[str, str]]:
    """Await every call at once for at most `seconds`: what answered in time, and for
    each one that did not, why (timed out, or the error it raised)."""
    names = list(calls)
    tasks = {name: asyncio.ensure_future(calls[name]) for name in names}
    _, pending = await asyncio.wait(tasks.values(), timeout=seconds)
    for task in pending:
        task.cancel()
    answers: dict[str, T] = {}
    skipped: dict[str, str] = {}
    for name in names:
        task = tasks[name]
        if task in pending:
            skipped[name] = f"did not answer within {seconds:g} s"
        elif (error := task.exception()) is not None:
            limit = getattr(error, "limit", None)     # a request's own deadline passed
            skipped[name] = (f"did not answer within {limit:g} s" if limit is not None else
                             f"failed: {' '.join(str(error).split()) or type(error).__name__}")
        else:
            answers[name] = task.result()
    if pending:
        await asyncio.gather(*pending, return_exceptions=True)
    return answers, skipped


# --- code -----------------------------------------------------------------------------

_FENCE = re.compile(r"```(?:python|py)?[ \t]*\n(?P<code>.*?)(?:```|\Z)", re.S | re.I)


def python_code(text: str) -> str:
    """The Python in a model's answer: its fenced blocks joined, else the whole text."""
    blocks = [m.group("code").strip("\n") for m in _FENCE.finditer(text)]
    return ("\n\n".join(b for b in blocks if b.strip()) if blocks else text).strip() + "\n"


def parse_problem(code: str) -> str | None:
    """Why `code` is not Python that parses (None when it parses)."""
    import ast

    try:
        ast.parse(code)
    except SyntaxError as exc:
        return f"line {exc.lineno}: {exc.msg}"
    return None


@dataclass(frozen=True)
class PytestOutcome:
    passed: int
    failed: int
    errors: int
    output: str               # the end of pytest's output
    timed_out: bool = False
    no_tests: bool = False    # the tests file holds no test pytest could collect

    @property
    def ok(self) -> bool:
        return self.passed > 0 and not (self.failed or self.errors or self.timed_out)

    def summary(self) -> str:
        if self.timed_out:
            return "the tests timed out"
        if self.no_tests:
            return "no tests: the tests file has no test function pytest could run"
        return f"{self.passed} passed, {self.failed} failed, {self.errors} error(s)"


TESTS_REQUIREMENT = "pytest>=8"
"""What a generated system that runs code against tests (`run_tests`) declares besides
the runtime: pytest is not one of the runtime's own dependencies."""


def run_tests(code: str, tests: str, *, module: str = "solution", timeout: float = 60.0,
              memory_mb: int = 1024) -> PytestOutcome:
    """Run `tests` against `code` (saved as `<module>.py`) with pytest in the sandbox: a
    folder of their own, time and memory limits, no network."""
    import sys
    import tempfile

    from autogenesis.sandbox import run_sandboxed

    if not re.search(rf"^\s*(?:from\s+{module}\s+import|import\s+{module}\b)", tests, re.M):
        tests = f"from {module} import *  # noqa: F403\n\n{tests}"   # the usual omission
    with tempfile.TemporaryDirectory(prefix="autogenesis-tests-") as folder:
        where = Path(folder)
        (where / f"{module}.py").write_text(code, encoding="utf-8")
        (where / f"test_{module}.py").write_text(tests, encoding="utf-8")
        result = run_sandboxed([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                                "-p", "no:asyncio", f"test_{module}.py"], cwd=where,
                               timeout=timeout, memory_mb=memory_mb)
    output = result.tail(1500)
    counts = {kind: int(n) for n, kind in re.findall(r"(\d+) (passed|failed|errors?)\b",
                                                      output)}
    errors = counts.get("error", 0) + counts.get("errors", 0)
    no_tests = result.returncode == 5       # pytest's code for "no tests collected"
    if result.returncode not in (0, 1, 5) and not errors and not counts.get("failed"):
        errors = 1      # pytest could not collect or run the tests at all
    return PytestOutcome(passed=counts.get("passed", 0), failed=counts.get("failed", 0),
                         errors=errors, output=output, timed_out=result.timed_out,
                         no_tests=no_tests)


# --- tables ---------------------------------------------------------------------------


def read_table(path: Path, columns: Sequence[str]) -> list[dict[str, str]]:
    """The rows of a CSV or JSON (a list of objects) data file with these columns; a
    clear error when the file is missing, has other columns or is not filled in yet."""
    if not path.is_file():
        raise SkillError(f"{path} is missing: create it with the columns "
                         f"{', '.join(columns)}")
    if path.suffix == ".json":
        try:
            rows = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise SkillError(f"{path} is not valid JSON: {exc}") from None
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise SkillError(f"{path} must hold a list of objects")
        header = list(rows[0]) if rows else list(columns)
    else:
        with open(path, encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f)
            header = list(reader.fieldnames or [])
            rows = list(reader)
    missing = [c for c in columns if c not in header]
    if missing:
        raise SkillError(f"{path} has no column {', '.join(missing)} (its columns: "
                         f"{', '.join(header) or 'none'})")
    filled = [r for r in rows if any(str(r.get(c) or "").strip() for c in columns)]
    if not filled:
        raise SkillError(f"{path} has no rows yet: fill it in (columns: "
                         f"{', '.join(columns)})")
    return [{c: str(r.get(c) or "").strip() for c in columns} for r in filled]


def lookup(text: str, path: Path, key_column: str, value_column: str) -> str:
    """The `value_column` of the table row whose `key_column` the input mentions."""
    rows = read_table(path, [key_column, value_column])
    for row in rows:
        if row[key_column] and mentioned(text, [row[key_column]]):
            return row[value_column]
    raise SkillError(f"the input names no {key_column} listed in {path}")
