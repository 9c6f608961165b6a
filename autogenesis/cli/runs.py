"""`autogenesis runs`: the table of logged runs."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path

import typer
from rich import box
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
    show_model = any(r.model for r in runs)
    show_package = any(r.package_path for r in runs)
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    for name in ("id", "status"):
        table.add_column(name, no_wrap=True)
    table.add_column("spec / name", overflow="fold", min_width=12)
    for name in ("started", "took", "approved"):
        table.add_column(name, no_wrap=True)
    if show_model:
        table.add_column("model", overflow="ellipsis", max_width=12, no_wrap=True)
    if show_package:
        table.add_column("package", overflow="fold")
    for r in runs:
        row = [
            str(r.id)[:8], r.status, r.spec_path or r.name,
            f"{r.started_at:%m-%d %H:%M}",
            "-" if r.duration is None else f"{r.duration:.1f}s",
            str(r.approved),
        ]
        if show_model:
            row.append(Path(r.model).name if r.model else "-")  # a .gguf path: its file name
        if show_package:
            row.append(r.package_path or "-")
        table.add_row(*row)
    Console().print(table)
    Console(stderr=True).print("[dim]full ids: autogenesis runs --json[/]")
