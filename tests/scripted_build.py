"""A scripted stand-in for the model in build tests: answers by the schema it is asked for.

Stage logic is tested with it; the real default model runs in test_build_real.py.
"""

from __future__ import annotations

import asyncio
import importlib
import itertools
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from uuid import UUID

from autogenesis.artefacts import PytestRun
from autogenesis.build.agents.understanding import AgentName, Team
from autogenesis.build.scenarios import Installed, Outcome, SandboxRunner
from autogenesis.llm.logged import LoggedModel
from autogenesis.llm.schema import OneOf, schema_type
from autogenesis.llm.testing import FunctionModel
from autogenesis.runtime.launch import ask, load_config
from autogenesis.runtime.model_agent import ModelJudgement
from autogenesis.runtime.trace import TraceLog, read_trace

NAMES = ("planner", "explainer", "quiz_writer", "estimator", "checker_two")


class BuildAnswers:
    """Names implied agents from a fixed list, picks the first enum value, approves when
    `judge`, and answers free text with a short sentence that echoes the request."""

    def __init__(self, *, judge: bool = True, vary: bool = True) -> None:
        self.names = itertools.cycle(NAMES if vary else NAMES[:1])
        self.judge = judge

    def __call__(self, messages: list[dict[str, str]], schema: Mapping[str, Any] | None,
                 settings: Any) -> Any:
        if schema is None:
            last = messages[-1]["content"].split("\n")[0][:80]
            return f"You are a careful agent. You handle this: {last}."
        asked = schema_type(schema)
        if asked is AgentName:
            return {"name": next(self.names)}
        if asked is Team:
            return {"agents": [{"name": "helper", "duty": "does the work"}]}
        if asked is ModelJudgement:
            return {"approved": self.judge,
                    "feedback": "looks right" if self.judge else "not good"}
        return system_answers(messages, schema, settings)


def build_model(*, judge: bool = True) -> FunctionModel:
    return FunctionModel(BuildAnswers(judge=judge))


def system_answers(messages: list[dict[str, str]], schema: Mapping[str, Any] | None,
                   settings: Any) -> Any:
    """A generated system's scripted model: short answers, approvals, first choice."""
    if schema is None:
        return "A short scripted answer about " + messages[-1]["content"].split("\n")[0][6:50]
    asked = schema_type(schema)
    if asked is ModelJudgement:
        return {"approved": True, "feedback": "fine"}
    if asked is not None and issubclass(asked, OneOf):     # a router's, a design's choice
        return {asked.field: asked.options[0]}
    return {"score": 5}     # a bid; anything else (typed fields) gets an answer that
    # does not fit its schema, as from a weak model


def always(text: str):
    """A generated system's scripted model that answers every task with `text` (whatever
    was asked: the Lisbon-for-Paris case), judging and choosing as `system_answers`."""
    def answers(messages: list[dict[str, str]], schema: Mapping[str, Any] | None,
                settings: Any) -> Any:
        return text if schema is None else system_answers(messages, schema, settings)
    return answers


class InProcessRunner:
    """Runs a generated package's examples in this process with a scripted model.

    For tests of the build's logic: the package's own tests still run for real in
    the sandbox (`SandboxRunner.pytest`), and the system's log still travels
    through a trace file, as from the sandbox. `answers` is the scripted model's
    function; `fail` makes every example fail as a crashed run would.
    """

    def __init__(self, answers=system_answers, *, fail: bool = False) -> None:
        self.answers = answers
        self.fail = fail
        self.examples: list[tuple[str, Any]] = []   # (slug, which) per run, for assertions
        self.commands: list[list[str] | None] = []

    def pytest(self, folder: Path) -> PytestRun:
        return SandboxRunner().pytest(folder)

    def install(self, source: Path, work: Path, slug: str) -> Installed:
        return SandboxRunner().install(source, work, slug)

    def example(self, folder: Path, slug: str, which: int | str, run_id: UUID, *,
                timeout: float, command: list[str] | None = None) -> Outcome:
        self.examples.append((slug, which))
        self.commands.append(command)
        if self.fail:
            return Outcome(None, [], 0.1, False, "exit code 1: scripted crash")
        source = folder / slug if (folder / slug).is_dir() else folder / "src" / slug
        config = load_config(source / "config.json")
        text = config["examples"][which - 1]["input"] if isinstance(which, int) else which
        for name in [m for m in sys.modules if m == slug or m.startswith(slug + ".")]:
            del sys.modules[name]
        sys.path.insert(0, str(source.parent))
        try:
            system = importlib.import_module(f"{slug}.system")
            trace_path = folder / "trace.jsonl"
            started = time.monotonic()
            with TraceLog(trace_path) as trace:
                model = LoggedModel(FunctionModel(self.answers), trace)
                body = asyncio.run(ask(system.build(model, config), text, store=trace,
                                       run_id=run_id, timeout=timeout))
            rows = read_trace(trace_path, run_id)
            trace_path.unlink()
        finally:
            sys.path.remove(str(source.parent))
        return Outcome(body, rows, time.monotonic() - started)
