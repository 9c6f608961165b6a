"""Serving the build's agents from another process: `autogenesis worker`.

A `Worker` attaches some of the ten agents of a build (the nine stage agents
and the approver) to a bus, normally over MQTT, and serves them for any
build run that asks. Several workers may serve the same agent: the MQTT
transport's shared subscriptions give each request to one of them.

What an agent in the coordinator's process would get from its `Build`, a
worker finds per run:

- the build's settings (which model the sandboxed system runs with, whether
  the model's judgement may reject) are read from the run's row in the log;
- model calls and observations are numbered per run and agent. Another
  worker may have served the same agent of the same run before (an earlier
  round, or a worker that died), so before each request the worker continues
  the numbering from what the log already holds. Whatever a worker logged
  is durable before its reply is delivered (the bus logs before it sends),
  so the next worker always sees it;
- the wheel the deployment stage builds stays in the worker's folder; the
  coordinator takes it from the log (the install observation carries it).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

from autogenesis.build.agents import Approver
from autogenesis.build.observe import ObservedRunner, Observer
from autogenesis.build.prompts import Prompts
from autogenesis.build.scenarios import Runner, SandboxRunner
from autogenesis.build.stages import AGENTS, STAGES, Wiring, stage_agents
from autogenesis.bus import Bus, Message
from autogenesis.bus.context import current_caller
from autogenesis.errors import ConfigError
from autogenesis.llm.base import Model
from autogenesis.llm.logged import LoggedModel
from autogenesis.runtime.agent import Agent
from autogenesis.store import Store


def parse_agents(text: str) -> list[str]:
    """`understanding,design` (or `all`) as a list of agent names; ConfigError otherwise."""
    names = [n.strip().replace("-", "_") for n in text.split(",") if n.strip()]
    if names == ["all"]:
        return list(AGENTS)
    unknown = [n for n in names if n not in AGENTS]
    if unknown or not names:
        raise ConfigError(f"unknown agent(s) {', '.join(unknown) or '(none given)'}: "
                          f"choose from {', '.join(AGENTS)} (or all)")
    return list(dict.fromkeys(names))


@dataclass(frozen=True)
class RunSettings:
    """What a build run asks of its agents beyond the request: from its row in the log."""

    sandbox_model: str | None = None
    sandbox_backend: str | None = None
    model_blocking: bool = False
    model_reads: bool = False

    @classmethod
    def of(cls, row: Mapping[str, Any] | None) -> RunSettings:
        config = (row or {}).get("config") or {}
        return cls(config.get("sandbox_model"), config.get("sandbox_backend"),
                   bool(config.get("model_blocking", False)),
                   bool(config.get("model_reads", False)))


Served = Callable[[str, Message, float], None]
"""Told (agent, message, seconds) after each request a worker handled."""


class _RunScoped(Agent):
    """An agent that, before each request, brings its numbering up to the run's log."""

    def __init__(self, inner: Agent, worker: Worker) -> None:
        super().__init__(inner.name)
        self.inner = inner
        self.worker = worker

    async def handle(self, message: Message) -> Any:
        started = time.monotonic()
        if message.run_id is not None:
            await asyncio.to_thread(self.worker.continue_run, self.name, message.run_id)
        try:
            return await self.inner.handle(message)
        finally:
            self.worker.served(self.name, message, time.monotonic() - started)


class Worker:
    """Serves `agents` (names from `AGENTS`) for any build run, with `model`.

    `runner` makes the sandbox runner for a run's settings (tests pass one that runs
    the generated system in-process); `served` hears of every request handled.
    """

    def __init__(self, store: Store, model: Model, agents: Sequence[str], *,
                 prompts: Prompts | None = None,
                 runner: Callable[[RunSettings], Runner] | None = None,
                 served: Served | None = None, work_dir: Path | None = None) -> None:
        self.store = store
        self.model = LoggedModel(model, store)
        self.prompts = prompts if prompts is not None else Prompts()
        self.observer = Observer(store)
        self.names = list(agents)
        self._runner = runner or (lambda s: SandboxRunner(s.sandbox_model, s.sandbox_backend))
        self._served = served
        self._settings: dict[UUID, RunSettings] = {}
        self._tmp = tempfile.TemporaryDirectory(prefix="autogenesis-worker-",
                                                dir=work_dir)
        self.handled = 0

    def agents(self) -> list[Agent]:
        """The agents named, each numbering its calls after the run's log."""
        every: dict[str, Agent] = {agent.stage: agent for agent in stage_agents(Wiring(
            self.model, self.prompts, self.store, runner=self.runner_for_caller,
            clock=self.observer.now, dist_dir=Path(self._tmp.name),
            model_reads=lambda run: self.settings(run).model_reads))}
        every["approver"] = Approver(
            self.model, self.prompts, STAGES,
            model_blocking=lambda run: self.settings(run).model_blocking)
        return [_RunScoped(every[name], self) for name in self.names]

    async def attach(self, bus: Bus) -> None:
        for agent in self.agents():
            await agent.attach(bus)

    def close(self) -> None:
        self._tmp.cleanup()

    # --- per run ------------------------------------------------------------------

    def settings(self, run_id: UUID | None) -> RunSettings:
        if run_id is None:
            return RunSettings()
        if run_id not in self._settings:
            self._settings[run_id] = RunSettings.of(self.store.run(run_id))
        return self._settings[run_id]

    def runner_for_caller(self) -> Runner:
        caller = current_caller()
        settings = self.settings(caller.run_id if caller else None)
        return ObservedRunner(self._runner(settings), self.observer)

    def continue_run(self, agent: str, run_id: UUID) -> None:
        """Number this agent's next calls and observations in `run_id` after the log's."""
        self.settings(run_id)
        self.model.continue_from(run_id, {agent: self.store.call_counts("completions", run_id)
                                          .get(agent, 0)})
        self.observer.continue_from(run_id, {
            agent: self.store.call_counts("observations", run_id).get(agent, 0)})

    def served(self, agent: str, message: Message, seconds: float) -> None:
        self.handled += 1
        if self._served is not None:
            self._served(agent, message, seconds)
