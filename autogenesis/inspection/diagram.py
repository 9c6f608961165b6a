"""A generated system's topology drawn from its blueprint: as SVG and for a terminal.

The blueprint already carries the Mermaid source (`Blueprint.diagram`) for
documents that render it. People reading a terminal or opening a file want a
picture without a renderer, so this module lays the graph out itself: a
small layered (Sugiyama-style) layout is enough for the six topologies,
whose graphs have a handful of nodes, and avoids a graphviz dependency.

Layout: `input`, the agents and `answer` get a column each by the longest
path from `input` along message edges (sends, broadcasts; edges that close
a cycle are left out). `answer` always takes the last column. An agent no
message reaches (a pipeline's approver, which only judges) goes in a row
of its own under the middle column. Within a column, nodes keep the
blueprint's agent order.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from autogenesis.artefacts import Blueprint

INPUT, ANSWER = "input", "answer"
FLOW_KINDS = ("sends", "broadcasts")

# Node sizes and spacing in SVG user units (pixels).
CHAR_W, NODE_H, MIN_W = 7.4, 46, 96
COL_GAP, ROW_GAP, MARGIN, ARC = 72, 34, 40, 56
FONT = "Helvetica, Arial, 'DejaVu Sans', sans-serif"
COLOUR = {"sends": "#3c4043", "broadcasts": "#188038", "approves": "#c5221f",
          "monitors": "#9334e6"}
FILL = {"worker": "#e8f0fe", "approver": "#fde8e8", "router": "#fff4d6",
        "manager": "#e6f4ea", "aggregator": "#e6f4ea", "monitor": "#f3e8fd", "io": "#f1f3f4"}
STROKE = {"worker": "#1a73e8", "approver": "#c5221f", "router": "#b06000",
          "manager": "#188038", "aggregator": "#188038", "monitor": "#9334e6",
          "io": "#5f6368"}


@dataclass(frozen=True)
class Node:
    name: str
    kind: str            # an agent kind, or "io" for input and answer
    column: int
    row: int


@dataclass(frozen=True)
class Link:
    source: str
    target: str
    kind: str            # sends, approves, broadcasts, monitors


@dataclass(frozen=True)
class Layout:
    title: str
    topology: str
    nodes: tuple[Node, ...]
    links: tuple[Link, ...]

    def node(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)

    @property
    def columns(self) -> int:
        return max(n.column for n in self.nodes) + 1

    @property
    def rows(self) -> int:
        return max(n.row for n in self.nodes) + 1


def layout(blueprint: Blueprint) -> Layout:
    """Columns and rows for every node of `blueprint`'s graph."""
    names = [a.name for a in blueprint.agents]
    flow = [(INPUT, blueprint.entry)]
    flow += [(e.source, e.target) for e in blueprint.edges if e.kind in FLOW_KINDS]
    forward = _acyclic(flow, [INPUT, *names])
    column = {INPUT: 0}
    for _ in range(len(names) + 1):          # longest path, relaxed to a fixed point
        for source, target in forward:
            if source in column and column.get(target, -1) < column[source] + 1:
                column[target] = column[source] + 1
    last = max(column.values()) + 1
    column[ANSWER] = last
    unreached = [n for n in names if n not in column]
    rows: dict[int, int] = {}
    nodes: list[Node] = []
    for name in [INPUT, *names, ANSWER]:
        if name in unreached:
            continue
        kind = "io" if name in (INPUT, ANSWER) else blueprint.agent(name).kind  # type: ignore[union-attr]
        c = column[name]
        nodes.append(Node(name, kind, c, rows.get(c, 0)))
        rows[c] = rows.get(c, 0) + 1
    bottom = max(rows.values())
    middle = max(1, last // 2)
    for i, name in enumerate(unreached):
        agent = blueprint.agent(name)
        assert agent is not None
        nodes.append(Node(name, agent.kind, min(middle + i, last - 1) if last > 1 else 0,
                          bottom))
    links = [Link(INPUT, blueprint.entry, "sends")]
    links += [Link(e.source, e.target, e.kind) for e in blueprint.edges]
    links.append(Link(blueprint.exit, ANSWER, "sends"))
    return Layout(blueprint.title, blueprint.topology, tuple(nodes), tuple(links))


def _acyclic(edges: list[tuple[str, str]], order: list[str]) -> list[tuple[str, str]]:
    """`edges` without those that close a cycle (depth-first from `order`'s nodes)."""
    out: dict[str, list[str]] = {}
    for source, target in edges:
        out.setdefault(source, []).append(target)
    state: dict[str, int] = {}                  # 1: on the current path, 2: done
    back: set[tuple[str, str]] = set()

    def visit(node: str) -> None:
        state[node] = 1
        for nxt in out.get(node, []):
            if state.get(nxt) == 1:
                back.add((node, nxt))
            elif nxt not in state:
                visit(nxt)
        state[node] = 2

    for node in order:
        if node not in state:
            visit(node)
    return [e for e in edges if e not in back]


# --- SVG ----------------------------------------------------------------------------

Box = tuple[float, float, float, float]     # x, y, width, height


def _width(node: Node) -> float:
    return max(MIN_W, CHAR_W * max(len(node.name), len(node.kind)) + 28)


def svg(plan: Layout) -> str:
    """The layout as a standalone SVG document."""
    col_w = [max((_width(n) for n in plan.nodes if n.column == c), default=MIN_W)
             for c in range(plan.columns)]
    x0 = [MARGIN + sum(col_w[:c]) + COL_GAP * c for c in range(plan.columns)]
    top = MARGIN + 30 + ARC / 2      # room for the title and arcs over the top row
    box: dict[str, Box] = {}
    for n in plan.nodes:
        w = _width(n)
        x = x0[n.column] + (col_w[n.column] - w) / 2
        box[n.name] = (x, top + n.row * (NODE_H + ROW_GAP), w, NODE_H)
    width = x0[-1] + col_w[-1] + MARGIN
    back = [_back_bend(box[lk.source], box[lk.target]) for lk in plan.links
            if plan.node(lk.target).column < plan.node(lk.source).column
            and plan.node(lk.target).row >= plan.node(lk.source).row]
    height = top + plan.rows * (NODE_H + ROW_GAP) + MARGIN + max(back, default=0) / 2
    flows = {(lk.source, lk.target) for lk in plan.links if lk.kind in FLOW_KINDS}
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="{FONT}">',
        "<defs>",
        *(f'<marker id="arrow-{kind}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
          f'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
          f'fill="{colour}"/></marker>' for kind, colour in COLOUR.items()),
        "</defs>",
        '<rect width="100%" height="100%" fill="white"/>',
        f'<text x="{MARGIN}" y="{MARGIN}" font-size="15" font-weight="bold" fill="#202124">'
        f"{escape(plan.title)} ({escape(plan.topology.replace('_', ' '))})</text>",
    ]
    for lk in plan.links:
        # An approval beside a message between the same two agents bends away from it.
        bend = 28 if lk.kind == "approves" and (lk.source, lk.target) in flows else 0
        a, b = plan.node(lk.source), plan.node(lk.target)
        skips = a.row == b.row and b.column - a.column > 1
        parts.append(_edge(box[lk.source], box[lk.target], lk.kind, bend, skips))
    parts += [_node(n, box[n.name]) for n in plan.nodes]
    parts += [_legend(MARGIN, height - MARGIN + 14), "</svg>"]
    return "\n".join(parts) + "\n"


