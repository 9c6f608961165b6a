"""Running a generated package where it cannot hurt: its tests and its examples.

Generated code is untrusted, so every run here goes through
`sandbox.run_sandboxed` (own working directory, wall-clock and memory
limits, no network). The system cannot reach PostgreSQL from there; it logs
to a trace file (`runtime.trace`) that is read back and written to the log
under a run of kind `system` started by the caller.

`SandboxRunner` is what builds use. Tests of the build's logic pass their
own runner with the same three methods (`pytest`, `example`, `install`).
Builds wrap it in `observe.ObservedRunner`, which logs every result so that a
replay can answer it without running anything.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol
from uuid import UUID

from autogenesis.artefacts import PytestRun, Scenario
from autogenesis.build.wheelhouse import (
    WheelhouseError,
    build_runtime_wheel,
    ensure_dependencies,
)
from autogenesis.config import Settings
from autogenesis.runtime.trace import read_trace
from autogenesis.sandbox import run_sandboxed
from autogenesis.store.spool import SpoolRow
from autogenesis.store.sql import COLUMNS

PYTEST_TIMEOUT_S = 120.0
BUILD_TIMEOUT_S = 120.0
SCENARIO_MEMORY_MB = 6144   # the model, llama.cpp or torch, and the runtime
PYTEST_MEMORY_MB = 2048
TRACE_FILE = ".autogenesis-trace-{run_id}.jsonl"
"""Where a run of the system writes its log, in the package's folder: one per run, so
that runs at once do not share one."""


@dataclass(frozen=True)
class Outcome:
    """What one run of the system on one input gave."""

    reply: dict[str, Any] | None      # the system's answer body, None when it gave none
    rows: list[SpoolRow] = field(default_factory=list)   # its log, from the trace
    seconds: float = 0.0
    timed_out: bool = False
    error: str = ""
    network: str = "none"


@dataclass(frozen=True)
class Installed:
    """A package's wheel, built and installed in a fresh venv (see `SandboxRunner.install`)."""

    wheel: Path | None                # None when it did not build
    installed: bool                   # installed, requirements met, imported from the venv
    output: str                       # why not, or the install and probe output
    command: list[str] | None         # the console script in the venv
    seconds: float = 0.0
    network: str = "none"
    venv_bytes: int = 0               # the venv, with the package and its dependencies
    install_seconds: float = 0.0      # making the venv and installing into it


_REQUIREMENTS_PROBE = """
import importlib.util, sys
from importlib.metadata import version
import {slug}
assert {slug}.__file__.startswith(sys.prefix), f"imported from {{{slug}.__file__}}"
print("installed", version({dist!r}), {slug}.__file__)
for heavy in ("torch", "transformers", "xgrammar", "hatchling", "pytest"):
    print(heavy, "absent" if importlib.util.find_spec(heavy) is None else "present")
"""


def make_venv(target: Path) -> Path:
    """A fresh venv that sees none of this environment's packages; its python."""
    result = run_sandboxed([sys.executable, "-m", "venv", "--without-pip", str(target)],
                           cwd=target.parent, timeout=60)
    if not result.ok:
        raise RuntimeError(f"venv failed: {result.tail(400)}")
    return target / "bin" / "python"


def folder_bytes(folder: Path) -> int:
    """What the files under `folder` take (links not followed)."""
    return sum(p.lstat().st_size for p in folder.rglob("*") if p.is_file() and not
               p.is_symlink())


class Runner(Protocol):
    def pytest(self, folder: Path) -> PytestRun: ...

    def install(self, source: Path, work: Path, slug: str) -> Installed:
        """Build `source`'s wheel into `work/dist/`, install it in a venv `work/venv/`."""

    def example(self, folder: Path, slug: str, which: int | str, run_id: UUID, *,
                timeout: float, command: list[str] | None = None) -> Outcome:
        """Run the system on spec example `which` (a number) or on the text `which`."""


