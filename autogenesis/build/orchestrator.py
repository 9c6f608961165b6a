"""The build: nine stages over the bus for one run, each artefact judged by the approver.

`Build.run` logs a run, attaches the stage agents and the approver to a bus,
and goes through the stages in run order (`autogenesis.build.stages.STAGES`):

1. each stage's agent is asked for its artefact, within the stage's deadline
   (`stage_timeout`);
2. the artefact is logged as version n of its kind, with the message that
   carried it, and the approver's verdict is logged beside it;
3. a rejection goes back for rework, at most `max_rounds` rounds per stage.
   The verdict names the stage that can fix it: its own worker, or an earlier
   stage (a failing example goes back to prompt design, a wheel that does
   not build to the generator) which then runs again with the reasons, and
   every stage after it with it. A worker answering with the same artefact
   as before is looping: it is asked once more with the prompt perturbed,
   then the stage fails with `StageFailed`. A *shortfall* (the system works
   but passes fewer of its spec's checks than one call of the same model,
   `Verdict.shortfall`) is reworked the same way while the budget has time
   for it; then the build goes on with the version that passed most checks
   and logs a `shortfall` event (in a later iteration, the iteration before
   stands when it did as well);
4. after the feedback stage, when it asks for changes, another iteration
   starts at the stage it names, at most `max_iterations` in all and only
   when the stages to redo took less time than the budget has left.

`budget_s` is the time the build aims for. It governs the optional work:
tuning trials and further iterations start only when they fit in what is
left of it. The required stages go on past it (each within its deadline),
so a slow machine gets a slower build rather than a failed one.

Testing, tuning and documentation change the package (the answers recorded
in testing, which the package's own tests hold to the spec's checks;
config.json; README and docs), so the package the later stages see, and the
one written, is the generator's with those changes; each version is logged. The approved
package is written to `<out>/<slug>/` (a temporary folder swapped in) with
the wheel in `dist/`, and every file is logged with the artefact and
message that produced it. Each stage's work is one conversation on the bus,
so the bus's own loop detection and deadlines apply to it.

With `BuildOptions.bus` (an MQTT URL) the agents are not in this process:
workers (`autogenesis.build.worker`, `autogenesis worker`) serve them, and the
build waits up to `wait_s` for every one of the ten to be served before it
logs a run. The steps are the same; the transport notices a worker that dies
with a request and sends the request again to another (a `retry` event),
and the deployed wheel comes from the log rather than from a local folder.

What the build observes outside its own code (the sandbox's results, the clock
readings behind budget decisions) goes through an `observe.Observer` and is
logged beside the model's completions, so that `autogenesis.replay` can run
the same build again from the log, or resume it.

This module walks the stages (which comes next, rework to an earlier stage,
iterations, the budget) and talks to the log and the package folder; one stage's rounds
(steps 1-3 within a stage) are `autogenesis.build.rounds`, and the records the walk
keeps, and hands back, are in `autogenesis.build.state`.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import shutil
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4

from autogenesis.acceptance.cases import held_out_examples
from autogenesis.artefacts import (
    Artefact,
    Blueprint,
    Deployment,
    Docs,
    Feedback,
    Package,
    Requirements,
    TestReport,
    TuningReport,
)
from autogenesis.build.agents import Approver, StageAgent
from autogenesis.build.codegen import (
    refuse_user_edits,
    with_config,
    with_files,
    with_recorded_answers,
    write_package,
)
from autogenesis.build.observe import ObservedRunner, Observer
from autogenesis.build.prompts import Prompts
from autogenesis.build.rounds import Rounds
from autogenesis.build.scenarios import Runner, SandboxRunner
from autogenesis.build.stages import (
    AGENTS,
    BY_NAME,
    STAGE_ORDER,
    STAGES,
    Stage,
    Wiring,
    output_of,
    stage_agents,
)
from autogenesis.build.state import (
    Attempt,
    BuildResult,
    PlanResult,
    Progress,
    StageResult,
    Walk,
)
from autogenesis.bus import Bus
from autogenesis.config import redact_url
from autogenesis.errors import ConfigError, StageFailed, UserError
from autogenesis.llm.base import Model
from autogenesis.llm.logged import LoggedModel
from autogenesis.llm.served import ModelServer
from autogenesis.store.protocol import LogStore
from autogenesis.store.records import Event, GeneratedFile, Run, RunKind, RunStatus

if TYPE_CHECKING:   # aiomqtt is imported only by builds that use it
    from autogenesis.bus.mqtt import MqttTransport

__all__ = ["Build", "BuildOptions", "BuildResult", "PlanResult", "Progress", "Seams",
           "StageResult"]   # the records live in build_state, the stages in stages
TUNING_SHARE = 0.25
"""Tuning may spend this share of what is left of the budget, at most `TUNING_MAX_S`."""
TUNING_MAX_S = 75.0


@dataclass(frozen=True)
class BuildOptions:
    out_dir: Path = Path("generated")
    max_rounds: int = 3
    max_iterations: int = 2
    budget_s: float = 300.0
    stage_timeout: float = 600.0
    model_blocking: bool = False
    model_reads: bool = False      # stage 1 also asks the model for its list of agents
    model: str | None = None       # what sandboxed runs of the system load (None: default)
    backend: str | None = None
    stop_after: str | None = None  # a stage: write the package as it stands after it
    bus: str | None = None         # an MQTT URL: the agents are served by workers there
    wait_s: float = 30.0           # how long to wait for workers to serve every agent
    held_out: tuple[dict[str, Any], ...] = ()   # --eval cases (`acceptance.cases`)
    force: bool = False            # overwrite files the user changed in out_dir/<slug>/
    concurrency: int = 1           # model calls an agent may have in flight at once
    serve_model: bool = False      # lend the model to the sandboxed runs (`llm.served`)


def _no_progress(_: Progress) -> None:
    return None


class WorkersMissing(UserError):
    """`build --bus`: some agents have no worker serving them."""


@dataclass(frozen=True)
class Seams:
    """Where a build meets what is not its code, each replaceable: `runner` runs the
    generated package (the sandbox; tests run it in process), `observer` answers what
    the build observes (the sandbox's results, the clock: live and logged by default; a
    replay answers from a logged run), `prompts` are the agents' templates."""

    runner: Runner | None = None
    observer: Observer | None = None
    prompts: Prompts | None = None


