"""Where a build is and what it reports: the records `pipeline.Build` keeps as it walks
`STAGE_ORDER` (each stage's result, the walk's state, a shortfall's best version) and
hands back (`BuildResult`, `PlanResult`, `Progress`). No I/O here: the pipeline talks to
the bus and the log; this module only holds and reads its state."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

from autogenesis.artefacts import Artefact, Package, TestReport, Verdict

STAGE_ORDER = ("understanding", "design", "prompt_design", "generator", "testing", "tuning",
               "documentation", "deployment", "feedback")


@dataclass(frozen=True)
class Progress:
    """One line of news from the build, for the CLI's progress display."""

    stage: str
    round: int
    status: str          # working, judging, approved, rejected, loop, failed, iteration
    elapsed: float
    detail: str = ""
    iteration: int = 1


@dataclass
class StageResult:
    stage: str
    artefact: Artefact
    verdict: Verdict
    rounds: int
    artefact_id: UUID       # the last version's row
    message_id: UUID        # the reply that carried it
    seconds: float = 0.0
    iteration: int = 1
    kept: bool = False
    """Rejected for a shortfall (`Verdict.shortfall`) and kept as the best version after
    rework did not make it up: the build went on with it."""

    @property
    def approved(self) -> bool:
        return self.verdict.approved

    @property
    def stands(self) -> bool:
        """Approved, or kept with its shortfall: the version the later stages used."""
        return self.verdict.approved or self.kept


@dataclass
class BuildResult:
    run_id: UUID
    package_path: Path
    package: Package
    stages: list[StageResult] = field(default_factory=list)
    seconds: float = 0.0
    iterations: int = 1
    calls: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    abandoned: list[StageResult] = field(default_factory=list)
    """Stage results set aside: a later iteration that failed (the package is the
    iteration before's), or rework after a shortfall that did no better than the version
    kept."""

    def artefact(self, kind: type[Artefact]) -> Any:
        """The artefact of `kind` (e.g. `TestReport`) the build went on with."""
        return next(s.artefact for s in reversed(self.stages)
                    if s.stands and isinstance(s.artefact, kind))

    @property
    def shortfalls(self) -> list[StageResult]:
        return [s for s in self.stages if s.kept]

    def seconds_by_stage(self) -> dict[str, float]:
        split: Counter[str] = Counter()
        for s in self.stages:
            split[s.stage] += s.seconds
        return {stage: round(split[stage], 1) for stage in STAGE_ORDER if stage in split}


@dataclass
class Best:
    """A snapshot of the walk when a stage fell short: what the build goes on with if
    rework does no better."""

    score: int
    inputs: dict[str, Any]
    origin: dict[str, tuple[UUID, UUID]]
    count: int           # results up to and including the stage's own
    stage: str


@dataclass
class Walk:
    """Where a build is in `STAGE_ORDER`: the latest approved artefacts (`inputs`), each
    package file's origin, the results so far, feedback waiting for a stage's next run,
    each stage's last digest, rejections that sent work elsewhere, and the iteration."""

    inputs: dict[str, Any]
    results: list[StageResult] = field(default_factory=list)
    origin: dict[str, tuple[UUID, UUID]] = field(default_factory=dict)
    pending: dict[str, list[str]] = field(default_factory=dict)
    previous: dict[str, str] = field(default_factory=dict)
    attempts: Counter[str] = field(default_factory=Counter)
    iteration: int = 1
    best: Best | None = None
    set_aside: list[StageResult] = field(default_factory=list)
    earlier: int | None = None   # checks the previous iteration's system passed

    def score(self) -> int | None:
        """Checks the standing system passes (None: none tested yet)."""
        report = next((r.artefact for r in reversed(self.results)
                       if r.stands and isinstance(r.artefact, TestReport)), None)
        return report.passes("system")[0] if report is not None else None

    def earlier_as_good(self) -> bool:
        """A later iteration fell short: did the one before pass as many checks as its
        best version? (Then that iteration stands, not this one.)"""
        return self.best is not None and self.earlier is not None and \
            self.earlier >= self.best.score

    def offer(self, result: StageResult) -> None:
        """Snapshot the walk at `result`, a shortfall, if it is the best so far (the
        system passes more checks; the earlier on a tie)."""
        report = result.artefact
        score = report.passes("system")[0] if isinstance(report, TestReport) else 0
        if self.best is None or score > self.best.score:
            self.best = Best(score, dict(self.inputs), dict(self.origin), len(self.results),
                             result.stage)


@dataclass
class PlanResult:
    """How a spec was read: stage 1's `Requirements` and stage 2's `Blueprint`, each with
    the approver's verdict (`Build.plan`)."""

    run_id: UUID
    understanding: StageResult
    design: StageResult

    @property
    def approved(self) -> bool:
        return self.understanding.approved and self.design.approved
