"""Typed records of the log, one class per table.

A record knows its table and how to become a row in that table's column
order (`sql.COLUMNS`). JSON columns travel as canonical JSON text. Bus
messages are records too (`autogenesis.bus.message.Message` has the same
two members), so the writer treats every kind of row alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal, Protocol
from uuid import UUID, uuid4

from autogenesis.canonical import canonical_json

RunStatus = Literal["running", "succeeded", "failed", "interrupted"]
RunKind = Literal["build", "system", "demo", "test", "bench", "generate", "replay", "plan"]
EventKind = Literal["loop", "deadline", "retry", "error", "spool", "dead_letter", "interrupt",
                    "shortfall"]


class Record(Protocol):
    """Anything the log writer can write: a table name and a row for it."""

    @property
    def table(self) -> str: ...

    def row(self) -> tuple[Any, ...]: ...


def now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Run:
    kind: RunKind
    name: str
    status: RunStatus = "running"
    spec_path: str | None = None
    spec_sha256: str | None = None
    model: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    package_path: str | None = None
    error: str | None = None
    id: UUID = field(default_factory=uuid4)
    started_at: datetime = field(default_factory=now)
    finished_at: datetime | None = None
    table: ClassVar[str] = "runs"

    def finished(self, status: RunStatus, *, error: str | None = None,
                 package_path: str | None = None) -> Run:
        """This run as it ends, at this moment."""
        return replace(self, status=status, error=error, finished_at=now(),
                       package_path=package_path or self.package_path)

    def row(self) -> tuple[Any, ...]:
        return (
            self.id, self.kind, self.name, self.spec_path, self.spec_sha256, self.status,
            self.model, canonical_json(self.config), self.package_path, self.error, self.started_at,
            self.finished_at,
        )


@dataclass(frozen=True, slots=True)
class Event:
    kind: EventKind
    run_id: UUID | None
    agent: str | None = None
    message_id: UUID | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    id: UUID = field(default_factory=uuid4)
    created_at: datetime = field(default_factory=now)
    table: ClassVar[str] = "events"

    def row(self) -> tuple[Any, ...]:
        return (
            self.id, self.run_id, self.kind, self.agent, self.message_id,
            canonical_json(self.detail), self.created_at,
        )


@dataclass(frozen=True, slots=True)
class Completion:
    """One model call: enough to replay it without the model."""

    run_id: UUID
    agent: str
    call_index: int
    backend: str
    model_id: str
    settings: dict[str, Any]
    prompt: list[dict[str, Any]]
    output: str
    tokens_in: int
    tokens_out: int
    latency_ms: float
    message_id: UUID | None = None
    model_revision: str | None = None
    seed: int | None = None
    json_schema: dict[str, Any] | None = None
    parsed: Any = None
    batch_size: int = 1
    backend_version: str | None = None
    dtype: str | None = None
    device: str | None = None
    finish_reason: str | None = None
    prompt_sha256: str | None = None
    id: UUID = field(default_factory=uuid4)
    created_at: datetime = field(default_factory=now)
    table: ClassVar[str] = "completions"

    def row(self) -> tuple[Any, ...]:
        return (
            self.id, self.run_id, self.message_id, self.agent, self.call_index, self.backend,
            self.model_id, self.model_revision, canonical_json(self.settings), self.seed,
            canonical_json(self.prompt),
            None if self.json_schema is None else canonical_json(self.json_schema),
            self.output, None if self.parsed is None else canonical_json(self.parsed),
            self.tokens_in, self.tokens_out, self.latency_ms, self.batch_size, self.created_at,
            self.backend_version, self.dtype, self.device, self.finish_reason, self.prompt_sha256,
        )


@dataclass(frozen=True, slots=True)
class Artefact:
    run_id: UUID
    stage: str
    kind: str
    version: int
    body: dict[str, Any]
    sha256: str
    message_id: UUID | None = None
    id: UUID = field(default_factory=uuid4)
    created_at: datetime = field(default_factory=now)
    table: ClassVar[str] = "artefacts"

    def row(self) -> tuple[Any, ...]:
        return (
            self.id, self.run_id, self.stage, self.kind, self.version, canonical_json(self.body),
            self.sha256, self.message_id, self.created_at,
        )


@dataclass(frozen=True, slots=True)
class Verdict:
    run_id: UUID
    artefact_id: UUID
    stage: str
    approved: bool
    reasons: list[str]
    checks: list[dict[str, Any]]
    message_id: UUID | None = None
    id: UUID = field(default_factory=uuid4)
    created_at: datetime = field(default_factory=now)
    table: ClassVar[str] = "verdicts"

    def row(self) -> tuple[Any, ...]:
        return (
            self.id, self.run_id, self.artefact_id, self.stage, self.approved,
            canonical_json(self.reasons), canonical_json(self.checks), self.message_id,
            self.created_at,
        )


@dataclass(frozen=True, slots=True)
class GeneratedFile:
    run_id: UUID
    path: str
    sha256: str
    size: int
    artefact_id: UUID | None = None
    message_id: UUID | None = None
    id: UUID = field(default_factory=uuid4)
    created_at: datetime = field(default_factory=now)
    table: ClassVar[str] = "files"

    def row(self) -> tuple[Any, ...]:
        return (
            self.id, self.run_id, self.path, self.sha256, self.size, self.artefact_id,
            self.message_id, self.created_at,
        )


@dataclass(frozen=True, slots=True)
class Observation:
    """Something a build observed outside its own code (see `autogenesis.build.observe`)."""

    run_id: UUID
    agent: str
    call_index: int
    kind: str
    request: dict[str, Any]
    result: dict[str, Any]
    message_id: UUID | None = None
    id: UUID = field(default_factory=uuid4)
    created_at: datetime = field(default_factory=now)
    table: ClassVar[str] = "observations"

    def row(self) -> tuple[Any, ...]:
        return (
            self.id, self.run_id, self.agent, self.call_index, self.kind,
            canonical_json(self.request), canonical_json(self.result), self.message_id,
            self.created_at,
        )


@dataclass(frozen=True, slots=True)
class RawRow:
    """A row already in text form (read from a trace file), for `Store.ingest`."""

    table: str
    values: tuple[str | None, ...]

    def row(self) -> tuple[Any, ...]:
        return self.values
