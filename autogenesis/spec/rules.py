"""Rules a spec states that a program can apply exactly, found in its words.

"flags it as suspicious when the amount is over 10000 euros or the country is
not one of: DE, FR, NL, BE", "proposes a call 2 days later", "checks that the
line items add up to the total", "classifies its severity as low, medium or
critical", "a translator that does not answer within 30 seconds is skipped":
each becomes a `StatedRule` with its kind, the spec's words, their line, and
the parameters a skill (`autogenesis.runtime.skills`) needs. What a rule
cannot read exactly it leaves alone: a rule read wrong is worse than a rule
left to the model, and the build says which rules it wired.

Kinds:
- `flag`: a label when any (or all) of its clauses hold; clauses are `over`/`under`
  a number, `in`/`not_in` a list the input must (not) mention, `mentions` terms;
- `one_of`: a value chosen from a stated list (the input's one mention, else the
  model under a grammar allowing only the list);
- `dates`: named dates a number of days or weeks after the input's date;
- `total`: the amounts before "total" add up to it;
- `not_future`: the input's date is not in the future;
- `deadline`: members that do not answer within N seconds are left out;
- `lookup`: a value looked up in a table the package ships as a data file;
- `range`: a number within stated bounds ("a match score from 0 to 100"), which the
  model gives under a grammar that allows only those numbers;
- `count`: how many items the agent gives ("writes three questions"): a list of exactly
  that many, decoded under a grammar;
- `extract`: the fields an agent pulls out of its input ("extracts the sender, the
  amount and the due date from the email"), decoded as typed fields;
- `award`: which bid wins a contract net ("the lowest bid wins"), with what a bid is;
- `run_tests`: code is run against tests written for it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
                "eight": 8, "nine": 9, "ten": 10, "twelve": 12, "fourteen": 14,
                "fifteen": 15, "twenty": 20, "thirty": 30}
_N = rf"(?:\d+|{'|'.join(NUMBER_WORDS)})"
VERB_NOUNS = {"rate": "rating", "rati": "rating", "grad": "grade", "labe": "label",
              "tag": "label", "tags": "label", "tagg": "label"}
"""What a classifying verb's result is called when the spec does not name it."""


@dataclass
class StatedRule:
    kind: str
    text: str
    line: int
    params: dict[str, Any] = field(default_factory=dict)


def _number(word: str) -> int:
    return int(word) if word.isdigit() else NUMBER_WORDS[word.lower()]


def _name(words: str) -> str:
    name = re.sub(r"[^a-z0-9]+", "_", words.lower()).strip("_")
    return name[:30] or "value"


def _items(text: str) -> list[str]:
    """"DE, FR, NL, BE" / "low, medium or critical" / "office, travel, software or
    other" -> the items, unquoted."""
    text = re.split(r"\s+(?:when|if|because|so that|and then|then)\s", text)[0]
    parts = re.split(r"\s*,\s*(?:or\s+|and\s+)?|\s+or\s+|\s+and\s+|\s*/\s*", text.strip())
    items = [p.strip(" \"'“”‘’*`.:|") for p in parts]
    return [i for i in items if i and len(i.split()) <= 3]


# --- flags ----------------------------------------------------------------------------

_FLAG = re.compile(
    r"\b(?:flags?|flagging|marks?|marking|labels?|labell?ing|tags?|tagging|treats?)\s+"
    r"(?:it|them|(?:the|each|every|an?)\s+[\w-]+|[\w-]+)?\s*as\s+(?P<label>[a-z][\w-]*)\s+"
    r"(?:when|if|whenever)\s+(?P<cond>[^.;]+)"
    r"|\bis\s+(?P<label2>[a-z][\w-]*)\s+(?:when|if|whenever)\s+(?P<cond2>[^.;]+)", re.I)
