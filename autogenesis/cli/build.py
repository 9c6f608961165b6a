"""`autogenesis build SPEC`: from a markdown spec to a generated package."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.markup import escape

from autogenesis.cli.options import BACKEND_HELP, MODEL_HELP, MODEL_READS_HELP, model_reads
from autogenesis.config import Settings
from autogenesis.errors import UserError

if TYPE_CHECKING:
    from rich.status import Status

    from autogenesis.artefacts import Blueprint, TestReport
    from autogenesis.build.orchestrator import BuildResult, Progress

STATUS_STYLE = {"approved": "green", "rejected": "yellow", "loop": "red", "failed": "red",
                "rework": "yellow", "iteration": "cyan", "done": "white", "abandoned": "yellow"}


def build(
    spec: Path = typer.Argument(..., help="The markdown spec of the system to build."),
    model: str | None = typer.Option(None, "--model", "-m", help=MODEL_HELP),
    backend: str | None = typer.Option(None, "--backend", "-b", help=BACKEND_HELP),
    out: Path = typer.Option(Path("generated"), "--out", "-o",
                             help="Folder for the package: it is written to OUT/<name>/, "
                             "replacing an earlier build of the same name atomically."),
    max_rounds: int = typer.Option(3, "--max-rounds", min=1, max=10,
                                   help="Rework rounds per stage before the build fails."),
    max_iterations: int = typer.Option(2, "--max-iterations", min=1, max=10,
                                       help="Passes through the stages in all: the feedback "
                                       "stage starts another when it finds changes to make "
                                       "and the budget has time for it."),
    budget: float = typer.Option(5.0, "--budget", min=0.5,
                                 help="Minutes the build aims for: tuning trials and further "
                                 "iterations only start when they fit in what is left; the "
                                 "required stages go on past it (see --stage-timeout)."),
    stage_timeout: float = typer.Option(600.0, "--stage-timeout", min=1.0,
                                        help="Deadline of each stage, in seconds (testing "
                                        "gets 240 more per --eval case)."),
    reads: bool | None = typer.Option(None, "--model-reads/--no-model-reads",
                                      help=MODEL_READS_HELP),
    model_blocking: bool = typer.Option(False, "--model-blocking",
                                        help="Let the model's judgement reject artefacts "
                                        "(default: advisory; rules decide)."),
    bus: str | None = typer.Option(
        None, "--bus", help="Run the agents in workers on this MQTT broker "
        "(mqtt://user:password@host:port/prefix; only the host is required) instead of in "
        "this process: start them with `autogenesis worker`. The build's own --model then "
        "only picks what the generated system runs with in its tests. Default: "
        "AUTOGENESIS_MQTT_URL."),
    local: bool = typer.Option(False, "--local",
                               help="Run the agents in this process even when "
                               "AUTOGENESIS_MQTT_URL is set."),
    wait: float = typer.Option(30.0, "--wait", min=0.0,
                               help="With --bus: seconds to wait for workers to serve every "
                               "agent before giving up."),
    eval_cases: Path | None = typer.Option(
        None, "--eval", help="Held-out cases, one JSON object per line: {\"input\": ..., "
        "\"expected\": ..., \"checks\": [{\"mentions\": [\"Paris\"]}, ...]} (expected and "
        "checks optional). The system and the baselines answer them and the checks are "
        "reported beside the spec's examples; no stage sees them before testing, so "
        "nothing is tuned on them. At most 50 cases."),
    force: bool = typer.Option(
        False, "--force", help="Overwrite files of OUT/<name>/ that you changed since the "
        "last build (without it the build refuses and names them). Files you added are "
        "kept either way."),
    concurrency: int = typer.Option(
        4, "--concurrency", "-j", min=1, max=16,
        help="Model calls an agent may have in flight at once where they do not depend on "
        "each other (prompt variants and trials, baselines, documentation), and runs of "
        "the system at once in testing (they ask this build's model); the llama.cpp "
        "backend decodes them together. 1: one at a time. Replays use the build's own."),
    min_pass: float | None = typer.Option(
        None, "--min-pass", min=0.0, max=1.0,
        help="Exit 1 (the package is still written) unless the system passes at least this "
        "share of its spec's checks that a rule can judge, e.g. 0.8."),
) -> None:
    """Build a multi-agent system from SPEC with the hierarchy of local agents:
    understanding, design, prompt design, generator, testing, tuning, documentation,
    deployment and feedback, each artefact approved by the hierarchy approver,
    everything logged to PostgreSQL. With --bus the agents run in `autogenesis worker`
    processes (on this or other machines) instead of this one.

    Writes OUT/<name>/: the package (code, config.json, tests), README, ARCHITECTURE
    and docs/, Dockerfile and docker-compose.yml, and dist/ with its wheel, which was
    installed in a fresh virtual environment and run once. Generated code only ever
    runs in a sandbox (own folder, time and memory limits, no network). Prints a
    summary and the run id; `autogenesis runs` lists the logged runs.
    """
    import asyncio

    from autogenesis.acceptance.cases import read_cases
    from autogenesis.artefacts import TestReport
    from autogenesis.build.orchestrator import Build, BuildOptions
    from autogenesis.llm.loader import load_model
    from autogenesis.spec import read_spec
    from autogenesis.store import Store

    text = read_spec(spec)
    held_out = tuple(read_cases(eval_cases)) if eval_cases is not None else ()
    err = Console(stderr=True, soft_wrap=True)
    bus = None if local else bus or Settings.from_env().mqtt_url
    options = BuildOptions(out_dir=out, max_rounds=max_rounds, max_iterations=max_iterations,
                           budget_s=budget * 60, stage_timeout=stage_timeout,
                           model_blocking=model_blocking, model=model, backend=backend,
                           model_reads=model_reads(reads, model),
                           bus=bus, wait_s=wait, held_out=held_out, force=force,
                           concurrency=concurrency, serve_model=bus is None)
    loaded = None
    if bus is None:
        started = time.perf_counter()
        with err.status("loading the model...") as status:
            loaded = load_model(model, backend=backend,
                                progress=lambda line: status.update(line))
        err.print(f"[dim]{loaded.identity.backend} {Path(loaded.identity.model_id).name} "
                  f"loaded in {time.perf_counter() - started:.1f}s[/]")
    else:
        from autogenesis.bus.mqtt import MqttSettings

        err.print(f"[dim]agents served by workers on {MqttSettings.from_url(bus).where}[/]")
    with Store.open() as store, err.status("building...") as status:
        pipeline = Build(store, loaded, options=options, progress=progress_printer(err, status))
        result = asyncio.run(pipeline.run(text, spec_path=str(spec), name=spec.stem))
    for line in summary(result):
        typer.echo(line)
    problem = min_pass_problem(result.artefact(TestReport), min_pass)
    if problem:
        raise UserError(problem)


def min_pass_problem(report: TestReport, rate: float | None) -> str | None:
    """Why the build misses `--min-pass`, or None. Nothing a rule judged is a miss: a
    result no one could check is never a pass."""
    if rate is None:
        return None
    passed, judged = report.passes("system")
    if not judged:
        return f"--min-pass {rate}: the spec's examples give no check a rule can run"
    if passed / judged < rate:
        return (f"--min-pass {rate}: the system passes {passed}/{judged} "
                f"({passed / judged:.0%}) of its spec's checks")
    return None


def progress_printer(err: Console, status: Status) -> Callable[[Progress], None]:
    """Progress lines on stderr (stage, round, status, why), the spinner's text kept current."""
    def show(event: Progress) -> None:
        status.update(f"{event.stage}: round {event.round}, {event.status}")
        if event.status in ("working", "judging"):
            return
        style = STATUS_STYLE.get(event.status, "white")
        detail = f"  {escape(event.detail[:160])}" if event.detail else ""
        err.print(f"{event.elapsed:6.1f}s  {event.stage:<14} round {event.round}  "
                  f"[{style}]{event.status}[/]{detail}", markup=True, highlight=False)
    return show


