"""A spec's structure: YAML front matter, headings, paragraphs, list items, table rows.

Markdown comes from markdown-it-py (CommonMark with tables); this module only
turns its tokens into `Block`s that carry what the readers need: the line, the
section the block stands in (agents, flow, examples, constraints, goal, from
the heading or a label line such as "Route to:" or "Examples"), the heading
above it, and for list items their nested items and numbering.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from markdown_it import MarkdownIt

from autogenesis.errors import SpecError

SECTION_WORDS = {
    "examples": ("example", "exemple", "beispiel", "ejemplo", "scenario", "sample",
                 "test case", "cas d"),
    "agents": ("agent", "role", "rôle", "team", "équipe", "member", "participant", "panel",
               "jury", "board", "committee",
               "worker", "who does", "who is who", "crew", "staff", "cast", "route to",
               "routes to", "specialists", "desks"),
    "flow": ("flow", "flux", "ablauf", "process", "pipeline", "step", "étape", "workflow",
             "order", "sequence", "hand-off", "handoff"),
    "constraints": ("constraint", "contrainte", "rule", "règle", "regel", "limit",
                    "requirement", "non-functional", "policy"),
    "goal": ("goal", "purpose", "overview", "about", "mission", "objectif", "context"),
}
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?\n)---[ \t]*(?:\n|\Z)", re.S)


_SECTION_STEMS = ("agent", "role", "rôle", "team", "équipe", "member", "participant", "panel",
                  "worker", "crew", "staff", "cast", "route", "specialist", "desk", "flow",
                  "flux", "ablauf", "process", "pipeline", "step", "étape", "workflow",
                  "order", "sequence", "hand", "example", "exemple", "beispiel", "ejemplo",
                  "scenario", "sample", "test", "case", "cas", "constraint", "contrainte",
                  "rule", "règle", "regel", "limit", "requirement", "policy", "goal",
                  "purpose", "overview", "about", "mission", "objectif", "context", "who",
                  "does", "what", "is", "the", "our", "and", "of", "to", "les", "des",
                  "input", "output", "expected")


def is_section_heading(text: str) -> bool:
    """A heading that only names a section ("Agents", "Example 2", "Who does what"),
    as opposed to a title ("Équipe éditoriale", "Invoice processing")."""
    words = re.findall(r"[^\W\d_]+", text.lower())
    return section_of(text) is not None and len(words) <= 4 and all(
        any(word.startswith(stem) for stem in _SECTION_STEMS) for word in words)


def section_of(text: str) -> str | None:
    """The section a heading or label names ("## Our team" -> "agents"), or None."""
    lowered = text.lower()
    for section, words in SECTION_WORDS.items():
        if any(word in lowered for word in words):
            return section
    return None


@dataclass
class Block:
    kind: str                       # heading, paragraph, item, row, code
    text: str                       # inline markdown as written (bold kept)
    line: int                       # 1-based line of the block's start
    section: str | None = None      # the section it stands in
    heading: str | None = None      # the nearest heading above
    level: int = 0                  # a heading's level
    ordered: bool = False           # an item of a numbered list
    label: str | None = None        # the label line just before an item's list
    children: list[str] = field(default_factory=list)   # an item's nested items
    cells: dict[str, str] = field(default_factory=dict)  # a table row: header -> cell

    def lines(self) -> list[tuple[int, str]]:
        """(line, text) of each line of the block."""
        return [(self.line + i, text) for i, text in enumerate(self.text.splitlines())]


@dataclass
class Document:
    front: dict[str, Any]
    blocks: list[Block]
    offset: int = 0                 # lines taken by the front matter


def front_matter(text: str) -> tuple[dict[str, Any], str, int]:
    """(front matter, the markdown after it, how many lines it took)."""
    match = _FRONT_MATTER.match(text)
    if match is None:
        return {}, text, 0
    try:
        data = yaml.safe_load(match.group(1))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 2})" if mark is not None else ""
        raise SpecError(f"the spec's front matter is not valid YAML{where}: "
                        f"{getattr(exc, 'problem', None) or exc}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise SpecError("the spec's front matter must be a YAML mapping (key: value lines)")
    taken = match.group(0).count("\n")
    return data, text[match.end():], taken


def _is_label(text: str) -> bool:
    """A short line introducing a list: "Route to:", "Examples", "Steps:"."""
    first = text.strip()
    return "\n" not in first and len(first.split()) <= 12 and (
        first.endswith(":") or (len(first.split()) <= 2 and section_of(first) is not None))


def parse_document(text: str) -> Document:
    front, body, offset = front_matter(text)
    tokens = MarkdownIt("commonmark").enable("table").parse(body)
    blocks: list[Block] = []
    section: str | None = None
    heading: str | None = None
    depth = 0
    ordered: list[bool] = []
    item: Block | None = None
    pending_heading: tuple[int, int] | None = None
    table_header: list[str] = []
    row: list[str] = []
    in_head = False
    label: tuple[str, str | None] | None = None   # (text, section) of the last label line
    row_line = 0
    titled = False
    for i, token in enumerate(tokens):
        line = (token.map[0] + 1 + offset) if token.map else 0
        kind = token.type
        if kind == "heading_open":
            pending_heading = (int(token.tag[1]), line)
        elif kind == "inline" and pending_heading is not None:
            level, at = pending_heading
            heading = token.content.strip()
            if not titled and not is_section_heading(heading):
                blocks.append(Block("title", heading, at, None, None, level=level))
                section = None
            else:
                section = section_of(heading)
                blocks.append(Block("heading", heading, at, section, heading, level=level))
            titled = True
            pending_heading, label = None, None
        elif kind in ("bullet_list_open", "ordered_list_open"):
            ordered.append(kind == "ordered_list_open")
        elif kind in ("bullet_list_close", "ordered_list_close"):
            ordered.pop()
            if not ordered:
                label = None
        elif kind == "list_item_open":
            depth += 1
            if depth == 1:
                item = Block("item", "", line, label[1] if label and label[1] else section,
                             heading, ordered=ordered[-1] if ordered else False,
                             label=label[0] if label else None)
        elif kind == "list_item_close":
            depth -= 1
            if depth == 0 and item is not None:
                item.text = item.text.strip()
                blocks.append(item)
                item = None
        elif kind == "thead_open":
            in_head, table_header = True, []
        elif kind == "thead_close":
            in_head = False
        elif kind == "tr_open":
            row, row_line = [], line
        elif kind == "tr_close" and not in_head and table_header:
            cells = dict(zip(table_header, row, strict=False))
            blocks.append(Block("row", " | ".join(row), row_line, section, heading,
                                cells=cells))
        elif kind == "inline" and tokens[i - 1].type in ("th_open", "td_open"):
            (table_header if in_head else row).append(token.content.strip())
        elif kind == "inline":
            if depth > 1 and item is not None:
                item.children.append(token.content.strip())
            elif depth == 1 and item is not None:
                item.text += ("\n" if item.text else "") + token.content
            else:
                content = token.content.strip()
                blocks.append(Block("paragraph", content, line, section, heading))
                last = re.split(r"(?<=[.!?])\s+", content)[-1]
                # "... The receptionist agent reads it and decides where it goes:"
                label = (last.rstrip(":").strip(), section_of(last)) if _is_label(last) else None
        elif kind in ("fence", "code_block") and depth == 0:
            blocks.append(Block("code", token.content.strip(), line, section, heading))
    return Document(front, [b for b in blocks if b.text], offset)
