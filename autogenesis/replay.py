"""Re-execute a logged build from its log, and resume an interrupted one.

Both run the same pipeline (`pipeline.Build`) again with three things swapped:

- the model: each agent's n-th call is answered with its n-th logged
  completion, after checking the call is the same (`llm.replay.ReplayModel`);
- the observer: the sandbox's results and the clock readings come from the
  log (`observe.Observer` given the logged observations);
- the store: a `Mirror` that holds every record the pipeline logs against the
  original's record in the same place (the n-th message, verdict, event and
  system run; an artefact's kind and version; a file's path; an agent's n-th
  model call or observation) and compares the parts that are not measured
  time. Ids are the one thing a re-execution makes anew: each new id is paired
  with the original's when its record matches, and translated before every
  comparison, so a verdict must point at the same artefact, a reply at the
  same request, a file at the same message.

`reexecute` writes nothing into the original run. It stops at the first
difference (`ReplayMismatch`: stage, agent, place, diff), checks at the end
that the original has nothing the re-execution did not produce, and compares
the files written to its own folder with the logged sha256 of each.

`resume` replays the same way until the log runs out, then goes on live: the
model, the sandbox and the clock for real, and every further record written
to the original run (ids of replayed records translated to the original's),
so that no approved stage is redone and no row is written twice.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

from autogenesis.canonical import canonical_json, file_sha256, sha256_of
from autogenesis.errors import ReplayMismatch, UserError
from autogenesis.llm.base import ChatMessage, Decoding, Generation, Model
from autogenesis.llm.replay import ReplayModel, diff_json
from autogenesis.observe import Observer
from autogenesis.pipeline import Build, BuildOptions, BuildResult, Progress
from autogenesis.scenarios import Runner
from autogenesis.store.protocol import RunLogging, Sink, call_counts, in_call_order
from autogenesis.store.records import Record
from autogenesis.store.sql import COLUMNS, JSON_COLUMNS, TABLES_WITH_RUN

COMPARED: dict[str, tuple[str, ...]] = {
    "messages": ("sender", "recipient", "topic", "kind", "body", "reply_to", "hop",
                 "expects_reply", "conversation_id"),
    "artefacts": ("stage", "kind", "version", "body", "sha256", "message_id"),
    "verdicts": ("artefact_id", "stage", "approved", "reasons", "checks", "message_id"),
    "events": ("kind", "agent", "message_id", "detail"),
    "files": ("path", "sha256", "size", "artefact_id", "message_id"),
    "completions": ("agent", "call_index", "message_id"),
    "observations": ("agent", "call_index", "kind", "request", "message_id"),
}
"""What must be equal; the rest (created_at, latency, deadlines) is measured time."""
RUN_START: tuple[str, ...] = ("kind", "name", "spec_sha256")
RUN_CHILD: tuple[str, ...] = ("kind", "name", "config")
RUN_FINISH: tuple[str, ...] = ("status", "error")
UNFINISHED = ("running", "interrupted")


@dataclass
class LoggedRun:
    """Everything one build logged, read once: what a replay is held to."""

    run: dict[str, Any]
    tables: dict[str, list[dict[str, Any]]]
    children: list[dict[str, Any]]     # the generated system's runs, in start order

    @classmethod
    def load(cls, store: Any, run_id: UUID) -> LoggedRun:
        run = store.run(run_id)
        if run is None:
            raise UserError(f"no run {run_id} in the log (autogenesis runs lists them)")
        if run["kind"] != "build":
            raise UserError(f"run {run_id} is a {run['kind']} run; only build runs can be "
                            "re-executed or resumed (replay shows any run's timeline)")
        return cls(run, {
            "messages": store.messages(run_id), "completions": store.completions(run_id),
            "artefacts": store.artefacts(run_id), "verdicts": store.verdicts(run_id),
            "events": store.events(run_id), "files": store.files(run_id),
            "observations": store.observations(run_id),
        }, store.children(run_id))

    @property
    def id(self) -> UUID:
        run_id: UUID = self.run["id"]
        return run_id

    def spec(self) -> str:
        """The spec text, from the understanding stage's first request."""
        for m in self.tables["messages"]:
            if m["recipient"] == "understanding" and m["kind"] == "produce":
                return str(m["body"]["inputs"]["spec"])
        raise UserError(f"run {self.id} logged no request to the understanding stage: "
                        "there is nothing to replay")

    def options(self, out_dir: Path | None = None) -> BuildOptions:
        """The build's options as logged (the package goes to `out_dir` when given)."""
        config = self.run["config"]
        return BuildOptions(
            out_dir=out_dir or Path(config.get("out_dir", "generated")),
            max_rounds=config.get("max_rounds", 3),
            max_iterations=config.get("max_iterations", 2),
            budget_s=config.get("budget_s", 300.0),
            stage_timeout=config.get("stage_timeout", 600.0),
            model_blocking=config.get("model_blocking", False),
            model_reads=config.get("model_reads", False),
            held_out=tuple(config.get("held_out", ())),
            model=config.get("sandbox_model"), backend=config.get("sandbox_backend"))