_CLAUSE = re.compile(
    r"(?P<cmp>(?:the\s+|its\s+)?(?P<what>[a-z][\w-]*)\s+is\s+(?P<op>over|above|more than|"
    r"greater than|higher than|under|below|less than|lower than)\s+(?P<n>\d[\d,.]*))"
    r"|(?P<set>(?:the\s+|its\s+)?(?P<what2>[a-z][\w-]*)\s+is\s+(?P<neg>not\s+)?(?:one of|"
    r"in|among)\s*:?\s)"
    r"|(?P<men>\b(?:it\s+|they\s+)?(?:mentions?|contains?|includes?|says?|names?)\s+"
    r"(?:any of\s*:?\s*|the words?\s+|words? like\s+)?)", re.I)


def _clauses(cond: str) -> tuple[list[dict[str, Any]], str]:
    starts = list(_CLAUSE.finditer(cond))
    clauses: list[dict[str, Any]] = []
    joins = []
    for i, m in enumerate(starts):
        end = starts[i + 1].start() if i + 1 < len(starts) else len(cond)
        tail = cond[m.end():end]
        join = re.search(r"\s+(or|and)\s*$", tail)
        if join:
            joins.append(join.group(1).lower())
            tail = tail[:join.start()]
        if m.group("cmp"):
            op = "over" if m.group("op").lower() in ("over", "above", "more than",
                                                     "greater than", "higher than") \
                else "under"
            clauses.append({"op": op, "what": m.group("what").lower(),
                            "n": float(m.group("n").replace(",", "").rstrip("."))})
        elif m.group("set"):
            items = _items(tail)
            if len(items) < 2:
                continue
            clauses.append({"op": "not_in" if m.group("neg") else "in",
                            "what": m.group("what2").lower(), "terms": items})
        else:
            items = _items(tail)
            if items:
                clauses.append({"op": "mentions", "what": "", "terms": items})
    return clauses, "all" if joins and all(j == "and" for j in joins) else "any"


# --- the other kinds ------------------------------------------------------------------

_CLASSIFY = re.compile(
    r"\b(?:classif(?:y|ies|ying)|rates?|rating|grades?|grading|sorts?|labels?|tags?)\s+"
    r"(?:it|them|its|their|the|each|every)?\s*(?P<what>[a-z][\w-]*)?\s*(?:as\s+"
    r"(?:one of\s*:?\s*|either\s+)?(?P<list>[^.;()|]+)|(?P<bare>[a-z][\w-]*,\s*[^.;()|]+))",
    re.I)
_ONE_OF = re.compile(
    r"\b(?:(?:the\s+|its\s+|an?\s+)?(?P<what>[a-z][\w-]*)\s*[,:]?\s*(?:is\s+|as\s+|to\s+)?"
    r"(?:exactly\s+)?one of|to\s+(?:an?|one)\s+(?P<what2>[a-z][\w-]*))\s*:\s*"
    r"(?P<list>[^.;()|]+)|\bone of\s*:?\s*(?P<list2>[^.;()|]+)", re.I)
_DATES = re.compile(
    rf"(?P<n>{_N})\s+(?P<unit>day|week)s?(?:\s+and\s+(?P<n2>{_N})\s+(?P<unit2>day|week)s?)?"
    r"\s+(?:later|after(?:wards)?\b|from (?:it|then|the \w+))", re.I)
_ARTICLE_NOUN = re.compile(r"\b(?:an?|the)\s+(?P<noun>[a-z][\w-]*)", re.I)
_PROPOSE_NOUN = re.compile(r"\b(?:proposes?|suggests?|schedules?|books?|sets?|plans?)\s+"
                           r"(?:an?\s+|the\s+)?(?P<noun>[a-z][\w-]*)", re.I)
_TOTAL = re.compile(r"\b(?:add(?:s)?\s+up\s+to|sums?\s+(?:up\s+)?to|equals?\s+the\s+sum|"
                    r"(?:is|be)\s+the\s+sum\s+of)\b", re.I)
_NOT_FUTURE = re.compile(r"\bnot\s+(?:be\s+)?in\s+the\s+future\b", re.I)
_DEADLINE = re.compile(
    rf"\b(?:(?:do(?:es)?\s+not|don't|doesn't|fails?\s+to|never|ha(?:s|ve)\s+not|hasn't|"
    rf"haven't)\s+(?:answer|respond|repl(?:y|ie)|bid)(?:s|ed|d)?|no\s+(?:bid|answer|reply|"
    rf"response))\s+(?:(?:with)?in|after)\s+(?P<n>{_N})\s*"
    r"(?P<unit>seconds?|secs?|s|minutes?|mins?)\b", re.I)