def _passthrough_env() -> dict[str, str]:
    """What a sandboxed system needs to find the model offline (never network access)."""
    settings = Settings.from_env()
    env = {"AUTOGENESIS_MODEL_CACHE": str(settings.models_dir), "HF_HUB_OFFLINE": "1",
           "HF_HOME": os.environ.get("HF_HOME") or str(Path.home() / ".cache" / "huggingface"),
           "TOKENIZERS_PARALLELISM": "false"}
    for name in ("AUTOGENESIS_MODEL", "AUTOGENESIS_BACKEND", "OMP_NUM_THREADS"):
        if os.environ.get(name):
            env[name] = os.environ[name]
    return env


_SUMMARY = re.compile(r"(\d+) (passed|failed|errors?)")


def parse_pytest(output: str) -> tuple[int, int, int]:
    """(passed, failed, errors) from pytest's last summary line."""
    counts = {"passed": 0, "failed": 0, "error": 0}
    lines = [line for line in output.splitlines() if " in " in line and
             any(k in line for k in ("passed", "failed", "error"))]
    for number, what in _SUMMARY.findall(lines[-1] if lines else ""):
        counts[what.rstrip("s") if what.startswith("error") else what] += int(number)
    return counts["passed"], counts["failed"], counts["error"]


@dataclass(frozen=True)
class SandboxRunner:
    """Runs the package with this Python, the build's model, in the sandbox: served by the
    build (`served`, a `llm.served` URL), or loaded by each run (`model`, `backend`)."""

    model: str | None = None
    backend: str | None = None
    served: str | None = None
    overlap: bool = True
    """With a served model: whether runs may overlap (a worker's runs do not: the build
    logged that they would not)."""

    @property
    def at_once(self) -> bool:
        """Whether runs of the system may overlap: only when they share the served model
        (two that load a model each fight over the cores: 1.8x slower than in turn)."""
        return self.served is not None and self.overlap

    def pytest(self, folder: Path) -> PytestRun:
        result = run_sandboxed([sys.executable, "-m", "pytest", "-q", "tests"], cwd=folder,
                               timeout=PYTEST_TIMEOUT_S, memory_mb=PYTEST_MEMORY_MB)
        passed, failed, errors = parse_pytest(result.stdout)
        if not result.ok and failed + errors == 0:
            errors = 1  # it failed before it could count (collection, a crash, the timeout)
        return PytestRun(passed=passed, failed=failed, errors=errors,
                         returncode=result.returncode, seconds=result.seconds,
                         timed_out=result.timed_out, output=result.tail(1500))

    def install(self, source: Path, work: Path, slug: str) -> Installed:
        """The wheel built offline with hatchling from this environment (`pip wheel
        --no-deps --no-build-isolation --no-index`); then a venv that cannot see this
        environment's packages, and the wheel installed into it with its declared
        dependencies from the wheelhouse only (`--no-index`, `build.wheelhouse`): a
        dependency that is missing there, or does not exist, fails the install. Its
        module must import from the venv. All in the sandbox, but for filling the
        wheelhouse (our own wheels, not the package's)."""
        dist = slug.replace("_", "-")
        built = run_sandboxed(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
             "--no-index", "--disable-pip-version-check", "-w", str(work / "dist"),
             str(source)], cwd=work, timeout=BUILD_TIMEOUT_S, memory_mb=2048,
            env={"PIP_NO_CACHE_DIR": "1"})
        wheels = sorted((work / "dist").glob("*.whl"))
        if not built.ok or not wheels:
            return Installed(None, False, f"the wheel did not build: {built.tail(600)}", None,
                             built.seconds, built.network)
        try:
            house = ensure_dependencies()
            runtime = build_runtime_wheel(work / "runtime").parent
        except WheelhouseError as exc:
            return Installed(wheels[0], False, f"unchecked: {exc}", None, built.seconds,
                             built.network)
        started = time.perf_counter()
        python = make_venv(work / "venv")
        install = run_sandboxed(
            [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-index",
             "--disable-pip-version-check", "--find-links", str(house), "--find-links",
             str(runtime), str(wheels[0])], cwd=work, timeout=BUILD_TIMEOUT_S,
            memory_mb=2048, env={"PIP_NO_CACHE_DIR": "1"})
        install_seconds = time.perf_counter() - started
        probe = run_sandboxed([str(python), "-c", _REQUIREMENTS_PROBE.format(
            slug=slug, dist=dist)], cwd=work, timeout=60, memory_mb=2048) if install.ok \
            else None
        output = (install.tail(400) if probe is None else probe.tail(400)).strip()
        return Installed(wheels[0], probe is not None and probe.ok, output,
                         [str(work / "venv" / "bin" / dist)],
                         built.seconds + install_seconds, built.network,
                         folder_bytes(work / "venv"), round(install_seconds, 2))

    def example(self, folder: Path, slug: str, which: int | str, run_id: UUID, *,
                timeout: float, command: list[str] | None = None) -> Outcome:
        trace = folder / TRACE_FILE.format(run_id=run_id)
        trace.unlink(missing_ok=True)
        argv = [*(command or [sys.executable, "-m", slug]), "--json", "--trace", str(trace),
                "--run-id", str(run_id), "--timeout", f"{timeout:.0f}"]
        if self.served:
            argv += ["--model", self.served]
        elif self.model:
            argv += ["--model", self.model]
        if self.backend and not self.served:
            argv += ["--backend", self.backend]
        argv += ["--example", str(which)] if isinstance(which, int) else ["--", which]
        # The system's own deadline comes first; the sandbox's kill is the backstop
        # (plus the model's load).
        result = run_sandboxed(argv, cwd=folder, timeout=timeout + 60,
                               memory_mb=SCENARIO_MEMORY_MB, env=_passthrough_env())
        rows = read_trace(trace, run_id)
        trace.unlink(missing_ok=True)
        reply = _reply(result.stdout) if result.ok else None
        error = "" if reply is not None else (
            "timed out" if result.timed_out else f"exit code {result.returncode}: "
            + result.tail(400))
        return Outcome(reply, rows, result.seconds, result.timed_out, error, result.network)


