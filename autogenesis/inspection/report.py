"""What a build made and why, read back from its log: `autogenesis inspect`.

Everything comes from the build's rows in PostgreSQL (runs, artefacts,
verdicts, messages, files), not from the package folder: the folder only
tells us which build made it, and whether its files are still the ones
that build wrote. An `Inspection` holds

- the system: its agents (kind, role, duties, the chosen prompt in short) and
  its topology (the blueprint, drawn by `autogenesis.inspection.diagram`),
- the verdict history per stage (every round, approved or not, and why),
- what was measured: the package's tests and examples (TestReport), tuning
  before/after (TuningReport), the wheel and its install (Deployment),
- provenance: for each generated file, the artefact (stage, kind, version)
  and the message (and so the agent) that produced its final content.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from autogenesis.artefacts import (
    Blueprint,
    Deployment,
    PromptSet,
    TestReport,
    TuningReport,
)
from autogenesis.build.codegen import MANIFEST
from autogenesis.canonical import file_sha256
from autogenesis.errors import UserError

PROMPT_SUMMARY_CHARS = 120
FOLDER_SKIP = ("__pycache__", ".pytest_cache", "build")


@dataclass(frozen=True)
class AgentView:
    name: str
    kind: str
    role: str
    duties: list[str]
    stated: bool            # named in the spec (False: implied, named by autogenesis)
    prompt: str             # the chosen system prompt, first sentence
    variant: str            # which prompt variant was chosen
    score: float | None


@dataclass(frozen=True)
class Round:
    """One verdict: the n-th time the approver judged this stage's work."""

    round: int
    kind: str               # the artefact's kind
    version: int            # the artefact's version
    approved: bool
    reasons: list[str]
    failed: list[str]       # checks that did not pass ("name: detail")
    at_s: float             # seconds after the run started


@dataclass(frozen=True)
class Origin:
    """Where a generated file's final content came from."""

    path: str               # relative to the package folder
    sha256: str
    size: int
    stage: str | None       # the stage whose artefact carried this content
    kind: str | None
    version: int | None
    agent: str | None       # who sent the message that carried the artefact
    message_id: str | None
    on_disk: str | None = None   # same / changed / missing (None: no folder inspected)


@dataclass
class Inspection:
    run: dict[str, Any]
    agents: list[AgentView] = field(default_factory=list)
    blueprint: Blueprint | None = None
    verdicts: dict[str, list[Round]] = field(default_factory=dict)
    tests: TestReport | None = None
    tuning: TuningReport | None = None
    deployment: Deployment | None = None
    files: list[Origin] = field(default_factory=list)
    folder: str | None = None   # the package folder inspected, when one was given
    extra_files: list[str] = field(default_factory=list)  # in the folder, not logged

    def as_json(self) -> dict[str, Any]:
        return {
            "run": {k: (v.isoformat() if isinstance(v, datetime) else
                        str(v) if isinstance(v, UUID) else v) for k, v in self.run.items()},
            "folder": self.folder,
            "system": None if self.blueprint is None else {
                "slug": self.blueprint.slug, "title": self.blueprint.title,
                "goal": self.blueprint.goal, "topology": self.blueprint.topology,
                "entry": self.blueprint.entry, "exit": self.blueprint.exit,
                "edges": [e.model_dump() for e in self.blueprint.edges],
                "mermaid": self.blueprint.diagram,
            },
            "agents": [asdict(a) for a in self.agents],
            "verdicts": {stage: [asdict(r) for r in rounds]
                         for stage, rounds in self.verdicts.items()},
            "tests": _dump(self.tests),
            "tuning": _dump(self.tuning),
            "deployment": _dump(self.deployment),
            "files": [asdict(f) for f in self.files],
            "extra_files": self.extra_files,
        }


def _dump(artefact: Any) -> dict[str, Any] | None:
    return None if artefact is None else artefact.model_dump(mode="json")


def inspect_run(store: Any, run_id: UUID, folder: Path | None = None) -> Inspection:
    """Read build `run_id` back from the log; with `folder`, compare its files too."""
    run = store.run(run_id)
    if run is None:
        raise UserError(f"no run {run_id} in the log (autogenesis runs lists them)")
    if run["kind"] != "build":
        parent = (run.get("config") or {}).get("parent_run")
        if parent:
            raise UserError(f"run {run_id} is a {run['kind']} run of a generated system; "
                            f"its build is {parent} (inspect that, or `autogenesis replay "
                            f"{str(run_id)[:8]}` for what it did)")
        raise UserError(f"run {run_id} is a {run['kind']} run, not a build: "
                        f"`autogenesis replay {str(run_id)[:8]}` shows what it did")
    started: datetime = run["started_at"]
    artefacts = store.artefacts(run_id)
    by_id = {row["id"]: row for row in artefacts}
    verdicts = store.verdicts(run_id)
    approved = {row["artefact_id"] for row in verdicts if row["approved"]}
    for event in store.events(run_id, "shortfall"):   # what the build went on with
        approved.add(UUID(event["detail"]["kept_artefact"]))
        approved -= {UUID(i) for i in event["detail"].get("set_aside", ())}
    senders = {row["id"]: row["sender"] for row in store.messages(run_id)}

    def final(kind: type) -> Any:
        """The last approved (or kept) version of an artefact kind, not one set aside after
        a shortfall (else the last logged)."""
        rows = [r for r in artefacts if r["kind"] == kind.__name__]
        chosen = [r for r in rows if r["id"] in approved] or rows
        return kind.model_validate(chosen[-1]["body"]) if chosen else None

    result = Inspection(run=_run_fields(run))
    result.blueprint = final(Blueprint)
    prompts: PromptSet | None = final(PromptSet)
    result.tests, result.tuning = final(TestReport), final(TuningReport)
    result.deployment = final(Deployment)
    if result.blueprint is not None:
        result.agents = [_agent(a, prompts) for a in result.blueprint.agents]
    for row in verdicts:
        artefact = by_id.get(row["artefact_id"], {})
        rounds = result.verdicts.setdefault(row["stage"], [])
        rounds.append(Round(
            round=len(rounds) + 1, kind=artefact.get("kind", "?"),
            version=artefact.get("version", 0), approved=row["approved"],
            reasons=list(row["reasons"] or []),
            failed=[f"{c['name']}: {c.get('detail', '')}".rstrip(": ")
                    for c in row["checks"] or [] if not c.get("passed")],
            at_s=round((row["created_at"] - started).total_seconds(), 2)))
    result.files = _origins(store.files(run_id), by_id, senders)
    if folder is not None:
        _compare(result, folder)
    return result


