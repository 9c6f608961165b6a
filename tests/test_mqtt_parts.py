"""The MQTT transport's bookkeeping without a broker: its acknowledgement window and
failover (`bus.delivery.Window`) and who serves what (`bus.presence.Peers`). The
transport itself runs against the real broker in test_mqtt.py and the bus conformance
suite."""

from __future__ import annotations

import json
from uuid import uuid4

import pytest

from autogenesis.bus.delivery import DeliveryStats, Outgoing, Window
from autogenesis.bus.message import BROADCAST, Message
from autogenesis.bus.presence import Peers

pytestmark = pytest.mark.fast


def outgoing(to: str = "writer", *, request: bool = False, expires: float | None = None,
             run=None) -> Outgoing:
    message = Message.new(run_id=run or uuid4(), sender="editor", recipient=to, kind="task",
                          body={"n": 1}, expects_reply=request)
    return Outgoing((message.id, to), f"p/inbox/{to}", b"{}", expires, message)


def window(size: int = 2) -> Window:
    return Window(DeliveryStats(), size=size, resend_s=2.0, max_tries=3)


def acks(*outs: Outgoing) -> list[list[str]]:
    return [[str(o.key[0]), o.key[1]] for o in outs]


def test_at_most_size_messages_wait_for_their_acknowledgement():
    w = window(size=2)
    a, b, c = outgoing(), outgoing(), outgoing()
    assert w.add(a) == [a] and w.add(b) == [b]
    assert w.add(c) == []                       # no room: it waits
    assert w.acknowledged(acks(a), "node-2") == [c]   # an ack makes room for it
    assert list(w.sent) == [b.key, c.key] and not w.waiting
    assert w.acknowledged(acks(a), "node-2") == []    # a duplicate ack changes nothing


def test_unacknowledged_messages_are_sent_again_later_and_later_then_given_up():
    w = window(size=4)
    out = w.add(outgoing())[0].sending(now=100.0)
    assert w.due(now=101.0, wall=0) == []               # not late yet
    assert w.due(now=102.5, wall=0) == [out]            # 2 s without an ack: again
    out.sending(now=102.5)
    assert w.due(now=105.0, wall=0) == []               # the second wait is 4 s
    assert w.due(now=107.0, wall=0) == [out]
    out.sending(now=107.0)
    assert w.due(now=200.0, wall=0) == [] and not w.sent   # 3 tries: given up
    assert (w.stats.resent, w.stats.expired) == (2, 1)


def test_a_message_past_its_deadline_is_not_sent_again():
    w = window()
    w.add(outgoing(expires=50.0))[0].sending(now=0.0)
    assert w.due(now=10.0, wall=51.0) == [] and not w.sent
    assert w.stats.expired == 1


def test_a_request_taken_by_a_node_that_went_away_is_sent_again_unless_answered():
    w = window()
    asked, answered = outgoing(request=True), outgoing(request=True)
    for out in (asked, answered):
        w.add(out)[0].sending(now=0.0)
        out.sending(now=0.0)
    w.acknowledged(acks(asked, answered), "node-2")
    assert w.taken_by("node-2") == [asked, answered] and not w.sent
    reply = answered.message.reply({"ok": True}, sender="writer")
    w.answered(reply)
    assert w.taken_by("node-2") == [asked]
    again = w.fail_over("node-2", wall=0.0)
    assert again == [(asked, 2)] and asked.tries == 0 and asked.key in w.sent
    assert w.stats.failovers == 1 and w.taken_by("node-2") == []


def test_acknowledgements_owed_to_a_node_are_batched():
    w = window()
    first, second = outgoing(), outgoing()
    assert w.owe("node-2", first.key) is True           # the first: start the timer
    assert w.owe("node-2", second.key) is False
    assert w.pay("node-2") == acks(first, second) and w.pay("node-2") == []


def presence(addresses: list[str], subscriptions: dict[str, list[str]] | None = None) -> bytes:
    return json.dumps({"addresses": addresses, "subscriptions": subscriptions or {},
                       "role": "worker", "pid": 1, "host": "h", "since": "t"}).encode()


def test_a_message_goes_to_the_addresses_that_serve_or_follow_it():
    peers = Peers(grace_s=15.0)
    peers.heard("node-2", presence(["design", "approver"], {"news/#": ["monitor"]}), now=0.0)
    run = uuid4()
    direct = Message.new(run_id=run, sender="pipeline", recipient="design", kind="x")
    everyone = Message.new(run_id=run, sender="design", recipient=BROADCAST, kind="x")
    news = Message.new(run_id=run, sender="design", topic="news/today", kind="x")
    own, patterns = {"pipeline"}, {"news/+": {"logger"}}
    assert peers.targets(direct, own, patterns) == {"design"}
    assert peers.targets(everyone, own, patterns) == {"pipeline", "approver"}
    assert peers.targets(news, own, patterns) == {"logger", "monitor"}
    assert peers.serving("approver") == ["node-2"] and peers.serving("testing") == []


def test_a_node_that_went_away_is_forgotten_and_its_addresses_remembered_a_while():
    peers = Peers(grace_s=15.0)
    peers.heard("node-2", presence(["design"]), now=0.0)
    peers.heard("node-3", presence(["approver"]), now=5.0)
    assert peers.stale(now=8.0, after_s=6.0) == ["node-2"]
    assert peers.forget("node-2", now=8.0) and not peers.forget("node-2", now=8.0)
    assert peers.recently_lost("design", now=20.0)
    assert not peers.recently_lost("design", now=24.0)
    with pytest.raises(KeyError):
        peers.heard("node-4", b'{"addresses": []}', now=9.0)   # malformed: no subscriptions
