"""Transports move messages between the bus and the agents' mailboxes.

The `Bus` owns the rules (logging, loops, deadlines, dead letters); a
transport only routes. `InProcessTransport` routes within one process;
`autogenesis.bus.mqtt.MqttTransport` implements the same methods over a
broker, and the bus conformance suite runs unchanged against both.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from autogenesis.bus.message import BROADCAST, Message

Inbox = Callable[[str, Message], None]
"""Receives (address it was delivered to, message); must not block."""

Notify = Callable[[str, Message, str | None, dict[str, Any]], None]
"""Tells the bus of something worth an event: (event kind, message, agent, detail); the bus
logs it. The MQTT transport reports a request sent again because its worker died."""


def topic_matches(pattern: str, topic: str) -> bool:
    """MQTT topic matching: `+` is one level, a trailing `#` is any number of levels."""
    pattern_levels = pattern.split("/")
    topic_levels = topic.split("/")
    for i, level in enumerate(pattern_levels):
        if level == "#":
            return True
        if i >= len(topic_levels):
            return False
        if level != "+" and level != topic_levels[i]:
            return False
    return len(pattern_levels) == len(topic_levels)


class Transport(Protocol):
    async def start(self, inbox: Inbox, notify: Notify | None = None) -> None:
        """Begin routing; delivered messages are handed to `inbox`."""

    async def close(self) -> None: ...

    def attach(self, address: str) -> None:
        """Deliver messages addressed to `address` (and broadcasts) to the inbox."""

    def detach(self, address: str) -> None: ...

    def subscribe(self, pattern: str, address: str) -> None:
        """Deliver messages published on topics matching `pattern` to `address`."""

    def post(self, message: Message) -> int | None:
        """Route `message`; return how many mailboxes got it, or None if unknowable."""


class InProcessTransport:
    """Routes messages between mailboxes of one process, synchronously."""

    def __init__(self) -> None:
        self._inbox: Inbox | None = None
        self._addresses: set[str] = set()
        self._subscriptions: dict[str, set[str]] = {}

    async def start(self, inbox: Inbox, notify: Notify | None = None) -> None:
        self._inbox = inbox

    async def close(self) -> None:
        self._inbox = None

    def attach(self, address: str) -> None:
        self._addresses.add(address)

    def detach(self, address: str) -> None:
        self._addresses.discard(address)
        for subscribers in self._subscriptions.values():
            subscribers.discard(address)

    def subscribe(self, pattern: str, address: str) -> None:
        self._subscriptions.setdefault(pattern, set()).add(address)

    def post(self, message: Message) -> int:
        inbox = self._inbox
        if inbox is None:
            return 0
        if message.topic is not None:
            targets: set[str] = set()
            for pattern, subscribers in self._subscriptions.items():
                if topic_matches(pattern, message.topic):
                    targets |= subscribers
        elif message.recipient == BROADCAST:
            targets = self._addresses - {message.sender}
        elif message.recipient in self._addresses:
            targets = {message.recipient}
        else:
            return 0
        for address in sorted(targets):
            inbox(address, message)
        return len(targets)
