"""An example's expected outcome, the spec's constraints and the input, as checks.

Deterministic wherever the words allow: terms the answer must mention ("a lesson
that mentions light, water and carbon dioxide"; the places and names the input
gives), terms it must not ("no refund promise"), word limits ("under 120
words", "150 to 300 words"), counts of what it lists ("two questions", "five
sentences"), a decision ("a reject decision", "the handyman wins", "not
suspicious"), the agent a router chose ("routed to billing"), code that
parses. What is left of the expectation that no rule can judge becomes one
rubric for a model, marked `by: model`, and is reported unchecked until one
judges it. A constraint that limits answers applies to every example.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from autogenesis.artefacts import AcceptanceCheck

NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
           "eight": 8, "nine": 9, "ten": 10, "a": 1, "an": 1, "single": 1}
ITEM_NOUNS = ("question", "sentence", "name", "link", "fact", "item", "step", "idea",
              "cause", "translation", "headline", "section", "point", "bullet", "reason",
              "tip", "option", "example", "recommendation", "dinner", "venue", "date",
              "statement", "paragraph", "line", "risk", "achievement", "clip", "review",
              "score", "grant", "label")
DECISIONS = {"accept": "reject", "reject": "accept", "approved": "rejected",
             "rejected": "approved", "suspicious": "not suspicious", "urgent": "not urgent",
             "not suspicious": "suspicious", "not urgent": "urgent"}
_STOP = frozenset(re.findall(r"\w+", """a an the and or of to for in on at by with that this
these those it its is are be as from into than then so such answer reply result output message
text one two three four five six seven eight nine ten any each every all some both least most
more"""))
_NOT_NAMES = frozenset(re.findall(r"\w+", """Monday Tuesday Wednesday Thursday Friday Saturday
Sunday January February March April May June July August September October November December
Ltd Inc Co Mr Mrs Ms Dr The This That What Why How When Where Which Who"""))
_MENTIONS = re.compile(
    r"\b(?:mentions?|mentioning|names?|naming|cites?|citing|covers?|covering|about|"
    r"qui parle de|parle de|that says|says)\s+(?P<terms>[^.;]+)", re.I)
_ABSENT = re.compile(r"\b(?:no|never|without|none with|not mention(?:ing)?)\s+"
                     r"(?P<term>[a-z][\w-]*(?:\s+[a-z][\w-]*)?)", re.I)
_WORDS_MAX = re.compile(r"\b(?:under|at most|no more than|fewer than|less than|up to|"
                        r"within|max(?:imum)?)\s+(?P<n>\d+)\s+(?:words|mots)\b", re.I)
_WORDS_MIN = re.compile(r"\bat least\s+(?P<n>\d+)\s+(?:words|mots)\b", re.I)
_WORDS_RANGE = re.compile(r"\b(?P<a>\d+)\s*(?:to|-|–|à|and)\s*(?P<b>\d+)\s+(?:words|mots)\b",
                          re.I)
_COUNT = re.compile(
    rf"(?<![\d.:/-])\b(?P<n>\d{{1,2}}|{'|'.join(k for k in NUMBERS if len(k) > 2)})\s+"
    rf"(?:(?!and\b|or\b|to\b)[a-z][\w-]*\s+){{0,2}}?(?P<noun>(?:{'|'.join(ITEM_NOUNS)})s?)\b",
    re.I)
_ROUTE = re.compile(r"\b(?:routed|sent|handled|answered|respondido)\s+(?:to|by|por)\s+"
                    r"(?:the\s+|el\s+)?(?P<agent>[\w-]+)", re.I)
_WINNER = re.compile(r"\b(?:the\s+)?(?P<who>[a-z][\w-]*)\s+wins\b", re.I)
_LABELLED = re.compile(r"\b(?:(?:severity|priority|urgency|category|label|class|status|"
                       r"verdict|level)\s+(?:is\s+|of\s+|:\s*)?|(?:labell?ed|classified|"
                       r"tagged|marked|rated|flagged)\s+(?:as\s+)?)(?P<word>(?:not\s+)?"
                       r"(?!above|below|under|over|at|as|of|to|by|from|with|and|or|the|a|an|"
                       r"not\b)[a-z][a-z-]+)\b", re.I)
_DECISION = re.compile(rf"\b(?P<word>not suspicious|not urgent|"
                       rf"{'|'.join(sorted(DECISIONS, key=len, reverse=True))})\b", re.I)
_CODE = re.compile(r"\b(?:function|code|script|program|class)\b.*\b(?:pass|parses|runs|"
                   r"compiles)\b|\ba function\b", re.I)
_NUMBER = re.compile(r"\b\d{4}-\d{2}-\d{2}\b|\b\d+\.\d{2}\b")


def content_words(text: str) -> list[str]:
    return [w for w in re.findall(r"[^\W_][\w'-]*", text.lower()) if w not in _STOP]


def _terms(text: str) -> list[str]:
    """"light, water and carbon dioxide, followed by two questions" -> the terms."""
    text = re.split(r",?\s+(?:followed by|and then|then|with|which|that|who|in|under|"
                    r"at most|at least)\s|,\s+and\s+an?\s", " " + text, maxsplit=1)[0]
    terms = []
    for part in re.split(r"\s*,\s*(?:and\s+|or\s+)?|\s+and\s+|\s+or\s+", text):
        if _COUNT.search(part):
            continue            # "at least three facts": a count, checked as one
        words = content_words(re.sub(r"\d+", " ", part))
        if words and len(words) <= 3:
            terms.append(" ".join(words))
    return terms


def input_terms(given: str) -> list[str]:
    """Names the input gives (capitalised words past the start of a sentence, quoted
    phrases): the answer should be about them."""
    names = re.findall(r"(?<![.!?]\s)(?<!^)(?<![\"“])\b([A-Z][a-z]{2,})\b", given)
    return list(dict.fromkeys(n for n in names if n not in _NOT_NAMES))


def example_checks(given: str, expected: str,
                   agents: Iterable[str] = ()) -> list[AcceptanceCheck]:
    """The checks of one example: from its expected outcome and its input."""
    checks: list[AcceptanceCheck] = []
    agents = set(agents)
    code = _CODE.search(" ".join(expected.split())) is not None
    if not code and (names := input_terms(given)):  # the answer is about what was asked
        checks.append(AcceptanceCheck(
            kind="mentions", source="input",
            text=f"mentions {' or '.join(names)} (from the input)",
            params={"terms": names, "any": True}))
    text = " ".join(expected.split())
    covered: list[tuple[int, int]] = []
    route = _ROUTE.search(text)
    if route and route.group("agent").lower() in agents:
        checks.append(AcceptanceCheck(kind="route", text=f"handled by {route.group('agent')}",
                                      params={"agent": route.group("agent").lower()}))
        covered.append(route.span())
    for match in _MENTIONS.finditer(text):
        terms = [t for t in _terms(match.group("terms")) if t not in agents]
        listed = match.group("terms").split(",")[-1]      # "fund, revise or decline": one
        either = len(terms) > 1 and re.search(r"\bor\b", listed) is not None \
            and not re.search(r"\band\b", listed)
        if terms:
            checks.append(AcceptanceCheck(
                kind="mentions", params={"terms": terms, **({"any": True} if either else {})},
                text=f"mentions {' or '.join(terms) if either else ', '.join(terms)}"))
            covered.append(match.span())
    numbers = _NUMBER.findall(text)
    if numbers:
        checks.append(AcceptanceCheck(kind="mentions", text=f"gives {', '.join(numbers)}",
                                      params={"terms": numbers}))
    for match in _ABSENT.finditer(text):
        term = " ".join(content_words(match.group("term")))
        if term:
            checks.append(AcceptanceCheck(kind="absent", text=f"does not mention {term}",
                                          params={"terms": [term]}))
            covered.append(match.span())
    checks += word_limits(text)
    for match in _COUNT.finditer(text):
        if re.match(r"\s+each\b", text[match.end():]):
            continue            # "two sentences each": per item of another count
        n = int(match.group("n")) if match.group("n").isdigit() else NUMBERS[
            match.group("n").lower()]
        noun = match.group("noun").lower().rstrip("s") or match.group("noun").lower()
        checks.append(AcceptanceCheck(kind="count", text=f"{n} {noun}(s)",
                                      params={"noun": noun, "n": n}))
        covered.append(match.span())
    winner = _WINNER.search(text)
    decision = _DECISION.search(text)
    if winner:
        checks.append(AcceptanceCheck(kind="decision", text=f"{winner.group('who')} wins",
                                      params={"choice": winner.group("who").lower(),
                                              "not": []}))
        covered.append(winner.span())
    elif (labelled := _LABELLED.search(text)) and not route:   # "severity critical"
        word = " ".join(labelled.group("word").lower().split())
        opposite = word.removeprefix("not ") if word.startswith("not ") else f"not {word}"
        checks.append(AcceptanceCheck(kind="decision", text=f"says {word}",
                                      params={"choice": word, "not": [opposite]}))
        covered.append(labelled.span())
    elif decision and not route and not re.match(r"\s+by\b", text[decision.end():]):
        word = decision.group("word").lower()       # ("approved by the critic": a step)
        opposite = DECISIONS.get(word, "")
        checks.append(AcceptanceCheck(kind="decision", text=f"decides {word}",
                                      params={"choice": word,
                                              "not": [opposite] if opposite else []}))
        covered.append(decision.span())
    if _CODE.search(text):
        checks.append(AcceptanceCheck(kind="code", text="gives Python code that parses",
                                      params={"language": "python"}))
        covered.append((0, len(text)))
    if len(content_words(_uncovered(text, covered))) >= 3:   # words no rule read
        checks.append(AcceptanceCheck(kind="rubric", by="model", text=text,
                                      params={"rubric": text}))
    return checks


def word_limits(text: str) -> list[AcceptanceCheck]:
    checks = []
    if (span := _WORDS_RANGE.search(text)):
        low, high = sorted((int(span.group("a")), int(span.group("b"))))
        checks += [AcceptanceCheck(kind="words_min", text=f"at least {low} words",
                                   params={"n": low}),
                   AcceptanceCheck(kind="words_max", text=f"at most {high} words",
                                   params={"n": high})]
    else:
        if (most := _WORDS_MAX.search(text)):
            checks.append(AcceptanceCheck(kind="words_max",
                                          text=f"at most {most.group('n')} words",
                                          params={"n": int(most.group("n"))}))
        if (least := _WORDS_MIN.search(text)):
            checks.append(AcceptanceCheck(kind="words_min",
                                          text=f"at least {least.group('n')} words",
                                          params={"n": int(least.group("n"))}))
    return checks


def constraint_checks(constraints: Iterable[str]) -> list[AcceptanceCheck]:
    """Checks every example's answer must pass: the spec's limits on answers."""
    checks: list[AcceptanceCheck] = []
    for constraint in constraints:
        for check in word_limits(constraint):
            if all(c.kind != check.kind for c in checks):
                checks.append(check.model_copy(update={"source": "constraint"}))
        for match in re.finditer(r"\bnever\s+(?:say|mention|use|write)\s+[\"“']?"
                                 r"(?P<term>[^\"”'.,;]+)", constraint, re.I):
            checks.append(AcceptanceCheck(
                kind="absent", source="constraint",
                text=f"never mentions {match.group('term').strip()}",
                params={"terms": [" ".join(content_words(match.group("term")))]}))
    return checks


def _uncovered(text: str, spans: list[tuple[int, int]]) -> str:
    kept = "".join(c for i, c in enumerate(text) if not any(a <= i < b for a, b in spans))
    return " ".join(kept.replace(" ,", ",").split()).strip(" ,.;")


def checks_for(given: str, expected: str, constraints: Iterable[str],
               agents: Iterable[str] = ()) -> tuple[list[AcceptanceCheck], str]:
    """Every check of one example, with the reason when no rule can check it."""
    checks = example_checks(given, expected, agents) + constraint_checks(constraints)
    if any(c.by == "rule" for c in checks):
        return checks, ""
    why = ("the spec gives no expected outcome for it" if not expected.strip() else
           "its expected outcome names nothing a rule can check")
    return checks, why
