"""`autogenesis replay RUN` (a logged run's timeline, or its re-execution from the log) and
`autogenesis resume RUN` (an interrupted build, continued)."""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING
from uuid import UUID

import typer
from rich.console import Console
from rich.markup import escape

from autogenesis.cli.options import BACKEND_HELP, MODEL_HELP
from autogenesis.errors import UserError
from autogenesis.inspection.timeline import KINDS  # stdlib only: the --kind help lists them

if TYPE_CHECKING:
    from autogenesis.inspection.timeline import Item
    from autogenesis.replay import Reexecution
    from autogenesis.store import Store

STYLE = {"message": "cyan", "completion": "magenta", "artefact": "blue", "verdict": "green",
         "event": "yellow", "observation": "white"}


def find_run(store: Store, text: str) -> UUID:
    """A run id, or the unique start of one (as `autogenesis runs` shows it)."""
    text = text.strip().lower()
    try:
        return UUID(text)
    except ValueError:
        pass
    if not text or len(text) < 4 or any(c not in "0123456789abcdef-" for c in text):
        raise UserError(f"{text!r} is not a run id (autogenesis runs lists them)")
    matches = store.runs_starting(text)
    if not matches:
        raise UserError(f"no run id starts with {text!r} (autogenesis runs lists them)")
    if len(matches) > 1:
        raise UserError(f"{len(matches)} runs start with {text!r}: give more of the id")
    return matches[0]


def replay(
    run: str = typer.Argument(..., help="The run id (or its first 8 characters, as "
                              "`autogenesis runs` shows them)."),
    reexecute_: bool = typer.Option(False, "--reexecute",
                                    help="Run the build again with every model call, sandbox "
                                    "result and clock reading answered from the log, "
                                    "comparing messages, artefacts, verdicts and files as it "
                                    "goes; stops at the first difference. Needs no model."),
    out: Path | None = typer.Option(None, "--out", "-o",
                                    help="With --reexecute: keep the re-executed package "
                                    "in OUT/<name>/ (default: a temporary folder)."),
    stage: str | None = typer.Option(None, help="Only items of this stage."),
    agent: str | None = typer.Option(None, help="Only items of this agent."),
    kind: str | None = typer.Option(None, help="Only items of this kind: "
                                    + ", ".join(KINDS) + ", or a message, event or "
                                    "observation kind (produce, loop, deadline, example...)."),
    follow: bool = typer.Option(False, "--follow", "-f",
                                help="Keep printing new items until the run finishes."),
    as_json: bool = typer.Option(False, "--json", help="The timeline as one JSON list."),
    as_jsonl: bool = typer.Option(False, "--jsonl", help="The timeline as JSON lines."),
) -> None:
    """Show what a logged run did, in order: messages, model calls, artefacts, verdicts,
    events and sandbox results. Works for builds and for runs of generated systems.

    With --reexecute, reproduce a build from its log and prove it: exit code 0 when every
    artefact, verdict, message and file came out the same, 1 with the first divergence
    (stage, agent, call, diff) when not.
    """
    from autogenesis.store import Store

    with Store.open() as store:
        run_id = find_run(store, run)
        if reexecute_:
            _reexecute(store, run_id, out)
            return
        if out is not None:
            raise UserError("--out goes with --reexecute")
        _timeline(store, run_id, stage=stage, agent=agent, kind=kind, follow=follow,
                  as_json=as_json, as_jsonl=as_jsonl)


def _timeline(store: Store, run_id: UUID, *, stage: str | None, agent: str | None,
              kind: str | None, follow: bool, as_json: bool, as_jsonl: bool) -> None:
    from autogenesis.inspection.timeline import timeline

    row = store.run(run_id)
    if row is None:
        raise UserError(f"no run {run_id} in the log (autogenesis runs lists them)")
    started: datetime = row["started_at"]
    console = Console(highlight=False, soft_wrap=True)
    if as_json and follow:
        raise UserError("--follow prints as it goes: use --jsonl with it, not --json")
    shown: set[str] = set()
    if not (as_json or as_jsonl):
        console.print(f"[bold]{row['kind']} run {run_id}[/] {escape(row['name'])} "
                      f"({row['status']}, started {started:%Y-%m-%d %H:%M:%S})")
    while True:
        items = [i for i in timeline(store, run_id) if i.id not in shown]
        wanted = [i for i in items if i.matches(stage=stage, agent=agent, kind=kind)]
        shown.update(i.id for i in items)
        if as_json:
            typer.echo(json.dumps([i.as_json(started) for i in wanted], indent=2, default=str))
        elif as_jsonl:
            for i in wanted:
                typer.echo(json.dumps(i.as_json(started), default=str))
        else:
            for i in wanted:
                console.print(_line(i, started))
        if not follow:
            break
        state = store.run(run_id)
        if state is None or state["status"] != "running":
            if not (as_json or as_jsonl):
                console.print(f"[bold]run {state['status'] if state else 'deleted'}[/]")
            break
        time.sleep(1.0)


