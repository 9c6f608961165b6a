"""Reading a spec, and parsing what it states explicitly.

Specs come in every style: headed sections with bullet lists, free prose
("one helper should break the project down, another should estimate..."),
a terse paragraph. `parse_spec` finds deterministically everything a spec
states outright: the title, the goal, agents in lists or named in prose
("the triage agent reads..."), arrows like `a -> b`, examples as input ->
expected outcome, constraints and their limits, topology keywords. What it
cannot name (an unnamed "helper" with a duty) it returns as an
`ImpliedRole` for the understanding agent to name with the model.

Markdown structure comes from markdown-it-py (the CommonMark parser rich
already uses); only the sentences inside blocks are matched with patterns.
"""

from __future__ import annotations

import itertools
import keyword
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from markdown_it import MarkdownIt

from autogenesis.errors import SpecError

MAX_SPEC_BYTES = 256 * 1024

SECTION_WORDS = {
    "agents": ("agent", "role", "team", "member", "participant", "panel", "worker", "who"),
    "flow": ("flow", "process", "pipeline", "step", "workflow", "order", "sequence"),
    "examples": ("example", "scenario", "sample", "test case"),
    "constraints": ("constraint", "rule", "limit", "requirement", "non-functional"),
    "goal": ("goal", "purpose", "overview", "summary", "about", "mission"),
}

# Words that are never an agent's name, though they stand where one would.
NOT_NAMES = frozenset([
    "a", "an", "the", "one", "another", "other", "each", "every", "any", "some", "single",
    "multi", "multiple", "new", "same", "different", "first", "second", "third", "fourth",
    "fifth", "last", "final", "next", "previous", "entry", "exit", "main", "llm", "ai",
    "helper", "agent", "agents", "bot", "assistant", "worker", "expert", "specialist",
    "member", "this", "that", "which", "who", "system"
])

ROLE_NOUNS = r"(?:agent|bot|assistant|helper|worker|expert|specialist|member)"
_NAMED_IN_PROSE = re.compile(
    rf"\b(?:a|an|the)\s+\**([a-z][a-z-]*)\**\s+{ROLE_NOUNS}\b[,]?\s*(.*)", re.I)
_NAME_MENTION = re.compile(rf"\b(?:a|an|the)\s+\**([a-z][a-z-]*)\**\s+{ROLE_NOUNS}\b", re.I)
_BOLD_LEAD = re.compile(r"^\*\*([^*]{1,40})\*\*\s*[:\-–—]?\s*(.*)$")
_UNNAMED_ROLE = re.compile(
    rf"\b(?:one|another|a|an|the\s+(?:first|second|third|fourth|last|final|other)|"
    rf"(?:a\s+)?(?:second|third|fourth|final|last))\s+(?:(?:{ROLE_NOUNS}|one)\s+)?"
    r"(?:should|will|must|can|shall|is to|has to|needs to|then)\s+(.+)", re.I)
_CLAUSE_SPLIT = re.compile(
    r"[.;!?](?:\s+|$)|,\s*(?:and\s+|while\s+|then\s+)?(?=(?:another|a third|a second|a fourth|"
    r"the last|the final|finally|one more)\b)|,\s*and\s+(?=(?:the|each|every)\s)", re.I)
_GROUP = re.compile(rf"\b([a-z][a-z-]*)\s+{ROLE_NOUNS}s?\s*\(([^)]*)\)", re.I)
_GIVEN_EXAMPLE = re.compile(
    r"\bgiven\s+[\"“]([^\"”]+)[\"”],?\s+(?:the\s+\w+|it|they|the system)?\s*"
    r"(?:should|must|will)\s+(.+)", re.I | re.S)
_EXAMPLE_LINE = re.compile(r"^\s*(?:example|e\.g\.)\s*:\s*(.+)$", re.I)
_AGENT_ITEM = re.compile(r"^\s*\**`?([A-Za-z][\w \-]{0,40}?)`?\**\s*(?::|—|–|-\s)\s*(.+)$",
                         re.S)
