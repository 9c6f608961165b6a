"""The MQTT transport beside raw aiomqtt on the same broker, in one run.

    python bench/mqtt.py [--url mqtt://host:1883] [--requests 500] [--messages 20000]

Without --url it starts a private mosquitto configured like deploy/mosquitto.conf
(TCP_NODELAY, large queues); with --url it measures that broker as it is.

Prints:

- request/response round trip, p50 and p99: two raw aiomqtt clients (QoS 1,
  TCP_NODELAY: one publishes and waits, the other answers) beside two
  autogenesis buses on the MQTT transport (two nodes, logging off, so the
  figure is the transport's); ratio (goal <= 1.3x);
- messages/s one way: a burst from one node to an agent on the other, and the
  same burst through raw aiomqtt, with how many arrived (a broker with
  default queue limits drops part of a raw burst; the transport's
  acknowledgements and send window lose nothing).

With `--build SPEC`: the same build twice with the real default model, each
through the CLI: `autogenesis build SPEC --local` (every agent in the one
process) and `autogenesis build SPEC --bus URL` with the agents in three
`autogenesis worker` processes (one iteration each); wall time of each build
command, their ratio, and whether the two packages are the same file for file
(dist/ aside).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import hashlib
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import aiomqtt

from autogenesis.bus import Bus, Message
from autogenesis.bus.mqtt import MqttSettings, MqttTransport

NODELAY = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]


def client(settings: MqttSettings, **kw) -> aiomqtt.Client:
    return aiomqtt.Client(settings.host, settings.port, username=settings.username,
                          password=settings.password, socket_options=NODELAY,
                          protocol=aiomqtt.ProtocolVersion.V5, **kw)


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[int(len(ordered) * 0.99) - 1]


async def raw_round_trips(settings: MqttSettings, n: int) -> list[float]:
    prefix = f"bench-raw-{uuid.uuid4().hex[:8]}"
    async with client(settings) as asker, client(settings) as answerer:
        await answerer.subscribe(f"{prefix}/req", qos=1)
        await asker.subscribe(f"{prefix}/rep", qos=1)

        async def answer() -> None:
            with contextlib.suppress(aiomqtt.MqttError):     # the end of the run
                async for message in answerer.messages:
                    await answerer.publish(f"{prefix}/rep", message.payload, qos=1)

        serving = asyncio.create_task(answer())
        samples = []
        replies = aiter(asker.messages)
        for i in range(n + 20):
            started = time.perf_counter()
            await asker.publish(f"{prefix}/req", str(i).encode(), qos=1)
            await anext(replies)
            if i >= 20:                                  # the first ones warm up
                samples.append(time.perf_counter() - started)
        serving.cancel()
    return samples


async def bus_round_trips(url: str, n: int) -> list[float]:
    async def echo(message: Message) -> dict:
        return {"echo": message.body["i"]}

    run_id = uuid.uuid4()
    async with Bus(None, transport=MqttTransport(url)) as server, \
            Bus(None, transport=MqttTransport(url)) as asker:
        server.attach("echo", echo)
        await asker.transport.wait_for(["echo"], 10)
        samples = []
        for i in range(n + 20):
            started = time.perf_counter()
            await asker.request(Message.new(run_id=run_id, sender="bench", recipient="echo",
                                            kind="echo", body={"i": i}), timeout=10)
            if i >= 20:
                samples.append(time.perf_counter() - started)
    return samples


async def raw_burst(settings: MqttSettings, n: int) -> tuple[float, int]:
    topic = f"bench-raw-{uuid.uuid4().hex[:8]}/burst"
    async with client(settings) as sender, client(settings) as receiver:
        await receiver.subscribe(topic, qos=1)
        got = 0

        async def count() -> None:
            nonlocal got
            async for _ in receiver.messages:
                got += 1
                if got == n:
                    return

        counting = asyncio.create_task(count())
        started = time.perf_counter()
        sender.pending_calls_threshold = n + 1
        await asyncio.gather(*(sender.publish(topic, b"x" * 64, qos=1, timeout=120)
                               for _ in range(n)))
        try:                                   # whatever is still coming, give it 5 s
            await asyncio.wait_for(asyncio.shield(counting), 5)
        except TimeoutError:
            counting.cancel()
        return time.perf_counter() - started, got


async def bus_burst(url: str, n: int) -> tuple[float, int]:
    done = asyncio.Event()
    got = 0

    async def sink(message: Message) -> None:
        nonlocal got
        got += 1
        if got == n:
            done.set()

    run_id = uuid.uuid4()
    async with Bus(None, transport=MqttTransport(url)) as receiver, \
            Bus(None, transport=MqttTransport(url), max_in_flight=n + 1) as sender:
        receiver.attach("sink", sink)
        await sender.transport.wait_for(["sink"], 10)
        started = time.perf_counter()
        for i in range(n):
            await sender.send(Message.new(run_id=run_id, sender="bench", recipient="sink",
                                          kind="note", body={"i": i}))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), 120)
        return time.perf_counter() - started, got


async def main(url: str, requests: int, messages: int) -> None:
    settings = MqttSettings.from_url(url)
    print(f"broker {settings.where}")
    raw = percentiles(await raw_round_trips(settings, requests))
    ours = percentiles(await bus_round_trips(url, requests))
    print(f"round trip ({requests} sequential requests, QoS 1)")
    print(f"  raw aiomqtt         p50 {raw[0] * 1000:7.3f} ms   p99 {raw[1] * 1000:7.3f} ms")
    print(f"  autogenesis bus     p50 {ours[0] * 1000:7.3f} ms   p99 {ours[1] * 1000:7.3f} ms")
    print(f"  ratio (p50)         {ours[0] / raw[0]:.2f}x   (goal <= 1.3x)")
    raw_s, raw_got = await raw_burst(settings, messages)
    bus_s, bus_got = await bus_burst(url, messages)
    print(f"one way, a burst of {messages} messages")
    print(f"  raw aiomqtt         {raw_got / raw_s:9.0f} msgs/s   arrived {raw_got}/{messages}")
    print(f"  autogenesis bus     {bus_got / bus_s:9.0f} msgs/s   arrived {bus_got}/{messages}")


WORKERS = ("understanding,design,prompt_design,approver", "generator,testing,tuning",
           "documentation,deployment,feedback")


def tree(folder: Path) -> dict[str, str]:
    """sha256 of every file of a generated package but its wheel (built at its own time)."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and "dist" not in p.parts}