_LOOKUP = re.compile(
    r"\blooks?\s+up\s+(?:the\s+)?(?P<value>[a-z][\w-]*)(?:\s+(?:of|for)\s+(?:the\s+|each\s+|"
    r"every\s+|an?\s+)?(?P<key>[a-z][\w-]*))?\s+in\s+(?:the\s+|a\s+|our\s+|its\s+)?"
    r"(?P<table>[a-z][\w -]*?)\s*(?:table|list|file|sheet|catalogue|catalog|price list)\b",
    re.I)
_COUNT = re.compile(
    rf"\b(?:writes?|gives?|lists?|proposes?|suggests?|produces?|returns?|asks?|drafts?|"
    rf"picks?|names?|collects?|finds?|condenses?|summari[sz]es?)\s+(?:[a-z][\w']*\s+){{0,3}}?"
    rf"(?P<bound>exactly\s+|up\s+to\s+|at\s+most\s+|at\s+least\s+|no\s+more\s+than\s+)?"
    rf"(?P<n>{_N})(?:\s*(?:-|–|to)\s*(?P<n2>{_N}))?\s+"
    r"(?:(?!from\b|for\b|of\b|to\b|with\b|about\b|the\b|and\b|or\b)[a-z][\w-]*\s+){0,2}?"
    r"(?P<noun>questions?|causes?|facts?|ideas?|headlines?|titles?|"
    r"options?|reasons?|tips?|steps?|points?|names?|links?|risks?|bullets?|examples?|"
    r"sentences?|suggestions?|items?|angles?|slogans?)\b", re.I)
_RANGE = re.compile(
    r"\b(?P<verb>gives?|giving|scores?|scoring|rates?|rating|grades?|grading|marks?|assigns?)"
    r"\s+(?:(?:an?|the|its|their|each|every)\s+)?(?P<what>(?:[a-z][\w-]*\s+){0,2}?)"
    r"(?:for\s+(?P<for>[a-z][\w-]*)\s+)?(?:from|between)\s+(?P<a>-?\d+)\s*(?:to|and|-|–)\s*"
    r"(?P<b>-?\d+)\b(?!\s*(?:words?|minutes?|seconds?|hours?|days?|weeks?|%|percent|euros?|"
    r"dollars?))", re.I)
_RANGE_NOUNS = {"give": "", "scor": "score", "rate": "rating", "rati": "rating",
                "grad": "grade", "mark": "mark", "assi": "value"}
_EXTRACT = re.compile(r"\b(?:extracts?|pulls? out|picks? out|reads? off)\s+(?:the\s+)?"
                      r"(?P<list>[a-z][^.;:]*?)\s+(?:from|out of|in)\s", re.I)
_AWARD = re.compile(
    r"\b(?:awards?|gives?|assigns?)\s+(?:(?:the|each|every)\s+[\w-]+\s+|it\s+)?to\s+(?:the\s+)?"
    r"(?P<by>lowest|highest|cheapest|smallest|largest)\s+(?:bid|offer|price)"
    r"|\b(?:the\s+)?(?P<by2>lowest|highest|cheapest|smallest|largest)\s+(?:bid|offer|price)"
    r"(?:\s+[\w-]+){0,3}?\s+wins\b", re.I)
_QUANTITY = re.compile(r"\bbid(?:s|ding)?\s+(?:with\s+)?(?P<q>(?:the|a|an|its)\s+(?:number|price|"
                       r"amount|cost|fee|time|rate)\b[^.;,]*)", re.I)
_LOWEST = ("lowest", "cheapest", "smallest")
_RUN_TESTS = re.compile(r"\btests?\b[^.;]*\b(?:are|is|get|gets)\s+run\b|\bruns?\s+the\s+"
                        r"tests?\b", re.I)


