"""The bus conformance suite: what every transport must do, checked on a real log.

A transport's test module provides a `transport` fixture (a fresh, unstarted
transport) and star-imports this module; the tests then run on that
transport with each real PostgreSQL server (`store` is parametrized in
conftest). The in-process transport runs it in `test_bus_inprocess.py`, the
MQTT transport, through a real broker, in `test_bus_mqtt.py`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from uuid import UUID

import pytest

from autogenesis.bus import BROADCAST, Bus, LoopDetector, Message
from autogenesis.errors import DeadlineExceeded, LoopDetected, RemoteError, Undeliverable
from autogenesis.runtime import Agent, Network
from autogenesis.store import Run, Store


class Collector:
    def __init__(self) -> None:
        self.messages: list[Message] = []
        self._changed = asyncio.Event()

    async def handle(self, message: Message) -> None:
        self.messages.append(message)
        self._changed.set()

    async def wait(self, count: int, timeout: float = 10.0) -> list[Message]:
        async with asyncio.timeout(timeout):
            while len(self.messages) < count:
                self._changed.clear()
                await self._changed.wait()
        return self.messages


@pytest.fixture
def run_id(store: Store, request: pytest.FixtureRequest) -> UUID:
    run = store.start_run(Run(kind="test", name=request.node.name[:60]))
    return run.id


@pytest.fixture
async def bus(store: Store, transport, run_id: UUID) -> AsyncIterator[Bus]:
    async with Bus(store, transport=transport, default_timeout=10) as started:
        yield started


def new(run_id: UUID, recipient: str = "inbox", **kw) -> Message:
    return Message.new(run_id=run_id, sender=kw.pop("sender", "tester"), recipient=recipient,
                       kind=kw.pop("kind", "note"), body=kw.pop("body", {}), **kw)


def events(store: Store, run_id: UUID, kind: str) -> list[dict]:
    store.flush()
    return store.events(run_id, kind)


# --- patterns --------------------------------------------------------------

async def test_direct_message_is_delivered(bus: Bus, run_id: UUID) -> None:
    inbox = Collector()
    bus.attach("inbox", inbox.handle)
    sent = await bus.send(new(run_id, body={"n": 1}))
    [got] = await inbox.wait(1)
    assert got.id == sent.id
    assert got.body == {"n": 1}


async def test_message_is_logged_before_its_handler_runs(bus: Bus, store: Store,
                                                         run_id: UUID) -> None:
    logged_at_handling: list[bool] = []

    async def handler(message: Message) -> None:
        ids = {row["id"] for row in store.messages(run_id)}
        logged_at_handling.append(message.id in ids)

    bus.attach("inbox", handler)
    for i in range(20):
        await bus.send(new(run_id, body={"i": i}))
    async with asyncio.timeout(10):
        while len(logged_at_handling) < 20:
            await asyncio.sleep(0.01)
    assert logged_at_handling == [True] * 20


async def test_topic_publish_reaches_matching_subscribers_only(bus: Bus, run_id: UUID) -> None:
    one_level, all_levels, other = Collector(), Collector(), Collector()
    bus.attach("one_level", one_level.handle)
    bus.attach("all_levels", all_levels.handle)
    bus.attach("other", other.handle)
    bus.subscribe("builds/+/done", "one_level")
    bus.subscribe("builds/#", "all_levels")
    bus.subscribe("other/#", "other")

    await bus.send(Message.new(run_id=run_id, sender="t", topic="builds/b1/done", kind="done"))
    await bus.send(Message.new(run_id=run_id, sender="t", topic="builds/b1/step/3", kind="step"))
    await bus.send(Message.new(run_id=run_id, sender="t", topic="other/x", kind="marker"))

    assert [m.kind for m in await all_levels.wait(2)] == ["done", "step"]
    assert [m.kind for m in await one_level.wait(1)] == ["done"]
    assert [m.kind for m in await other.wait(1)] == ["marker"]
    # the marker was sent last, so anything else for `other` would have arrived by now
    await bus.send(new(run_id, recipient="one_level", kind="marker"))
    assert [m.kind for m in await one_level.wait(2)] == ["done", "marker"]


async def test_broadcast_reaches_everyone_but_the_sender(bus: Bus, run_id: UUID) -> None:
    agents = {name: Collector() for name in ("alpha", "beta", "gamma")}
    for name, collector in agents.items():
        bus.attach(name, collector.handle)
    await bus.send(Message.new(run_id=run_id, sender="alpha", recipient=BROADCAST, kind="hello"))
    assert [m.kind for m in await agents["beta"].wait(1)] == ["hello"]
    assert [m.kind for m in await agents["gamma"].wait(1)] == ["hello"]
    await bus.send(new(run_id, recipient="alpha", kind="marker"))
    assert [m.kind for m in await agents["alpha"].wait(1)] == ["marker"]


async def test_request_gets_its_reply(bus: Bus, run_id: UUID) -> None:
    async def double(message: Message) -> dict:
        return {"value": message.body["value"] * 2}

    bus.attach("doubler", double)
    request = new(run_id, recipient="doubler", kind="double", body={"value": 21})
    reply = await bus.request(request, timeout=5)
    assert reply.body == {"value": 42}
    assert reply.reply_to == request.id
    assert reply.sender == "doubler"
    assert reply.recipient == "tester"
    assert bus.pending_requests() == 0


async def test_concurrent_requests_get_their_own_replies(bus: Bus, run_id: UUID) -> None:
    async def slow_echo(message: Message) -> dict:
        await asyncio.sleep(0.01 * (message.body["i"] % 3))
        return {"i": message.body["i"]}

    bus.attach("echo", slow_echo, concurrency=4)
    replies = await asyncio.gather(*(
        bus.request(new(run_id, recipient="echo", body={"i": i}), timeout=5) for i in range(30)
    ))
    assert [r.body["i"] for r in replies] == list(range(30))


# --- deadlines and dead letters ------------------------------------------

async def test_request_past_its_deadline_fails_with_agent_elapsed_and_limit(
        bus: Bus, store: Store, run_id: UUID) -> None:
    cancelled = asyncio.Event()

    async def stuck(message: Message) -> dict:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return {}

    bus.attach("stuck", stuck)
    started = time.monotonic()
    with pytest.raises(DeadlineExceeded) as info:
        await bus.request(new(run_id, recipient="stuck"), timeout=0.3)
    assert time.monotonic() - started < 3
    assert info.value.agent == "stuck"
    assert info.value.limit == pytest.approx(0.3)
    assert 0.3 <= info.value.elapsed < 3
    await asyncio.wait_for(cancelled.wait(), 5)  # the handler is stopped at the same deadline
    sides = {e["detail"].get("side") for e in events(store, run_id, "deadline")}
    assert {"requester", "handler"} <= sides


async def test_message_expired_before_delivery_is_not_handled(bus: Bus, store: Store,
                                                              run_id: UUID) -> None:
    inbox = Collector()
    bus.attach("inbox", inbox.handle)
    expired = await bus.send(new(run_id, timeout=-1.0))
    live = await bus.send(new(run_id, kind="live"))
    assert [m.id for m in await inbox.wait(1)] == [live.id]
    [event] = events(store, run_id, "deadline")
    assert event["message_id"] == expired.id
    assert event["detail"]["expired_before_handling"] is True


async def test_undeliverable_message_becomes_a_dead_letter(bus: Bus, store: Store,
                                                           run_id: UUID) -> None:
    lost = await bus.send(new(run_id, recipient="nobody"))
    await bus.send(Message.new(run_id=run_id, sender="t", topic="nobody/listens", kind="x"))
    async with asyncio.timeout(10):
        while len(events(store, run_id, "dead_letter")) < 2:
            await asyncio.sleep(0.02)
    dead = events(store, run_id, "dead_letter")
    assert dead[0]["message_id"] == lost.id
    assert dead[0]["detail"]["address"] == "nobody"
    assert dead[1]["detail"]["address"] == "topic:nobody/listens"
    assert lost.id in {row["id"] for row in store.messages(run_id)}


async def test_request_to_nobody_fails_at_once(bus: Bus, run_id: UUID) -> None:
    started = time.monotonic()
    with pytest.raises(Undeliverable) as info:
        await bus.request(new(run_id, recipient="nobody"), timeout=30)
    assert info.value.address == "nobody"
    assert time.monotonic() - started < 5


async def test_handler_failure_travels_back_to_the_requester(bus: Bus, store: Store,
                                                             run_id: UUID) -> None:
    async def broken(message: Message) -> dict:
        raise ValueError("bad input")

    bus.attach("broken", broken)
    with pytest.raises(RemoteError) as info:
        await bus.request(new(run_id, recipient="broken"), timeout=5)
    assert (info.value.agent, info.value.error_type, info.value.detail) == (
        "broken", "ValueError", "bad input")
    [event] = events(store, run_id, "error")
    assert event["agent"] == "broken"


# --- loops -----------------------------------------------------------------

async def test_repeated_message_raises_loop_to_the_sender_and_is_logged(
        bus: Bus, store: Store, run_id: UUID) -> None:
    bus.attach("inbox", Collector().handle)
    first = await bus.send(new(run_id, body={"artefact": 1}))
    again = first.follow_up("inbox", {"artefact": 1}, kind="note", sender="tester")
    with pytest.raises(LoopDetected) as info:
        await bus.send(again)
    assert info.value.kind == "repeat"
    [event] = events(store, run_id, "loop")
    assert event["message_id"] == again.id
    assert event["detail"]["kind"] == "repeat"


class Bouncer(Agent):
    def __init__(self, name: str, partner: str) -> None:
        super().__init__(name)
        self.partner = partner

    async def handle(self, message: Message) -> dict:
        answer = await self.request(self.partner, message.kind, message.body, within=message)
        return answer.body


async def test_ping_pong_between_two_agents_is_stopped_without_hanging(
        bus: Bus, store: Store, run_id: UUID) -> None:
    pair = Network("pair", [Bouncer("ping", "pong"), Bouncer("pong", "ping")], entry="ping")
    await pair.attach(bus)
    started = time.monotonic()
    with pytest.raises(RemoteError) as info:
        await pair.ask({"ball": 1}, run_id=run_id, timeout=20)
    assert time.monotonic() - started < 5
    assert "LoopDetected" in info.value.detail
    [event] = events(store, run_id, "loop")
    assert event["detail"]["kind"] == "ping_pong"
    assert event["detail"]["path"][-2:] == ["pair/pong", "pair/ping"]


async def test_hop_limit_stops_a_conversation_that_never_ends(store: Store, transport,
                                                              run_id: UUID) -> None:
    class Relay(Agent):
        async def handle(self, message: Message) -> None:
            await self.send(self.name, "step", {"n": message.body["n"] + 1}, within=message)

    async with Bus(store, transport=transport, loops=LoopDetector(max_hops=8)) as bus:
        await Relay("relay").attach(bus)
        await bus.send(new(run_id, recipient="relay", kind="step", body={"n": 0}))
        async with asyncio.timeout(10):
            while not events(store, run_id, "loop"):
                await asyncio.sleep(0.02)
    [event] = events(store, run_id, "loop")
    assert event["detail"]["kind"] == "hop_limit"
    store.flush()
    assert store.count("messages", run_id) == 10  # hops 0..8 delivered, hop 9 refused


# --- the log -----------------------------------------------------------------

async def test_n_messages_make_exactly_n_rows(bus: Bus, store: Store, run_id: UUID) -> None:
    inbox = Collector()
    bus.attach("inbox", inbox.handle)
    n = 3000
    for i in range(n):
        await bus.send(new(run_id, body={"i": i}))
    await inbox.wait(n, timeout=30)
    store.flush()
    assert store.count("messages", run_id) == n
    rows = store.messages(run_id)
    assert [row["body"]["i"] for row in rows] == list(range(n))


# --- networks ----------------------------------------------------------------

class Upper(Agent):
    async def handle(self, message: Message) -> dict:
        return {"text": message.body["text"].upper()}


class Exclaim(Agent):
    async def handle(self, message: Message) -> dict:
        shouted = await self.request("upper", "shout", message.body, within=message)
        return {"text": shouted.body["text"] + "!"}


class Greeter(Agent):
    async def handle(self, message: Message) -> dict:
        inner = await self.request("loud", "text", {"text": f"hello {message.body['name']}"},
                                   within=message)
        return {"greeting": inner.body["text"]}


async def test_a_network_is_an_agent_inside_a_bigger_network(bus: Bus, store: Store,
                                                             run_id: UUID) -> None:
    loud = Network("loud", [Exclaim("exclaim"), Upper("upper")], entry="exclaim")
    outer = Network("app", [Greeter("greeter"), loud], entry="greeter")
    await outer.attach(bus)
    assert loud.agents["upper"].address == "app/loud/upper"
    reply = await outer.ask({"name": "ada"}, run_id=run_id, timeout=5)
    assert reply.body == {"greeting": "HELLO ADA!"}
    store.flush()
    path = [(row["sender"], row["recipient"]) for row in store.messages(run_id)]
    assert ("app/loud/exclaim", "app/loud/upper") in path
    assert len({row["conversation_id"] for row in store.messages(run_id)}) == 1


__all__ = [name for name in dir() if name.startswith("test_")] + ["bus", "run_id"]
