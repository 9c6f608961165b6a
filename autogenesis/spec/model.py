"""What the spec reader returns: `ParsedSpec` and its parts."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class StatedAgent:
    name: str
    duties: list[str]
    line: int
    pos: int = 0                  # order of appearance among agents and implied roles
    role: str | None = None       # worker, approver, manager, router, aggregator, monitor
    role_stated: bool = False     # said outright ("(approver)", a role column, YAML)
    phrase: str = ""              # how the spec wrote the name


@dataclass
class ImpliedRole:
    """A duty the spec gives to an agent it does not name ("one helper should ...")."""

    duty: str
    line: int
    pos: int = 0
    role: str | None = None
    group: str | None = None      # the group it belongs to ("three assistants: one ...")


@dataclass
class Group:
    """Agents the spec states together: "three contractor agents (a cleaner, ...)"."""

    word: str                     # the group's noun, singular ("contractor")
    members: list[str]            # agent names
    count: int | None             # the number stated, if any
    line: int


@dataclass
class Loop:
    """An approver that sends a worker's work back: "returns it to the booker"."""

    approver: str
    worker: str                   # an agent name; "*" every worker; "<previous>" the one
    max_rounds: int | None        # before the approver; or the phrase, until resolved
    line: int
    resolved: bool = True         # False while `worker` is still the spec's phrase
    counts: str = "rounds"        # what max_rounds counts: "rounds" (attempts in all), or
    #                               "returns" ("sends it back at most twice": 3 attempts)


@dataclass
class ParsedSpec:
    title: str | None = None
    title_line: int | None = None
    goal: str | None = None
    agents: list[StatedAgent] = field(default_factory=list)
    implied: list[ImpliedRole] = field(default_factory=list)
    groups: list[Group] = field(default_factory=list)
    flow: list[tuple[str, str]] = field(default_factory=list)
    order: list[str] = field(default_factory=list)
    loops: list[Loop] = field(default_factory=list)
    every_step: list[str] = field(default_factory=list)   # approvers of every step
    examples: list[tuple[str, str]] = field(default_factory=list)
    constraints: list[str] = field(default_factory=list)
    topology_hint: str | None = None
    topology_reason: str = ""
    answer_words: int | None = None
    step_seconds: float | None = None
    notes: list[str] = field(default_factory=list)   # what the reader could not place
    seen: int = 0

    def next_pos(self) -> int:
        self.seen += 1
        return self.seen

    def agent(self, name: str) -> StatedAgent | None:
        return next((a for a in self.agents if a.name == name), None)

    def group(self, word: str) -> Group | None:
        return next((g for g in self.groups if g.word == word), None)

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)
