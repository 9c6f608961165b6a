"""The entry points: `reexecute` a logged build, `resume` an interrupted one."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

from autogenesis.build.observe import Observer
from autogenesis.build.orchestrator import Build, BuildResult, Progress, Seams
from autogenesis.build.scenarios import Runner
from autogenesis.canonical import file_sha256
from autogenesis.errors import ReplayMismatch, UserError
from autogenesis.llm.base import ChatMessage, Decoding, Generation, Model
from autogenesis.llm.replay import ReplayModel
from autogenesis.replay.logged import UNFINISHED, LoggedRun
from autogenesis.replay.mirror import Mirror


class WatchedModel:
    """The replay model, telling the mirror about a mismatch before raising it (inside an
    agent the error would otherwise reach the pipeline only as a failed stage)."""

    def __init__(self, model: Model, mirror: Mirror) -> None:
        self.model = model
        self.mirror = mirror

    @property
    def identity(self) -> Any:
        return self.model.identity

    async def generate(self, messages: Sequence[ChatMessage], *,
                       schema: Mapping[str, Any] | None = None,
                       settings: Decoding | None = None) -> Generation:
        try:
            return await self.model.generate(messages, schema=schema, settings=settings)
        except ReplayMismatch as exc:
            self.mirror.mismatch(exc)
            raise


@dataclass
class Reexecution:
    run_id: UUID
    out_dir: Path
    seconds: float
    original_seconds: float | None
    diverged: ReplayMismatch | None
    matched: int = 0
    files: list[tuple[str, str, str]] = field(default_factory=list)  # path, logged, written
    package_sha256: str | None = None
    model_calls: int = 0
    observations: int = 0

    @property
    def identical(self) -> bool:
        return self.diverged is None

    @property
    def ratio(self) -> float | None:
        if not self.original_seconds or not self.seconds:
            return None
        return self.original_seconds / self.seconds


def _replaying(store: Any, original: LoggedRun, *, live: bool, out_dir: Path | None,
               model: Model | None = None, prompts: Any = None, runner: Runner | None = None,
               progress: Callable[[Progress], None] | None = None,
               ) -> tuple[Mirror, Observer, Build]:
    """The logged build's pipeline with its three seams swapped: the model (`model` past
    the log when live), the observer and the store; a divergence cancels the calling task."""
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()

    def stop() -> None:
        if task is not None:
            loop.call_soon_threadsafe(task.cancel)

    mirror = Mirror(store, original, live=live, stop=stop)
    replaying = WatchedModel(ReplayModel(original.tables["completions"], run_id=original.id,
                                         fallback=model), mirror)
    observer = Observer(mirror, logged=original.tables["observations"], live=live,
                        on_mismatch=mirror.mismatch)
    build = Build(mirror, replaying, options=original.options(out_dir),
                  seams=Seams(runner=runner, observer=observer, prompts=prompts),
                  **({"progress": progress} if progress is not None else {}))
    return mirror, observer, build


async def _run(build: Build, original: LoggedRun, mirror: Mirror) -> BuildResult | None:
    """The build; None when a divergence stopped it (the mirror holds which)."""
    try:
        return await build.run(original.spec(), spec_path=original.run["spec_path"],
                               name=original.run["name"])
    except asyncio.CancelledError:
        if mirror.diverged is None:
            raise
        task = asyncio.current_task()
        if task is not None:
            task.uncancel()
        return None


async def reexecute(store: Any, run_id: UUID, *, out_dir: Path | None = None,
                    prompts: Any = None) -> Reexecution:
    """Run logged build `run_id` again from its log and compare everything as it goes."""
    started = time.monotonic()
    original = LoggedRun.load(store, run_id)
    if original.run["status"] in UNFINISHED or original.run["finished_at"] is None:
        raise UserError(f"run {run_id} has not finished (still running, or killed): "
                        f"resume it with `autogenesis resume {run_id}`")
    folder = out_dir or Path(tempfile.mkdtemp(prefix="autogenesis-replay-"))
    mirror, observer, build = _replaying(store, original, live=False, out_dir=folder,
                                         prompts=prompts)
    result = None
    try:
        result = await _run(build, original, mirror)
    except Exception as exc:
        if mirror.diverged is None and original.run["status"] != "failed":
            mirror.mismatch(ReplayMismatch("pipeline", 0, "run", f"the re-execution failed "
                                           f"where the original did not: {exc}"))
    mirror.finish()
    files = _compare_files(original.tables["files"], folder) if mirror.diverged is None else []
    for path, logged, written in files:
        if logged != written:
            mirror.mismatch(ReplayMismatch("generator", 0, "file", f"{path}: logged sha256 "
                                           f"{logged}, written {written}"))
            break
    if out_dir is None:
        shutil.rmtree(folder, ignore_errors=True)
    original_seconds = (original.run["finished_at"] - original.run["started_at"]).total_seconds()
    return Reexecution(run_id, folder, time.monotonic() - started, original_seconds,
                       mirror.diverged, mirror.matched, files,
                       result.package.sha256 if result is not None else None,
                       len(original.tables["completions"]), observer.replayed)


def _compare_files(logged: list[dict[str, Any]], folder: Path) -> list[tuple[str, str, str]]:
    """(path, logged sha256, sha256 of the file written) per logged file."""
    out = []
    for row in logged:
        path = folder / row["path"]
        written = file_sha256(path) if path.is_file() else "missing"
        out.append((row["path"], row["sha256"], written))
    return out


async def resume(store: Any, run_id: UUID, model: Model, *, out_dir: Path | None = None,
                 runner: Runner | None = None, prompts: Any = None,
                 progress: Callable[[Progress], None] | None = None) -> BuildResult:
    """Continue build `run_id`, interrupted or killed, under its own run id.

    What the log holds is replayed (no model call, no sandbox run, no row written twice);
    from where it stops, `model`, the sandbox and the clock are live and every record is
    written to the run. Raises `UserError` for a run that finished or is live elsewhere,
    and `ReplayMismatch` when the code or prompts no longer reproduce the logged part.
    """
    store.writer.flush(30.0)   # starting the writer drains what dead processes spooled
    original = LoggedRun.load(store, run_id)
    status = original.run["status"]
    if status == "succeeded":
        raise UserError(f"run {run_id} finished: there is nothing to resume "
                        f"(its package: {original.run['package_path']})")
    if status == "failed":
        raise UserError(f"run {run_id} failed ({original.run['error']}): resume continues "
                        "interrupted runs; build the spec again")
    with store.run_lock(run_id) as free:
        if not free:
            raise UserError(f"run {run_id} is still running in another process")
        mirror, _, build = _replaying(store, original, live=True, out_dir=out_dir, model=model,
                                      prompts=prompts, runner=runner, progress=progress)
        result = await _run(build, original, mirror)
        store.flush()
    if mirror.diverged is not None or result is None:
        raise mirror.diverged or RuntimeError("resume stopped without a divergence")
    result.run_id = run_id
    return result
