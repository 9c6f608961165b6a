"""`parse_spec`: everything a spec states explicitly, from its structure and its prose.

The walk goes block by block (`markdown.parse_document`): YAML front matter,
list items that name agents (`- **name**: duty`, `- name agent: duty`,
`- name (approver): duty`, `1. **Name** does ...`, nested duties), tables with
a name column, one heading per agent, lines that state a topology, a flow of
arrows or an example, and prose (`prose.Prose`). Then what depends on the
whole text is settled: approval loops are resolved to agents, the topology the
spec states or describes is chosen with the reason, and anything that could
not be placed is kept in `notes` rather than dropped.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from typing import Any

import yaml

from autogenesis.spec.examples import (
    ARROW,
    GIVEN,
    IN_SENTENCE,
    MENTIONED,
    examples_in_lines,
    given_examples,
    is_example_line,
    parse_example,
    plain,
    unquote,
)
from autogenesis.spec.markdown import Block, is_section_heading, parse_document, section_of
from autogenesis.spec.model import Loop, ParsedSpec
from autogenesis.spec.names import to_name, words_of
from autogenesis.spec.prose import Prose, agent_items, looks_like_agent, sentences, verb_like
from autogenesis.spec.vocabulary import (
    ROLE_MARKERS,
    TOPOLOGY_ALIASES,
    TOPOLOGY_WORDS,
    role_from_duties,
    role_from_name,
    wordset,
)

_TOPOLOGY_LINE = re.compile(r"\btopolog(?:y|ie)\s*[:=]\s*(?P<value>[^\n.]+)", re.I)
_LIMIT = re.compile(r"\b(?:under|at most|no more than|within|less than|max(?:imum)?|up to|"
                    r"fewer than)\s+(\d+)\s*(words?|seconds?|secs?|minutes?|mins?)\b", re.I)
_FLOW_LABEL = re.compile(r"^\s*[\w ]{1,24}\s*:\s*(?=.*(?:->|→|=>|⟶|⇒))")
_NAME_COLUMNS = ("agent", "name", "who", "member", "role name")
_ROLE_COLUMNS = ("role", "kind", "type")
_DUTY_COLUMNS = ("duty", "duties", "does", "what", "responsib", "task", "job", "description")
_DUTY_KEYS = ("duties", "duty", "does", "description", "job", "task", "tasks", "responsibility",
              "responsibilities", "goal")
_AGENT_PREFIX = re.compile(r"^(?:agent|role|bot|assistant)\s*(?:\d+\s*)?[:—–-]\s*(?=\S)", re.I)
_DUTIES_LABEL = re.compile(r"^\s*(?:responsibilit\w*|duties|duty|tasks?|does|job|what it does)"
                           r"\s*:?\s*$", re.I)
_AGENT_LINE = re.compile(r"^(?P<name>[^\W\d_][\w'’-]*(?:\s+[^\W\d_][\w'’-]*){0,2})\s+[-–—:]\s+"
                         r"(?P<duty>\S.*)$")
_BOLD_PARAGRAPH = re.compile(r"^\*\*(?:(?:role|agent|name)\s*:\s*)?(?P<name>[^*:.]{1,40})[.:]?"
                             r"\*\*\s*[:—–.-]?\s*(?P<duty>\S.*)$", re.I | re.S)
TOPOLOGIES = ("pipeline", "router", "hierarchy", "contract_net", "consensus", "feedback_loop")


def _first_sentences(text: str, limit: int = 240) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    kept = ""
    for sentence in sentences(text):
        if kept and len(kept) + len(sentence) + 1 > limit:
            break
        kept = f"{kept} {sentence}".strip()
    return kept[:limit]


def stated_topology(text: str) -> str | None:
    """`Topology: feedback loop (...)` -> "feedback_loop"; None when the words name none."""
    value = " ".join(text.lower().replace("-", " ").replace("_", " ").split())
    names = {t.replace("_", " "): t for t in TOPOLOGIES} | TOPOLOGY_ALIASES
    for phrase in sorted(names, key=len, reverse=True):
        if value.startswith(phrase):
            return names[phrase]
    return None


def keyword_topology(text: str, flow: list[tuple[str, str]]) -> tuple[str | None, str]:
    """The topology whose words the spec uses most, and which words they were."""
    lowered = text.lower()
    counts = {name: {word: len(re.findall(rf"\b{re.escape(word)}", lowered)) for word in words}
              for name, words in TOPOLOGY_WORDS.items()}
    scores = {name: sum(found.values()) for name, found in counts.items()}
    back_edges = {(b, a) for a, b in flow} & set(flow)
    if back_edges:
        scores["feedback_loop"] += 2
    if flow and not back_edges:
        scores["pipeline"] += 2
    best = max(scores.values())
    if best == 0:
        return None, ""
    name = next(n for n in TOPOLOGY_WORDS if scores[n] == best)
    words = ", ".join(f"{w} x{c}" for w, c in counts[name].items() if c)
    return name, f"its words ({words or 'arrows'}) fit a {name.replace('_', ' ')} best"



def _labels_only(text: str) -> bool:
    """Text that introduces or labels something rather than saying what the system is for:
    "Steps:", "Topology: hierarchy", "Example: ... -> ...", "Agents: a, b and c", a flow
    "a -> b", a bare section name."""
    label = text.split(":", 1)[0].strip() if ":" in text[:40] else ""
    after = text[len(label) + 1:].split() if label else []
    section = section_of(label) if label else None
    if label.lower() in ("input", "output", "expected", "q", "a", "topology") or \
            label.lower().startswith("topology") or section == "examples":
        return True
    if label and (len(after) == 1 or (section not in (None, "goal") and len(after) <= 6)):
        return True     # "Topology: router", "Three agents: summarizer, checker and editor."
    if text.rstrip().endswith(":") and len(text.split()) <= 6:
        return True     # "Steps:", "Agents (CrewAI style):"
    if len(text.split()) <= 3 and is_section_heading(text) and section_of(text) != "goal":
        return True     # "Examples"
    return re.fullmatch(r"(?:\w+:\s*)?[\w\s'-]+(?:\s*(?:->|→)\s*[\w\s'-]+)+\.?",
                        text) is not None    # "a -> b -> c"


class Reader:
    def __init__(self, text: str) -> None:
        self.text = text
        self.doc = parse_document(text)
        self.parsed = ParsedSpec()
        self.prose = Prose(self.parsed)
        self.stated_topology: tuple[str, int, str] | None = None
        self.heading_agent: str | None = None
        self.qualifiers: list[tuple[int, str]] = []
        self.goal_prose: list[str] = []     # prose outside any agent or section, in order

    # --- the walk ----------------------------------------------------------------------

    def read(self) -> ParsedSpec:
        self.front_matter(self.doc.front)
        blocks = self.doc.blocks
        for i, block in enumerate(blocks):
            if block.kind == "title":
                if self.parsed.title is None:
                    self.parsed.title, self.parsed.title_line = plain(block.text), block.line
                self.heading_agent = None
            elif block.kind == "heading":
                self.heading_agent = self.agent_heading(block, blocks[i + 1:i + 2])
            elif block.kind == "row":
                self.row(block)
            elif block.kind == "item":
                self.item(block)
            elif block.kind == "paragraph":
                self.paragraph(block)
            elif block.kind == "code":
                self.code(block)
        self.settle()
        return self.parsed

    @staticmethod
    def agent_heading(heading: Block, after: list[Block]) -> str | None:
        """One heading per agent: `### Watcher` followed by what it does ("Reads ..." or
        "Responsibilities:" and a list), or `### Agent: Collector`."""
        text = plain(heading.text)
        prefixed = _AGENT_PREFIX.match(text)
        if prefixed:
            return to_name(text[prefixed.end():])
        words = text.split()
        if heading.level < 2 or not words or len(words) > 4 or not after \
                or after[0].kind != "paragraph" or section_of(heading.text) is not None:
            return None
        first = after[0].text.split()[0] if after[0].text.split() else ""
        return to_name(text) if verb_like(first) or _DUTIES_LABEL.match(after[0].text) \
            else None

    def front_matter(self, front: dict[str, Any]) -> None:
        if not front:
            return
        lines = self.text.splitlines()[: self.doc.offset]

        def line_of(value: str) -> int:
            return next((i + 1 for i, text in enumerate(lines) if value in text), 1)

        title = front.get("title") or front.get("name")
        if isinstance(title, str) and title.strip():
            self.parsed.title, self.parsed.title_line = title.strip(), line_of(title)
        topology = front.get("topology")
        if isinstance(topology, str) and stated_topology(topology):
            self.stated_topology = (stated_topology(topology) or "", line_of(topology),
                                    f"topology: {topology}")
        self.front_agents(front.get("agents") or [], line_of)
        for example in front.get("examples") or []:
            if isinstance(example, dict):
                given = example.get("input") or example.get("question") or ""
                expected = example.get("expected") or example.get("output") or ""
                self.parsed.examples.append((str(given).strip(), str(expected).strip()))
            elif isinstance(example, str):
                self.parsed.examples.append(parse_example(example))
        for key in ("constraints", "rules"):
            for rule in front.get(key) or []:
                self.constraint(str(rule))

    def code(self, block: Block) -> None:
        """A fenced block of YAML that lists agents, read like front matter."""
        try:
            data = yaml.safe_load(block.text)
        except yaml.YAMLError:
            return
        if isinstance(data, dict) and isinstance(data.get("agents"), list | dict):
            self.front_agents(data["agents"], lambda value: block.line)

    def front_agents(self, agents: Any, line_of: Callable[[str], int]) -> None:
        """Agents given as YAML: a list of mappings (name, role, duty), of "name: duty"
        strings, or a mapping of name to duty."""
        if isinstance(agents, dict):
            agents = [{"name": k, "duty": v} for k, v in agents.items()]
        for entry in agents if isinstance(agents, list) else []:
            if isinstance(entry, str):
                name, _, duty = entry.partition(":")
                entry = {"name": name, "duty": duty}
            if not isinstance(entry, dict) or not entry.get("name"):
                continue
            raw = str(entry["name"])
            duties = next((entry[k] for k in _DUTY_KEYS if entry.get(k)), [])
            duties = [duties] if isinstance(duties, str) else [str(d) for d in duties]
            role = ROLE_MARKERS.get(str(entry.get("role", "")).strip().lower())
            self.prose.add_agent(to_name(raw), duties, line_of(raw), phrase=raw, role=role,
                                 stated=role is not None)
            self.loops_in(to_name(raw), duties, line_of(raw))

    def row(self, block: Block) -> None:
        cells = {k.lower(): v for k, v in block.cells.items()}

        def cell(words: tuple[str, ...]) -> str | None:
            return next((v for k, v in cells.items() if any(w in k for w in words)), None)

        name = cell(_NAME_COLUMNS)
        if name is None and block.section == "agents" and block.cells:
            name = next(iter(block.cells.values()))
        if not name:
            return
        role_text = (cell(_ROLE_COLUMNS) or "").strip().lower()
        role = ROLE_MARKERS.get(role_text)
        duty = cell(_DUTY_COLUMNS) or ""
        agent = self.prose.add_agent(to_name(plain(name)), [plain(duty)] if duty else [],
                                     block.line, phrase=name, role=role,
                                     stated=role is not None)
        self.loops_in(agent, [plain(duty)], block.line)

    def item(self, block: Block) -> None:
        text = block.text
        if self.heading_agent is not None and block.section not in ("examples", "constraints"):
            duties = [" ".join(plain(d).split()) for d in (text, *block.children)]
            self.prose.add_agent(self.heading_agent, duties, block.line)   # its duties
            self.loops_in(self.heading_agent, duties, block.line)
            return
        if block.section == "examples":
            self.parsed.examples.append(parse_example(text))
            return
        if block.section == "constraints":
            self.constraint(plain(text))
            self.loops_in(None, [plain(text)], block.line, prose=True)
            return
        if self.arrows(plain(text), block.line):
            return
        for name, marker, duty in agent_items(text):
            has_agent = bool(re.search(r"\bagent\b", text.split(":")[0], re.I))
            listed = block.section in ("agents", "flow") or (
                block.label is not None and section_of(block.label) == "agents")
            bold_doer = text.lstrip().startswith("**") and verb_like(
                (duty.split() or [""])[0])        # "**Designer juror** – scores each logo"
            if not (listed or bold_doer or looks_like_agent(plain(name), marker, has_agent)):
                continue
            role = ROLE_MARKERS.get((marker or "").strip().lower())
            duties = [" ".join(plain(duty).split())] if duty.strip() else []
            duties += [" ".join(plain(child).split()) for child in block.children]
            if duties and not duty.strip() and not block.children:
                continue
            agent = self.prose.add_agent(to_name(plain(name)), duties, block.line,
                                         phrase=plain(name), role=role,
                                         stated=role is not None)
            if agent is None:
                return
            self.prose.subject = agent
            self.loops_in(agent, duties, block.line)
            if (block.section == "flow" or block.ordered) and agent not in self.parsed.order:
                self.parsed.order.append(agent)
            return
        if block.section == "flow" and block.ordered:
            name = self.prose.resolve(text.split(":")[0])
            if name and name not in self.parsed.order:
                self.parsed.order.append(name)
        self.prose_text(plain(text), block.line)

    def paragraph(self, block: Block) -> None:
        if self.heading_agent is not None and _DUTIES_LABEL.match(block.text):
            return          # "Responsibilities:" above the agent's list of duties
        lines = [plain(t) for _, t in block.lines()]
        agent_lines = [_AGENT_LINE.match(t) for t in lines]
        if len(lines) >= 2 and sum(1 for m in agent_lines if m and verb_like(
                m.group("duty").split()[0])) >= 2:    # "Scout - finds ...", one per line
            for (line, _), match in zip(block.lines(), agent_lines, strict=True):
                if match and verb_like(match.group("duty").split()[0]):
                    name = self.prose.add_agent(to_name(match.group("name")),
                                                [match.group("duty")], line,
                                                phrase=match.group("name"))
                    self.loops_in(name, [match.group("duty")], line)
            return
        lead = _BOLD_PARAGRAPH.match(block.text)
        if lead and verb_like(lead.group("duty").split()[0]):
            # "**Role: Structure reviewer.** Reads the outline ...": an agent per paragraph
            name = self.prose.add_agent(to_name(plain(lead.group("name"))), sentences(
                plain(lead.group("duty"))), block.line, phrase=plain(lead.group("name")))
            self.loops_in(name, [plain(lead.group("duty"))], block.line)
            return
        heading_agent = self.heading_agent
        lines = block.lines()
        texts = [plain(t) for _, t in lines]
        consumed: set[int] = set()
        if block.section == "examples":
            for used, example in examples_in_lines(texts):
                self.parsed.examples.append(example)
                consumed.update(used)
            for i, text in enumerate(texts):
                if i not in consumed and (ARROW.search(text) or re.match(r"^[\"“'`]", text)):
                    self.parsed.examples.append(parse_example(text))
                    consumed.add(i)
            if len(consumed) == len(texts):
                return
        for used, example in examples_in_lines(texts):
            self.parsed.examples.append(example)
            consumed.update(used)
        prose: list[tuple[int, str]] = []
        for i, ((line, _), text) in enumerate(zip(lines, texts, strict=True)):
            if i in consumed:
                continue
            topology = _TOPOLOGY_LINE.search(text)
            if topology and stated_topology(topology.group("value")):
                if self.stated_topology is None:
                    self.stated_topology = (stated_topology(topology.group("value")) or "",
                                            line, topology.group(0).strip())
                before = text[:topology.start()].strip()
                if before:
                    prose.append((line, before))
                qualifier = re.sub(r"^[^(,]*", "", topology.group("value")).strip(" (),")
                if qualifier:   # "(the partner may return a draft twice)": read at the end
                    self.qualifiers.append((line, qualifier))
                continue
            if self.arrows(text, line):
                continue
            inline = IN_SENTENCE.search(text)
            if inline:
                self.parsed.examples.append(parse_example(inline.group(1)))
                text = text[:inline.start()]
            prose.append((line, text))
        if block.section == "constraints":
            for line, text in prose:
                for sentence in sentences(text):
                    self.constraint(sentence)
                    self.loops_in(None, [sentence], line, prose=True)
            return
        joined = " ".join(" ".join(text.split()) for _, text in prose)
        if heading_agent is not None:
            if joined.strip():
                self.prose.add_agent(heading_agent, sentences(joined), block.line)
                self.loops_in(heading_agent, [joined], block.line)
            return
        if joined and block.section in (None, "goal"):
            self.goal_prose.append(_first_sentences(joined))
        self.prose_text(joined, [(line, len(" ".join(text.split()))) for line, text in prose])

    def prose_text(self, text: str, lines: list[tuple[int, int]] | int) -> None:
        """Sentences of `text`; `lines` gives the line of each piece of it ((line,
        length) of the lines joined into it), or is the one line it stands on."""
        starts: list[tuple[int, int]] = []
        offset = 0
        for line_no, length in ([(lines, len(text))] if isinstance(lines, int) else lines):
            starts.append((offset, line_no))
            offset += length + 1
        cursor = 0
        for sentence in sentences(text):
            at = text.find(sentence[:24], cursor)
            cursor = max(cursor, at)
            line = next((n for o, n in reversed(starts) if o <= max(at, 0)), starts[0][1]
                        if starts else 0)
            given = given_examples(sentence)
            if given:
                self.parsed.examples.extend(given)
                continue
            if GIVEN.search(sentence):
                continue
            self.parsed.examples.extend((unquote(m.group(1)), "")
                                        for m in MENTIONED.finditer(sentence))
            for limit in _LIMIT.finditer(sentence):
                self.limit(limit)
                if plain(sentence) not in self.parsed.constraints:
                    self.parsed.constraints.append(plain(sentence))
            self.prose.sentence(sentence, line)

    # --- pieces ------------------------------------------------------------------------

    def arrows(self, text: str, line: int) -> bool:
        """`a -> b -> c` (outside examples): hand-offs; their names are agents."""
        if not ARROW.search(text) or is_example_line(text) or re.search(r"[\"“”]", text):
            return False
        text = _FLOW_LABEL.sub("", text)
        names = []
        for segment in ARROW.split(text):
            segment = re.sub(r"\(.*?\)", "", segment).strip(" .;")
            if not segment or len(segment.split()) > 4:
                return False
            name = self.prose.resolve(segment) or to_name(segment)
            if name is None:
                self.parsed.note(f"line {line}: could not make an agent name of {segment!r}")
                return True
            names.append(name)
        for name in names:
            if self.parsed.agent(name) is None:
                self.prose.add_agent(name, [], line, phrase=name)
        for a, b in itertools.pairwise(names):
            if a != b and (a, b) not in self.parsed.flow:
                self.parsed.flow.append((a, b))
        return True

    def loops_in(self, agent: str | None, duties: list[str], line: int, *,
                 prose: bool = False) -> None:
        """Approval loops stated in an agent's duties (it is the approver), or in a
        constraint ("The editor sends a draft back at most twice")."""
        if agent is not None:
            self.prose.subject = agent
        for duty in duties:
            for sentence in sentences(duty):
                if prose:
                    self.prose.subject = None
                    self.prose.known(sentence, line)
                self.prose.loop(sentence, line)

    def constraint(self, text: str) -> None:
        text = plain(text)
        if text and text not in self.parsed.constraints:
            self.parsed.constraints.append(text)
        for limit in _LIMIT.finditer(text):
            self.limit(limit)

    def limit(self, match: re.Match[str]) -> None:
        number, unit = int(match.group(1)), match.group(2).lower()
        if unit.startswith("word") and self.parsed.answer_words is None:
            self.parsed.answer_words = number
        elif unit.startswith("min") and self.parsed.step_seconds is None:
            self.parsed.step_seconds = float(number) * 60
        elif unit.startswith("s") and self.parsed.step_seconds is None:
            self.parsed.step_seconds = float(number)

    # --- what needs the whole text -------------------------------------------------------

    def settle(self) -> None:
        parsed = self.parsed
        for line, text in self.qualifiers:
            self.loops_in(None, [text], line, prose=True)
        for agent in parsed.agents:
            if agent.role is None:
                agent.role = role_from_duties(agent.duties) or role_from_name(agent.name) \
                    or "worker"
        for implied in parsed.implied:
            implied.role = implied.role or role_from_duties([implied.duty]) or "worker"
        for name in parsed.order:
            if parsed.agent(name) is None:
                self.prose.add_agent(name, [], 0)
        for loop in parsed.loops:      # phrases that name a stated agent, resolved now
            if not loop.resolved and (name := self.prose.resolve(loop.worker)) is not None:
                loop.worker, loop.resolved = name, True
        parsed.examples = [(i, " ".join(e.split())) for i, e in parsed.examples if i]
        if parsed.title is None:
            first = next((b.text for b in self.doc.blocks if b.kind == "paragraph"), "")
            parsed.title = title_phrase(first, {a.name for a in parsed.agents})
        if parsed.goal is None:
            parsed.goal = self._goal_paragraph() or parsed.title
        parsed.topology_hint, parsed.topology_reason = self.topology()

    def _goal_paragraph(self) -> str | None:
        """The first sentences of the first prose (what the walk left of a paragraph, else
        a whole paragraph) that says what the system is for: not an agent's duty, an
        example, a rule, a flow ("a -> b"), a label line ("Topology: hierarchy") or part of
        a section such as the examples."""
        duties = {" ".join(d.split()).rstrip(".").lower()
                  for a in self.parsed.agents for d in a.duties}
        paragraphs = [_first_sentences(plain(b.text)) for b in self.doc.blocks
                      if b.kind == "paragraph" and b.section in (None, "goal")]
        names = [a.name.replace("_", " ") for a in self.parsed.agents]
        for text in [*self.goal_prose, *paragraphs]:
            lowered = text.lower()
            rule = any(r[:40] in text for r in self.parsed.constraints) and not any(
                name in lowered for name in names)      # a rule about answers, not a team
            if text.rstrip(".").lower() in duties or rule or _labels_only(text):
                continue
            return text
        return None

    def topology(self) -> tuple[str | None, str]:
        """The topology the spec states; else the one its roles and flow describe; else
        the best keyword score; None when nothing points to one."""
        parsed = self.parsed
        if self.stated_topology is not None:
            name, line, words = self.stated_topology
            return name, f"stated on line {line} ({words})"
        roles = {a.name: a.role for a in parsed.agents}
        of = {role: [n for n, r in roles.items() if r == role] for role in set(roles.values())}
        text = self.text.lower()
        if of.get("router"):
            return "router", f"{of['router'][0]} routes each input to one agent"
        if of.get("aggregator") and re.search(r"\bvot|\bmajority|\bconsensus", text):
            return "consensus", f"{of['aggregator'][0]} gathers the members' answers and votes"
        if of.get("manager"):
            manager = of["manager"][0]
            if re.search(r"\bbids?\b|\bbidding|\bauction|\btender", text):
                return "contract_net", f"{manager} announces the work and the members bid"
            return "hierarchy", f"{manager} hands out the work and combines the results"
        if of.get("aggregator"):
            return "consensus", f"{of['aggregator'][0]} combines the members' answers"
        loops = [lp for lp in parsed.loops if lp.approver not in parsed.every_step]
        back = {(b, a) for a, b in parsed.flow} & set(parsed.flow)
        if loops or back:
            approver = loops[0].approver if loops else next(iter(back))[0]
            return "feedback_loop", f"{approver} sends work back for rework"
        if parsed.flow or parsed.order:
            return "pipeline", "the spec states the order of the hand-offs"
        if of.get("approver"):
            return "pipeline", f"{of['approver'][0]} approves each step in turn"
        hint = keyword_topology(self.text, parsed.flow)
        if hint[0] is None and len(parsed.agents) + len(parsed.implied) >= 2:
            return "pipeline", "the agents act in the order the spec names them"
        return hint


def resolve_loops(parsed: ParsedSpec, agents: list[tuple[str, str, list[str]]]) -> list[Loop]:
    """The spec's approval loops with agents for workers, once every agent has a name:
    `agents` is (name, role, duties) in spec order. "*" is every worker, "<previous>"
    the worker before the approver; a phrase ("the question writer") is the agent its
    words name, else the one whose duties use them. A round limit stated apart from its
    target ("the partner may return a draft twice") joins the approver's other loops. A
    target that names no agent is noted, not dropped."""
    names = [name for name, _, _ in agents]
    workers = [name for name, role, _ in agents if role == "worker"]
    loops: list[Loop] = []
    for loop in parsed.loops:
        if loop.worker == "<previous>" and any(
                other.approver == loop.approver and other.worker != "<previous>"
                for other in parsed.loops):
            for other in parsed.loops:
                if other.approver == loop.approver and other.max_rounds is None:
                    other.max_rounds, other.counts = loop.max_rounds, loop.counts
            continue
        loops.append(loop)
    expanded: list[Loop] = []
    for loop in loops:
        if loop.approver not in names:
            continue
        if loop.worker == "*":
            targets = [w for w in workers if w != loop.approver]
        elif loop.worker == "<previous>":
            before = [w for w in workers if names.index(w) < names.index(loop.approver)]
            targets = before[-1:] or workers[-1:]
        elif loop.resolved:
            targets = [loop.worker]
        else:
            target = _named_by(loop.worker, agents)
            if target is None:
                parsed.note(f"line {loop.line}: {loop.approver} sends work back to "
                            f"{loop.worker!r}, which is no agent")
                continue
            targets = [target]
        for worker in targets:
            if worker == loop.approver:
                continue
            existing = next((e for e in expanded if e.worker == worker
                             and e.approver == loop.approver), None)
            if existing is None:
                expanded.append(Loop(loop.approver, worker, loop.max_rounds, loop.line,
                                     counts=loop.counts))
            elif existing.max_rounds is None:
                existing.max_rounds, existing.counts = loop.max_rounds, loop.counts
    return expanded


def _named_by(phrase: str, agents: list[tuple[str, str, list[str]]]) -> str | None:
    wanted = [w for w in words_of(phrase) if w not in ("the", "a", "an", "its", "agent")]
    if not wanted:
        return None
    for name, _, _ in agents:
        if set(wanted) <= set(name.split("_")) or name == "_".join(wanted):
            return name
    for name, role, duties in agents:   # "the question writer": the one that writes them
        if role != "worker":
            continue
        duty_words = set(words_of(" ".join(duties)))
        if any(w in duty_words or w.rstrip("s") + "s" in duty_words for w in wanted
               if len(w) > 3 and w not in ("writer", "maker", "checker", "agent")):
            return name
    return None


def parse_spec(text: str) -> ParsedSpec:
    """Everything `text` states explicitly; see the module docstring."""
    return Reader(text).read()


_TITLE_STOP = wordset("""of to for with from in on at by and or that who which into onto than
as about across""")
_TITLE_GENERIC = wordset("""system team tool way set group crew help helpers agents assistant
software lot number kind""")


_TITLE_VERBS = wordset("""needs wants must has have is was are were needed wanted asked owns
uses would should will can turns writes makes runs gets""")


def title_phrase(text: str, agents: set[str]) -> str | None:
    """A title for a spec without a heading: its first sentence when that is a short
    phrase ("Small coding team."), else the first noun phrase that is not an agent ("I own
    a small bakery and ..." -> "Small bakery")."""
    found = sentences(plain(text))[:2]
    if found:
        first = found[0].rstrip(".!?")
        if len(first.split()) <= 6 and not re.search(r"[,:;—]", first) and \
                not any(w.lower() in _TITLE_VERBS or verb_like(w) for w in first.split()[1:]):
            return first[:1].upper() + first[1:]
    for sentence in found:
        for det in re.finditer(r"\b(?:a|an|the|my|our|their)\s+", sentence, re.I):
            kept: list[str] = []
            for word in re.split(r"\s+", sentence[det.end():])[:3]:
                lowered = word.lower().strip(",.;:!?")
                if not lowered or lowered in _TITLE_STOP or lowered in _TITLE_VERBS or \
                        (kept and lowered.endswith("ed")):
                    break
                kept.append(word.strip(",.;:!?"))
                if word[-1:] in ",.;:!?":
                    break
            if not kept or (len(kept) == 1 and kept[0].lower() in _TITLE_GENERIC) or \
                    to_name(" ".join(kept)) in agents:
                continue
            phrase = " ".join(kept)
            return phrase[:1].upper() + phrase[1:]
    return None
