"""What the agents of a generated system say to each other: one type per request and reply.

A system gets a `Task` from its user and answers with a `SystemAnswer`. Inside it:

- `Task` -> `Answer`: a worker does its duty on `input`, given what earlier agents
  said (`context`) and, on a rework, its approver's `feedback`;
- `Review` -> `Judgement`: an approver judges a worker's answer;
- `Choose` -> `Choice`: a router (or a voter) picks one of `options`;
- `Bid` -> `Score`: a contract-net member says how well the task fits it (0-10), or,
  with a `quantity` ("the number of hours it needs"), that number.

A field with a default is optional on the wire: absent unless given (`Body.dump`), so
the bodies are those logged runs hold.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field
from typing_extensions import TypedDict

from autogenesis.bus.body import Body


class Said(TypedDict):
    """One earlier agent's answer, as a later one is shown it."""

    agent: str
    answer: str


class Task(Body):
    kind = "task"
    input: str
    context: list[Said] = Field(default_factory=list)
    feedback: str | None = None
    round: int = 1


class Answer(Body):
    answer: str
    facts: dict[str, Any] | None = None
    """What the agent's rules computed (and the typed fields it filled in)."""
    by: str | None = None
    """"rule" when the rules alone gave the answer: no review can change it."""
    code: str | None = None
    parses: bool | None = None


class Review(Body):
    kind = "review"
    input: str
    worker: str
    answer: str
    round: int = 1


class Judgement(Body):
    approved: bool
    feedback: str
    by: str
    """"rule" (an empty or too long answer; a judge that could not answer) or "model"."""
    worker: str
    round: int
    """Whom and which round it judged: two identical verdicts in one conversation are
    then not a loop to the bus."""


class Choose(Body):
    kind = "choose"
    input: str
    options: dict[str, str]
    """name -> what that one does."""


class Choice(Body):
    choice: str


class Bid(Body):
    kind = "bid"
    input: str
    quantity: str | None = None


class Score(Body):
    score: int | float
    """0-10, or the quantity asked for; NaN when the model gave no number."""


class SystemAnswer(Body):
    answer: str
    exit: str
    steps: list[dict[str, Any]]
    approved: bool
    facts: dict[str, Any] | None = None
    notes: list[str] | None = None
    """Steps whose work was not approved: said beside the answer, not in it."""
    skipped: dict[str, str] | None = None
    """Members left out (failed or late), by name."""
    code: dict[str, Any] | None = None
    """The code, its tests and their last run, for a system that writes code."""
    monitors: dict[str, str] | None = None
