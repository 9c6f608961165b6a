"""Builds whose agents run in worker processes over a real MQTT broker.

Workers are real processes (`worker_child.py`: the scripted build model and the
in-process runner of test_replay's builds, so the result can be compared with
an in-process build of the same spec); the coordinator runs in this process.
Each test has a private mosquitto (tests/mqtt_broker.py) and logs to the
PostgreSQL service.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from mqtt_broker import Broker
from scripted_build import InProcessRunner, build_model

from autogenesis.artefacts import Blueprint
from autogenesis.build.orchestrator import (
    Build,
    BuildOptions,
    BuildResult,
    Progress,
    Seams,
    WorkersMissing,
)
from autogenesis.build.stages import STAGE_ORDER
from autogenesis.bus import Bus, Message
from autogenesis.bus.mqtt import MqttTransport
from autogenesis.errors import DeadlineExceeded
from autogenesis.replay import reexecute
from autogenesis.store import Run, Store

from conftest import REPO

SPEC = "trip_planner.md"
SPLIT = ("understanding,design,prompt_design,approver", "generator,testing,tuning",
         "documentation,deployment,feedback")


@pytest.fixture
def store(service_url: str, tmp_path: Path) -> Iterator[Store]:
    with Store(service_url, spool_dir=tmp_path / "spool") as opened:
        yield opened


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Broker]:
    folder = tmp_path / "broker"
    folder.mkdir()
    broker = Broker(folder).start()
    yield broker
    broker.stop()


class Workers:
    """Worker processes; stopped (SIGTERM, then SIGKILL) when the test ends."""

    def __init__(self, db_url: str, mqtt_url: str, folder: Path) -> None:
        self.db_url, self.mqtt_url, self.folder = db_url, mqtt_url, folder
        self.processes: list[subprocess.Popen[str]] = []

    def start(self, agents: str, marker: Path | None = None, *,
              url: str | None = None) -> subprocess.Popen[str]:
        args = [sys.executable, str(REPO / "tests" / "worker_child.py"), self.db_url,
                url or self.mqtt_url, agents, *([str(marker)] if marker else [])]
        process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True, cwd=REPO / "tests",
                                   env={**os.environ, "WORKER_TMP": str(self.folder)})
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.strip() == "ready", process.stderr.read() if process.stderr else line
        self.processes.append(process)
        return process

    def stop(self) -> list[str]:
        """Stop every worker; what each wrote to stderr."""
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        errors = []
        for process in self.processes:
            try:
                errors.append(process.communicate(timeout=10)[1])
            except subprocess.TimeoutExpired:
                process.kill()
                errors.append(process.communicate()[1])
        self.processes.clear()
        return errors


@pytest.fixture
def workers(service_url: str, mosquitto: Broker, tmp_path: Path) -> Iterator[Workers]:
    started = Workers(service_url, mosquitto.url(), tmp_path)
    yield started
    started.stop()


def build(store: Store, out: Path, *, bus: str | None = None, progress=None,
          wait_s: float = 30.0) -> BuildResult:
    if bus is None:
        pipeline = Build(store, build_model(), options=BuildOptions(out_dir=out),
                         seams=Seams(runner=InProcessRunner()))
    else:
        pipeline = Build(store, None, options=BuildOptions(out_dir=out, bus=bus, wait_s=wait_s),
                         **({"progress": progress} if progress else {}))
    result = asyncio.run(pipeline.run((REPO / "examples" / SPEC).read_text(),
                                      spec_path=f"examples/{SPEC}", name=SPEC[:-3]))
    store.flush()
    return result


def calls_by_agent(store: Store, run_id) -> Counter[str]:
    return Counter(row["agent"] for row in store.completions(run_id))


def answered_once(store: Store, run_id) -> None:
    """Every request of the run has exactly one reply: nothing was handled twice."""
    messages = store.messages(run_id)
    requests = [m["id"] for m in messages if m["expects_reply"]]
    replies = Counter(m["reply_to"] for m in messages if m["reply_to"] is not None)
    assert requests and all(replies[r] == 1 for r in requests), [
        r for r in requests if replies[r] != 1]


@pytest.fixture
def reference(store: Store, tmp_path: Path) -> BuildResult:
    """The same build with every agent in this process."""
    return build(store, tmp_path / "in-process")


def test_a_build_across_three_workers_is_the_in_process_build(
        store: Store, workers: Workers, mosquitto: Broker, reference: BuildResult,
        tmp_path: Path):
    for agents in SPLIT:
        workers.start(agents)
    result = build(store, tmp_path / "workers", bus=mosquitto.url())
    assert result.package.sha256 == reference.package.sha256
    assert [(s.stage, s.approved) for s in result.stages] == [
        (s.stage, s.approved) for s in reference.stages]
    wheel = next(result.package_path.glob("dist/*.whl"))   # came from a worker, via the log
    assert wheel.read_bytes() == next(reference.package_path.glob("dist/*.whl")).read_bytes()
    # Every process logged to the same database: the workers' model calls and observations
    # are the build's, numbered as an in-process build numbers them.
    assert calls_by_agent(store, result.run_id) == calls_by_agent(store, reference.run_id)
    assert result.calls == sum(calls_by_agent(store, reference.run_id).values())
    observed = Counter(r["agent"] for r in store.observations(result.run_id))
    assert observed == Counter(r["agent"] for r in store.observations(reference.run_id))
    answered_once(store, result.run_id)
    run = store.run(result.run_id)
    assert run is not None and run["status"] == "succeeded"
    assert run["config"]["bus"] == mosquitto.url() and run["model"] == "workers"
    assert store.events(result.run_id, "retry") == []
    # The log of a build across workers re-executes in one process, identically.
    again = asyncio.run(reexecute(store, result.run_id, out_dir=tmp_path / "replay"))
    assert again.diverged is None and again.model_calls == result.calls
    assert again.files and all(before == after for _, before, after in again.files)


def test_a_worker_killed_mid_request_has_its_request_served_by_another(
        store: Store, workers: Workers, mosquitto: Broker, reference: BuildResult,
        tmp_path: Path):
    marker = tmp_path / "died"
    workers.start("understanding,design,prompt_design,generator,tuning,documentation,"
                  "deployment,feedback,approver")
    first = workers.start("testing", marker)
    second = workers.start("testing", marker)
    result = build(store, tmp_path / "workers", bus=mosquitto.url())
    assert marker.exists()
    died = [p for p in (first, second) if p.poll() is not None]
    assert len(died) == 1 and died[0].returncode == -signal.SIGKILL
    assert result.package.sha256 == reference.package.sha256
    retries = store.events(result.run_id, "retry")
    assert len(retries) == 1
    assert retries[0]["agent"] == "testing"
    assert retries[0]["detail"]["reason"] == "the node handling it went away"
    testing = [m for m in store.messages(result.run_id)
               if m["recipient"] == "testing" and m["expects_reply"]]
    assert retries[0]["message_id"] in {m["id"] for m in testing}
    answered_once(store, result.run_id)


def test_a_broker_restart_mid_build_loses_nothing_and_repeats_nothing(
        store: Store, workers: Workers, mosquitto: Broker, reference: BuildResult,
        tmp_path: Path):
    for agents in SPLIT:
        workers.start(agents)
    restart = threading.Timer(0.5, mosquitto.restart, kwargs={"down_s": 1.0})

    def progress(event: Progress) -> None:
        # Half a second into the testing stage: the worker is running the package's tests.
        if event.stage == "testing" and event.status == "working" and not restart.ident:
            restart.start()

    result = build(store, tmp_path / "workers", bus=mosquitto.url(), progress=progress)
    restart.join()
    assert all("reconnecting" in err for err in workers.stop())   # every worker lost it
    assert result.package.sha256 == reference.package.sha256
    assert calls_by_agent(store, result.run_id) == calls_by_agent(store, reference.run_id)
    answered_once(store, result.run_id)
    assert store.events(result.run_id, "retry") == []


def test_a_build_without_workers_names_the_missing_agents(
        store: Store, workers: Workers, mosquitto: Broker, tmp_path: Path):
    workers.start("understanding,design")
    before = len(store.runs(limit=1000))
    with pytest.raises(WorkersMissing) as info:
        build(store, tmp_path / "out", bus=mosquitto.url(), wait_s=1.0)
    text = str(info.value)
    assert text.startswith("no worker serves prompt_design, generator,") and "approver" in text
    assert "understanding" not in text and " design" not in text
    assert "autogenesis worker --agents prompt_design," in text
    assert len(store.runs(limit=1000)) == before      # no run logged for a build never started


def test_worker_and_build_commands_give_one_line_errors(env: dict[str, str], tmp_path: Path):
    folder = tmp_path / "secured"
    folder.mkdir()
    secured = Broker(folder, users={"agent": "secret"}).start()
    try:
        cli = [sys.executable, "-m", "autogenesis"]
        wrong = subprocess.run([*cli, "worker", "--agents", "design", "--bus",
                                secured.url("agent", "wrong")], env=env, capture_output=True,
                               text=True, timeout=120)
        assert wrong.returncode == 1
        assert wrong.stderr.count("autogenesis: error:") == 1 and "Traceback" not in wrong.stderr
        assert "refused the connection" in wrong.stderr and "wrong" not in wrong.stderr
        nobody = subprocess.run([*cli, "build", str(REPO / "examples" / SPEC), "--bus",
                                 secured.url("agent", "secret"), "--wait", "1",
                                 "--out", str(tmp_path / "out")],
                                env=env, capture_output=True, text=True, timeout=120)
        assert nobody.returncode == 1 and "Traceback" not in nobody.stderr
        assert "no worker serves understanding, design" in nobody.stderr
        unknown = subprocess.run([*cli, "worker", "--agents", "designer", "--bus",
                                  secured.url()], env=env, capture_output=True, text=True,
                                 timeout=120)
        assert unknown.returncode == 1 and "unknown agent(s) designer" in unknown.stderr
        no_bus = subprocess.run([*cli, "worker"], env={k: v for k, v in env.items()
                                                       if k != "AUTOGENESIS_MQTT_URL"},
                                capture_output=True, text=True, timeout=120)
        assert no_bus.returncode == 1 and "--bus" in no_bus.stderr
    finally:
        secured.stop()


def test_a_generated_system_runs_its_agents_in_another_process(
        store: Store, mosquitto: Broker, reference: BuildResult, env: dict[str, str]):
    """The real default model: one process serves three agents, the asking process the
    flow and the other two (`python -m <slug> --bus URL --serve ...`)."""
    slug = reference.package.slug
    config = json.loads((reference.package_path / slug / "config.json").read_text())
    agents = sorted(config["agents"])
    away, here = agents[:3], agents[3:]
    system_env = {**env, "PYTHONPATH": str(reference.package_path)}
    system = [sys.executable, "-m", slug, "--bus", mosquitto.url()]
    server = subprocess.Popen([*system, "--serve", ",".join(away)], env=system_env,
                              stderr=subprocess.PIPE, text=True)
    try:
        assert server.stderr is not None
        assert server.stderr.readline().startswith(f"serving {', '.join(away)} of {slug}")
        asked = subprocess.run([*system, "--serve", ",".join(here), "--example", "1",
                                "--json"], env=system_env, capture_output=True, text=True,
                               timeout=300)
        assert asked.returncode == 0, asked.stderr
        body = json.loads(asked.stdout)
        assert body["exit"] == reference.artefact(Blueprint).exit and body["answer"].strip()
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(10)
    run = store.runs(kind="system", spec=None, limit=1)[0]
    calls = Counter(row["agent"] for row in store.completions(run.id))
    served_away = {f"{slug}/{name}" for name in away} & set(calls)
    assert served_away, calls          # the serving process logged its calls under the run
    assert run.status == "succeeded"
    missing = subprocess.run([*system, "--example", "1", "--wait", "1"], env=system_env,
                             capture_output=True, text=True, timeout=120)
    assert missing.returncode == 1 and "Traceback" not in missing.stderr
    named = missing.stderr.split("nobody serves ", 1)[1].split(" on ", 1)[0]
    assert sorted(named.split(", ")) == agents and "--serve" in missing.stderr


ACL = REPO / "deploy" / "mosquitto.acl"
USERS = {"coordinator": "pw-c", "stages": "pw-s", "approver": "pw-a"}


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[Broker]:
    """A broker with deploy/mosquitto.acl and the users docker-compose.yml creates."""
    folder = tmp_path / "secured"
    folder.mkdir()
    broker = Broker(folder, users=USERS, acl=ACL).start()
    yield broker
    broker.stop()


def as_user(broker: Broker, user: str) -> str:
    return broker.url(user, USERS[user], prefix="autogenesis")   # the ACL's prefix


def test_a_build_through_the_shipped_broker_acl(
        store: Store, secured: Broker, service_url: str, reference: BuildResult,
        tmp_path: Path):
    workers = Workers(service_url, as_user(secured, "stages"), tmp_path)
    try:
        workers.start(",".join(STAGE_ORDER))
        workers.start("approver", url=as_user(secured, "approver"))
        result = build(store, tmp_path / "workers", bus=as_user(secured, "coordinator"))
    finally:
        workers.stop()
    assert result.package.sha256 == reference.package.sha256
    answered_once(store, result.run_id)


async def test_the_acl_keeps_each_worker_to_its_own_inboxes(secured: Broker, store: Store):
    """The approver's user may read the approver's inbox and no other; nobody but the
    coordinator may send to an inbox."""
    run = store.start_run(Run(kind="test", name="acl"))

    async def echo(message: Message) -> dict:
        return {"echo": message.body}

    async with Bus(store, transport=MqttTransport(as_user(secured, "approver"))) as worker, \
            Bus(store, transport=MqttTransport(as_user(secured, "coordinator"))) as asking:
        worker.attach("approver", echo)
        worker.attach("design", echo)       # not its inbox: the broker delivers nothing
        worker.attach("sneaky", echo)
        assert not await asking.transport.wait_for(["approver", "design"], 5)
        ok = await asking.request(Message.new(run_id=run.id, sender="pipeline",
                                              recipient="approver", kind="judge", body={}),
                                  timeout=5)
        assert ok.body == {"echo": {}}
        with pytest.raises(DeadlineExceeded):
            await asking.request(Message.new(run_id=run.id, sender="pipeline",
                                             recipient="design", kind="produce", body={}),
                                 timeout=1.5)
        # A worker cannot send requests (write to an inbox) in the build's name.
        with pytest.raises(DeadlineExceeded):
            await worker.request(Message.new(run_id=run.id, sender="approver",
                                             recipient="approver", kind="judge", body={}),
                                 timeout=1.5)
    store.flush()


def acl_reads() -> dict[str, set[str]]:
    """Per user of deploy/mosquitto.acl, the inboxes it may read."""
    reads: dict[str, set[str]] = {}
    user = None
    for line in ACL.read_text().splitlines():
        words = line.split()
        if words[:1] == ["user"]:
            user = words[1]
            reads[user] = set()
        elif user and words[:2] == ["topic", "read"]:
            reads[user].add(words[2].removeprefix("autogenesis/inbox/"))
    return reads


def test_the_compose_topology_serves_every_agent_through_the_acl():
    import yaml

    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"postgres", "mosquitto", "autogenesis"} <= set(services)
    reads, served = acl_reads(), []
    for name, service in services.items():
        command = service.get("command") or []
        if command[:1] != ["worker"]:
            continue
        agents = command[command.index("--agents") + 1].split(",")
        user = command[command.index("--bus") + 1].split("//")[1].split(":")[0]
        assert reads[user] == set(agents), name    # reads exactly the inboxes it serves
        served += agents
    assert sorted(served) == sorted((*STAGE_ORDER, "approver"))
    coordinator = services["autogenesis"]
    assert coordinator["command"][0] == "build" and "coordinator:" in \
        coordinator["environment"]["AUTOGENESIS_MQTT_URL"]
    for service in services.values():      # every file mounted from the repo is there
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (REPO / source).exists(), source
    assert (REPO / "Dockerfile").is_file()
    docker_compose = shutil.which("docker-compose")    # Compose's own check, where installed
    if docker_compose:
        checked = subprocess.run([docker_compose, "config", "-q"], cwd=REPO,
                                 capture_output=True, text=True)
        assert checked.returncode == 0, checked.stderr