def _run_fields(run: dict[str, Any]) -> dict[str, Any]:
    keep = ("id", "name", "status", "spec_path", "spec_sha256", "model", "package_path",
            "error", "started_at", "finished_at")
    out = {k: run.get(k) for k in keep}
    if run.get("finished_at") is not None:
        out["seconds"] = round((run["finished_at"] - run["started_at"]).total_seconds(), 1)
    return out


def _agent(agent: Any, prompts: PromptSet | None) -> AgentView:
    chosen = prompts.prompt(agent.name) if prompts is not None else None
    return AgentView(name=agent.name, kind=agent.kind, role=agent.role,
                     duties=list(agent.duties), stated=agent.stated,
                     prompt=summary(chosen.system) if chosen else "",
                     variant=chosen.variant if chosen else "",
                     score=chosen.score if chosen else None)


def summary(prompt: str, limit: int = PROMPT_SUMMARY_CHARS) -> str:
    """A prompt's first sentence, cut to `limit` characters."""
    text = " ".join(prompt.split())
    end = next((i + 1 for i, c in enumerate(text) if c in ".!?" and
                (i + 1 == len(text) or text[i + 1] == " ")), len(text))
    first = text[:end]
    return first if len(first) <= limit else first[:limit - 1].rstrip() + "…"


def _origins(files: list[dict[str, Any]], artefacts: dict[Any, dict[str, Any]],
             senders: dict[Any, str]) -> list[Origin]:
    """The files of the run's last written package, each with the artefact that made it."""
    latest: dict[str, dict[str, Any]] = {}
    for row in files:       # a later iteration's package replaces the earlier one's rows
        latest[row["path"]] = row
    out = []
    for path in sorted(latest):
        row = latest[path]
        artefact = artefacts.get(row["artefact_id"], {})
        relative = path.split("/", 1)[1] if "/" in path else path
        out.append(Origin(
            path=relative, sha256=row["sha256"], size=row["size"],
            stage=artefact.get("stage"), kind=artefact.get("kind"),
            version=artefact.get("version"), agent=senders.get(row["message_id"]),
            message_id=str(row["message_id"]) if row["message_id"] else None))
    return out


def _compare(result: Inspection, folder: Path) -> None:
    """Mark each logged file same/changed/missing in `folder`; list files never logged."""
    result.folder = str(folder)
    logged = set()
    for i, origin in enumerate(result.files):
        logged.add(origin.path)
        path = folder / origin.path
        state = ("missing" if not path.is_file() else
                 "same" if file_sha256(path) == origin.sha256 else "changed")
        result.files[i] = replace(origin, on_disk=state)
    result.extra_files = sorted(
        str(p.relative_to(folder)) for p in _package_files(folder)
        if str(p.relative_to(folder)) not in logged)


def _package_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()
            and not any(part in FOLDER_SKIP or part.endswith(".egg-info")
                        for part in p.relative_to(folder).parts[:-1])
            and p.suffix != ".pyc" and p.name != MANIFEST]   # the build's own record


def run_of_folder(store: Any, folder: Path) -> UUID:
    """The build that wrote package folder `folder`: the run whose logged files match most
    of the folder's files by path and content (the latest such build on a tie)."""
    if not folder.is_dir():
        raise UserError(f"{folder} is not a folder")
    candidates = _package_files(folder)
    if not (folder / "pyproject.toml").is_file() or not candidates:
        raise UserError(f"{folder} does not look like a generated package (no pyproject.toml)")
    slug = folder.resolve().name
    config = [p for p in folder.glob("*/config.json") if (p.parent / "__init__.py").is_file()]
    if config:      # the module's folder is named after the slug the build logged
        slug = config[0].parent.name
    pairs = [(f"{slug}/{p.relative_to(folder)}", file_sha256(p)) for p in candidates]
    found = store.runs_with_files([path for path, _ in pairs], [sha for _, sha in pairs])
    if not found:
        raise UserError(f"no logged build wrote the files in {folder} (was it built with "
                        "another database? AUTOGENESIS_DATABASE_URL selects it)")
    return found[0]


__all__ = ["AgentView", "Inspection", "Origin", "Round", "inspect_run", "run_of_folder",
           "summary"]