def _reply(stdout: str) -> dict[str, Any] | None:
    start = stdout.find("{")
    if start < 0:
        return None
    try:
        body = json.loads(stdout[start:])
    except json.JSONDecodeError:
        return None
    return body if isinstance(body, dict) and isinstance(body.get("answer"), str) else None


def _column(table: str, row: list[str | None], name: str) -> str | None:
    return row[COLUMNS[table].index(name)]


def scenario(number: int, example: dict[str, Any], exit_agent: str, outcome: Outcome,
             run_id: UUID) -> Scenario:
    """The TestReport's view of one run: what came back, by which path, at what cost."""
    messages = [r for t, r in outcome.rows if t == "messages"]
    completions = [r for t, r in outcome.rows if t == "completions"]
    events = [_column("events", r, "kind") or "" for t, r in outcome.rows if t == "events"]
    times = [datetime.fromisoformat(c) for r in messages
             if (c := _column("messages", r, "created_at"))]
    latency = (max(times) - min(times)).total_seconds() if len(times) > 1 else outcome.seconds
    reply = outcome.reply or {}
    steps = reply.get("steps") or []
    answer = str(reply.get("answer", ""))
    answered_by = reply.get("exit")
    return Scenario(
        example=number, input=example["input"], expected=example.get("expected", ""),
        answer=answer[:2000], exit_agent=answered_by,
        reached_exit=bool(answer.strip()) and answered_by == exit_agent and not outcome.timed_out,
        approved=bool(reply.get("approved")), steps=len(steps),
        steps_approved=sum(bool(s.get("approved")) for s in steps if isinstance(s, dict)),
        unapproved=[str(s.get("agent")) for s in steps
                    if isinstance(s, dict) and not s.get("approved")],
        path=[_column("messages", r, "sender") or "" for r in messages],
        latency_s=round(latency, 3),
        tokens_in=sum(int(_column("completions", r, "tokens_in") or 0) for r in completions),
        tokens_out=sum(int(_column("completions", r, "tokens_out") or 0) for r in completions),
        calls=len(completions),
        events=events, error=outcome.error[:600], run_id=str(run_id))