def _dates(line: str) -> dict[str, int]:
    offsets: dict[str, int] = {}
    previous = 0
    for m in _DATES.finditer(line):
        window = line[previous:m.start()]
        previous = m.end()
        noun_at = _PROPOSE_NOUN.search(window) or _ARTICLE_NOUN.search(window)
        noun = _name(noun_at.group("noun")) if noun_at else "date"
        pairs = [(m.group("n"), m.group("unit"))]
        if m.group("n2"):
            pairs.append((m.group("n2"), m.group("unit2")))
        for n, unit in pairs:
            days = _number(n) * (7 if unit.lower().startswith("week") else 1)
            name = noun if noun not in offsets and len(pairs) == 1 else f"{noun}_{days}_days"
            offsets[name] = days
    return offsets


def rules_in_line(text: str, line: int) -> list[StatedRule]:
    """The rules one line (or sentence) of a spec states."""
    rules: list[StatedRule] = []
    taken: list[tuple[int, int]] = []
    for m in _FLAG.finditer(text):
        cond = m.group("cond") or m.group("cond2")
        label = (m.group("label") or m.group("label2")).lower()
        clauses, join = _clauses(cond)
        if clauses and label not in ("not", "the", "a", "an"):
            rules.append(StatedRule("flag", m.group(0).strip(), line,
                                    {"label": label, "clauses": clauses, "join": join}))
            taken.append(m.span())
    for m in _CLASSIFY.finditer(text):
        items = _items(m.group("list") or m.group("bare"))
        noun = ""
        if m.group("bare") and len(items) >= 2 and len(items[-1].split()) == 2 and \
                all(len(i.split()) == 1 for i in items[:-1]):   # "low, medium or high risk"
            items[-1], noun = items[-1].split()
        elif m.group("bare"):
            continue       # without "as", only "a, b or c <noun>" is a classification
        if len(items) >= 2 and not any(a <= m.start() < b for a, b in taken):
            owned = re.search(r"\b(?:its|their)\s+$", text[:m.start("what")]) \
                if m.group("what") else None
            verb = m.group(0).split()[0].lower()
            what = (noun or (m.group("what") if owned else VERB_NOUNS.get(verb[:4],
                                                                         "category"))).lower()
            rules.append(StatedRule("one_of", m.group(0).strip(), line,
                                    {"what": _name(what), "options": items}))
            taken.append(m.span())
    for m in _ONE_OF.finditer(text):
        if any(a <= m.start() < b or a < m.end() <= b for a, b in taken):
            continue
        items = _items(m.group("list") or m.group("list2"))
        what = (m.group("what") or m.group("what2") or "category").lower()
        if len(items) >= 2 and what not in ("is", "not", "be"):
            rules.append(StatedRule("one_of", m.group(0).strip(), line,
                                    {"what": _name(what), "options": items}))
            taken.append(m.span())
    if (offsets := _dates(text)):
        rules.append(StatedRule("dates", text.strip(), line, {"offsets": offsets}))
    if _TOTAL.search(text) and re.search(r"\btotal\b", text, re.I):
        rules.append(StatedRule("total", text.strip(), line, {"total_word": "total"}))
    if _NOT_FUTURE.search(text):
        rules.append(StatedRule("not_future", text.strip(), line, {}))
    if (m := _DEADLINE.search(text)):
        seconds = _number(m.group("n")) * (60 if m.group("unit").lower().startswith("m")
                                           else 1)
        rules.append(StatedRule("deadline", m.group(0).strip(), line,
                                {"seconds": float(seconds)}))
    if (m := _LOOKUP.search(text)):
        table = _name(m.group(0)[m.start("table") - m.start():])
        rules.append(StatedRule("lookup", m.group(0).strip(), line,
                                {"value": _name(m.group("value")),
                                 "key": _name(m.group("key") or "name"), "table": table}))
    for m in _COUNT.finditer(text):
        noun = m.group("noun").lower()
        each = re.match(r"\s+(?:about\s+|for\s+|on\s+)?(?:each|every|per)\b",
                        text[m.end():]) is not None
        n = _number(m.group("n"))
        bound = " ".join((m.group("bound") or "").lower().split())
        low, high = ((n, _number(m.group("n2"))) if m.group("n2") else
                     (n, None) if bound == "at least" else
                     (None, n) if bound in ("up to", "at most", "no more than") else (n, n))
        params: dict[str, Any] = {"n": n, "each": each,
                                  "noun": noun if noun.endswith("s") else noun + "s"}
        if (low, high) != (n, n):
            params.update(low=low, high=high)      # "3-5 angles", "at least three ideas"
        rules.append(StatedRule("count", m.group(0).strip(), line, params))
    if (m := _RANGE.search(text)):
        low, high = sorted((int(m.group("a")), int(m.group("b"))))
        what = m.group("what").strip()
        named = m.group("for") or (what if m.group("verb")[:4].lower() in ("give", "rate",
                                                                           "rati") else "")
        what = named or _RANGE_NOUNS[m.group("verb")[:4].lower()] or what or "score"
        rules.append(StatedRule("range", m.group(0).strip(), line,
                                {"what": _name(what), "low": low, "high": high}))
    if (m := _EXTRACT.search(text)):
        names = [_name(re.sub(r"^(?:the|a|an|its|their)\s+", "", i, flags=re.I))
                 for i in _items(m.group("list"))]
        if len(names) >= 2:
            rules.append(StatedRule("extract", text[m.start():m.end("list")].strip(), line,
                                    {"fields": list(dict.fromkeys(names))}))
    if (m := _AWARD.search(text)):
        by = (m.group("by") or m.group("by2")).lower()
        rules.append(StatedRule("award", m.group(0).strip(), line,
                                {"by": "lowest" if by in _LOWEST else "highest"}))
    if _RUN_TESTS.search(text):
        rules.append(StatedRule("run_tests", text.strip(), line, {}))
    return rules