_ARROW = re.compile(r"\s*(?:->|→|=>|⟶)\s*")
_EXAMPLE_LABELLED = re.compile(
    r"(?is)^\s*(?:input|question|request|message|task|user)\s*:\s*(.+?)\s*"
    r"(?:expected(?:\s+(?:outcome|output|answer|result))?|output|answer|outcome|result)\s*:"
    r"\s*(.+)$")
_LIMIT = re.compile(r"\b(?:under|at most|no more than|within|less than|max(?:imum)?|up to)\s+"
                    r"(\d+)\s*(words?|seconds?|secs?|minutes?|mins?)\b", re.I)
_EXPLICIT_TOPOLOGY = re.compile(r"\btopology\s*[:=]\s*([a-z_ -]+)", re.I)

TOPOLOGY_WORDS = {
    "consensus": ("vote", "voting", "consensus", "majority", "panel", "jury", "agree"),
    "contract_net": ("bid", "bidding", "contract", "tender", "auction", "award",
                     "announce"),
    "router": ("route", "routing", "router", "triage", "classif", "dispatch"),
    "feedback_loop": ("approve", "approval", "reject", "revise", "revision", "rework",
                      "send back", "sends back", "until"),
    "hierarchy": ("manager", "delegat", "subtask", "sub-task", "assign", "coordinat", "split",
                  "hierarch"),
    "pipeline": ("pipeline", "in turn", "hands over", "passes"),
}
TOPOLOGY_ALIASES = {"contract net": "contract_net", "contract-net": "contract_net",
                    "voting": "consensus", "vote": "consensus", "feedback loop": "feedback_loop",
                    "feedback": "feedback_loop", "loop": "feedback_loop",
                    "feedback-loop": "feedback_loop"}


@dataclass
class StatedAgent:
    name: str
    duties: list[str]
    line: int
    pos: int = 0            # order of appearance among agents and implied roles


@dataclass
class ImpliedRole:
    """A duty the spec gives to an agent it does not name."""

    duty: str
    line: int
    pos: int = 0


@dataclass
class ParsedSpec:
    title: str | None = None
    goal: str | None = None
    agents: list[StatedAgent] = field(default_factory=list)
    implied: list[ImpliedRole] = field(default_factory=list)
    flow: list[tuple[str, str]] = field(default_factory=list)
    order: list[str] = field(default_factory=list)
    examples: list[tuple[str, str]] = field(default_factory=list)
    constraints: list[str] = field(default_factory=list)
    topology_hint: str | None = None
    answer_words: int | None = None
    step_seconds: float | None = None
    groups: dict[str, list[str]] = field(default_factory=dict)
    seen: int = 0

    def next_pos(self) -> int:
        self.seen += 1
        return self.seen

    def agent(self, name: str) -> StatedAgent | None:
        return next((a for a in self.agents if a.name == name), None)


# --- reading ----------------------------------------------------------------------


def read_spec(path: Path) -> str:
    """The spec's text, or a SpecError saying plainly what is wrong with the file."""
    if not path.exists():
        raise SpecError(f"spec {path} does not exist")
    if not path.is_file():
        raise SpecError(f"spec {path} is not a file")
    size = path.stat().st_size
    if size > MAX_SPEC_BYTES:
        raise SpecError(f"spec {path} is {size // 1024} KiB; the limit is "
                        f"{MAX_SPEC_BYTES // 1024} KiB")
    return check_spec_text(path.read_bytes(), str(path))


def check_spec_text(data: bytes | str, where: str = "spec") -> str:
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogateescape")
    if len(data) > MAX_SPEC_BYTES:
        raise SpecError(f"{where} is larger than {MAX_SPEC_BYTES // 1024} KiB")
    if b"\x00" in data:
        raise SpecError(f"{where} is binary, not markdown text")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(f"{where} is not UTF-8 text (byte {exc.start})") from exc
    if not text.strip():
        raise SpecError(f"{where} is empty")
    if len(re.findall(r"[A-Za-z]{2,}", text)) < 5:
        raise SpecError(f"{where} has too few words to describe a system")
    return text


# --- names ------------------------------------------------------------------------


def to_name(text: str) -> str | None:
    """A safe agent name from spec text ("Triage Agent" -> "triage"), or None."""
    words = re.findall(r"[a-z0-9]+", text.lower().replace("'s", ""))
    while words and words[-1] in ("agent", "bot", "assistant"):
        words.pop()
    name = "_".join(words)[:40].strip("_")
    if not name or not name[0].isalpha() or keyword.iskeyword(name) or name in NOT_NAMES:
        return None
    return name