class Build:
    """One build run. `model` runs the agents in this process; with `options.bus`
    workers run them and `model` may be None. `progress` hears of every stage's rounds."""

    def __init__(self, store: LogStore, model: Model | None, *,
                 options: BuildOptions | None = None,
                 progress: Callable[[Progress], None] = _no_progress,
                 seams: Seams = Seams()) -> None:
        self.store = store
        self.options = options or BuildOptions()
        if model is None and self.options.bus is None:
            raise ConfigError("a build needs a model, or workers (BuildOptions.bus)")
        self.model = LoggedModel(model, store) if model is not None else None
        self.prompts = seams.prompts if seams.prompts is not None else Prompts()
        self.observer = seams.observer or Observer(store)
        # The sandboxed runs of the system ask this process's model when it is lent them:
        # no model of their own to load, and their calls batched with the build's.
        self.server = ModelServer(model) if (
            self.options.serve_model and model is not None and seams.runner is None) else None
        self.runner = ObservedRunner(
            seams.runner or SandboxRunner(self.options.model, self.options.backend,
                                          self.server.url if self.server else None),
            self.observer)
        self.progress = progress
        self.rounds = Rounds(store, self.progress, self._elapsed,
                             stage_timeout=self.options.stage_timeout,
                             max_rounds=self.options.max_rounds,
                             concurrency=self.options.concurrency)
        self._wall = time.monotonic()   # for progress lines only; decisions use the observer

    def _elapsed(self) -> float:
        return time.monotonic() - self._wall

    @contextlib.asynccontextmanager
    async def _logged_run(self, kind: RunKind, spec: str, spec_path: str | None, name: str,
                          dist_dir: Path) -> AsyncIterator[tuple[Bus, Run]]:
        """The bus with the agents served, and the run's row: started, held by the run
        lock (it tells `resume` the run is live), and finished as failed or interrupted
        when the body raises. The body finishes a run that succeeds."""
        transport = self._transport()
        async with self.server or contextlib.nullcontext(), \
                Bus(self.store, transport=transport,
                    default_timeout=self.options.stage_timeout) as bus:
            await self._serve(bus, transport, dist_dir)
            run = self.store.start_run(Run(
                kind=kind, name=name, spec_path=spec_path,
                spec_sha256=hashlib.sha256(spec.encode()).hexdigest(),
                model=self.model.identity.model_id if self.model else "workers",
                config=self._config()))
            self.observer.run_id = run.id
            self._wall = time.monotonic()
            try:
                with self.store.run_lock(run.id):
                    yield bus, run
            except BaseException as exc:
                status: RunStatus = ("interrupted" if isinstance(exc, KeyboardInterrupt)
                                     else "failed")
                self.store.finish_run(run, status, error=str(exc) or type(exc).__name__)
                self.store.flush()
                raise
            finally:
                shutil.rmtree(dist_dir, ignore_errors=True)

    async def run(self, spec: str, *, spec_path: str | None = None,
                  name: str = "build") -> BuildResult:
        dist_dir = self.options.out_dir / f".autogenesis-dist-{uuid4().hex[:12]}"
        async with self._logged_run("build", spec, spec_path, name, dist_dir) as (bus, run):
            started = self.observer.now()
            result = await self._stages(bus, run, spec, started, dist_dir)
        result.seconds = self._elapsed()
        if self.model is not None:
            result.calls = self.model.calls
            result.tokens_in, result.tokens_out = self.model.tokens_in, self.model.tokens_out
        else:   # the workers' calls, from the log (each was logged before its reply)
            calls = self.store.completions(run.id)
            result.calls = len(calls)
            result.tokens_in = sum(c["tokens_in"] for c in calls)
            result.tokens_out = sum(c["tokens_out"] for c in calls)
        self.store.finish_run(run, "succeeded", package_path=str(result.package_path))
        self.store.flush()
        return result

    async def plan(self, spec: str, *, spec_path: str | None = None,
                   name: str = "plan") -> PlanResult:
        """Stages 1 and 2 only, each judged once by the approver, logged as a run of kind
        "plan": how the spec was read, before anyone spends minutes on a build. A
        rejection is part of the answer (the verdict says why), not an error."""
        dist_dir = self.options.out_dir / f".autogenesis-dist-{uuid4().hex[:12]}"
        async with self._logged_run("plan", spec, spec_path, name, dist_dir) as (bus, run):
            reading, design = STAGES[:2]
            once = Attempt(rounds=1)
            read = await self.rounds.run(bus, run.id, reading, {"spec": spec}, once)
            designed = await self.rounds.run(
                bus, run.id, design, {reading.output: read.artefact.model_dump(mode="json")},
                once)
        self.store.finish_run(run, "succeeded")
        self.store.flush()
        return PlanResult(run.id, read, designed)

    def _config(self) -> dict[str, Any]:
        config: dict[str, Any] = {
            "backend": self.model.identity.backend if self.model else "workers",
            "max_rounds": self.options.max_rounds,
            "max_iterations": self.options.max_iterations,
            "budget_s": self.options.budget_s,
            "stage_timeout": self.options.stage_timeout,
            "model_blocking": self.options.model_blocking,
            "model_reads": self.options.model_reads,
            "out_dir": str(self.options.out_dir),
            "sandbox_model": self.options.model,
            "sandbox_backend": self.options.backend}
        if self.options.concurrency > 1:
            config["concurrency"] = self.options.concurrency
        if self.server is not None:   # the runs of the system may overlap (Testing)
            config["serve_model"] = True
        if self.options.bus is not None:
            config["bus"] = redact_url(self.options.bus)
        if self.options.held_out:
            config["held_out"] = list(self.options.held_out)
        return config

    def _transport(self) -> MqttTransport | None:
        if self.options.bus is None:
            return None
        from autogenesis.bus.mqtt import MqttTransport

        return MqttTransport(self.options.bus, role="coordinator")

    async def _serve(self, bus: Bus, transport: MqttTransport | None, dist_dir: Path) -> None:
        """Attach the agents here; or, with workers, wait until each is served."""
        if transport is None:
            for agent in [*self._agents(dist_dir), self._approver()]:
                await agent.attach(bus)
            return
        missing = await transport.wait_for(AGENTS, self.options.wait_s)
        if missing:
            where = transport.settings.where
            raise WorkersMissing(
                f"no worker serves {', '.join(missing)} on {where} (waited "
                f"{self.options.wait_s:.0f}s): start one with `autogenesis worker --agents "
                f"{','.join(missing)} --bus {where}`")

    def _approver(self) -> Approver:
        assert self.model is not None
        return Approver(self.model, self.prompts, STAGES,
                        model_blocking=self.options.model_blocking)

    def _agents(self, dist_dir: Path) -> list[StageAgent]:
        assert self.model is not None
        return stage_agents(Wiring(self.model, self.prompts, self.store,
                                   runner=lambda: self.runner, clock=self.observer.now,
                                   dist_dir=dist_dir, model_reads=self.options.model_reads))

    async def _stages(self, bus: Bus, run: Run, spec: str, started: float,
                      dist_dir: Path) -> BuildResult:
        walk = Walk(inputs={"spec": spec, "iteration": 1})
        index = 0
        while index < len(STAGES):
            step = STAGES[index]
            try:
                index = await self._step(bus, run.id, step, walk, started)
            except StageFailed as exc:
                if walk.best is not None and not walk.earlier_as_good():
                    # rework after a shortfall failed: keep the best version
                    self._fail_event(run.id, step.name, exc, walk.iteration,
                                     kept_shortfall=walk.best.stage)
                    index = self._keep_best(run.id, walk, f"its rework failed: {exc}")
                    continue
                if walk.checkpoint is None:
                    raise
                # A later iteration failed: the last complete one stands, nothing lost.
                self._fail_event(run.id, step.name, exc, walk.iteration,
                                 kept_iteration=walk.iteration - 1)
                self.progress(Progress(step.name, exc.rounds, "abandoned", self._elapsed(),
                                       f"iteration {walk.iteration} failed ({exc}); keeping "
                                       f"iteration {walk.iteration - 1}", walk.iteration))
                walk.back_to_checkpoint()
                break
            if index == len(STAGES) and step.artefact is Feedback:   # the iteration ends
                feedback = walk.results[-1].artefact
                assert isinstance(feedback, Feedback)
                restart = self._next_iteration(step.name, feedback, walk, started)
                if restart is not None:
                    walk.next_iteration(restart, [r.request for r in feedback.requests
                                                  if r.stage == restart])
                    index = STAGE_ORDER.index(restart)
        inputs, origin, results = walk.inputs, walk.origin, walk.results
        package = Package.model_validate(inputs["package"])
        deployed_key = output_of(Deployment)
        deployment = Deployment.model_validate(inputs[deployed_key]) \
            if deployed_key in inputs else None
        extra = {}
        if deployment is not None and deployment.wheel:
            wheel = dist_dir / deployment.package_sha256[:16] / deployment.wheel
            if not wheel.is_file():     # a worker built it: its bytes are in the log
                self._wheel_from_log(run.id, deployment, wheel)
            if wheel.is_file():
                extra[f"dist/{deployment.wheel}"] = wheel
        path = write_package(package, self.options.out_dir, extra, force=self.options.force)
        for file in package.files:
            artefact_id, message_id = origin[file.path]
            self.store.log(GeneratedFile(run_id=run.id, path=f"{package.slug}/{file.path}",
                                         sha256=file.sha256, size=file.size,
                                         artefact_id=artefact_id, message_id=message_id))
        if deployment is not None and extra:
            deployed = next(r for r in reversed(results) if isinstance(r.artefact, Deployment))
            self.store.log(GeneratedFile(
                run_id=run.id, path=f"{package.slug}/dist/{deployment.wheel}",
                sha256=deployment.wheel_sha256, size=deployment.wheel_size,
                artefact_id=deployed.artefact_id, message_id=deployed.message_id))
        return BuildResult(run.id, path, package, results, iterations=walk.iteration,
                           abandoned=walk.set_aside)

    def _wheel_from_log(self, run_id: UUID, deployment: Deployment, path: Path) -> None:
        """Write the deployed wheel to `path` from the install observation that carried it
        (the worker that built it may be on another host); nothing if none matches."""
        for row in reversed(self.store.observations(run_id)):
            wheel = row["kind"] == "install" and (row["result"] or {}).get("wheel")
            if not wheel or wheel.get("name") != deployment.wheel:
                continue
            data = base64.b64decode(wheel["bytes"])
            if hashlib.sha256(data).hexdigest() == deployment.wheel_sha256:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
                return

    async def _step(self, bus: Bus, run_id: UUID, step: Stage, walk: Walk,
                    started: float) -> int:
        """Run one stage; the index of the stage to run next."""
        inputs, stage = walk.inputs, step.name
        if "budget_s" in step.inputs:
            inputs["budget_s"] = round(min(TUNING_MAX_S, TUNING_SHARE * self._left(started)), 1)
        stage_started = self.observer.now()
        result = await self.rounds.run(
            bus, run_id, step, {k: inputs[k] for k in step.inputs if k in inputs},
            Attempt(walk.pending.pop(stage, []), walk.previous.get(stage), walk.iteration))
        result.seconds = self.observer.now() - stage_started
        walk.results.append(result)
        walk.previous[stage] = result.artefact.digest()
        if not result.approved:  # the verdict sends the work to an earlier stage
            walk.attempts[stage] += 1
            target = result.verdict.rework
            assert target is not None
            done = walk.attempts[stage] >= self.options.max_rounds
            if result.verdict.shortfall:
                walk.offer(result)
                why = self._no_more_rework(walk, stage, target, started)
                if why is not None and walk.earlier_as_good():
                    raise StageFailed(stage, f"it falls short of one call ({why}) and does no "
                                      f"better than iteration {walk.iteration - 1}",
                                      rounds=walk.attempts[stage])
                if why is not None:
                    return self._keep_best(run_id, walk, why)
            elif done:
                raise StageFailed(stage, f"still rejected after {walk.attempts[stage]} "
                                  "round(s): " + "; ".join(result.verdict.reasons),
                                  rounds=walk.attempts[stage])
            walk.pending[target] = [f"the {stage} stage rejected the result: {reason}"
                                    for reason in result.verdict.reasons]
            self.progress(Progress(stage, walk.attempts[stage], "rework", self._elapsed(),
                                   f"back to {target}", walk.iteration))
            return STAGE_ORDER.index(target)
        if walk.best is not None and walk.best.stage == stage:
            walk.best = None   # the stage that fell short is approved now: made up
        inputs[step.output] = result.artefact.model_dump(mode="json")
        self._apply(stage, result, inputs, walk.origin, run_id)
        if isinstance(result.artefact, Requirements) and self.options.held_out:
            inputs["held_out"] = self._held_out(result.artefact)
        if stage == self.options.stop_after:
            return len(STAGES)
        return STAGE_ORDER.index(stage) + 1

    def _no_more_rework(self, walk: Walk, stage: str, target: str,
                        started: float) -> str | None:
        """Why a shortfall is not reworked again (None: it is): its rounds are spent, or
        redoing the stages from `target` took longer than the budget has left (rework
        after a shortfall is optional work, like tuning)."""
        if walk.attempts[stage] >= self.options.max_rounds:
            return f"still short after {walk.attempts[stage]} round(s)"
        redo = STAGE_ORDER[STAGE_ORDER.index(target):STAGE_ORDER.index(stage) + 1]
        needed = sum(r.seconds for r in walk.results
                     if r.iteration == walk.iteration and r.stage in redo)
        left = self._left(started)
        if needed > left:
            return (f"redoing {target} to {stage} took {needed:.0f}s and {max(left, 0):.0f}s "
                    "of the budget are left")
        return None

    def _keep_best(self, run_id: UUID, walk: Walk, why: str) -> int:
        """Go on with the best version of the stage that fell short (the later versions are
        set aside, logged as they are); the index of the stage after it."""
        best = walk.best
        assert best is not None
        walk.inputs, walk.origin = best.inputs, best.origin
        aside = walk.results[best.count:]
        walk.set_aside += aside
        del walk.results[best.count:]
        walk.pending.clear()
        walk.best = None
        kept = walk.results[-1]
        kept.kept = True
        walk.inputs[BY_NAME[kept.stage].output] = kept.artefact.model_dump(mode="json")
        self._apply(kept.stage, kept, walk.inputs, walk.origin, run_id)
        self.store.log(Event("shortfall", run_id, agent=kept.stage, message_id=kept.message_id,
                             detail={"why": why, "kept_artefact": str(kept.artefact_id),
                                     "set_aside": [str(r.artefact_id) for r in aside],
                                     "reasons": kept.verdict.reasons,
                                     "iteration": walk.iteration}))
        self.progress(Progress(kept.stage, walk.attempts[kept.stage], "kept", self._elapsed(),
                               f"{why}; going on with the best version: "
                               + "; ".join(kept.verdict.reasons), walk.iteration))
        return STAGE_ORDER.index(kept.stage) + 1

    def _held_out(self, requirements: Artefact) -> list[dict[str, Any]]:
        """The --eval cases with their checks, compiled like the spec's examples (only
        testing reads them: nothing is tuned on them)."""
        assert isinstance(requirements, Requirements)
        return [e.model_dump(mode="json") for e in held_out_examples(
            self.options.held_out, requirements.constraints,
            [a.name for a in requirements.agents])]

    def _fail_event(self, run_id: UUID, stage: str, exc: StageFailed, iteration: int,
                    **kept: Any) -> None:
        self.store.log(Event("error", run_id, agent=stage, detail={
            "iteration": iteration, "failed": str(exc), **kept}))

    def _apply(self, stage: str, result: StageResult, inputs: dict[str, Any],
               origin: dict[str, tuple[UUID, UUID]], run_id: UUID) -> None:
        """What an approved (or kept) artefact changes in the package the later stages
        see."""
        ids = (result.artefact_id, result.message_id)
        if isinstance(result.artefact, Blueprint) and not self.options.force:
            refuse_user_edits(self.options.out_dir / result.artefact.slug)  # say it now,
            return                                               # not after the whole build
        if isinstance(result.artefact, Package):   # a new package: each file comes from it
            package = result.artefact
            origin.clear()
            origin.update({f.path: ids for f in package.files})
            return
        if not isinstance(result.artefact, TuningReport | Docs | TestReport):
            return
        package = Package.model_validate(inputs["package"])
        if isinstance(result.artefact, TestReport):
            changed = with_recorded_answers(package, result.artefact)
        elif isinstance(result.artefact, TuningReport):
            changed = with_config(package, result.artefact.config)
        elif isinstance(result.artefact, Docs):
            changed = with_files(package, list(result.artefact.files))
        else:
            return
        if changed.sha256 == package.sha256:
            return
        record = self.rounds.log_artefact(run_id, stage, changed, result.message_id)
        before = {f.path: f.sha256 for f in package.files}
        for f in changed.files:
            if before.get(f.path) != f.sha256:
                origin[f.path] = (record.id, result.message_id)
        inputs["package"] = changed.model_dump(mode="json")

    def _next_iteration(self, stage: str, feedback: Feedback, walk: Walk,
                        started: float) -> str | None:
        """Where the next iteration starts (None: there is none): where `feedback`, what
        `stage` made, asks for changes, while iterations and the budget allow."""
        iteration = walk.iteration
        target = feedback.next_stage
        if target is None:
            return None
        elapsed = self._elapsed()
        if iteration >= self.options.max_iterations:
            self.progress(Progress(stage, 1, "done", elapsed, f"changes requested at "
                                   f"{target}, but {iteration} of {self.options.max_iterations}"
                                   " iteration(s) are done", iteration))
            return None
        redo = STAGE_ORDER[STAGE_ORDER.index(target):]
        needed = sum(r.seconds for r in walk.results
                     if r.iteration == iteration and r.stage in redo)
        left = self._left(started)
        if needed > left:
            self.progress(Progress(stage, 1, "done", elapsed, f"changes requested at "
                                   f"{target}, but redoing it took {needed:.0f}s and "
                                   f"{left:.0f}s of the budget are left", iteration))
            return None
        self.progress(Progress(target, 1, "iteration", elapsed,
                               f"iteration {iteration + 1} starts at {target}", iteration + 1))
        return target

    def _left(self, started: float) -> float:
        return self.options.budget_s - (self.observer.now() - started)
