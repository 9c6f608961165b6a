"""`autogenesis runs`: the table of logged runs."""

from __future__ import annotations

import json
from enum import StrEnum

import typer
from rich.console import Console
from rich.table import Table

from autogenesis.store import Store


class Status(StrEnum):
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    interrupted = "interrupted"


def list_runs(
    status: Status | None = typer.Option(None, help="Only runs with this status."),
    spec: str | None = typer.Option(None, help="Only runs whose spec path contains this text."),
    limit: int = typer.Option(50, min=1, help="At most this many runs, newest first."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for tools."),
) -> None:
    """List logged runs, newest first."""
    with Store.open() as store:
        runs = store.runs(status=status.value if status else None, spec=spec, limit=limit)
    if as_json:
        rows = [
            {
                "id": str(r.id), "kind": r.kind, "name": r.name, "spec": r.spec_path,
                "status": r.status, "started": r.started_at.isoformat(),
                "duration_s": r.duration, "model": r.model, "messages": r.messages,
                "stages_approved": r.approved, "package": r.package_path, "error": r.error,
            }
            for r in runs
        ]
        typer.echo(json.dumps(rows, indent=2))
        return
    if not runs:
        Console().print("no runs logged yet")
        return
    table = Table("id", "kind", "spec / name", "status", "started", "duration", "model",
                  "messages", "approved", "package")
    for r in runs:
        table.add_row(
            str(r.id)[:8], r.kind, r.spec_path or r.name, r.status,
            f"{r.started_at:%Y-%m-%d %H:%M:%S}",
            "-" if r.duration is None else f"{r.duration:.1f}s",
            r.model or "-", str(r.messages), str(r.approved), r.package_path or "-",
        )
    Console().print(table)