def slugify(text: str, *, limit: int = 40) -> str:
    words = re.findall(r"[a-z0-9]+", text.lower())
    slug = "_".join(words)[:limit].strip("_")
    if not slug or not slug[0].isalpha():
        slug = f"system_{slug}".strip("_")
    return slug


# --- parsing ----------------------------------------------------------------------


@dataclass
class _Block:
    section: str | None     # agents, flow, examples, constraints, goal, or None
    text: str
    line: int
    item: bool              # a list item (True) or a paragraph
    ordered: bool = False


def _section(heading: str) -> str | None:
    lowered = heading.lower()
    for section, words in SECTION_WORDS.items():
        if any(word in lowered for word in words):
            return section
    return None


def _blocks(text: str) -> tuple[str | None, list[_Block]]:
    """The title (first h1) and the spec's paragraphs and top-level list items."""
    tokens = MarkdownIt("commonmark").parse(text)
    title: str | None = None
    section: str | None = None
    blocks: list[_Block] = []
    depth = 0
    ordered: list[bool] = []
    item_parts: list[str] = []
    item_line = 0
    heading: str | None = None
    for token in tokens:
        line = (token.map[0] + 1) if token.map else 0
        if token.type == "heading_open":
            heading = token.tag
        elif token.type == "inline" and heading is not None:
            if heading == "h1" and title is None:
                title = token.content.strip()
            else:
                section = _section(token.content)
            heading = None
        elif token.type in ("bullet_list_open", "ordered_list_open"):
            ordered.append(token.type == "ordered_list_open")
        elif token.type in ("bullet_list_close", "ordered_list_close"):
            ordered.pop()
        elif token.type == "list_item_open":
            depth += 1
            if depth == 1:
                item_parts, item_line = [], line
        elif token.type == "list_item_close":
            depth -= 1
            if depth == 0:
                blocks.append(_Block(section, "\n".join(item_parts).strip(), item_line, True,
                                     ordered[-1] if ordered else False))
        elif token.type == "inline":
            if depth > 0:
                item_parts.append(token.content)
            else:
                blocks.append(_Block(section, token.content.strip(), line, False))
        elif token.type in ("fence", "code_block") and depth == 0:
            blocks.append(_Block(section, token.content.strip(), line, False))
    return title, [b for b in blocks if b.text]


def _clauses(text: str) -> Iterator[str]:
    for clause in _CLAUSE_SPLIT.split(text.replace("\n", " ")):
        clause = clause.strip(" ,")
        if clause:
            yield clause


def _duties(text: str) -> list[str]:
    return [c.rstrip(".") for c in _clauses(text) if len(c) > 2]


def _plain(text: str) -> str:
    """Text without markdown emphasis, and with template braces broken apart: spec text
    is data, and must never read as a placeholder where it lands."""
    text = re.sub(r"[*`_]{1,2}([^*`_]+)[*`_]{1,2}", r"\1", text)
    return re.sub(r"([{}%])(?=[{}%])", r"\1 ", text).strip()


def _add_agent(parsed: ParsedSpec, name: str | None, duties: list[str], line: int) -> None:
    if name is None:
        return
    existing = parsed.agent(name)
    if existing is None:
        parsed.agents.append(StatedAgent(name, duties, line, parsed.next_pos()))
    else:
        existing.duties.extend(d for d in duties if d not in existing.duties)


def _parse_agent_item(parsed: ParsedSpec, block: _Block) -> bool:
    match = _AGENT_ITEM.match(block.text)
    if match is None:
        return False
    name = to_name(match.group(1))
    if name is None:
        return False
    _add_agent(parsed, name, _duties(_plain(match.group(2))), block.line)
    return True


def _parse_groups(parsed: ParsedSpec, clause: str) -> bool:
    """"three contractor agents (a cleaner, a gardener and a handyman)": three agents."""
    group = _GROUP.search(clause)
    if group is None:
        return False
    members = [to_name(re.sub(r"^(?:a|an|the)\s+", "", m.strip(), flags=re.I))
               for m in re.split(r",|\band\b", group.group(2))]
    names = [m for m in members if m]
    if len(names) < 2:
        return False
    word = group.group(1).lower()
    parsed.groups[word] = names
    for name in names:
        _add_agent(parsed, name, [], 0)
    return True


