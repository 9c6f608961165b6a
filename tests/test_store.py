"""The store's log and reads, on each real server."""

from __future__ import annotations

from pathlib import Path
from uuid import uuid4

from autogenesis.bus import Message
from autogenesis.errors import UserError
from autogenesis.store import (
    Artefact,
    Completion,
    Event,
    GeneratedFile,
    Run,
    Store,
    Verdict,
)
from autogenesis.store.spool import Spool, as_text, spool_rows


def message(run_id, i: int) -> Message:
    return Message.new(run_id=run_id, sender="a", recipient="b", kind="n", body={"i": i})


def test_rows_the_database_refuses_are_set_aside_and_the_rest_written(
        store: Store, tmp_path: Path) -> None:
    run = store.start_run(Run(kind="test", name="refused"))
    orphan = message(uuid4(), 99)  # its run does not exist: a foreign key violation
    for record in [message(run.id, 0), message(run.id, 1), orphan, message(run.id, 2)]:
        store.log(record)
    store.flush()
    assert [row["body"]["i"] for row in store.messages(run.id)] == [0, 1, 2]
    assert store.writer.stats.rejected == 1
    [kept] = (tmp_path / "spool" / "rejected").glob("*.jsonl")
    assert str(orphan.id) in kept.read_text()


def test_runs_are_listed_newest_first_and_filtered(store: Store) -> None:
    spec = f"examples/{uuid4().hex}.md"
    first = store.start_run(Run(kind="build", name="first", spec_path=spec))
    second = store.start_run(Run(kind="build", name="second", spec_path=spec))
    store.log(message(second.id, 1))
    store.finish_run(first, "failed", error="boom")
    store.finish_run(second, "succeeded", package_path="generated/second")
    store.flush()
    runs = store.runs(spec=spec)
    assert [r.name for r in runs] == ["second", "first"]
    assert (runs[0].status, runs[0].messages, runs[0].package_path) == (
        "succeeded", 1, "generated/second")
    assert runs[0].duration is not None and runs[0].duration >= 0
    assert [r.name for r in store.runs(spec=spec, status="failed")] == ["first"]
    assert store.runs(spec=spec, status="failed")[0].error == "boom"


def test_an_older_copy_of_a_run_never_undoes_its_finish(store: Store) -> None:
    run = store.start_run(Run(kind="test", name="upsert"))
    finished = store.finish_run(run, "succeeded")
    store.log(run)  # e.g. the spool replays the 'running' copy after the finish
    store.flush()
    row = store.run(run.id)
    assert row is not None
    assert (row["status"], row["finished_at"]) == ("succeeded", finished.finished_at)


def test_events_without_a_run_are_kept(store: Store) -> None:
    event = Event("spool", None, detail={"state": "test", "marker": str(uuid4())})
    store.log(event)
    store.flush()
    assert event.id in {e["id"] for e in store.events(None, "spool")}


def test_every_record_type_survives_a_dead_process_spool(store_url: str, tmp_path: Path) -> None:
    with Store(store_url, spool_dir=tmp_path / "live") as live:
        run = live.start_run(Run(kind="test", name="all-types", config={"k": [1, "é"]}))
    artefact = Artefact(run.id, "understanding", "Requirements", 1, {"goal": "x"}, "ab" * 32)
    records = [
        message(run.id, 1),
        Completion(run.id, "understanding", 0, "transformers", "smollm2", {"temperature": 0.0},
                   [{"role": "user", "content": "hi"}], "out", 3, 1, 12.5, seed=7,
                   json_schema={"type": "object"}, parsed={"a": 1}),
        artefact,
        Verdict(run.id, artefact.id, "understanding", True, [], [{"check": "x", "ok": True}]),
        GeneratedFile(run.id, "generated/x/pyproject.toml", "cd" * 32, 120,
                      artefact_id=artefact.id),
        Event("retry", run.id, agent="design", detail={"attempt": 2}),
    ]
    dead = Spool(tmp_path / "spool")
    dead.append(spool_rows(records))
    dead.close()  # as if its process died: the file stays, unlocked

    with Store(store_url, spool_dir=tmp_path / "spool") as heir:
        heir.writer  # opening the log drains it  # noqa: B018
        for table in ("messages", "completions", "artefacts", "verdicts", "files", "events"):
            assert heir.count(table, run.id) == 1, table
        assert heir.run(run.id)["config"] == {"k": [1, "é"]}
    assert not list((tmp_path / "spool").glob("*.jsonl"))
    assert [as_text(v) for v in (None, True, False, 3, 1.5)] == [None, "t", "f", "3", "1.5"]


def test_an_exported_run_holds_its_children_and_restoring_it_again_changes_nothing(
        store: Store) -> None:
    run = store.start_run(Run(kind="test", name="export", config={"ü": [1, 2.5, None]}))
    child = store.start_run(Run(kind="system", name="child",
                                config={"parent_run": str(run.id)}))
    for i in range(3):
        store.log(message(run.id, i))
    store.log(Event("loop", run.id, agent="a", detail={"round": 2, "why": "same\nanswer"}))
    store.finish_run(child, "succeeded")
    store.finish_run(run, "failed", error="it stopped")
    store.flush()
    rows = store.export_run(run.id)
    assert [t for t, _ in rows].count("messages") == 3
    assert [r[0] for t, r in rows if t == "runs"] == [str(run.id), str(child.id)]
    assert store.restore(rows) == len(rows)   # everything is there already: kept as is
    assert store.export_run(run.id) == rows
    try:
        store.export_run(uuid4())
    except UserError as exc:
        assert "no run" in str(exc)
    else:
        raise AssertionError("exporting an unknown run must say so")
