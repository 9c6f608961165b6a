"""`autogenesis runs`: the table of logged runs; `autogenesis runs prune`: retention."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from enum import StrEnum
from pathlib import Path

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from autogenesis.errors import UserError

app = typer.Typer(help="List logged runs, newest first; `runs prune` deletes old ones.",
                  no_args_is_help=False, add_completion=False, rich_markup_mode=None)
UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class Status(StrEnum):
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    interrupted = "interrupted"


RUN_KINDS = ("build", "system", "demo", "test", "bench", "generate", "replay", "plan")
"""`autogenesis.store.records.RunKind`, copied so that the CLI starts without importing the
store (and psycopg); tests/test_cli.py checks that they agree."""
Kind = StrEnum("Kind", {k: k for k in RUN_KINDS})  # type: ignore[misc]


@app.callback(invoke_without_command=True)
def list_runs(
    ctx: typer.Context,
    status: Status | None = typer.Option(None, help="Only runs with this status."),
    spec: str | None = typer.Option(None, help="Only runs whose spec path contains this text."),
    kind: Kind | None = typer.Option(None, help="Only runs of this kind (build: the builds; "
                                     "system: the generated systems' runs)."),
    limit: int = typer.Option(50, min=1, help="At most this many runs, newest first."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for tools."),
) -> None:
    """List logged runs, newest first: id, status, spec, start, duration, stages approved,
    model and package. `autogenesis runs prune --help` for retention."""
    if ctx.invoked_subcommand is not None:
        return
    from autogenesis.store import Store

    with Store.open() as store:
        runs = store.runs(status=status.value if status else None, spec=spec,
                          kind=kind.value if kind else None, limit=limit)
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
    console = Console()
    # the package path is long: shown on a wide terminal, always in --json
    show_package = any(r.package_path for r in runs) and console.width >= 120
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    for name in ("id", "status"):
        table.add_column(name, no_wrap=True)
    table.add_column("spec / name", overflow="fold", min_width=14)
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
    console.print(table)
    Console(stderr=True).print("[dim]full ids and packages: autogenesis runs --json[/]")


def parse_age(text: str) -> timedelta:
    """`30d`, `12h`, `90m`, `2w` as a timedelta."""
    match = re.fullmatch(r"\s*(\d+)\s*([mhdw])\s*", text.lower())
    if not match:
        raise UserError(f"--older-than {text!r}: give a number and a unit, e.g. 30d, 12h, "
                        "90m or 2w")
    return timedelta(**{UNITS[match.group(2)]: int(match.group(1))})


@app.command("prune")
def prune(
    older_than: str = typer.Option(..., "--older-than",
                                   help="Age of the runs to delete: 30d, 12h, 90m, 2w."),
    keep_failed: bool = typer.Option(False, "--keep-failed",
                                     help="Keep failed runs whatever their age."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only say what would go."),
) -> None:
    """Delete finished runs started longer ago than --older-than, with all their messages,
    model calls, artefacts, verdicts, events, files and observations and the runs of
    generated systems they started, in one transaction. Runs still marked running are
    kept (they may be live, or waiting for `autogenesis resume`)."""
    from autogenesis.store import Store
    from autogenesis.store.records import now

    cutoff = now() - parse_age(older_than)
    with Store.open() as store:
        deleted = store.prune(cutoff, keep_failed=keep_failed, dry_run=dry_run)
    rows = ", ".join(f"{n} {table}" for table, n in deleted.items() if table != "runs" and n)
    verb = "would delete" if dry_run else "deleted"
    typer.echo(f"{verb} {deleted['runs']} run(s) started before {cutoff:%Y-%m-%d %H:%M} UTC"
               + (f" ({rows})" if rows else ""))


@app.command("export")
def export(
    run: str = typer.Argument(..., help="The run id (or its first 8 characters)."),
    out: Path = typer.Option(..., "--out", "-o", help="The file to write (.gz: compressed)."),
) -> None:
    """Write a logged run, the runs it started and everything they logged (messages, model
    calls, artefacts, verdicts, events, files, observations) to a file that `autogenesis
    runs import` reads into another database, where it can be inspected and replayed."""
    from autogenesis.cli.replay import find_run
    from autogenesis.store import Store
    from autogenesis.store.export import write_rows

    with Store.open() as store:
        rows = store.export_run(find_run(store, run))
    write_rows(out, rows)
    typer.echo(f"wrote {len(rows)} rows to {out}")


@app.command("import")
def import_(
    path: Path = typer.Argument(..., help="A file written by `autogenesis runs export`."),
) -> None:
    """Read an exported run into the configured database. Rows already there are kept as
    they are, so importing twice changes nothing."""
    from autogenesis.store import Store
    from autogenesis.store.export import read_rows

    rows = read_rows(path)
    with Store.open() as store:
        store.restore(rows)
    run_id = next(values[0] for table, values in rows if table == "runs")
    typer.echo(f"imported run {run_id} ({len(rows)} rows): `autogenesis replay {run_id}`")