def checks_lines(report: TestReport) -> list[str]:
    """The system's pass rate on its spec's checks beside the baselines' (one call; the
    vote on the decisions), with calls and tokens; the held-out cases' apart."""
    passed, judged = report.passes("system")
    single, single_judged = report.passes("single")
    routes = report.routes()
    routed = [f"  routes: the system sends {routes[0]}/{routes[1]} example(s) to the agent "
              "the spec names (one call has no route)"] if routes[1] else []
    if not judged and not single_judged:
        return [*routed, "  checks: none a rule can judge on one call as well (see the "
                "examples' reasons)"]
    calls, tokens = report.cost("system")
    single_calls, single_tokens = report.cost("single")
    lines = [*routed, f"  checks: the system passes {passed}/{judged} ({calls} calls, "
             f"{tokens} tokens out); one call of the same model passes "
             f"{single}/{single_judged} ({single_calls} calls, {single_tokens} tokens out)"]
    if report.held_out:
        system_h, judged_h = report.passes("system", held_out=True)
        single_h, single_judged_h = report.passes("single", held_out=True)
        lines.append(f"  held-out cases (--eval, never shown to prompt design or tuning): "
                     f"{len(report.held_out)}; the system passes {system_h}/{judged_h} of "
                     f"their checks, one call {single_h}/{single_judged_h}")
    system, vote, decided = report.decisions()
    if decided:
        vote_calls, vote_tokens = report.cost("vote")
        lines.append(f"  decisions: the system passes {system}/{decided}; a vote of "
                     f"{vote_calls} sampled calls (as many as the system made) passes "
                     f"{vote}/{decided} ({vote_tokens} tokens out)")
    return lines