def _parse_duty_of_known(parsed: ParsedSpec, clause: str) -> bool:
    """"each contractor bids ..." or "the broker awards ...": a duty of agents already named."""
    lead = re.match(r"^(?:and\s+)?(each|the|every)\s+([a-z][a-z_-]*)\s+(.+)$", clause, re.I)
    if lead is None:
        return False
    word, duty = lead.group(2).lower(), lead.group(3).strip()
    names = parsed.groups.get(word) or ([word] if parsed.agent(word) else [])
    for name in names:
        _add_agent(parsed, name, [duty], 0)
    return bool(names)


def _parse_prose_roles(parsed: ParsedSpec, block: _Block) -> None:
    for clause in _clauses(block.text):
        if _parse_duty_of_known(parsed, _plain(clause)):
            continue
        bold = _BOLD_LEAD.match(clause)
        if bold and to_name(bold.group(1)) and bold.group(2):
            _add_agent(parsed, to_name(bold.group(1)), [_plain(bold.group(2))], block.line)
            continue
        plain = _plain(clause)
        named = _NAMED_IN_PROSE.search(plain)
        if named and to_name(named.group(1)):
            duty = re.sub(r"^(?:that|who|which|should|will|must|can|is to|then)\s+", "",
                          named.group(2).strip(), flags=re.I)
            _add_agent(parsed, to_name(named.group(1)), [duty] if duty else [], block.line)
            if not _parse_groups(parsed, named.group(2)):  # "... a historian agent and ..."
                for other in _NAME_MENTION.finditer(named.group(2)):
                    _add_agent(parsed, to_name(other.group(1)), [], block.line)
            continue
        if _parse_groups(parsed, plain):
            continue
        unnamed = _UNNAMED_ROLE.search(plain)
        if unnamed:
            parsed.implied.append(ImpliedRole(unnamed.group(1).strip(), block.line,
                                              parsed.next_pos()))


def _resolve_flow_name(parsed: ParsedSpec, segment: str) -> str | None:
    plain = _plain(segment)
    for word in re.findall(r"[a-z][a-z0-9_]*", plain.lower()):
        if parsed.agent(word):
            return word
    return to_name(re.sub(r"\(.*?\)", "", plain))


def _parse_arrows(parsed: ParsedSpec, text: str) -> bool:
    found = False
    for line in text.splitlines():
        parts = _ARROW.split(line)
        if len(parts) < 2:
            continue
        names = [_resolve_flow_name(parsed, p) for p in parts]
        for a, b in itertools.pairwise(names):
            if a and b and a != b and (a, b) not in parsed.flow:
                parsed.flow.append((a, b))
                found = True
    return found


def _parse_example(text: str) -> tuple[str, str]:
    text = _plain(text)
    labelled = _EXAMPLE_LABELLED.match(text)
    if labelled:
        return _unquote(labelled.group(1)), labelled.group(2).strip()
    parts = _ARROW.split(text, maxsplit=1)
    if len(parts) == 2:
        return _unquote(parts[0]), parts[1].strip()
    return _unquote(re.sub(r"(?i)^(?:input|example)\s*:\s*", "", text)), ""


def _unquote(text: str) -> str:
    text = " ".join(text.split())
    if len(text) >= 2 and text[0] in "\"'“" and text[-1] in "\"'”":
        text = text[1:-1]
    return text.strip()


def _limits(parsed: ParsedSpec, text: str) -> bool:
    found = False
    for number, unit in _LIMIT.findall(text):
        found = True
        unit = unit.lower()
        if unit.startswith("word") and parsed.answer_words is None:
            parsed.answer_words = int(number)
        elif unit.startswith("min") and parsed.step_seconds is None:
            parsed.step_seconds = float(number) * 60
        elif unit.startswith("s") and parsed.step_seconds is None:
            parsed.step_seconds = float(number)
    return found


