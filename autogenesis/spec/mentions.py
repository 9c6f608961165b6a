"""The approver's second reading of a spec: every agent-like mention, found simply.

This detector shares no code with the reader it checks (`reader`, `prose`):
it scans lines with a handful of plain patterns, so that a mistake of the
reader is not repeated here. It finds list items under a heading about agents
or a team, a table's name column, `name:` entries of YAML front matter,
"<name> agent" phrases, a few role nouns followed by what they do ("a critic
who approves", "the reviewer checks"), the members of a group given in
parentheses or after a colon, and the names in a flow of arrows. Each mention
must map to an agent of the artefact being judged; one that does not is a
rejection quoting the phrase and its line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from anyascii import anyascii

_SKIP_BEFORE_AGENT = frozenset(re.findall(r"\w+", """
a an the each every any no one another other this that these those which what our my your
their its all some several many more single multi multiple new next previous same different
separate individual specialised specialized dedicated two three
four five six seven eight nine ten first second third last final travel estate insurance
secret user free double human ai llm an small local remote main helper worker"""))
_ROLE_WORDS = ("reviewer", "editor", "critic", "checker", "judge", "chair", "moderator",
               "lead", "manager", "supervisor", "coordinator", "commander", "monitor",
               "router", "dispatcher", "writer", "planner", "researcher", "analyst",
               "translator", "summarizer", "summariser", "tester", "coder", "auctioneer",
               "broker", "curator", "scout", "officer", "controller", "validator", "verifier",
               "approver", "proofreader", "designer", "developer", "reporter", "interviewer",
               "recruiter", "scheduler", "estimator", "grader", "watchdog")
_ROLE_SUBJECT = re.compile(
    rf"\b(?:a|an|the|my|our)\s+((?:[\w-]+\s+)?(?:{'|'.join(_ROLE_WORDS)}))\s*,?\s+"
    r"(?:who|that|should|will|\w+s\b)", re.I)
_AGENT_PHRASE = re.compile(r"\b((?:[\w-]+\s+)?[\w-]+)\s+(?:agent|bot)\b(?!s)", re.I)
_MEMBERS = re.compile(r"\bagents\b[^.(:]{0,40}?(?:\(([^)]+)\)|:\s*([^.;]+))", re.I)
_AGENT_HEADING = re.compile(r"agent|team|role|who|member|crew|staff|panel|équipe|jury|board|"
                            r"committee|bots", re.I)
_EXAMPLE = re.compile(r"^\s*(?:[-*+]\s+|\d+[.)]\s+)?(?:for\s+)?(?:example|exemple|input|"
                      r"expected|output|entrée|attendu|given)\b", re.I)
_ARROW = re.compile(r"\s*(?:->|→|=>|⟶)\s*")
_YAML_NAME = re.compile(r"^-?\s*name\s*:\s*[\"']?([^\"'#]+)")
_BOLD_DOER = re.compile(r"^(?:the\s+)?\*\*([^*]{1,40})\*\*\s*(?:agent\s+)?[:—–-]?\s*[a-z]+s\b")
_DASH_LINE = re.compile(r"^([A-Z][\w-]*(?: [\w-]+){0,2}) [-–—] [a-z]+s\b")


@dataclass(frozen=True)
class Mention:
    phrase: str          # as the spec writes it
    line: int


def _words(text: str) -> list[str]:
    """Folded words, CamelCase split, without a trailing "agent" ("WriterAgent": writer)."""
    words = re.findall(r"[a-z0-9]+", anyascii(re.sub(r"(?<=[a-z])(?=[A-Z])", " ", text)).lower())
    while len(words) > 1 and words[-1] in ("agent", "bot"):
        words.pop()
    return words


def _plain(text: str) -> str:
    return re.sub(r"[*`_]{1,2}", " ", text)


def mentions(spec: str) -> list[Mention]:
    """Every agent-like mention in `spec`, in order, each once per line."""
    seen: set[tuple[str, int]] = set()
    found: list[Mention] = []
    for mention in _scan(spec.splitlines()):
        key = (" ".join(_words(mention.phrase)), mention.line)
        if key[0] and key not in seen:
            seen.add(key)
            found.append(mention)
    return found


def _scan(lines: list[str]) -> Iterator[Mention]:
    heading = ""
    code = front = False
    header: list[str] = []
    for number, raw in enumerate(lines, 1):
        line = raw.strip()
        dash_line = _DASH_LINE.match(line)
        if dash_line and not code and any(        # "Scout - finds ...": one agent per line
                _DASH_LINE.match(lines[j].strip()) for j in (number - 2, number)
                if 0 <= j < len(lines)):
            yield Mention(dash_line.group(1), number)
        if number == 1 and line == "---":
            front = True
            continue
        if front:
            if line == "---":
                front = False
            elif raw[:1] in " -\t" and (entry := _YAML_NAME.match(line)):
                yield Mention(entry.group(1).strip(), number)     # an entry of a list
            continue
        if line.startswith("```"):
            code = not code
            continue
        if code:
            if raw[:1] in " -\t" and (entry := _YAML_NAME.match(line)):
                yield Mention(entry.group(1).strip(), number)     # YAML in a fenced block
            continue
        if not line:
            continue
        if line.startswith("#"):
            heading, header = line.lstrip("#").strip(), []
            prefixed = re.match(r"^(?:agent|role|bot)\s*:\s*(.+)$", heading, re.I)
            if prefixed:
                yield Mention(_plain(prefixed.group(1)).strip(), number)
            continue
        if "example" in heading.lower() or _EXAMPLE.match(line):
            continue
        if line.startswith("|"):
            yield from _table(line, number, header)
            if not header and not re.fullmatch(r"[|\s:-]+", line):
                header = [c.strip().lower() for c in line.strip("|").split("|")]
            continue
        item = re.match(r"^(?:[-*+]|\d+[.)])\s+(.*)$", line)
        if item and not raw[:1].isspace() and (doer := _BOLD_DOER.match(item.group(1))):
            yield Mention(doer.group(1), number)          # "1. **Parser** reads a CV"
        elif item and _AGENT_HEADING.search(heading) and not raw[:1].isspace():
            lead = re.split(r"\s*(?::|—|–|\s-\s|\()\s*", _plain(item.group(1)), maxsplit=1)[0]
            lead = re.sub(r"^(?:the|a|an)\s+|\s+agent$", "", lead.strip(), flags=re.I)
            if 0 < len(lead.split()) <= 4:
                yield Mention(lead, number)
        text = _plain(line)
        if _ARROW.search(text) and not re.search(r"[\"“”]", text):
            for segment in _ARROW.split(re.sub(r"^[\w ]{1,20}:\s*", "", text)):
                segment = re.sub(r"\(.*?\)", "", segment).strip(" .")
                if 0 < len(segment.split()) <= 3:
                    yield Mention(segment, number)
        for match in _AGENT_PHRASE.finditer(text):
            words = [w for w in match.group(1).split() if w.lower() not in _SKIP_BEFORE_AGENT]
            if words and not words[-1].lower().isdigit():
                yield Mention(" ".join(words), number)
        for match in _ROLE_SUBJECT.finditer(text):
            yield Mention(match.group(1), number)
        for match in _MEMBERS.finditer(text):
            listed = match.group(1) or match.group(2)
            members = [re.sub(r"^(?:a|an|the)\s+", "", m.strip(), flags=re.I)
                       for m in re.split(r"\s*,\s*(?:and\s+)?|\s+and\s+", listed)]
            if len(members) >= 2 and all(0 < len(m.split()) <= 3 for m in members):
                yield from (Mention(m, number) for m in members)


def _table(line: str, number: int, header: list[str]) -> Iterator[Mention]:
    if not header or re.fullmatch(r"[|\s:-]+", line):
        return
    column = next((i for i, name in enumerate(header)
                   if re.search(r"agent|name|who", name)), None)
    cells = [c.strip() for c in line.strip("|").split("|")]
    if column is not None and column < len(cells) and cells[column]:
        yield Mention(_plain(cells[column]).strip(), number)


def placed(mention: Mention, names: Iterable[str]) -> bool:
    """A mention maps to an agent when its last word (singular or not) is one of the
    agent's name parts, or all of the agent's name parts are in the mention."""
    words = _words(mention.phrase)
    if not words:
        return True
    head = {words[-1], words[-1].rstrip("s")}
    for name in names:
        parts = set(name.split("_"))
        if head & parts or parts <= set(words) or "_".join(words) == name:
            return True
    return False