def rule_lines(report: TestReport, blueprint: Blueprint) -> list[str]:
    """How the system and one call do on the checks only a rule decides (a flag, an option
    of a stated list, a computed date: `acceptance.by_rules`)."""
    from autogenesis.acceptance.by_rules import rules_decided

    decided = rules_decided(report, blueprint)
    if decided is None:
        return []
    (system, judged), (single, single_judged) = decided
    return [f"  rules: on the {judged} check(s) its rules decide, the system passes "
            f"{system}, one call {single}/{single_judged}"]


def summary(result: BuildResult) -> list[str]:
    """The build's final summary: where, how well tested, how it got there, at what cost."""
    from autogenesis.artefacts import Blueprint, Deployment, TestReport, TuningReport

    report: TestReport = result.artefact(TestReport)
    tuning: TuningReport = result.artefact(TuningReport)
    deployment: Deployment = result.artefact(Deployment)
    blueprint: Blueprint = result.artefact(Blueprint)
    tried = [t for t in tuning.trials if t.measure is not None]
    short = Counter(s.stage for s in result.shortfalls)
    kept = "".join(f", {stage} kept after falling short of one call"
                   + (f" ({n} iterations)" if n > 1 else "") for stage, n in short.items())
    reworks = sum(1 for s in [*result.stages, *result.abandoned] if not s.approved) + sum(
        s.rounds - 1 for s in result.stages)
    system_tokens = sum(s.tokens_out for s in report.scenarios) + sum(
        t.measure.tokens_out for t in tried if t.measure)
    split = ", ".join(f"{stage} {seconds:.1f}s"
                      for stage, seconds in result.seconds_by_stage().items())
    passed, judged = report.passes("system")
    single, single_judged = report.passes("single")
    system_decided, vote, decided = report.decisions()
    voted = (f"; on its {decided} decision(s) the system passes {system_decided}, a vote of "
             f"{report.cost('vote')[0]} calls {vote}"
             if decided else "")
    routed, routable = report.routes()
    route = f"routes {routed}/{routable} of its examples to the agent its spec names"
    verdict = (f"built {blueprint.slug}: passes {passed}/{judged} of its spec's checks; one "
               f"call of the same model passes {single}/{single_judged}{voted}"
               + (f"; it {route}" if routable else "") if judged else
               f"built {blueprint.slug}: {route}; no other check a rule can run" if routable
               else f"built {blueprint.slug}: its spec's examples give no check a rule can run")
    failing = [f"  checks: {judged - passed} of {judged} fail, so the system does not yet do "
               "what its spec's examples ask; the approvals above judge its structure, not its"
               " answers (`autogenesis inspect` shows every check)"] if passed < judged else []
    if routed < routable:
        failing.append(f"  routes: {routable - routed} of {routable} example(s) went to another "
                       "agent than the one their spec names, so the system does not yet do what "
                       "its spec's examples ask")
    return [
        f"built {result.package_path} in {result.seconds:.1f}s; run {result.run_id}",
        f"  tests: {report.tests.passed} passed, {report.tests.failed} failed; examples "
        f"reaching the exit agent ({blueprint.exit}): {report.reached}/{len(report.scenarios)}",
        f"  tuning: metric (share of checks passed) {tuning.before.metric:.2f} -> "
        f"{tuning.after.metric:.2f}, "
        f"{sum(t.kept for t in tried)} of {len(tried)} measured change(s) kept",
        f"  deployment: dist/{deployment.wheel} (sha256 {deployment.wheel_sha256[:12]}) "
        f"installed in a fresh venv and run"
        + (f" ({deployment.venv_bytes / 1e6:.0f} MB with its dependencies, installed in "
           f"{deployment.install_s:.1f}s)" if deployment.venv_bytes else ""),
        f"  rounds: {len({s.stage for s in result.stages if s.approved})} stages approved"
        f"{kept}, {reworks} rework(s); iterations: {result.iterations}",
        f"  tokens: {result.tokens_in} in / {result.tokens_out} out over {result.calls} "
        f"calls by the build's agents; {system_tokens} out by the system in its test runs",
        f"  time by stage: {split}",
        *checks_lines(report),
        *rule_lines(report, blueprint),
        *failing,
        verdict,
    ]
