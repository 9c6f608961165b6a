"""A logged build read back whole: what a replay is held to."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

from autogenesis.build.messages import opened_stage
from autogenesis.build.orchestrator import BuildOptions
from autogenesis.build.stages import STAGES
from autogenesis.errors import UserError

UNFINISHED = ("running", "interrupted")



@dataclass
class LoggedRun:
    """Everything one build logged, read once: what a replay is held to."""

    run: dict[str, Any]
    tables: dict[str, list[dict[str, Any]]]
    children: list[dict[str, Any]]     # the generated system's runs, in start order

    @classmethod
    def load(cls, store: Any, run_id: UUID) -> LoggedRun:
        run = store.run(run_id)
        if run is None:
            raise UserError(f"no run {run_id} in the log (autogenesis runs lists them)")
        if run["kind"] != "build":
            raise UserError(f"run {run_id} is a {run['kind']} run; only build runs can be "
                            "re-executed or resumed (replay shows any run's timeline)")
        return cls(run, {
            "messages": store.messages(run_id), "completions": store.completions(run_id),
            "artefacts": store.artefacts(run_id), "verdicts": store.verdicts(run_id),
            "events": store.events(run_id), "files": store.files(run_id),
            "observations": store.observations(run_id),
        }, store.children(run_id))

    @property
    def id(self) -> UUID:
        run_id: UUID = self.run["id"]
        return run_id

    def spec(self) -> str:
        """The spec text, from the understanding stage's first request."""
        for m in self.tables["messages"]:
            if opened_stage(m) == STAGES[0].name:
                return str(m["body"]["inputs"]["spec"])
        raise UserError(f"run {self.id} logged no request to the understanding stage: "
                        "there is nothing to replay")

    def options(self, out_dir: Path | None = None) -> BuildOptions:
        """The build's options as logged (the package goes to `out_dir` when given)."""
        config = self.run["config"]
        return BuildOptions(
            out_dir=out_dir or Path(config.get("out_dir", "generated")),
            max_rounds=config.get("max_rounds", 3),
            max_iterations=config.get("max_iterations", 2),
            budget_s=config.get("budget_s", 300.0),
            stage_timeout=config.get("stage_timeout", 600.0),
            model_blocking=config.get("model_blocking", False),
            model_reads=config.get("model_reads", False),
            held_out=tuple(config.get("held_out", ())),
            concurrency=config.get("concurrency", 1),
            serve_model=config.get("serve_model", False),
            model=config.get("sandbox_model"), backend=config.get("sandbox_backend"))