KEYS: dict[str, tuple[str, ...]] = {
    "artefacts": ("kind", "version"), "files": ("path",),
    "completions": ("agent", "call_index"), "observations": ("agent", "call_index"),
}
"""Records found by a key; messages, verdicts, events and system runs by their place."""


def _key(table: str, row: Mapping[str, Any]) -> Any:
    values = tuple(row[c] for c in KEYS[table])
    return values[0] if len(values) == 1 else values


class _Place:
    """Where the next record of each kind goes in the original's log."""

    def __init__(self, original: LoggedRun) -> None:
        t = original.tables
        self.ordinal = {name: list(t[name]) for name in ("messages", "verdicts", "events")}
        self.ordinal["runs"] = list(original.children)
        self.by_key = {table: {_key(table, r): r for r in t[table]} for table in KEYS}
        self.used: Counter[str] = Counter()
        self.seen_keys: dict[str, set[Any]] = {table: set() for table in KEYS}

    def take(self, table: str, row: Mapping[str, Any]) -> tuple[Any, dict[str, Any] | None]:
        """(the record's place, the original's record there or None); for "runs", the
        next system run."""
        if table in self.ordinal:
            n = self.used[table]
            self.used[table] += 1
            rows = self.ordinal[table]
            return n, rows[n] if n < len(rows) else None
        key = _key(table, row)
        self.seen_keys[table].add(key)
        return key, self.by_key[table].get(key)

    def missing(self) -> tuple[str, Any, dict[str, Any]] | None:
        """The first record of the original nobody reproduced."""
        for table, rows in self.ordinal.items():
            if self.used[table] < len(rows):
                return table, self.used[table], rows[self.used[table]]
        for table, keyed in self.by_key.items():
            for key, row in keyed.items():
                if key not in self.seen_keys[table]:
                    return table, key, row
        return None


