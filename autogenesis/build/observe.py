"""What a build observes outside its own code, logged so that a replay can answer it.

The build's agents, approver, checks and templates are code: given the same
inputs they do the same thing again. What they cannot redo by themselves is
what they observe of the world:

- the model's answers (logged as completions by `llm.logged.LoggedModel`);
- what the generated system did in the sandbox: its pytest run, its answers
  to the examples (with the trace of its messages and model calls), the
  wheel it built and whether that wheel installed;
- the clock, which steers the budget decisions (tuning trials, iterations).

`Observer` logs each of the last two kinds as an `Observation` row, numbered
per run and agent in the order the agent asked, like completions. Given a logged
run's observations it answers from them instead: the n-th observation of an
agent gets the n-th logged one, after checking that it asks for the same
thing (`ReplayMismatch` otherwise); one made among others at once
(`llm.concurrent.in_threads`) gets the agent's earliest unanswered one that
asks the same, whatever its number. When the log has no more for an agent it
either goes live (`live=True`: resuming a run) or raises `ReplayMismatch`
(re-execution must not do anything the original did not).
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, NoReturn
from uuid import UUID

from autogenesis.artefacts import PytestRun
from autogenesis.build.messages import COORDINATOR
from autogenesis.build.scenarios import Installed, Outcome, Runner
from autogenesis.bus.context import current_caller
from autogenesis.errors import ReplayMismatch
from autogenesis.llm.concurrent import take_place
from autogenesis.llm.logged import Log
from autogenesis.llm.replay import diff_json
from autogenesis.store.records import Observation
from autogenesis.store.sql import COLUMNS


class Observer:
    """Logs observations; answers them from `logged` rows first when given."""

    def __init__(self, store: Log, *, logged: Iterable[Mapping[str, Any]] = (),
                 live: bool = True,
                 on_mismatch: Callable[[ReplayMismatch], None] | None = None) -> None:
        self.store = store
        self.live = live
        self.on_mismatch = on_mismatch
        self.run_id: UUID | None = None     # for the coordinator, outside any agent
        self._logged: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
        for row in sorted(logged, key=lambda r: (r["agent"], r["call_index"])):
            self._logged[row["agent"]].append(row)
        self._open: dict[str, list[int]] = {   # per agent, the unanswered rows' places
            agent: list(range(len(rows))) for agent, rows in self._logged.items()}
        self._next: dict[tuple[UUID, str], int] = defaultdict(int)
        self._lock = threading.Lock()
        self._t0 = time.monotonic()
        self._offset = 0.0
        self.replayed = 0

    def observe(self, kind: str, request: dict[str, Any],
                compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """The result of `compute()`, logged; or the logged result of the same request."""
        caller = current_caller()
        agent = caller.agent if caller else COORDINATOR
        run_id = (caller.run_id if caller else None) or self.run_id
        if run_id is None:
            raise RuntimeError("an observation needs a run: set Observer.run_id")
        logged = self._logged.get(agent, [])
        with self._lock:
            index = self._next[(run_id, agent)]
            self._next[(run_id, agent)] += 1
            place = take_place(self._open.setdefault(agent, []),
                               lambda i: logged[i]["kind"] == kind
                               and logged[i]["request"] == request)
        if place is not None:
            row = logged[place]
            if row["kind"] != kind or row["request"] != request:
                self._mismatch(ReplayMismatch(agent, index, "observation", diff_json(
                    {"kind": row["kind"], "request": row["request"]},
                    {"kind": kind, "request": request})))
            index = row["call_index"]   # logged again under the original's number
            result = dict(row["result"])
            with self._lock:
                self.replayed += 1
        elif self.live:
            result = compute()
        else:
            self._mismatch(ReplayMismatch(
                agent, index, "observation", f"the original run observed {len(logged)} "
                f"thing(s) here; this is one more: {kind} {json.dumps(request)[:200]}"))
        self.store.log(Observation(run_id=run_id, agent=agent, call_index=index, kind=kind,
                                   request=request, result=result,
                                   message_id=caller.message_id if caller else None))
        return result

    def continue_from(self, run_id: UUID, counts: Mapping[str, int]) -> None:
        """Number further observations after those already logged (per agent): a worker
        serving a run that other workers served before it."""
        with self._lock:
            for agent, count in counts.items():
                self._next[(run_id, agent)] = max(self._next[(run_id, agent)], count)

    def _mismatch(self, exc: ReplayMismatch) -> NoReturn:
        if self.on_mismatch is not None:
            self.on_mismatch(exc)
        raise exc

    def now(self) -> float:
        """Seconds on the build's clock: a logged reading when replaying, else the time since
        this observer started, continued from the last replayed reading (a resumed run's
        clock goes on from where the log stopped, not counting the time it lay dead)."""
        def read() -> dict[str, Any]:
            return {"t": round(time.monotonic() - self._t0 + self._offset, 4)}
        replayed = self.replayed
        t = float(self.observe("clock", {}, read)["t"])
        if self.replayed != replayed:   # a logged reading: live ones go on from it
            self._offset = t - (time.monotonic() - self._t0)
        return t


class ObservedRunner:
    """A `Runner` whose every result goes through an `Observer`."""

    def __init__(self, runner: Runner, observer: Observer) -> None:
        self.runner = runner
        self.observer = observer

    @property
    def at_once(self) -> bool:
        """Whether the runner's runs may overlap (`SandboxRunner.at_once`)."""
        return bool(getattr(self.runner, "at_once", False))

    def pytest(self, folder: Path) -> PytestRun:
        result = self.observer.observe(
            "pytest", {}, lambda: self.runner.pytest(folder).model_dump(mode="json"))
        return PytestRun.model_validate(result)

    def example(self, folder: Path, slug: str, which: int | str, run_id: UUID, *,
                timeout: float, command: list[str] | None = None) -> Outcome:
        request = {"slug": slug, "which": which, "timeout": round(timeout, 1),
                   "installed": command is not None}

        def run() -> dict[str, Any]:
            outcome = self.runner.example(folder, slug, which, run_id, timeout=timeout,
                                          command=command)
            return {"reply": outcome.reply, "rows": [[t, r] for t, r in outcome.rows],
                    "seconds": outcome.seconds, "timed_out": outcome.timed_out,
                    "error": outcome.error, "network": outcome.network}

        result = self.observer.observe("example", request, run)
        rows = [(t, _with_run(t, r, run_id)) for t, r in result["rows"]]
        return Outcome(result["reply"], rows, result["seconds"], result["timed_out"],
                       result["error"], result["network"])

    def install(self, source: Path, work: Path, slug: str) -> Installed:
        def run() -> dict[str, Any]:
            done = self.runner.install(source, work, slug)
            wheel = None if done.wheel is None else {
                "name": done.wheel.name,
                "bytes": base64.b64encode(done.wheel.read_bytes()).decode("ascii")}
            return {"wheel": wheel, "installed": done.installed, "output": done.output,
                    "command": done.command, "seconds": done.seconds,
                    "network": done.network, "venv_bytes": done.venv_bytes,
                    "install_seconds": done.install_seconds}

        result = self.observer.observe("install", {"slug": slug}, run)
        wheel = None
        if result["wheel"] is not None:  # replayed: the logged wheel, byte for byte
            wheel = work / "dist" / result["wheel"]["name"]
            if not wheel.is_file():
                wheel.parent.mkdir(parents=True, exist_ok=True)
                wheel.write_bytes(base64.b64decode(result["wheel"]["bytes"]))
        return Installed(wheel, result["installed"], result["output"], result["command"],
                         result["seconds"], result["network"],
                         result.get("venv_bytes", 0),          # not logged before issue 22
                         result.get("install_seconds", 0.0))


def _with_run(table: str, row: list[str | None], run_id: UUID) -> list[str | None]:
    """A logged system run's trace row, moved to the run now asking (a replayed run
    has a run id of its own)."""
    row = list(row)
    row[COLUMNS[table].index("run_id")] = str(run_id)
    return row