def _line(item: Item, started: datetime) -> str:
    offset = (item.at - started).total_seconds()
    style = STYLE[item.kind]
    if item.kind == "verdict" and item.subkind == "rejected":
        style = "yellow"
    if item.kind == "event" and item.subkind in ("loop", "deadline", "error"):
        style = "red"
    where = escape(item.stage or "-")
    return (f"{offset:8.2f}s  [{style}]{item.kind:<11}[/] [dim]{where:<14}[/] "
            f"{escape(item.summary)}")


def _reexecute(store: Store, run_id: UUID, out: Path | None) -> None:
    import asyncio

    from autogenesis.replay import reexecute

    err = Console(stderr=True, highlight=False)
    with err.status(f"re-executing {run_id} from the log..."):
        result = asyncio.run(reexecute(store, run_id, out_dir=out))
    for line in report(result):
        typer.echo(line)
    if not result.identical:
        raise typer.Exit(1)


def report(result: Reexecution) -> list[str]:
    took = f"{result.seconds:.1f}s"
    if result.original_seconds:
        took += f" (the original build: {result.original_seconds:.1f}s"
        took += f", {result.ratio:.0f}x faster)" if result.ratio else ")"
    if result.diverged is None:
        same = sum(1 for _, logged, written in result.files if logged == written)
        lines = [f"identical: re-executed run {result.run_id} from the log in {took}",
                 f"  {result.matched} logged records matched; {result.model_calls} model "
                 f"call(s) and {result.observations} observation(s) answered from the log",
                 f"  files: {same}/{len(result.files)} byte-identical; package sha256 "
                 f"{result.package_sha256}"]
        if result.out_dir.exists():
            lines.append(f"  written to {result.out_dir}")
        return lines
    d = result.diverged
    lines = [f"diverged: re-execution of run {result.run_id} stopped after {took}",
             f"  first difference: stage {d.stage or '-'}, agent {d.agent}, call/record "
             f"{d.call_index}, {d.what}",
             f"  ({result.matched} logged records matched before it)"]
    lines += ["  " + line for line in d.detail.splitlines()]
    return lines


def resume(
    run: str = typer.Argument(..., help="The interrupted build's run id (or its start)."),
    model: str | None = typer.Option(None, "--model", "-m", help=MODEL_HELP + " Use the "
                                     "interrupted build's model to get the same package."),
    backend: str | None = typer.Option(None, "--backend", "-b", help=BACKEND_HELP),
    out: Path | None = typer.Option(None, "--out", "-o",
                                    help="Where the package goes (default: the build's own "
                                    "--out, as logged)."),
) -> None:
    """Continue a build that was killed or interrupted (kill -9, power loss, Ctrl-C) under
    its own run id. What the log holds is replayed without the model, the sandbox or a
    second row in the log; the build goes on live from where the log stops.
    """
    import asyncio

    from autogenesis.cli.build import progress_printer, summary
    from autogenesis.llm.loader import load_model
    from autogenesis.replay import resume as resume_run
    from autogenesis.store import Store

    err = Console(stderr=True, soft_wrap=True)
    with Store.open() as store:
        run_id = find_run(store, run)
        with err.status("loading the model..."):
            loaded = load_model(model, backend=backend)
        with err.status("resuming...") as status:
            show = progress_printer(err, status)
            result = asyncio.run(resume_run(store, run_id, loaded, out_dir=out, progress=show))
    for line in summary(result):
        typer.echo(line.replace("built ", "resumed and built ", 1) if line.startswith("built")
                   else line)
