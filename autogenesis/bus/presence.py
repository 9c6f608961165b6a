"""Who serves what on an MQTT bus: the other nodes' presence, apart from MQTT.

Each node publishes (retained) the addresses it serves and its topic subscriptions;
`Peers` keeps what the others said, resolves a message to the addresses that get it,
forgets a node that left or went quiet, and remembers for a while the addresses a
node served when it went (a broker restart looks like every node going at once).
Tested without a broker in tests/test_mqtt_parts.py.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Set
from dataclasses import dataclass, field
from typing import Any

from autogenesis.bus.message import BROADCAST, Message
from autogenesis.bus.transport import topic_matches


@dataclass
class Peers:
    grace_s: float
    """How long an address whose node went away is still sent to (it may come back)."""
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    lost: dict[str, float] = field(default_factory=dict)  # address -> when its node went

    def heard(self, node: str, payload: bytes, now: float) -> None:
        """`node`'s presence as published (raises ValueError, KeyError or TypeError when
        it is malformed)."""
        presence = json.loads(payload)
        self.nodes[node] = {"addresses": list(presence["addresses"]),
                            "subscriptions": dict(presence["subscriptions"]), "seen": now,
                            **{k: presence.get(k) for k in ("role", "pid", "host", "since")}}

    def forget(self, node: str, now: float) -> bool:
        """`node` is gone; False when it was not known."""
        gone = self.nodes.pop(node, None)
        if gone is None:
            return False
        for address in gone["addresses"]:
            self.lost[address] = now
        return True

    def stale(self, now: float, after_s: float) -> list[str]:
        """The nodes not heard of for `after_s`."""
        return [n for n, p in self.nodes.items() if now - p["seen"] > after_s]

    def seen_all(self, now: float) -> None:
        """Count everyone as heard of `now` (after we were away: we heard nobody)."""
        for peer in self.nodes.values():
            peer["seen"] = now

    def recently_lost(self, address: str, now: float) -> bool:
        when = self.lost.get(address)
        return when is not None and now - when < self.grace_s

    def serving(self, address: str) -> list[str]:
        """The other nodes that serve `address`."""
        return sorted(n for n, p in self.nodes.items() if address in p["addresses"])

    def targets(self, message: Message, addresses: Set[str],
                patterns: Mapping[str, Set[str]]) -> set[str]:
        """The addresses that get `message`, given this node's own `addresses` and topic
        `patterns` (pattern -> subscribed addresses) and everyone else's."""
        everyone = [(addresses, patterns)] + [
            (set(p["addresses"]), p["subscriptions"]) for p in self.nodes.values()]
        found: set[str] = set()
        for served, subscribed in everyone:
            if message.topic is not None:
                for pattern, subscribers in subscribed.items():
                    if topic_matches(pattern, message.topic):
                        found.update(subscribers)
            elif message.recipient == BROADCAST:
                found.update(a for a in served if a != message.sender)
            elif message.recipient is not None and message.recipient in served:
                found.add(message.recipient)
        return found
