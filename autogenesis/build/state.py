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
from autogenesis.build.stages import STAGE_ORDER


@dataclass(frozen=True)
class Progress:
    """One line of news from the build, for the CLI's progress display."""

    stage: str
    round: int
    status: str          # working, judging, approved, rejected, loop, failed, iteration
    elapsed: float
    detail: str = ""
    iteration: int = 1


@dataclass(frozen=True)
class Attempt:
    """How a stage is asked to work: the reasons its last artefact was rejected (or the
    changes feedback asked for), that artefact's digest (answering with it again is a
    loop), the build's iteration and, for `plan`, how many rounds to make whatever the
    verdicts (None: until approved, at most the build's `max_rounds`)."""

    feedback: list[str] = field(default_factory=list)
    previous: str | None = None
    iteration: int = 1
    rounds: int | None = None


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
        split: dict[str, float] = {}
        for s in self.stages:
            split[s.stage] = split.get(s.stage, 0.0) + s.seconds
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


@dataclass(frozen=True)
class Checkpoint:
    """The walk as the last complete iteration left it: what stands if a later one fails."""

    inputs: dict[str, Any]
    origin: dict[str, tuple[UUID, UUID]]
    count: int           # results of the iterations up to it


@dataclass
class Walk:
    """Where a build is in its stages: the latest approved artefacts (`inputs`), each
    package file's origin, the results so far, feedback waiting for a stage's next run,
    each stage's last digest, rejections that sent work elsewhere, the iteration, a
    shortfall's best version and the last complete iteration's checkpoint."""

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
    checkpoint: Checkpoint | None = None

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

    def next_iteration(self, stage: str, requests: list[str]) -> None:
        """Feedback asked for `requests` at `stage`: this iteration stands if the next
        fails, and the next starts there with them."""
        self.checkpoint = Checkpoint(dict(self.inputs), dict(self.origin), len(self.results))
        self.earlier = self.score()
        self.attempts.clear()
        self.iteration += 1
        self.inputs["iteration"] = self.iteration
        self.pending[stage] = requests

    def back_to_checkpoint(self) -> None:
        """A later iteration failed: the one before stands, nothing lost (the failed one's
        results are set aside, logged as they are)."""
        checkpoint = self.checkpoint
        assert checkpoint is not None
        self.inputs, self.origin, self.best = checkpoint.inputs, checkpoint.origin, None
        self.set_aside += self.results[checkpoint.count:]
        del self.results[checkpoint.count:]
        self.iteration -= 1

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
