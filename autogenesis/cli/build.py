"""`autogenesis build SPEC`: from a markdown spec to a generated package."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import typer
from rich.console import Console

from autogenesis.cli.models import BACKEND_HELP, MODEL_HELP
from autogenesis.llm.loader import load_model
from autogenesis.pipeline import Build, BuildOptions, Progress
from autogenesis.spec import read_spec
from autogenesis.store import Store

STATUS_STYLE = {"approved": "green", "rejected": "yellow", "loop": "red", "failed": "red"}


def build(
    spec: Path = typer.Argument(..., help="The markdown spec of the system to build."),
    model: str | None = typer.Option(None, "--model", "-m", help=MODEL_HELP),
    backend: str | None = typer.Option(None, "--backend", "-b", help=BACKEND_HELP),
    out: Path = typer.Option(Path("generated"), "--out", "-o",
                             help="Folder for the package: it is written to OUT/<name>/, "
                             "replacing an earlier build of the same name atomically."),
    max_rounds: int = typer.Option(3, "--max-rounds", min=1, max=10,
                                   help="Rework rounds per stage before the build fails."),
    stage_timeout: float = typer.Option(600.0, "--stage-timeout", min=1.0,
                                        help="Deadline of each stage, in seconds."),
    model_blocking: bool = typer.Option(False, "--model-blocking",
                                        help="Let the model's judgement reject artefacts "
                                        "(default: advisory; rules decide)."),
) -> None:
    """Build a multi-agent system from SPEC: understanding, design, prompt design and
    generator, each artefact approved by the hierarchy approver, everything logged.

    Writes OUT/<name>/ (pyproject, package, config, tests, Dockerfile) and prints the
    run id; `autogenesis runs` lists the logged runs.
    """
    text = read_spec(spec)
    err = Console(stderr=True, soft_wrap=True)
    started = time.perf_counter()
    with err.status("loading the model...") as status:
        loaded = load_model(model, backend=backend, progress=lambda line: status.update(line))
    err.print(f"[dim]{loaded.identity.backend} {Path(loaded.identity.model_id).name} loaded "
              f"in {time.perf_counter() - started:.1f}s[/]")

    def show(event: Progress) -> None:
        if event.status in ("working", "judging"):
            return
        style = STATUS_STYLE.get(event.status, "white")
        detail = f"  {event.detail[:160]}" if event.detail else ""
        err.print(f"{event.elapsed:6.1f}s  {event.stage:<14} round {event.round}  "
                  f"[{style}]{event.status}[/]{detail}")

    options = BuildOptions(out_dir=out, max_rounds=max_rounds, stage_timeout=stage_timeout,
                           model_blocking=model_blocking)
    with Store.open() as store, err.status("building...") as status:
        def progress(event: Progress) -> None:
            status.update(f"{event.stage}: round {event.round}, {event.status}")
            show(event)

        pipeline = Build(store, loaded, options=options, progress=progress)
        result = asyncio.run(pipeline.run(text, spec_path=str(spec), name=spec.stem))
    err.print()
    for stage in result.stages:
        err.print(f"  {stage.stage:<14} approved in round {stage.rounds}  "
                  f"{stage.seconds:6.1f}s")
    typer.echo(f"built {result.package_path} ({len(result.package.files)} files, sha256 "
               f"{result.package.sha256[:12]}) in {result.seconds:.1f}s; run {result.run_id}")
