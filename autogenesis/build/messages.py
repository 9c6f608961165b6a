"""What the build's coordinator and agents say to each other: one type per request and
reply.

- `Produce` -> `Produced`: a stage agent makes its artefact from the stage's `inputs`;
  on a rework the approver's reasons come in `feedback`, and with `perturb` the agent
  is asked to change what it gave (it gave the rejected artefact again);
- `Judge` -> `Judged`: the approver judges a stage's artefact;
- `ImprovePrompt` -> `Proposal`: feedback asks prompt design for a better prompt for a
  stage that kept being rejected (proposed, never applied).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from autogenesis.artefacts import Verdict
from autogenesis.bus.body import Body


class Produce(Body):
    kind = "produce"
    inputs: dict[str, Any]
    round: int
    feedback: list[str]
    perturb: bool
    concurrency: int = 1
    """How many model calls the agent may have in flight at once (given only when > 1,
    so that a one-at-a-time build's requests read as they did before it existed)."""


class Produced(Body):
    artefact: dict[str, Any]
    """The stage's artefact as JSON (its type is the stage's `artefact`)."""
    round: int


class Judge(Body):
    kind = "judge"
    stage: str
    artefact: dict[str, Any]
    inputs: dict[str, Any]


class Judged(Body):
    verdict: Verdict
    artefact_sha256: str
    """Names what was judged: two rejections with the same reasons are two verdicts on
    two artefacts, not a loop."""


class ImprovePrompt(Body):
    kind = "improve_prompt"
    stage: str
    reasons: list[str]


class Proposal(Body):
    proposal: str


COORDINATOR = "pipeline"
"""The bus address of the build's coordinator (logged runs hold this name)."""


def opened_stage(row: Mapping[str, Any]) -> str | None:
    """The stage whose conversation a logged message opens: the coordinator's first
    `Produce` to a stage agent; None for any other message."""
    if row["kind"] == Produce.kind and row["hop"] == 0 and row["sender"] == COORDINATOR:
        return str(row["recipient"])
    return None
