"""The store a replay logs into: every record held against the original's record in
the same place, ids paired as records match (see the package's docstring)."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from uuid import UUID

from autogenesis.build.messages import opened_stage
from autogenesis.canonical import canonical_json, sha256_of
from autogenesis.errors import ReplayMismatch
from autogenesis.llm.replay import diff_json
from autogenesis.replay.logged import UNFINISHED, LoggedRun
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
        if table == "messages" and (stage := opened_stage(original)) is not None:
            self.stage_of[original["conversation_id"]] = stage

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