def _sentences(line: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.;!?])\s+(?=[A-Z\"“(])", line) if s.strip()]


_BLOCK_START = re.compile(r"^\s*(?:[-*+|#>]|\d+[.)]\s|```|---)")


def _logical_lines(spec: str) -> list[tuple[int, str]]:
    """The spec's lines with wrapped prose joined (numbered by their first line)."""
    joined: list[tuple[int, str]] = []
    for number, raw in enumerate(spec.splitlines(), 1):
        line = raw.strip()
        if not line:
            joined.append((number, ""))
            continue
        if joined and joined[-1][1] and not _BLOCK_START.match(raw) \
                and not joined[-1][1].endswith((".", ":", "!", "?", "|")):
            joined[-1] = (joined[-1][0], f"{joined[-1][1]} {line}")
        else:
            joined.append((number, line))
    return [(n, t) for n, t in joined if t]


def find_rules(spec: str) -> list[StatedRule]:
    """Every rule the spec states, in the order it states them (examples left out: an
    example's outcome is checked, not wired). An award rule takes what the spec says a
    bid is ("bids the number of hours it needs"), wherever it says it."""
    rules = _rules(spec)
    quantity = next((m.group("q").strip() for _, line in _logical_lines(spec)
                     if (m := _QUANTITY.search(line))), "")
    for rule in rules:
        if rule.kind == "award" and quantity:
            rule.params["quantity"] = quantity
    return rules


def _rules(spec: str) -> list[StatedRule]:
    rules: list[StatedRule] = []
    for number, line in _logical_lines(spec):
        if re.match(r"^[-*]?\s*(?:\*\*)?(?:input|example|expected|e\.g\.)\b", line, re.I) \
                or ("->" in line and re.match(r"^[-*]\s*[\"“]", line)):
            continue
        line = re.split(r"\b(?:for )?examples?(?: input| request)?\s*:", line, flags=re.I)[0]
        cells = [c for c in line.strip("|").split("|") if c.strip()] if "|" in line else [line]
        for cell in cells:
            cell = re.sub(r"^\s*(?:[-*+]|\d+[.)])?\s*(?:\*\*[^*]+\*\*|`[^`]+`)?\s*:?\s*", "",
                          cell) or cell
            for sentence in _sentences(cell.replace("**", "").strip()):
                rules += rules_in_line(sentence, number)
    return rules
