"""One suite, every log store: PostgreSQL (the service and the embedded server) and the
in-memory store give the same answers to the reads a build, its bus and a replay make
(`autogenesis.store.protocol.LogStore`); and the replay's Mirror, on each of them, reads
back a re-executed build as the store reads back the original."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from uuid import UUID, uuid4

import pytest

from autogenesis.bus import Message
from autogenesis.canonical import sha256_of
from autogenesis.errors import ReplayMismatch
from autogenesis.replay import LoggedRun, Mirror
from autogenesis.store import Artefact, Completion, Event, GeneratedFile, Run, Store, Verdict
from autogenesis.store.memory import MemoryStore
from autogenesis.store.protocol import LogStore
from autogenesis.store.records import Observation, now
from autogenesis.store.spool import spool_rows


@pytest.fixture(params=[pytest.param("memory", marks=pytest.mark.fast), "service", "embedded"])
def log_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LogStore]:
    if request.param == "memory":
        yield MemoryStore()
        return
    url = request.getfixturevalue(f"{request.param}_url")
    with Store(url, spool_dir=tmp_path / "spool") as opened:
        yield opened


def completion(run_id: UUID, agent: str, index: int, **extra) -> Completion:
    return Completion(run_id=run_id, agent=agent, call_index=index, backend="scripted",
                      model_id="m", settings={"temperature": 0.0}, prompt=[{"role": "user",
                      "content": f"ü {index}"}], output="ok", tokens_in=3, tokens_out=1,
                      latency_ms=1.5, **extra)


def test_a_run_reads_back_as_it_was_started_and_finished(log_store: LogStore) -> None:
    run = log_store.start_run(Run(kind="test", name="conformance",
                                  config={"ü": [1, 2.5, None], "nested": {"b": 1, "a": 2}}))
    log_store.flush()
    started = log_store.run(run.id)
    assert started is not None and started["status"] == "running"
    assert started["config"] == {"ü": [1, 2.5, None], "nested": {"b": 1, "a": 2}}
    assert started["finished_at"] is None and started["started_at"] == run.started_at
    finished = log_store.finish_run(run, "failed", error="it stopped")
    log_store.log(run)   # an older copy arrives late: it never undoes the finish
    log_store.flush()
    row = log_store.run(run.id)
    assert row is not None
    assert (row["status"], row["error"], row["finished_at"]) == (
        "failed", "it stopped", finished.finished_at)
    assert log_store.run(uuid4()) is None
    assert log_store.run(str(run.id)) == row   # an id may come as text (from JSON)


def test_each_table_reads_back_in_the_servers_order_with_its_types(
        log_store: LogStore) -> None:
    run = log_store.start_run(Run(kind="test", name="tables"))
    first = Message.new(run_id=run.id, sender="a", recipient="b", kind="ask",
                        body={"x": [1, "ü"]}, expects_reply=True)
    reply = first.reply({"answer": 1})
    for message in (first, reply):
        log_store.log(message)
    # completions: per agent, each agent's in call order, whatever order they came in
    for agent, index in (("writer", 1), ("critic", 0), ("writer", 0)):
        log_store.log(completion(run.id, agent, index, message_id=first.id))
    art = Artefact(run_id=run.id, stage="design", kind="Blueprint", version=1,
                   body={"k": "v"}, sha256="0" * 64, message_id=reply.id)
    log_store.log(art)
    log_store.log(Verdict(run_id=run.id, artefact_id=art.id, stage="design", approved=False,
                          reasons=["too short"], checks=[{"name": "c", "passed": False}]))
    log_store.log(GeneratedFile(run_id=run.id, path="pkg/a.py", sha256="1" * 64, size=10,
                                artefact_id=art.id))
    for agent, index in (("testing", 1), ("approver", 0), ("testing", 0)):
        log_store.log(Observation(run_id=run.id, agent=agent, call_index=index, kind="clock",
                                  request={}, result={"now": index + 0.5}))
    log_store.log(Event("loop", run.id, agent="b", detail={"round": 2}))
    log_store.log(Event("deadline", run.id, agent="b", detail={}))
    log_store.flush()

    messages = log_store.messages(run.id)
    assert [m["id"] for m in messages] == [first.id, reply.id]
    assert messages[0]["body"] == {"x": [1, "ü"]} and messages[0]["expects_reply"] is True
    assert isinstance(messages[1]["reply_to"], UUID) and messages[1]["reply_to"] == first.id
    assert messages[0]["created_at"] == first.created_at
    assert [(c["agent"], c["call_index"]) for c in log_store.completions(run.id)] == [
        ("critic", 0), ("writer", 0), ("writer", 1)]
    call = log_store.completions(run.id)[0]
    assert call["prompt"] == [{"role": "user", "content": "ü 0"}]
    assert call["latency_ms"] == 1.5 and call["parsed"] is None and call["json_schema"] is None
    assert log_store.call_counts("completions", run.id) == {"critic": 1, "writer": 2}
    assert log_store.call_counts("observations", run.id) == {"approver": 1, "testing": 2}
    assert [(o["agent"], o["call_index"]) for o in log_store.observations(run.id)] == [
        ("approver", 0), ("testing", 0), ("testing", 1)]
    [artefact] = log_store.artefacts(run.id)
    assert artefact["body"] == {"k": "v"} and artefact["version"] == 1
    [verdict] = log_store.verdicts(run.id)
    assert verdict["approved"] is False and verdict["reasons"] == ["too short"]
    assert [f["path"] for f in log_store.files(run.id)] == ["pkg/a.py"]
    assert [e["kind"] for e in log_store.events(run.id)] == ["loop", "deadline"]
    assert [e["detail"] for e in log_store.events(run.id, "loop")] == [{"round": 2}]
    assert log_store.count("messages", run.id) == 2
    assert log_store.messages(str(run.id)) == messages   # an id may come as text
    assert log_store.existing("messages", [first.id, uuid4()]) == {first.id}
    with pytest.raises(ValueError):
        log_store.count("nonsense", run.id)


def test_a_record_logged_twice_is_kept_once(log_store: LogStore) -> None:
    run = log_store.start_run(Run(kind="test", name="twice"))
    event = Event("loop", run.id, detail={"n": 1})
    log_store.log(event)
    log_store.flush()
    log_store.ingest([(t, r) for t, r in spool_rows([event])])   # e.g. a spool replayed
    log_store.flush()
    assert [e["id"] for e in log_store.events(run.id)] == [event.id]


def test_a_trace_in_text_form_reads_back_like_the_records(log_store: LogStore) -> None:
    run = log_store.start_run(Run(kind="system", name="trace"))
    message = Message.new(run_id=run.id, sender="a", recipient="b", kind="task",
                          body={"input": "ü"})
    call = completion(run.id, "a", 0, message_id=message.id, parsed={"k": [1]})
    assert log_store.ingest(spool_rows([message, call])) == 2
    log_store.flush()
    [got] = log_store.messages(run.id)
    assert got["id"] == message.id and got["body"] == {"input": "ü"}
    assert got["hop"] == 0 and got["expects_reply"] is False
    [read] = log_store.completions(run.id)
    assert read["parsed"] == {"k": [1]} and read["tokens_in"] == 3
    assert read["created_at"] == call.created_at


def test_children_are_the_runs_a_run_started_in_start_order(log_store: LogStore) -> None:
    parent = log_store.start_run(Run(kind="build", name="parent"))
    later = Run(kind="system", name="second", config={"parent_run": str(parent.id)},
                started_at=now() + timedelta(seconds=1))
    earlier = Run(kind="system", name="first", config={"parent_run": str(parent.id)})
    for run in (later, earlier):
        log_store.start_run(run)
    log_store.start_run(Run(kind="system", name="stranger", config={"parent_run": "x"}))
    log_store.flush()
    assert [c["name"] for c in log_store.children(parent.id)] == ["first", "second"]


def test_a_run_lock_is_held_once(log_store: LogStore) -> None:
    run_id = uuid4()
    with log_store.run_lock(run_id) as first:
        assert first is True
        with log_store.run_lock(run_id) as second:
            assert second is False
    with log_store.run_lock(run_id) as again:
        assert again is True


def log_a_build(log: LogStore) -> Run:
    """One build's worth of records, made afresh (new ids) each time: what a build and
    its re-execution both log."""
    build = log.start_run(Run(kind="build", name="conformance", spec_sha256="a" * 64,
                              config={"max_rounds": 2}))
    asked = Message.new(run_id=build.id, sender="pipeline", recipient="understanding",
                        kind="produce", body={"inputs": {"spec": "# ü"}, "round": 1,
                                              "feedback": [], "perturb": False},
                        expects_reply=True)
    made = asked.reply({"artefact": {"title": "ü"}, "round": 1})
    for message in (asked, made):
        log.log(message)
    log.log(completion(build.id, "understanding", 0, message_id=asked.id))
    body = {"title": "ü"}
    art = Artefact(run_id=build.id, stage="understanding", kind="Requirements", version=1,
                   body=body, sha256=sha256_of(body), message_id=made.id)
    log.log(art)
    log.log(Verdict(run_id=build.id, artefact_id=art.id, stage="understanding",
                    approved=True, reasons=[], checks=[{"name": "c", "passed": True}],
                    message_id=made.id))
    log.log(GeneratedFile(run_id=build.id, path="pkg/a.py", sha256="1" * 64, size=10,
                          artefact_id=art.id, message_id=made.id))
    log.log(Observation(run_id=build.id, agent="testing", call_index=0, kind="clock",
                        request={}, result={"now": 0.5}, message_id=asked.id))
    log.log(Event("loop", build.id, agent="understanding", message_id=made.id,
                  detail={"round": 1}))
    child = log.start_run(Run(kind="system", name="pkg",
                              config={"parent_run": str(build.id)}))
    log.finish_run(child, "succeeded")
    return log.finish_run(build, "succeeded")


def test_a_mirror_reads_back_what_the_store_it_mirrors_holds(log_store: LogStore) -> None:
    """The replay's store: holding a re-execution's records (new ids) against a logged
    build, it answers every read as the store answers for the original, in its ids."""
    original = log_a_build(log_store)
    log_store.flush()
    mirror = Mirror(log_store, LoggedRun.load(log_store, original.id), live=False)
    again = log_a_build(mirror)
    mirror.finish()
    assert mirror.diverged is None and mirror.matched > 0
    assert mirror.run(again.id) == log_store.run(original.id)
    for read in ("messages", "completions", "artefacts", "verdicts", "files",
                 "observations", "events", "children"):
        assert getattr(mirror, read)(again.id) == getattr(log_store, read)(original.id), read
    for table in ("messages", "completions", "observations"):
        assert mirror.count(table, again.id) == log_store.count(table, original.id)
    for table in ("completions", "observations"):
        assert mirror.call_counts(table, again.id) == log_store.call_counts(table, original.id)
    assert log_store.count("messages", again.id) == 0     # nothing written to the log


def test_a_mirror_refuses_a_record_the_original_does_not_hold(log_store: LogStore) -> None:
    original = log_a_build(log_store)
    log_store.flush()
    mirror = Mirror(log_store, LoggedRun.load(log_store, original.id), live=False)
    build = mirror.start_run(Run(kind="build", name="conformance", spec_sha256="a" * 64,
                                 config={"max_rounds": 2}))
    mirror.log(Message.new(run_id=build.id, sender="pipeline", recipient="design",
                           kind="produce", body={"inputs": {}}))
    assert isinstance(mirror.diverged, ReplayMismatch)       # kept, and the replay stopped
    assert "understanding" in str(mirror.diverged) and "design" in str(mirror.diverged)
    assert mirror.messages(build.id) == []