def _node(node: Node, at: Box) -> str:
    x, y, w, h = at
    radius = h / 2 if node.kind in ("io", "approver") else 6
    label = escape(node.name)
    kind = "" if node.kind == "io" else escape(node.kind)
    text_y = y + (h / 2 + 5 if not kind else h / 2 - 2)
    out = [f'<g class="node {node.kind}"><title>{label}</title>',
           f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h}" rx="{radius:.0f}" '
           f'fill="{FILL[node.kind]}" stroke="{STROKE[node.kind]}" stroke-width="1.5"/>',
           f'<text x="{x + w / 2:.1f}" y="{text_y:.1f}" text-anchor="middle" font-size="13" '
           f'fill="#202124">{label}</text>']
    if kind:
        out.append(f'<text x="{x + w / 2:.1f}" y="{y + h / 2 + 13:.1f}" text-anchor="middle" '
                   f'font-size="10" fill="#5f6368">{kind}</text>')
    out.append("</g>")
    return "".join(out)


def _edge(a: Box, b: Box, kind: str, bend: float, skips: bool) -> str:
    """A curved arrow from box `a` to box `b`; `skips` when it passes a column by."""
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    acx, acy, bcx, bcy = ax + aw / 2, ay + ah / 2, bx + bw / 2, by + bh / 2
    if abs(acx - bcx) < 1:                          # same column: bottom to top
        down = bcy > acy
        sx, sy = acx, ay + ah if down else ay
        ex, ey = bcx, by if down else by + bh
    elif acy > bcy + 1:             # up from a lower row (an approver under a pipeline):
        sx, sy, ex, ey = acx, ay, bcx, by + bh      # out of its top, into the bottom
        return _path(kind, sx, sy, ex, sy, ex, ey)
    elif bcx > acx and skips:                       # over other columns: arc over the top
        sx, sy, ex, ey = acx + aw / 4, ay, bcx - bw / 4, by
        return _path(kind, sx, sy, (sx + ex) / 2, min(sy, ey) - ARC, ex, ey)
    elif bcx > acx:                                 # forward: right side to left side
        sx, sy, ex, ey = ax + aw, acy, bx, bcy
    else:                                           # backward: under the nodes
        sx, sy, ex, ey = acx, ay + ah, bcx, by + bh
        bend = _back_bend(a, b)
    mx, my = (sx + ex) / 2, (sy + ey) / 2
    if bend:        # the control point pushed off the straight line, downwards
        dx, dy = ex - sx, ey - sy
        length = max((dx * dx + dy * dy) ** 0.5, 1)
        nx, ny = -dy / length, dx / length
        if ny < 0 or (ny == 0 and nx < 0):
            nx, ny = -nx, -ny
        mx, my = mx + nx * bend, my + ny * bend
    return _path(kind, sx, sy, mx, my, ex, ey)


