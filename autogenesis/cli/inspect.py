"""`autogenesis inspect TARGET`: what a build made and why, from its log."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from autogenesis.errors import UserError

if TYPE_CHECKING:
    from autogenesis.inspection import diagram
    from autogenesis.inspection.report import Inspection

MARK = {True: "[green]✓[/]", False: "[red]✗[/]"}
ON_DISK = {"same": "[green]same[/]", "changed": "[yellow]changed[/]",
           "missing": "[red]missing[/]", None: "-"}


def inspect(
    target: str = typer.Argument(..., help="A build's run id (or its first 8 characters), "
                                 "or a generated package folder such as generated/<name>."),
    as_json: bool = typer.Option(False, "--json", help="Everything as one JSON object."),
    diagram_path: Path | None = typer.Option(
        None, "--diagram", help="Where to write the topology as SVG (default: next to the "
        "package folder, as <folder>.svg; the current folder when the package is gone)."),
    no_diagram: bool = typer.Option(False, "--no-diagram", help="Do not write the SVG."),
) -> None:
    """Show a generated system and how it was built: its agents (role, duties, prompt),
    its topology (Mermaid and a terminal drawing, also written as an SVG image), the
    approver's verdicts per stage, test and example results, tuning before/after, the
    deployment, and for every generated file the stage, agent and message that produced it.
    """
    from autogenesis.cli.replay import find_run
    from autogenesis.inspection import diagram
    from autogenesis.inspection.report import inspect_run, run_of_folder
    from autogenesis.store import Store

    folder = Path(target) if Path(target).is_dir() else None
    if folder is None and ("/" in target or target.startswith(".")):
        raise UserError(f"{target} is not a folder")
    with Store.open() as store:
        run_id = run_of_folder(store, folder) if folder is not None else find_run(store, target)
        row = store.run(run_id)
        package = Path(row["package_path"]) if row and row.get("package_path") else None
        if folder is None and package is not None and package.is_dir():
            folder = package       # the build's own folder: compare its files too
        result = inspect_run(store, run_id, folder)
    plan = diagram.layout(result.blueprint) if result.blueprint is not None else None
    written = None
    if plan is not None and not no_diagram:
        written = _write_svg(result, plan, diagram_path)
    if as_json:
        out = result.as_json()
        out["diagram_svg"] = str(written) if written else None
        typer.echo(json.dumps(out, indent=2, default=str, ensure_ascii=False))
        return
    console = Console(highlight=False, soft_wrap=True)
    show(console, result, plan)
    if written is not None:
        console.print(f"\ntopology diagram written to {escape(str(written))}")


def _write_svg(result: Inspection, plan: diagram.Layout, path: Path | None) -> Path:
    from autogenesis.inspection import diagram

    assert result.blueprint is not None
    if path is None:        # next to the package folder; here when there is none any more
        folder = Path(result.folder) if result.folder else None
        path = (folder.parent / f"{folder.name}.svg" if folder is not None
                else Path(f"{result.blueprint.slug}.svg"))
    try:
        path.write_text(diagram.svg(plan), encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot write the diagram to {path}: {exc.strerror}") from exc
    return path


def show(console: Console, result: Inspection, plan: diagram.Layout | None) -> None:
    from autogenesis.inspection import diagram

    run = result.run
    took = f", {run['seconds']:.1f}s" if run.get("seconds") is not None else ""
    console.print(f"[bold]build {run['id']}[/] {escape(run['name'])} ({run['status']}{took})")
    console.print(f"  spec {escape(str(run.get('spec_path') or '-'))}, model "
                  f"{escape(str(run.get('model') or '-'))}")
    if run.get("package_path"):
        console.print(f"  package {escape(run['package_path'])}")
    if run.get("error"):
        console.print(f"  [red]error[/] {escape(run['error'])}")
    bp = result.blueprint
    if bp is None or plan is None:
        console.print("\nno approved blueprint: the build stopped before design was approved")
    else:
        console.print(f"\n[bold]{escape(bp.title)}[/]: {escape(bp.goal)}")
        _agents(console, result)
        console.print(f"\n[bold]Topology[/] {bp.topology.replace('_', ' ')} (entry {bp.entry}, "
                      f"exit {bp.exit})")
        for line in diagram.text(plan):
            console.print("  " + escape(line))
        console.print("\n  Mermaid:")
        for line in bp.diagram.splitlines():
            console.print("    " + escape(line))
    _verdicts(console, result)
    _results(console, result)
    _files(console, result)


def _agents(console: Console, result: Inspection) -> None:
    console.print("\n[bold]Agents[/]")
    for a in result.agents:
        implied = " [dim](implied by the spec, named by autogenesis)[/]" if not a.stated else ""
        console.print(f"  [bold]{a.name}[/], {escape(a.role)}{implied}")
        for duty in a.duties:
            console.print(f"    - {escape(duty)}")
        if a.score is not None:
            console.print(f"    prompt [dim]({a.variant} variant, score {a.score:.2f})[/]: "
                          f"{escape(a.prompt)}")


def _verdicts(console: Console, result: Inspection) -> None:
    table = Table(title="\nVerdicts per stage", title_justify="left", box=box.SIMPLE_HEAD)
    for column in ("stage", "round", "artefact", "verdict", "reasons / failed checks"):
        table.add_column(column, overflow="fold")
    for stage, rounds in result.verdicts.items():
        for r in rounds:
            why = "; ".join(r.reasons + [c for c in r.failed if c not in r.reasons])
            table.add_row(stage if r.round == 1 else "", str(r.round),
                          f"{r.kind} v{r.version}", MARK[r.approved], escape(why or "-"))
    console.print(table)


CHECK = {True: "✓", False: "✗", None: "?"}


def _results(console: Console, result: Inspection) -> None:
    from autogenesis.cli.build import checks_lines, rule_lines

    if result.tests is not None:
        t = result.tests.tests
        console.print(f"\n[bold]Tests[/] {t.passed} passed, {t.failed} failed, {t.errors} "
                      f"errors in {t.seconds:.1f}s (network: {result.tests.network})")
        for line in checks_lines(result.tests) + (
                rule_lines(result.tests, result.blueprint) if result.blueprint else []):
            console.print(escape(line))
        baselines = {b.example: b for b in result.tests.baselines if b.arm == "single"}
        votes = {(b.example, r.text): r for b in result.tests.baselines if b.arm == "vote"
                 for r in b.checks}
        for s in result.tests.scenarios:
            answer = " ".join(s.answer.split())[:100] or s.error or "-"
            console.print(f"  example {s.example}: {MARK[s.reached_exit]} exit "
                          f"{s.exit_agent or '-'}, {s.steps_approved}/{s.steps} steps approved,"
                          f" {s.latency_s:.1f}s: {escape(answer)}")
            single = baselines.get(s.example)
            for i, check in enumerate(s.checks):
                other = single.checks[i] if single and i < len(single.checks) else None
                voted = votes.get((s.example, check.text))
                console.print(f"      {CHECK[check.passed]} system  "
                              f"{CHECK[other.passed] if other else ' '} one call  "
                              f"{CHECK[voted.passed] + ' vote  ' if voted else ''}"
                              f"{escape(check.text)}: {escape(check.detail)}"
                              + (f" | {escape(other.detail)}" if other else "")
                              + (f" | vote: {escape(voted.detail)}" if voted else ""))
    if result.tuning is not None:
        tu = result.tuning
        console.print(f"\n[bold]Tuning[/] metric {tu.before.metric:.3f} -> {tu.after.metric:.3f}"
                      f", tokens {tu.before.tokens_out} -> {tu.after.tokens_out} "
                      f"({tu.spent_s:.0f}s of {tu.budget_s:.0f}s)")
        for trial in tu.trials:
            console.print(f"  {MARK[trial.kept]} {escape(trial.change)}: {escape(trial.reason)}")
    if result.deployment is not None:
        d = result.deployment
        console.print(f"\n[bold]Deployment[/] {escape(d.wheel)} (sha256 {d.wheel_sha256[:12]}…, "
                      f"{d.wheel_size} bytes) installed {MARK[d.installed]} in {escape(d.venv)};"
                      f" `{escape(' '.join(d.command))}` exit {d.returncode}")
        if d.venv_bytes:
            console.print(f"  venv: {d.venv_bytes / 1e6:.1f} MB, made and installed in "
                          f"{d.install_s:.1f}s")
        if d.answer:
            console.print(f"  answered: {escape(' '.join(d.answer.split())[:120])}")


def _files(console: Console, result: Inspection) -> None:
    """One line per file (a table would wrap the paths in a narrow terminal)."""
    where = f" (on disk: {escape(result.folder)})" if result.folder else ""
    console.print(f"\n[bold]Files and where they came from[/]{where}")
    width = max((len(f.path) for f in result.files), default=4)
    console.print(f"  [dim]{'file':<{width}}  {'stage':<13} {'artefact':<15} message   "
                  "on disk[/]")
    for f in result.files:
        artefact = f"{f.kind} v{f.version}" if f.kind else "-"
        sender = f" (sent by {f.agent})" if f.agent and f.agent != f.stage else ""
        console.print(f"  {escape(f.path):<{width}}  {f.stage or '-':<13} {artefact:<15} "
                      f"{(f.message_id or '-')[:8]:<8}  {ON_DISK[f.on_disk]}{sender}")
    if result.extra_files:
        console.print("  not from the build: " + escape(", ".join(result.extra_files)))