def timed_build(args: list[str], out: Path) -> tuple[float, Path]:
    cli = [sys.executable, "-m", "autogenesis", "build", *args, "--out", str(out)]
    started = time.perf_counter()
    done = subprocess.run(cli, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"build failed: {' '.join(cli)}\n{done.stderr[-2000:]}")
    return seconds, next(p for p in out.iterdir() if p.is_dir() and not p.name.startswith("."))


def build_ratio(url: str, spec: Path) -> None:
    """The same build in one process and across three worker processes. One iteration
    each: whether a second one starts is a budget decision on the clock, which a second
    more or less can tip (seen here: 147.5 s needed of 148.1 s left in one run, 149.5 of
    146.7 in the other), and then the two builds would not do the same work."""
    with tempfile.TemporaryDirectory() as folder:
        common = [str(spec), "--max-iterations", "1"]
        local_s, local = timed_build([*common, "--local"], Path(folder) / "local")
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        workers = [subprocess.Popen([sys.executable, "-m", "autogenesis", "worker", "--agents",
                                     agents, "--bus", url], env=env,
                                    stderr=subprocess.PIPE, text=True) for agents in WORKERS]
        try:
            for worker in workers:      # each says so once its model is loaded and it serves
                assert worker.stderr is not None
                while "serving" not in (line := worker.stderr.readline()):
                    if not line:
                        raise SystemExit("a worker stopped before serving")
            remote_s, remote = timed_build([*common, "--bus", url], Path(folder) / "workers")
        finally:
            for worker in workers:
                worker.terminate()
                worker.wait(30)
        same = tree(local) == tree(remote)
    print(f"build of {spec.name}, real default model (wall time of the build command)")
    print(f"  in one process          {local_s:7.1f} s")
    print(f"  across 3 workers (MQTT) {remote_s:7.1f} s")
    print(f"  ratio                   {remote_s / local_s:.2f}x   same package: "
          f"{'yes' if same else 'no'}")


@contextlib.contextmanager
def own_broker() -> Iterator[str]:
    """A private mosquitto with deploy/mosquitto.conf's settings on a free port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "mosquitto.conf"
        config.write_text(f"user {getpass.getuser()}\nlistener {port} 127.0.0.1\n"
                          "allow_anonymous true\nset_tcp_nodelay true\n"
                          "max_queued_messages 100000\nmax_inflight_messages 1000\n")
        broker = subprocess.Popen([shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c",
                                   str(config)], stderr=subprocess.DEVNULL)
        try:
            for _ in range(100):
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)):
                    break
                time.sleep(0.05)
            yield f"mqtt://127.0.0.1:{port}"
        finally:
            broker.terminate()
            broker.wait(10)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="an existing broker (default: start a private "
                        "mosquitto configured like deploy/mosquitto.conf)")
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--build", type=Path, metavar="SPEC",
                        help="also build SPEC in one process and across three workers "
                        "(minutes: the real default model)")
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        url = args.url or stack.enter_context(own_broker())
        asyncio.run(main(url, args.requests, args.messages))
        if args.build:
            build_ratio(url, args.build)
