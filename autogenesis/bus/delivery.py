"""Delivery bookkeeping of the MQTT transport, apart from MQTT: what was sent and not yet
acknowledged, which node took each request, and the acknowledgements this node owes.

`Window` decides and the transport acts: each method returns the messages to (re)send
now, and the transport publishes them. So the rules (at most `size` unacknowledged, a
resend after `resend_s` doubling per try, giving up at the deadline or after
`max_tries`, a request sent again when the node that took it went away) are tested
without a broker (tests/test_mqtt_parts.py).
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass
from uuid import UUID

from autogenesis.bus.message import Message

Key = tuple[UUID, str]
"""(message id, address): what a receiver acknowledges."""


@dataclass
class DeliveryStats:
    published: int = 0
    received: int = 0
    duplicates: int = 0     # redelivered messages dropped
    reconnects: int = 0
    resent: int = 0         # messages sent again (not acknowledged in time, or reconnected)
    expired: int = 0        # given up unacknowledged at their deadline
    failovers: int = 0      # requests sent again because the node that took them went away


@dataclass
class Outgoing:
    key: Key
    topic: str
    payload: bytes
    expires: float | None   # the message's deadline (epoch seconds)
    message: Message
    sent_at: float = 0.0
    tries: int = 0
    published: bool = False  # the broker has it (PUBACK); the receiver may not yet

    def sending(self, now: float) -> Outgoing:
        """Count one more try, sent `now` (monotonic seconds)."""
        self.sent_at, self.tries, self.published = now, self.tries + 1, False
        return self


class Window:
    def __init__(self, stats: DeliveryStats, *, size: int, resend_s: float,
                 max_tries: int) -> None:
        self.stats = stats
        self.size = size
        self.resend_s = resend_s
        self.max_tries = max_tries
        self.waiting: deque[Outgoing] = deque()                   # for room in the window
        self.sent: OrderedDict[Key, Outgoing] = OrderedDict()     # not acknowledged yet
        self.taken: dict[UUID, tuple[str, Outgoing]] = {}         # request -> node, until
        self.owed: dict[str, list[list[str]]] = {}                # its reply; acks, by node

    # --- sending ----------------------------------------------------------------

    def add(self, out: Outgoing) -> list[Outgoing]:
        self.waiting.append(out)
        return self.pump()

    def pump(self) -> list[Outgoing]:
        """What may go now: waiting messages, while fewer than `size` are unacknowledged."""
        going = []
        while self.waiting and len(self.sent) < self.size:
            out = self.waiting.popleft()
            self.sent[out.key] = out
            going.append(out)
        return going

    def due(self, now: float, wall: float) -> list[Outgoing]:
        """What to send again at `now` (monotonic) / `wall` (epoch): messages not
        acknowledged in time; those past their deadline or `max_tries` are given up."""
        for request, (_, out) in list(self.taken.items()):
            if out.expires is not None and wall > out.expires:
                del self.taken[request]
        again = []
        for key, out in list(self.sent.items()):
            if (out.expires is not None and wall > out.expires) or out.tries >= self.max_tries:
                del self.sent[key]     # past its deadline (the requester knows) or nobody
                self.stats.expired += 1  # acknowledged it in all its tries
            elif now - out.sent_at > self.resend_s * min(2 ** (out.tries - 1), 16):
                self.stats.resent += 1
                again.append(out)
        return again + self.pump()

    def unflushed(self) -> bool:
        """Whether something is waiting, or sent and not yet with the broker."""
        return bool(self.waiting) or any(not out.published for out in self.sent.values())

    # --- acknowledgements ----------------------------------------------------------

    def acknowledged(self, keys: list[list[str]], node: str) -> list[Outgoing]:
        """`node` acknowledged `keys`: a request it took is its to answer."""
        for message_id, address in keys:
            out = self.sent.pop((UUID(message_id), address), None)
            if out is not None and out.message.expects_reply and out.message.reply_to is None:
                self.taken[out.key[0]] = (node, out)
        return self.pump()

    def answered(self, reply: Message) -> list[Outgoing]:
        """A reply also tells that its request arrived: nothing to resend or fail over."""
        if reply.reply_to is None:
            return []
        self.taken.pop(reply.reply_to, None)
        if reply.sender and self.sent.pop((reply.reply_to, reply.sender), None) is not None:
            return self.pump()
        return []

    def owe(self, node: str, key: Key) -> bool:
        """Owe `node` the acknowledgement of `key`; True for the first one owed it (the
        transport then sends them all a little later, unless a message going there takes
        them first)."""
        pending = self.owed.setdefault(node, [])
        pending.append([str(key[0]), key[1]])
        return len(pending) == 1

    def pay(self, node: str) -> list[list[str]]:
        """The acknowledgements owed to `node`, now no longer owed."""
        return self.owed.pop(node, [])

    # --- failover ----------------------------------------------------------------

    def taken_by(self, node: str) -> list[Outgoing]:
        return [out for taker, out in self.taken.values() if taker == node]

    def fail_over(self, node: str, wall: float) -> list[tuple[Outgoing, int]]:
        """The requests `node` took and never answered, to send again (with the tries
        each had; they are counted anew); those past their deadline are dropped."""
        again = []
        for out in self.taken_by(node):
            del self.taken[out.key[0]]
            if out.expires is not None and wall > out.expires:
                continue
            self.stats.failovers += 1
            again.append((out, out.tries))
            out.tries = 0
            self.sent[out.key] = out
        return again
