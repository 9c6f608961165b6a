"""The MQTT transport beyond the conformance suite: credentials, a broker that goes away
and comes back, and several nodes serving the same agent. Real brokers throughout."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from uuid import UUID

import pytest
from mqtt_broker import Broker, broker, free_port  # noqa: F401  (broker is a fixture)

from autogenesis.bus import Bus, Message
from autogenesis.bus.mqtt import MqttSettings, MqttTransport
from autogenesis.errors import BusUnavailable, ConfigError
from autogenesis.store import Run, Store


def test_urls_are_checked_and_passwords_never_shown():
    ca = Path(__file__)         # any existing file will do for parsing
    s = MqttSettings.from_url(f"mqtts://agent:p%40ss@broker.example:8884/team/a?ca={ca}")
    assert (s.host, s.port, s.username, s.password, s.tls, s.ca_file, s.prefix) == (
        "broker.example", 8884, "agent", "p@ss", True, str(ca), "team/a")
    assert "p@ss" not in s.where and "p%40ss" not in s.where
    assert MqttSettings.from_url("mqtt://localhost").port == 1883
    assert MqttSettings.from_url("mqtts://localhost").port == 8883
    for bad in ("http://x", "mqtt://", "mqtt://h/bad+prefix", "mqtt://h:99999",
                "mqtts://h?ca=/no/such/ca.pem"):
        with pytest.raises(ConfigError):
            MqttSettings.from_url(bad)


async def test_wrong_password_and_no_broker_are_clear_errors(tmp_path: Path):
    secured = Broker(tmp_path, users={"agent": "secret"}).start()
    try:
        with pytest.raises(BusUnavailable, match="refused the connection") as info:
            await MqttTransport(secured.url("agent", "wrong")).start(lambda a, m: None)
        assert "wrong" not in str(info.value)
        with pytest.raises(BusUnavailable, match="refused"):
            await MqttTransport(secured.url()).start(lambda a, m: None)   # anonymous
        good = MqttTransport(secured.url("agent", "secret"))
        await good.start(lambda a, m: None)
        await good.close()
    finally:
        secured.stop()
    with pytest.raises(BusUnavailable, match="cannot reach"):
        await MqttTransport(f"mqtt://127.0.0.1:{free_port()}").start(lambda a, m: None)


async def test_requests_survive_a_broker_restart_and_none_is_handled_twice(
        broker: Broker, store: Store):  # noqa: F811
    run = store.start_run(Run(kind="test", name="broker restart"))
    handled: Counter[UUID] = Counter()

    async def count(message: Message) -> dict:
        handled[message.id] += 1
        await asyncio.sleep(0.01)
        return {"n": message.body["n"]}

    n = 120
    async with Bus(store, transport=MqttTransport(broker.url())) as server, \
            Bus(store, transport=MqttTransport(broker.url())) as client:
        server.attach("counter", count, concurrency=4)
        assert await client.transport.wait_for(["counter"], 5) == []

        async def ask(i: int) -> int:
            await asyncio.sleep(0.02 * i)
            message = Message.new(run_id=run.id, sender="asker", recipient="counter",
                                  kind="count", body={"n": i})
            reply = await client.request(message, timeout=30)
            return reply.body["n"]

        asking = asyncio.gather(*(ask(i) for i in range(n)))
        await asyncio.sleep(0.8)
        await asyncio.to_thread(broker.restart)
        answers = await asyncio.wait_for(asking, 60)
        assert answers == list(range(n))
        assert client.transport.stats.reconnects >= 1
        assert server.transport.stats.reconnects >= 1
    assert len(handled) == n and set(handled.values()) == {1}
    store.flush()
    kinds = Counter(row["kind"] for row in store.messages(run.id))
    assert kinds == {"count": n, "count.reply": n}      # every message logged once


async def test_several_nodes_serving_one_agent_share_the_work(broker: Broker,  # noqa: F811
                                                              store: Store):
    run = store.start_run(Run(kind="test", name="shared agent"))
    served: Counter[str] = Counter()
    handled: Counter[UUID] = Counter()

    def worker(name: str):
        async def handle(message: Message) -> dict:
            served[name] += 1
            handled[message.id] += 1
            await asyncio.sleep(0.005)
            return {"by": name}
        return handle

    buses = [Bus(store, transport=MqttTransport(broker.url())) for _ in range(4)]
    for bus in buses:
        await bus.start()
    try:
        for i, bus in enumerate(buses[1:]):
            bus.attach("echo", worker(f"w{i}"), concurrency=2)
        client = buses[0]
        async with asyncio.timeout(5):
            while len(client.transport.serving("echo")) < 3:
                await asyncio.sleep(0.02)
        replies = await asyncio.gather(*(client.request(Message.new(
            run_id=run.id, sender="asker", recipient="echo", kind="echo", body={"i": i}),
            timeout=20) for i in range(90)))
    finally:
        for bus in buses:
            await bus.close()
    assert len(replies) == 90 and set(handled.values()) == {1}
    assert len(served) == 3 and all(count > 0 for count in served.values()), served