class Mirror(RunLogging):
    """A store for a replayed build: every record held against the original's.

    `live=False` (re-execution): nothing is written; a record with no
    counterpart is a divergence. `live=True` (resume): a record with no
    counterpart is new work and is written to the original run, ids
    translated. Either way a record that differs from its counterpart is a
    divergence. The first divergence is kept in `diverged` and `stop` is
    called (the replay cancels its build); later records are let through.
    """

    def __init__(self, store: Any, original: LoggedRun, *, live: bool,
                 stop: Callable[[], None] = lambda: None) -> None:
        self.store = store
        self.original = original
        self.live = live
        self.stop = stop
        self.diverged: ReplayMismatch | None = None
        self.ids: dict[Any, Any] = {}          # replay's id (UUID and str) -> original's
        self.place = _Place(original)
        # the original's rows the re-execution has matched so far: what its reads answer
        self.seen: dict[str, list[dict[str, Any]]] = {t: [] for t in TABLES_WITH_RUN}
        self.stage_of: dict[Any, str] = {}     # conversation -> stage, for reports
        self.matched = 0
        self._run_ids: set[Any] = set()        # the build run and its children (replay ids)

    # --- the Store interface the pipeline uses ------------------------------

    def log(self, record: Record, sink: Sink | None = None) -> None:
        if self.diverged is None:
            try:
                self._hold(record, sink)
                return
            except ReplayMismatch as exc:
                self.mismatch(exc)
        if sink is not None:
            sink([record])

    def flush(self, timeout: float | None = 30.0) -> bool:
        return self.store.flush(timeout) if self.live else True

    @contextmanager
    def run_lock(self, run_id: UUID) -> Iterator[bool]:
        yield True   # the replay's caller holds the original run's lock

    def ingest(self, rows: list[tuple[str, list[str | None]]]) -> int:
        """A system run's trace: in a replay it came from the log, so it is in the log
        already, unless the original died before writing it (then it is written)."""
        if not self.live or self.diverged is not None:
            return len(rows)
        moved = [(t, [self._translate_text(v) for v in r]) for t, r in rows]
        by_table: dict[str, list[list[str | None]]] = {}
        for table, values in moved:
            by_table.setdefault(table, []).append(values)
        fresh: list[tuple[str, list[str | None]]] = []
        for table, values_list in by_table.items():
            have = self.store.existing(table, [UUID(v[0]) for v in values_list if v[0]])
            fresh += [(table, v) for v in values_list if v[0] and UUID(v[0]) not in have]
        return int(self.store.ingest(fresh))

    # Reads answer with the original's rows the re-execution has matched so far (in the
    # original's ids): the one build a mirror serves, whatever run id it is asked for.

    def run(self, run_id: UUID) -> dict[str, Any] | None:
        original = self.ids.get(run_id, run_id)
        if original == self.original.id:
            return self.original.run
        return next((c for c in self.original.children if c["id"] == original), None)

    def children(self, run_id: UUID) -> list[dict[str, Any]]:
        return list(self.original.children)

    def verdicts(self, run_id: UUID) -> list[dict[str, Any]]:
        return list(self.seen["verdicts"])

    def events(self, run_id: UUID | None, kind: str | None = None) -> list[dict[str, Any]]:
        return [e for e in self.seen["events"] if kind is None or e["kind"] == kind]

    def messages(self, run_id: UUID) -> list[dict[str, Any]]:
        return list(self.seen["messages"])

    def completions(self, run_id: UUID) -> list[dict[str, Any]]:
        return in_call_order(self.seen["completions"])

    def artefacts(self, run_id: UUID) -> list[dict[str, Any]]:
        return list(self.seen["artefacts"])

    def files(self, run_id: UUID) -> list[dict[str, Any]]:
        return list(self.seen["files"])

    def observations(self, run_id: UUID) -> list[dict[str, Any]]:
        return in_call_order(self.seen["observations"])

    def existing(self, table: str, ids: list[UUID]) -> set[UUID]:
        return set(self.store.existing(table, ids)) if self.live else set()

    def count(self, table: str, run_id: UUID) -> int:
        return len(self.seen[table])

    def call_counts(self, table: str, run_id: UUID) -> dict[str, int]:
        return call_counts(self.seen[table])

    # --- divergence -----------------------------------------------------------

    def mismatch(self, exc: ReplayMismatch) -> None:
        """Keep the first divergence (from here, the model or the observer) and stop."""
        if self.diverged is None:
            self.diverged = exc
            self.stop()

    def finish(self) -> None:
        """After a re-execution: whatever the original logged and nobody reproduced."""
        if self.diverged is not None or self.live:
            return
        left = self.place.missing()
        if left is not None:
            table, where, row = left
            self.mismatch(ReplayMismatch(
                _agent_of(table, row), where if isinstance(where, int) else 0, "missing",
                f"the original logged {table} {where!r} and the re-execution did not: "
                + diff_json(_shown(table, row), None), stage=self._stage(table, row)))

    # --- holding one record against the original ------------------------------

    def _hold(self, record: Record, sink: Sink | None) -> None:
        table = record.table
        row = _as_row(record)
        if table == "runs":
            self._hold_run(record, row, sink)
            return
        where, original = self.place.take(table, row)
        if original is None:
            if not self.live:
                raise ReplayMismatch(
                    _agent_of(table, row), where if isinstance(where, int) else 0, table,
                    f"the original run has no {table} {where!r}; the re-execution logged: "
                    + diff_json(None, _shown(table, self._translated(row))),
                    stage=self._stage(table, row))
            self._write(record, row, sink)
            return
        self._learn(table, row, original)
        wanted = {c: original[c] for c in COMPARED[table]}
        got = {c: self._translate(row[c]) for c in COMPARED[table]}
        if table == "artefacts":   # its hash, over the body with the original's ids
            got["sha256"] = sha256_of(got["body"])
        if got != wanted:
            raise ReplayMismatch(_agent_of(table, original),
                                 where if isinstance(where, int) else _index(where),
                                 table[:-1] if table.endswith("s") else table,
                                 diff_json(wanted, got), stage=self._stage(table, original))
        self.matched += 1
        self._saw(table, original)
        if sink is not None:
            sink([record])

    def _hold_run(self, record: Record, row: dict[str, Any], sink: Sink | None) -> None:
        run_id = row["id"]
        original: dict[str, Any] | None
        if run_id in self.ids:                       # a run finishing
            original = self._original_run(self.ids[run_id])
            if original["status"] in UNFINISHED or original["finished_at"] is None:
                if not self.live:
                    raise ReplayMismatch("pipeline", 0, "run", "the original run never "
                                         "finished (interrupted?): resume it instead")
                self._write(record, row, sink)
                return
            compared = RUN_FINISH
        elif row["kind"] == "build" and not self._run_ids:
            original, compared = self.original.run, RUN_START
        else:
            n, original = self.place.take("runs", row)
            if original is None:
                if not self.live:
                    raise ReplayMismatch("pipeline", n, "run", "the original started no "
                                         f"system run #{n}; the re-execution did: "
                                         + diff_json(None, self._translated(row)["config"]))
                self._run_ids.add(run_id)
                self._write(record, row, sink)
                return
            compared = RUN_CHILD
            self.ids[run_id] = original["id"]
            self.ids[str(run_id)] = str(original["id"])
        if run_id not in self.ids:
            self.ids[run_id] = original["id"]
            self.ids[str(run_id)] = str(original["id"])
        self._run_ids.add(run_id)
        wanted = {c: original[c] for c in compared}
        got = {c: self._translate(row[c]) for c in compared}
        if got != wanted:
            raise ReplayMismatch("pipeline", 0, "run", diff_json(wanted, got))
        self.matched += 1
        if sink is not None:
            sink([record])

    def _original_run(self, run_id: Any) -> dict[str, Any]:
        if run_id == self.original.id:
            return self.original.run
        return next(c for c in self.original.children if c["id"] == run_id)

    def _learn(self, table: str, row: dict[str, Any], original: dict[str, Any]) -> None:
        """Pair the ids this record introduces with the original's."""
        names = ["id"] + (["conversation_id"] if table == "messages" else [])
        for name in names:
            mine, theirs = row[name], original[name]
            if mine not in self.ids:
                self.ids[mine] = theirs
                self.ids[str(mine)] = str(theirs)
        if table == "artefacts" and row["sha256"] != original["sha256"]:
            # the same artefact with the replay's ids hashes differently: where its hash is
            # quoted (the approver's reply, a loop event) the original's is expected
            self.ids[row["sha256"]] = original["sha256"]
        if table == "messages" and original["kind"] == "produce" and original["hop"] == 0:
            self.stage_of[original["conversation_id"]] = original["recipient"]

    def _write(self, record: Record, row: dict[str, Any], sink: Sink | None) -> None:
        """Resume: new work goes into the original run, under the original's ids."""
        moved = _translate_record(record, self._translate, self._translate_text)
        self._saw(record.table, self._translated(row))
        if sink is None:
            self.store.log(moved)
        else:
            self.store.log(moved, lambda _: sink([record]))

    def _saw(self, table: str, row: dict[str, Any]) -> None:
        if table in self.seen:
            self.seen[table].append(row)

    def _stage(self, table: str, row: Mapping[str, Any]) -> str | None:
        if "stage" in row:
            return str(row["stage"])
        conversation = row.get("conversation_id")
        if conversation is not None:
            return self.stage_of.get(self.ids.get(conversation, conversation))
        return None

    def _translated(self, row: Mapping[str, Any]) -> dict[str, Any]:
        return {k: self._translate(v) for k, v in row.items()}

    def _translate(self, value: Any) -> Any:
        if isinstance(value, UUID | str):
            return self.ids.get(value, value)
        if isinstance(value, dict):
            return {k: self._translate(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self._translate(v) for v in value]
        return value

    def _translate_text(self, value: str | None) -> str | None:
        return None if value is None else self.ids.get(value, value)


def _as_row(record: Record) -> dict[str, Any]:
    """A record as {column: value}, JSON columns parsed (as the database returns them)."""
    row = dict(zip(COLUMNS[record.table], record.row(), strict=True))
    for name in JSON_COLUMNS & row.keys():
        if isinstance(row[name], str):
            row[name] = json.loads(row[name])
    return row


def _translate_record(record: Record, translate: Callable[[Any], Any],
                      text: Callable[[str | None], str | None]) -> Record:
    if not dataclasses.is_dataclass(record):   # RawRow-like: values as text
        return record
    changes: dict[str, Any] = {}
    for f in dataclasses.fields(record):
        value = getattr(record, f.name)
        if f.name == "body_json":
            changes[f.name] = canonical_json(translate(json.loads(value)))
        elif f.name == "values":
            changes[f.name] = tuple(text(v) for v in value)
        elif isinstance(value, UUID | dict | list):
            changes[f.name] = translate(value)
    return dataclasses.replace(record, **changes)


def _agent_of(table: str, row: Mapping[str, Any]) -> str:
    for name in ("agent", "sender", "stage"):
        if row.get(name):
            return str(row[name])
    return "pipeline"


def _index(key: Any) -> int:
    return key[1] if isinstance(key, tuple) and len(key) == 2 and isinstance(key[1], int) else 0


def _shown(table: str, row: Mapping[str, Any]) -> dict[str, Any]:
    return {c: row.get(c) for c in COMPARED.get(table, RUN_CHILD)}


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
    build = Build(mirror, replaying,
                  options=original.options(out_dir), observer=observer, prompts=prompts,
                  runner=runner, **({"progress": progress} if progress is not None else {}))
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