def _back_bend(a: Box, b: Box) -> float:
    """How far a backward edge bows down: further for a longer one, so they nest."""
    return 30 + 0.2 * abs((a[0] + a[2] / 2) - (b[0] + b[2] / 2))


def _path(kind: str, sx: float, sy: float, mx: float, my: float, ex: float,
          ey: float) -> str:
    style = {"sends": 'stroke-width="1.6"', "broadcasts": 'stroke-width="3"',
             "approves": 'stroke-width="1.3" stroke-dasharray="5 4"',
             "monitors": 'stroke-width="1" stroke-dasharray="2 3"'}[kind]
    return (f'<path class="edge {kind}" d="M{sx:.1f},{sy:.1f} Q{mx:.1f},{my:.1f} '
            f'{ex:.1f},{ey:.1f}" fill="none" stroke="{COLOUR[kind]}" {style} '
            f'marker-end="url(#arrow-{kind})"/>')


def _legend(x: float, y: float) -> str:
    out = []
    for i, (kind, colour) in enumerate(COLOUR.items()):
        lx = x + i * 120
        width = 3 if kind == "broadcasts" else 1.5
        dash = {"approves": ' stroke-dasharray="5 4"',
                "monitors": ' stroke-dasharray="2 3"'}.get(kind, "")
        out.append(f'<line x1="{lx}" y1="{y}" x2="{lx + 30}" y2="{y}" stroke="{colour}" '
                   f'stroke-width="{width}"{dash}/><text x="{lx + 36}" y="{y + 4}" '
                   f'font-size="11" fill="#5f6368">{kind}</text>')
    return "".join(out)


# --- terminal -----------------------------------------------------------------------


def text(plan: Layout) -> list[str]:
    """The layout as plain lines: the columns side by side, then every edge by kind."""
    label = {n.name: n.name if n.kind == "io" else f"{n.name} ({n.kind})" for n in plan.nodes}
    width = [max(len(label[n.name]) for n in plan.nodes if n.column == c)
             for c in range(plan.columns)]
    at = {(n.column, n.row): n.name for n in plan.nodes}
    flows = {(lk.source, lk.target) for lk in plan.links if lk.kind in ("sends", "broadcasts")}
    lines = []
    for row in range(plan.rows):
        line = ""
        for c in range(plan.columns):
            name = at.get((c, row))
            line += label[name].ljust(width[c]) if name else " " * width[c]
            nxt = at.get((c + 1, row))
            if c + 1 < plan.columns:  # an arrow only where this row's two nodes are linked
                line += " ─▶ " if name and nxt and (name, nxt) in flows else "    "
        lines.append(line.rstrip())
    lines.append("")
    arrow = {"sends": "─▶", "broadcasts": "═▶", "approves": "┄▶ approves",
             "monitors": "┄▶ watches"}
    grouped: dict[tuple[str, str], list[str]] = {}
    for lk in plan.links:
        grouped.setdefault((lk.source, lk.kind), []).append(lk.target)
    for (source, kind), targets in grouped.items():
        lines.append(f"{source} {arrow[kind]} {', '.join(targets)}")
    return lines


__all__ = ["Layout", "Link", "Node", "layout", "svg", "text"]