def topology_hint(text: str, flow: list[tuple[str, str]]) -> str | None:
    """The topology the spec asks for: stated outright, else the best keyword score."""
    explicit = _EXPLICIT_TOPOLOGY.search(text)
    if explicit:
        wanted = explicit.group(1).strip().lower()
        wanted = TOPOLOGY_ALIASES.get(wanted, wanted.replace(" ", "_").replace("-", "_"))
        if wanted in TOPOLOGY_WORDS:
            return wanted
    lowered = text.lower()
    scores = {name: sum(len(re.findall(rf"\b{re.escape(word)}", lowered)) for word in words)
              for name, words in TOPOLOGY_WORDS.items()}
    back_edges = {(b, a) for a, b in flow} & set(flow)
    if back_edges:
        scores["feedback_loop"] += 2
    if flow and not back_edges:
        scores["pipeline"] += 2
    best = max(scores.values())
    if best == 0:
        return None
    return next(name for name in TOPOLOGY_WORDS if scores[name] == best)


def _prose_examples(parsed: ParsedSpec, block: _Block) -> tuple[str, str]:
    """Take examples out of a prose block ("Example: x -> y", 'given "x" it should y');
    return the rest of the block as clauses, and as it was written (for the goal)."""
    kept = []
    for line in block.text.splitlines():
        example = _EXAMPLE_LINE.match(line)
        if example:
            parsed.examples.append(_parse_example(example.group(1)))
        else:
            kept.append(line)
    rest = []
    for clause in _clauses("\n".join(kept)):
        given = _GIVEN_EXAMPLE.search(clause)
        if given:
            parsed.examples.append((_unquote(given.group(1)), " ".join(given.group(2).split())))
        else:
            rest.append(clause)
    return ". ".join(rest), "\n".join(kept)


def _first_sentences(text: str, limit: int = 240) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    sentences = re.split(r"(?<=[.!?])\s+", text)
    kept = sentences[0]
    for sentence in sentences[1:]:
        if len(kept) + len(sentence) + 1 > limit:
            break
        kept += " " + sentence
    return kept


def parse_spec(text: str) -> ParsedSpec:
    """Everything `text` states explicitly; see the module docstring."""
    title, blocks = _blocks(text)
    parsed = ParsedSpec(title=_plain(title) if title else None)
    # Agents first: flow arrows and prose resolve names against them.
    for block in blocks:
        if block.section == "agents" and block.item and not _parse_agent_item(parsed, block):
            _parse_prose_roles(parsed, block)
    for block in blocks:
        if block.section == "examples":
            if block.item or _EXAMPLE_LABELLED.match(_plain(block.text)):
                parsed.examples.append(_parse_example(block.text))
            continue
        if block.section == "constraints" and block.item:
            parsed.constraints.append(_plain(block.text))
            _limits(parsed, block.text)
            continue
        if block.section == "agents" and block.item:
            continue
        prose, written = _prose_examples(parsed, block)
        arrows = _parse_arrows(parsed, prose)
        if block.section == "flow" and block.ordered and not arrows:
            name = _resolve_flow_name(parsed, block.text.split(":")[0])
            if name and name not in parsed.order:
                parsed.order.append(name)
        if not block.item and parsed.goal is None and block.section in (None, "goal"):
            parsed.goal = _first_sentences(_plain(written))
        _parse_prose_roles(parsed, _Block(block.section, "\n".join(
            line for line in prose.splitlines() if not _ARROW.search(line)), block.line, False))
        for clause in _clauses(prose):
            if _limits(parsed, clause) and _plain(clause) not in parsed.constraints:
                parsed.constraints.append(_plain(clause))
    if parsed.goal is None:
        parsed.goal = next((_first_sentences(_plain(b.text)) for b in blocks if not b.item), None)
    # Names in the flow are agents the spec states, even when no list names them.
    for a, b in parsed.flow:
        for name in (a, b):
            if parsed.agent(name) is None:
                _add_agent(parsed, name, [], 0)
    for name in parsed.order:
        if parsed.agent(name) is None:
            _add_agent(parsed, name, [], 0)
    parsed.examples = [(i, " ".join(e.split())) for i, e in parsed.examples]
    parsed.topology_hint = topology_hint(text, parsed.flow)
    return parsed
