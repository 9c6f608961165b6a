"""Reading sentences: who the agents are, the groups, hand-offs and approval loops.

Prose states agents as the subjects of clauses: "a reviewer agent checks ...",
"A photo editor picks one photo", "a curator who picks ...", "Maya, the lead,
checks ...", "the scout gathers ...", "one helper should ..."; groups as a
count and a list ("three contractor agents (a cleaner, a gardener and a
handyman)", "Specialists: four, one per trade (plumbing, ...)", "the freelancer
agents: a designer, a developer and a copywriter"); hand-offs as "the parser
hands its list to the matcher, the matcher to the interviewer"; approval
loops as "returns it to the writer (at most 2 times)". `Prose` keeps the state
a text needs across sentences (the last subject, for "she" and for a loop
stated in a later clause; the last group, for "each gives ...").
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from autogenesis.spec.examples import plain
from autogenesis.spec.model import Group, ImpliedRole, Loop, ParsedSpec, StatedAgent
from autogenesis.spec.names import singular, to_name, words_of
from autogenesis.spec.vocabulary import (
    ROLE_MARKERS,
    agent_noun,
    number,
    role_from_duties,
    wordset,
)

W = r"[^\W\d_][\w'’-]*"          # a word (any script), possibly hyphenated
COUNT = (r"(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)")
DET = r"(?:a|an|the|my|our|your|their|its)"
LEAD = re.compile(r"^(?:(?:and|then|finally|first|next|also|lastly|last|afterwards|"
                  r"after that|meanwhile|so|but|while)\b,?\s+)+", re.I)
MODAL = re.compile(r"^(?:should|will|must|shall|can|could|would|may|is to|has to|needs? to|"
                   r"then|either|also|always|first|finally)\b\s*", re.I)
NOT_VERBS = wordset("""is was has does needs wants likes owns this its his hers theirs
as plus news always sometimes perhaps less unless thus yes series analysis basis""")
ADJECTIVES = wordset("""small big large careful friendly helpful single separate second third
final last first new good smart simple independent dedicated other another whole same
different special main extra""")
GENERIC_GROUP = frozenset(("agent", "worker", "helper", "member", "specialist", "expert",
                           "assistant", "bot"))
_ABBREVIATION = re.compile(r"\b(e\.g|i\.e|etc|vs|approx|dr|mr|mrs|ms|no|nr|st)\.", re.I)
_CLAUSE = re.compile(
    r"\s*;\s*|,\s*(?:and\s+|then\s+|while\s+|but\s+|so\s+)?(?=(?:a|an|the|one|another|each|"
    r"every|finally|my|our|then|she|he|they|it)\s)", re.I)


def sentences(text: str) -> list[str]:
    """`text` cut into sentences (abbreviations such as "e.g." do not end one)."""
    protected = _ABBREVIATION.sub(lambda m: m.group(0).replace(".", "\x00"),
                                  " ".join(text.split()))
    parts: list[str] = []
    for part in re.split(r"(?<=[.!?])\s+", protected):
        first = next((c for c in part if c.isalnum()), "")
        if parts and first and not (first.isupper() or first.isdigit()):
            parts[-1] += " " + part
        else:
            parts.append(part)
    return [p.replace("\x00", ".").strip() for p in parts if p.strip()]


def duty_text(text: str) -> str:
    text = re.sub(r"^(?:,\s*)?(?:who|that|which)\s+", "", text.strip(), flags=re.I)
    text = MODAL.sub("", text)
    return text.strip(" ,.;:").strip()


def verb_like(word: str) -> bool:
    """A word that can be the verb of a clause whose subject came before it."""
    word = word.lower().strip(",")
    if MODAL.match(word + " ") or word in ("who", "that", "which"):
        return True
    return (len(word) > 2 and word.endswith("s") and not word.endswith("ss")
            and word not in NOT_VERBS and word.isalpha())


def split_list(text: str) -> list[str]:
    """"a cleaner, a gardener and a handyman" -> ["a cleaner", "a gardener", "a handyman"]."""
    items = re.split(r"\s*,\s*(?:and\s+|or\s+)?|\s+(?:and|or|et|und|y)\s+",
                     text.strip(" .—–-"))
    return [item.strip(" .'\"“”") for item in items if item.strip(" .'\"“”")]


# --- groups -------------------------------------------------------------------------

_GROUP_PAREN = re.compile(
    rf"\b(?:(?P<count>{COUNT})\s+)?(?P<noun>{W})\s+(?:agents?|bots?)"
    rf"(?:\s*,\s*of which there are (?P<count2>{COUNT}))?\s*\((?P<list>[^)]+)\)", re.I)
_GROUP_LATER = re.compile(
    rf"\b(?P<count>{COUNT})\s+(?P<noun>{W}?)s\b(?P<mid>[^()]{{0,160}}?)\((?P<list>[^)]+)\)",
    re.I)
_GROUP_LABEL = re.compile(
    rf"^(?P<noun>{W}?)s\s*:\s*(?P<count>{COUNT})\b(?P<mid>[^()]{{0,120}}?)\((?P<list>[^)]+)\)",
    re.I)
_GROUP_COLON = re.compile(
    rf"\b(?:(?P<count>{COUNT})\s+(?P<noun>{W}?)s?(?:\s+agents?)?(?P<mid>\s[^:—–]{{0,80}}?)?"
    rf"|(?:{DET}\s+)?(?P<noun2>{W}?)s?(?:\s+agents?)?)\s*(?::|—|–|--)\s*"
    rf"(?P<list>(?:{DET}\s+)?{W}(?:\s+{W})?(?:\s*,\s*(?:and\s+)?(?:{DET}\s+)?{W}(?:\s+{W})?)*"
    rf"(?:\s*,?\s+and\s+(?:{DET}\s+)?{W}(?:\s+{W})?)?)\s*(?:—|–|--|[.;]|$)", re.I)
_GROUP_ONES = re.compile(rf"\b(?P<count>{COUNT})\s+(?P<noun>{W}?)s\s*:\s*(?P<list>one\s+.+)$",
                         re.I)


def member_name(member: str, noun: str) -> str | None:
    """A group member's agent name: the member itself when it is a noun of its own ("a
    cleaner", "the content grader") or the group's noun says nothing (specialists'
    "plumbing"), else member + noun ("French" translators -> french_translator, "north"
    warehouses -> north_warehouse, "for" debaters -> for_debater)."""
    words = words_of(member)
    if not words:
        return None
    article = re.match(rf"^{DET}\s", member, re.I) is not None
    if article or noun in GENERIC_GROUP or agent_noun(words[-1]) or words[-1] == noun:
        return to_name(member)
    return to_name(f"{member} {noun}")


@dataclass
class Prose:
    """Reads prose into `parsed`, one sentence at a time."""

    parsed: ParsedSpec
    subject: str | None = None         # the agent the last clause was about
    last_group: Group | None = None
    speaker: str | None = None         # the subject of the sentence being read
    named: str | None = None           # the last agent named as a subject ("she", "it")

    # --- agents ----------------------------------------------------------------------

    def add_agent(self, name: str | None, duties: list[str], line: int, *,
                  phrase: str = "", role: str | None = None, stated: bool = False,
                  pos: int | None = None) -> str | None:
        if name is None:
            if phrase:
                self.parsed.note(f"line {line}: could not make an agent name of {phrase!r}")
            return None
        agent = self.parsed.agent(name)
        duties = [d for d in (duty_text(d) for d in duties) if d]
        duties = [" ".join(d.split()) for d in duties]
        if agent is None:
            agent = StatedAgent(name, [], line, pos or self.parsed.next_pos(),
                                phrase=phrase or name)
            self.parsed.agents.append(agent)
        agent.duties.extend(d for d in duties if d not in agent.duties)
        if role is not None and (stated or not agent.role_stated):
            agent.role, agent.role_stated = role, stated or agent.role_stated
        if not agent.line:
            agent.line = line
        return name

    def resolve(self, phrase: str) -> str | None:
        """The known agent a phrase refers to ("the outline agent", "the Übersetzer",
        "risk rater"), or None."""
        words = [w for w in words_of(plain(phrase)) if w not in ("the", "a", "an", "its",
                                                                 "their", "agent", "agents")]
        if not words:
            return None
        name = "_".join(words)
        if self.parsed.agent(name):
            return name
        for agent in reversed(self.parsed.agents):
            parts = agent.name.split("_")
            if words[-1] in parts and set(words) <= set(parts) | {singular(w) for w in parts}:
                return agent.name
        for agent in reversed(self.parsed.agents):
            if set(agent.name.split("_")) <= set(words):
                return agent.name
        return None

    # --- sentences -------------------------------------------------------------------

    def sentence(self, sentence: str, line: int) -> None:
        self.speaker = None
        """Groups are found first (a later clause's "each contractor" needs its group),
        but their members become agents where the group stands in the text, after the
        subject of the clause that introduces them."""
        text = plain(sentence)
        found = sorted(self.groups(text, line), key=lambda g: g[0])
        keep = [(m.start(), m.end()) for m in re.finditer(r"\([^)]*\)", text)]
        keep += [(start, end) for start, end, _ in found]
        masked = "".join("\x01" if c == "," and any(a <= i < b for a, b in keep) else c
                         for i, c in enumerate(text))
        pieces: list[tuple[str, int]] = []     # (clause, where it ends)
        start = 0
        for separator in [*_CLAUSE.finditer(masked), None]:
            end = separator.start() if separator else len(masked)
            clause = masked[start:end].replace("\x01", ",").strip(" ,")
            if pieces and clause and not any(
                    verb_like(w) or w.lower() in ("is", "are", "was", "were", "has", "have")
                    for w in clause.split()[1:5]):
                pieces[-1] = (f"{pieces[-1][0]}, {clause}", end)   # "..., the category and
            elif clause:                                             # the date": no new clause
                pieces.append((clause, end))
            if separator:
                start = separator.end()
        for clause, end in pieces:
            self.clause(clause, line)
            while found and found[0][0] < end:
                self.add_members(found.pop(0)[2], line)
        self.handoffs(text)

    def clause(self, clause: str, line: int) -> None:
        clause = LEAD.sub("", clause).strip()
        ones = re.match(rf"^(.{{8,}}?):\s*((?:one\s+\w+s\b|{DET}\s+{W}(?:\s+{W})?\s+\w+).*)$",
                        clause, re.I)
        # "supervises three assistants: one books ...", "a stock ticker: the scout gathers"
        if ones and (ones.group(2).lower().startswith("one") or any(
                verb_like(w) for w in ones.group(2).split()[2:4])):
            self.clause(ones.group(1), line)
            self.clause(ones.group(2), line)
            return
        label_role = None
        label = re.match(rf"^({W}(?:\s+(?:{W}|\d+))?)\s*:\s+(?={DET}\s)", clause, re.I)
        if label:       # "Lead: the estimator, who ..." / "The team: a curator who ..."
            label_role = ROLE_MARKERS.get(label.group(1).lower())
            clause = clause[label.end():]
        found = (self.appositive(clause, line) or self.agent_phrase(clause, line)
                 or self.known(clause, line) or self.pronoun(clause)
                 or self.role_noun(clause, line) or self.unnamed(clause, line))
        if found:
            self.speaker = found
        elif self.speaker is not None and (agent := self.parsed.agent(self.speaker)) \
                and not re.match(rf"^(?:{DET}|each|every|all|one|another)\b", clause, re.I):
            duty = duty_text(clause)        # "...; when it is generic it sends it back"
            if duty and duty not in agent.duties:
                agent.duties.append(duty)
        self.each(clause, line)
        for other in re.finditer(rf"\b{DET}\s+(?P<name>(?:{W}\s+){{0,1}}?{W})\s+agent\b(?!s)",
                                 clause, re.I):   # "... between a historian agent and ..."
            if other.start() > 0 and number(other.group("name").split()[0]) is None:
                name = self.resolve(other.group("name")) or to_name(other.group("name"))
                self.add_agent(name, [], line, phrase=other.group("name"))
        if found and label_role:
            agent = self.parsed.agent(found)
            if agent is not None and agent.role is None:
                agent.role = label_role
        self.loop(clause, line)

    def appositive(self, clause: str, line: int) -> str | None:
        match = re.match(rf"^(?P<person>[A-Z][\w-]+),\s+(?:the|our|a|an)\s+"
                         rf"(?P<role>(?:{W}\s+)?{W}),\s+(?P<rest>.+)$", clause)
        if match is None or not agent_noun(words_of(match.group("role"))[-1]):
            return None
        name = self.add_agent(to_name(match.group("role")), [match.group("rest")], line,
                              phrase=match.group(0)[:60])
        self.subject = self.named = name
        return name

    def agent_phrase(self, clause: str, line: int) -> str | None:
        match = re.match(rf"^(?:{DET}\s+)?(?P<name>(?:{W}\s+){{0,2}}?{W})\s+(?:agent|bot)\b"
                         rf"\s*(?:\((?P<marker>[^)]{{1,20}})\))?\s*,?\s*(?P<rest>.*)$",
                         clause, re.I)
        if match is None or number(match.group("name").split()[0]) is not None:
            return None
        rest = match.group("rest")
        if rest and not verb_like(rest.split()[0]):
            return None
        marker = ROLE_MARKERS.get((match.group("marker") or "").strip().lower())
        name = self.add_agent(to_name(match.group("name")), [rest] if rest else [], line,
                              phrase=match.group("name"), role=marker, stated=bool(marker))
        self.subject = self.named = name
        return name

    def known(self, clause: str, line: int) -> str | None:
        """"the scout gathers ...", "each warehouse bids ...": a duty of a known agent or
        of every member of a group."""
        match = re.match(r"^(?:(?P<det>the|each|every|all)\s+)?(?P<body>.+)$", clause, re.I)
        assert match is not None
        each = (match.group("det") or "").lower() in ("each", "every", "all")
        words = match.group("body").split()
        for k in range(1, min(3, len(words) - 1) + 1):
            if words[k - 1].endswith(("'s", "’s")) or not verb_like(words[k]):
                continue
            rest = " ".join(words[k:])
            phrase = words_of(" ".join(words[:k]))
            group = self.parsed.group(singular(phrase[-1])) if phrase else None
            if each and group is not None:
                for member in group.members:
                    self.add_agent(member, [rest], line)
                self.last_group = group
                return None
            name = "_".join(phrase)
            if self.parsed.agent(name) is None:
                continue
            self.add_agent(name, [rest], line)
            self.subject = self.named = name
            return name
        return None

    def each(self, clause: str, line: int) -> None:
        """"Each gives a price ...": a duty of every member of the group just named."""
        match = re.match(r"^each\s+(?P<rest>\w+.*)$", clause, re.I)
        if match and self.last_group and verb_like(match.group("rest").split()[0]):
            for member in self.last_group.members:
                self.add_agent(member, [match.group("rest")], line)

    def pronoun(self, clause: str) -> str | None:
        match = re.match(r"^(?:she|he|it|they)\s+(?P<rest>.+)$", clause, re.I)
        if match is None or not verb_like(match.group("rest").split()[0]):
            return None
        self.subject = self.named
        if self.subject is not None and (agent := self.parsed.agent(self.subject)):
            duty = duty_text(match.group("rest"))
            if duty and duty not in agent.duties:
                agent.duties.append(duty)
        return None

    def role_noun(self, clause: str, line: int) -> str | None:
        """"A photo editor picks ...", "a curator who picks ...", "My head baker should
        check ...": a subject that names a role, then a verb."""
        match = re.match(rf"^{DET}\s+(?P<np>(?:{W}\s+){{0,2}}{W})\s*,?\s+(?P<rest>.+)$",
                         clause, re.I)
        if match is None:
            return None
        words = match.group("np").split()
        rest = match.group("rest")
        for k in range(len(words), 0, -1):   # the longest subject that is followed by a verb
            head = words_of(words[k - 1])
            after = (words[k:] + rest.split())[0] if (words[k:] or rest) else ""
            if not head or not agent_noun(head[-1]) or not verb_like(after):
                continue
            if after.lower() in ("needs", "wants", "must"):
                return None
            kept = [w for w in words[:k] if w.lower() not in ADJECTIVES]
            if to_name(" ".join(kept)) is None:     # "the first helper": unnamed
                return None
            name = self.add_agent(to_name(" ".join(kept)), [" ".join([*words[k:], rest])],
                                  line, phrase=" ".join(kept))
            self.subject = self.named = name
            return name
        return None

    _UNNAMED = re.compile(
        r"^(?:one|another|a\s+(?:second|third|fourth|fifth|last|final)|"
        r"the\s+(?:first|second|third|fourth|fifth|last|final|other)|"
        r"(?:second|third|fourth|fifth))"
        r"(?:\s+(?:one|helper|agent|assistant|worker|member|bot))?\s+(?P<rest>.+)$", re.I)

    def unnamed(self, clause: str, line: int) -> str | None:
        match = self._UNNAMED.match(clause)
        if match is None or not verb_like(match.group("rest").split()[0]):
            return None
        duty = duty_text(match.group("rest"))
        if duty:
            self.parsed.implied.append(ImpliedRole(
                duty, line, self.parsed.next_pos(), role_from_duties([duty]),
                group=self.last_group.word if self.last_group and not
                self.last_group.members else None))
        self.subject = None     # an unnamed helper's clause is about no named agent
        return None

    # --- groups ----------------------------------------------------------------------

    def groups(self, text: str, line: int) -> list[tuple[int, int, list[tuple[str, str]]]]:
        """The groups stated in `text`: (start, end, [(member phrase, name)]) each; the
        groups are registered at once, their members are added by `add_members`."""
        found: list[tuple[int, int, list[tuple[str, str]]]] = []
        taken: list[tuple[int, int]] = []
        for pattern in (_GROUP_PAREN, _GROUP_LABEL, _GROUP_LATER, _GROUP_COLON):
            for match in pattern.finditer(text):
                if any(a < match.end() and match.start() < b for a, b in taken):
                    continue
                members = self.group_of(match, line, colon=pattern is _GROUP_COLON)
                if members is not None:
                    found.append((match.start(), match.end(), members))
                    taken.append((match.start(), match.end()))
        ones = _GROUP_ONES.search(text)
        if ones:    # "three assistants: one books the venue, one handles ..."
            noun = singular(words_of(ones.group("noun"))[-1])
            self.last_group = Group(noun, [], number(ones.group("count")), line)
            self.parsed.groups.append(self.last_group)
        return found

    def group_of(self, match: re.Match[str], line: int, *,
                 colon: bool = False) -> list[tuple[str, str]] | None:
        noun_words = words_of(match.group("noun") or match.groupdict().get("noun2") or "")
        if not noun_words:
            return None
        noun = singular(noun_words[-1])
        count_text = match.groupdict().get("count2") or match.group("count")
        count = number(count_text) if count_text else None
        members = split_list(match.group("list"))
        if len(members) < 2 or any(len(m.split()) > 3 for m in members):
            return None
        generic = noun in ("agent", "bot")
        if colon and not (generic or agent_noun(noun) or count == len(members)):
            return None
        if match.re is _GROUP_LATER and (count != len(members) or not agent_noun(noun)):
            return None
        if len(members) <= 2 and any(ROLE_MARKERS.get(m.lower()) for m in members):
            return None   # "(approver)", not a group
        named = [(m, member_name(m, noun)) for m in members]
        if count is not None and count != len(members):
            self.parsed.note(f"line {line}: {count} {noun}(s) stated, {len(members)} listed "
                             f"({', '.join(members)})")
        for member, name in named:
            if name is None:
                self.parsed.note(f"line {line}: could not make an agent name of {member!r}")
        pairs = [(m, n) for m, n in named if n]
        if not generic and self.parsed.group(noun) is None:
            self.last_group = Group(noun, [n for _, n in pairs], count, line)
            self.parsed.groups.append(self.last_group)
        return pairs

    def add_members(self, members: list[tuple[str, str]], line: int) -> None:
        for phrase, name in members:
            self.add_agent(name, [], line, phrase=phrase)

    # --- hand-offs and loops -----------------------------------------------------------

    _HANDOFF = re.compile(
        rf"(?P<a>(?:the\s+)?{W}(?:\s+{W})?)(?:'s\s+{W})?\s+(?:hands|passes|sends|gives|"
        rf"forwards)\s+(?:(?:its|their|his|her|the)\s+{W}(?:\s+{W})?\s+)?(?:on\s+)?to\s+"
        rf"(?P<b>(?:the\s+)?{W}(?:\s+{W})?)", re.I)
    _GOES = re.compile(rf"(?P<a>(?:the\s+)?{W})'s\s+{W}\s+go(?:es)?\s+to\s+"
                       rf"(?P<b>(?:the\s+)?{W}(?:\s+{W})?)", re.I)
    _THEN = re.compile(rf",\s+(?P<a>(?:the\s+)?{W}(?:\s+{W})?)(?:'s\s+{W})?\s+to\s+"
                       rf"(?P<b>(?:the\s+)?{W}(?:\s+{W})?)", re.I)
    _AND = re.compile(rf"\s*(?:,|\band)\s+(?P<b>(?:the\s+)?{W}(?:\s+{W})?)", re.I)

    def handoffs(self, text: str) -> None:
        for pattern in (self._HANDOFF, self._GOES):
            for match in pattern.finditer(text):
                if not self.edge(match):
                    continue
                source, at = match.group("a"), match.end()
                while (more := self._AND.match(text, at)) and (
                        self.edge_between(source, more.group("b"))):
                    at = more.end()     # "... goes to the watering bot and the shopping bot"
                for more in self._THEN.finditer(text, match.end()):
                    if not self.edge(more):
                        break

    def edge(self, match: re.Match[str]) -> bool:
        return self.edge_between(match.group("a"), match.group("b"))

    def edge_between(self, source: str, target: str) -> bool:
        a, b = self.resolve(source), self.resolve(target)
        if a is None or b is None or a == b:
            return False
        if (a, b) not in self.parsed.flow:
            self.parsed.flow.append((a, b))
        return True

    _BACK = re.compile(
        r"\b(?:sends?|send|returns?|gives?|hands?|passes?|goes|go|kicks?)\s+"
        r"(?P<obj>it|them|(?:the|a|any|each|every)\s+[\w-]+(?:\s+[\w-]+)?|\w+)?\s*back\b"
        r"(?:\s+to\s+(?P<target>(?:the\s+|its\s+|their\s+)?[\w'’-]+(?:\s+[\w'’-]+){0,2}))?"
        r"|\breturns?\s+(?P<obj2>it|them|(?:the|a|any)\s+[\w-]+(?:\s+[\w-]+)?)"
        r"\s+to\s+(?P<target2>(?:the\s+|its\s+|their\s+)?[\w'’-]+(?:\s+[\w'’-]+){0,2})"
        r"|\b(?:may|can|might)\s+return\s+(?P<obj6>it|them|(?:a|the|any)\s+\w+)"
        r"|\basks?\s+(?P<target3>them|(?:the\s+)?[\w'’-]+(?:\s+[\w'’-]+){0,2}?)\s+(?:to\s+(?:re-?\w+|"
        r"redo|rewrite|revise|fix|correct|change|swap|replace|improve|shorten|update|"
        r"try again|\w+\s+again)|for\s+(?:a|an)\s+\w+)"
        r"|\brenvoie\b(?:\s+\S+){0,3}?\s+(?:à|au|aux)\s+(?:la\s+|l'|le\s+)?"
        r"(?P<target4>[\w'’-]+)"
        r"|\b(?P<obj5>every|each|all)\s+(?:step|answer|reply|result|draft|output|part|"
        r"[\w-]+'s\s+work)\b(?P<passive>\s+is\s+(?:approved|checked|reviewed)\s+by\s+"
        r"(?P<by>(?:the\s+)?[\w'’-]+(?:\s+[\w'’-]+)?))?", re.I)
    _ROUNDS = re.compile(
        r"(?:at most|no more than|up to|never more than|maximum(?: of)?|max\.?)\s+"
        r"(?P<a>\w+)(?:\s+(?P<unit>times|rounds|attempts|tries|retries|revisions)\b"
        r"|(?=\s*[,.;)]|\s*$))"
        r"|(?P<b>\w+)\s+(?P<unit2>times|rounds)\s+at most|(?P<c>\d+)\s+fois\s+au\s+plus"
        r"|au\s+plus\s+(?P<d>\d+)\s+fois|\b(?P<e>once|twice|thrice)\b", re.I)
    _APPROVES_EACH = re.compile(r"\b(?:approv\w*|check\w*|review\w*)\s+(?:every|each|all)\s+"
                                r"(?:step|answer|reply|result|draft|output|[\w-]+'s\s+work)",
                                re.I)

    def loop(self, clause: str, line: int) -> None:
        match = self._BACK.search(clause)
        if match is None:
            return
        groups = match.groupdict()
        approver = self.subject
        if groups["obj5"] is not None:
            if groups["passive"]:
                approver = self.resolve(groups["by"])
            elif not self._APPROVES_EACH.search(clause):
                return
            if approver is None:
                return
            if approver not in self.parsed.every_step:
                self.parsed.every_step.append(approver)
            target = "*"
        else:
            phrase = next((groups[k] for k in ("target", "target2", "target3", "target4")
                           if groups[k]), None)
            obj = (groups["obj"] or groups["obj2"] or "").lower()
            if phrase is None or re.match(r"^(?:its|their)\s", phrase, re.I) \
                    or phrase.lower() == "them":
                target = "*" if (phrase or obj.startswith(("any", "each", "every", "all"))
                                 ) and phrase != "it" else "<previous>"
                if re.search(r"\b(?:each|every|all|any)\b", clause[:match.start()] + obj,
                             re.I):
                    target = "*"
            else:
                target = phrase
            if re.search(r"\bwho\s+wrote\s+it\b|\bwhoever\b", clause, re.I):
                target = "*"        # "sends it back to the reviewer who wrote it"
        if approver is None:
            return
        rounds = self._ROUNDS.search(clause, match.start())
        limit, counts = None, "rounds"
        if rounds:
            found = rounds.groupdict()
            limit = number(next(found[k] for k in "abcde" if found[k]))
            unit = (found["unit"] or found["unit2"] or "").lower()
            # "at most 2 rounds" counts attempts; "sends it back at most twice" counts
            # returns, which leaves one attempt more
            counts = "rounds" if unit in ("rounds", "attempts", "tries") else "returns"
        resolved = target in ("*", "<previous>")
        self.parsed.loops.append(Loop(approver, target, limit, line, resolved=resolved,
                                      counts=counts))


def agent_items(text: str) -> Iterator[tuple[str, str | None, str]]:
    """(name, role marker, duty) of a list item that names an agent: `**name**: duty`,
    `**Name** does ...`, `name agent: duty`, `name (approver): duty`, `Name — duty`."""
    text = text.strip()
    bold = re.match(r"^(?:the\s+)?\*\*(?P<name>[^*]{1,48})\*\*\s*(?P<agent>agent\b)?\s*"
                    r"(?:\((?P<marker>[^)]{1,24})\))?\s*(?:[:—–]|-\s)?\s*(?P<duty>.*)$",
                    text, re.S | re.I)
    if bold:
        yield bold.group("name"), bold.group("marker"), bold.group("duty")
        return
    plain_item = re.match(
        rf"^`?(?P<name>{W}(?:\s+{W}){{0,3}}?)`?\s*(?P<agent>agent|bot)?\s*"
        rf"(?:\((?P<marker>[^)]{{1,24}})\))?\s*(?::|—|–|\s-\s)\s*(?P<duty>.+)$", text, re.S)
    if plain_item:
        yield plain_item.group("name"), plain_item.group("marker"), plain_item.group("duty")


def looks_like_agent(name: str, marker: str | None, has_agent_word: bool) -> bool:
    words = words_of(name)
    return bool(words) and (has_agent_word or marker is not None or agent_noun(words[-1]))
