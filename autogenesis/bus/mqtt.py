"""The bus over an MQTT broker: agents in other processes and on other hosts.

`MqttTransport` routes for a `Bus` like `InProcessTransport` does, through a
broker (mosquitto here; any MQTT 5 broker with shared subscriptions). The bus
keeps its rules (log first, loops, deadlines); the transport only moves
messages. One transport is one *node*: a process with a client connection.

Topics, under a prefix (`autogenesis` unless the URL's path names another):

- `<prefix>/inbox/<address>`: every delivery. A node serving an address
  subscribes with the shared subscription `$share/<address>/...`, so when
  several nodes (workers) serve the same agent, each message goes to one.
  Broadcasts and topic messages are resolved to addresses by the sender and
  sent to each address's inbox: an agent gets one copy however many workers
  serve it.
- `<prefix>/node/<node>`: replies. A node remembers which node sent each
  request it received and sends the reply straight back there, so the
  requester (who need not serve any address) gets it.
- `<prefix>/nodes/<node>`: presence, retained: the node's addresses and topic
  subscriptions. Every node reads them all, which is how a sender knows that
  an address has nobody behind it (a dead letter at once, as in-process,
  rather than a silent loss). The broker clears it with the node's will
  when the node dies, and the node clears it when it closes.

Delivery is never assumed: a broker acknowledges a QoS 1 publish and may
still drop it (mosquitto's default queue of 1000 per client dropped most of
a 20,000-message burst in trials). So the receiving node acknowledges each
delivery to the sending node (batched on its node topic, or riding along
with a reply going there anyway); the sender keeps
at most WINDOW messages unacknowledged, which keeps the broker's queues
short, and sends a message again when no acknowledgement came in time or
after a reconnect, until its deadline (or MAX_TRIES). The receiver drops a
message it already delivered to the same address (message ids), so a
redelivery is handled once. The connection is re-established with backoff;
a request in flight meanwhile gets its reply after the reconnect or fails
with `DeadlineExceeded` at its deadline: nothing hangs.

Failover: the acknowledgement of a request names the node that took it. When
that node's presence goes (its will: the broker saw the connection die; or
no heartbeat for STALE_S) and it has not come back FAILOVER_S later, every
request it took and did not answer is sent again, to whichever node now
serves the address, and the bus logs a `retry` event. A node that only lost
its connection for a moment keeps its requests (nothing is done twice).

The bookkeeping of acknowledgements and failover is `delivery.Window`, and of
presence `presence.Peers`: both decide without a broker, and this module only
moves bytes and keeps the timers.

Latency: TCP_NODELAY is set on the client socket (and should be in the
broker: `set_tcp_nodelay true`), else a QoS 1 round trip waits on Nagle's
algorithm (~88 ms instead of ~1 ms measured here).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import socket
import ssl
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit
from uuid import UUID, uuid4

import aiomqtt

from autogenesis.bus.delivery import DeliveryStats as MqttStats
from autogenesis.bus.delivery import Outgoing, Window
from autogenesis.bus.message import BROADCAST, Message
from autogenesis.bus.presence import Peers
from autogenesis.bus.transport import Inbox, Notify
from autogenesis.config import redact_url
from autogenesis.errors import BusUnavailable, ConfigError

log = logging.getLogger(__name__)

DEFAULT_PORT, DEFAULT_TLS_PORT = 1883, 8883
DEFAULT_PREFIX = "autogenesis"
CONNECT_TIMEOUT_S = 10.0
KEEPALIVE_S = 10
HEARTBEAT_S = 2.0           # presence re-published this often ...
STALE_S = 3 * HEARTBEAT_S   # ... and a node not heard of for this long is gone
GRACE_S = 15.0              # an address gone this recently is still sent to (it may return)
SEEN_LIMIT = 200_000        # (message id, address) pairs remembered against redelivery
WINDOW = 256                # messages sent and not yet acknowledged by their receiver
RESEND_S = 2.0              # unacknowledged this long: send again (doubling per try)
RESEND_CHECK_S = 0.25
ACK_DELAY_S = 0.02          # acknowledgements wait this long to be batched or ride along
MAX_TRIES = 8
FAILOVER_S = 3.0            # a node gone this long has its unanswered requests sent elsewhere
BACKOFF_S = (0.1, 5.0)      # first and longest wait between reconnection attempts
_PREFIX = re.compile(r"^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$")


@dataclass(frozen=True)
class MqttSettings:
    """Where the broker is and who we are, from `mqtt://user:pass@host:port/prefix`
    (`mqtts://` for TLS; `?ca=/path/ca.pem` for a private certificate authority)."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None
    tls: bool = False
    ca_file: str | None = None
    prefix: str = DEFAULT_PREFIX
    url: str = field(default="", repr=False)

    @classmethod
    def from_url(cls, url: str) -> MqttSettings:
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ConfigError(f"not an MQTT URL: {redact_url(url)!r} (use "
                              "mqtt://[user:password@]host[:port][/prefix], or mqtts:// for TLS)")
        try:
            port = parts.port
        except ValueError as exc:
            raise ConfigError(f"bad port in {redact_url(url)!r}") from exc
        prefix = parts.path.strip("/") or DEFAULT_PREFIX
        if not _PREFIX.match(prefix):
            raise ConfigError(f"bad topic prefix {prefix!r} in {redact_url(url)!r}: use "
                              "letters, digits, _ and - in /-separated levels")
        tls = parts.scheme == "mqtts"
        ca = parse_qs(parts.query).get("ca", [None])[0]
        if ca is not None and not Path(ca).is_file():
            raise ConfigError(f"no CA certificate file {ca!r} (the ca= of {redact_url(url)!r})")
        return cls(host=parts.hostname, port=port or (DEFAULT_TLS_PORT if tls else DEFAULT_PORT),
                   username=unquote(parts.username) if parts.username else None,
                   password=unquote(parts.password) if parts.password else None,
                   tls=tls, ca_file=ca, prefix=prefix, url=url)

    @property
    def where(self) -> str:
        return redact_url(self.url) if self.url else f"{self.host}:{self.port}"


def node_name() -> str:
    """A name for this process's node: host, pid and a random part."""
    host = re.sub(r"[^a-z0-9-]", "-", socket.gethostname().lower())[:24] or "host"
    return f"{host}-{os.getpid()}-{uuid4().hex[:6]}"


class MqttTransport:
    def __init__(self, url: str, *, node: str | None = None, role: str = "bus",
                 keepalive: int = KEEPALIVE_S) -> None:
        self.settings = MqttSettings.from_url(url)
        self.node = node or node_name()
        self.role = role
        self.keepalive = keepalive
        self.stats = MqttStats()
        self.window = Window(self.stats, size=WINDOW, resend_s=RESEND_S, max_tries=MAX_TRIES)
        self.peers = Peers(grace_s=GRACE_S)
        self._inbox: Inbox | None = None
        self._addresses: set[str] = set()
        self._patterns: dict[str, set[str]] = {}
        self._seen: OrderedDict[tuple[UUID, str], None] = OrderedDict()
        self._reply_node: OrderedDict[UUID, str] = OrderedDict()
        self._notify: Notify | None = None
        self._connected_at: float | None = None
        self._client: aiomqtt.Client | None = None
        self._task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closing = False
        self._peers_changed = asyncio.Event()
        self._since = datetime.now(UTC).isoformat()

    # --- topics -------------------------------------------------------------

    def _topic(self, *levels: str) -> str:
        return "/".join((self.settings.prefix, *levels))

    def _inbox_filter(self, address: str) -> str:
        return f"$share/{address.replace('/', '.')}/{self._topic('inbox', address)}"

    # --- lifecycle ------------------------------------------------------------

    async def start(self, inbox: Inbox, notify: Notify | None = None) -> None:
        """Connect (raises `BusUnavailable` when the broker is unreachable or refuses us)."""
        self._inbox = inbox
        self._notify = notify
        first: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._task = asyncio.create_task(self._connection(first), name=f"mqtt:{self.node}")
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT_S):
                await first
        except TimeoutError:
            await self.close()
            raise BusUnavailable(f"no answer from the MQTT broker at {self.settings.where} "
                                 f"within {CONNECT_TIMEOUT_S:.0f}s") from None
        except BaseException:
            await self.close()
            raise

    async def close(self, *, drain_s: float = 2.0) -> None:
        """Send the acknowledgements we owe, wait (up to `drain_s`) until the broker has
        everything we sent, clear our presence, disconnect."""
        if self._task is None:
            return
        for node in list(self.window.owed):        # what we owe others, now
            self._flush_acks(node)
        with contextlib.suppress(TimeoutError):     # what others are owed: at least to the broker
            async with asyncio.timeout(drain_s):
                while self._client is not None and self.window.unflushed():
                    await asyncio.sleep(0.01)
        self._closing = True
        client = self._client
        if client is not None:
            with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
                await client.publish(self._topic("nodes", self.node), b"", qos=1, retain=True,
                                     timeout=2)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
            await self._task
        for task in list(self._tasks):
            task.cancel()
        self._task, self._client, self._inbox = None, None, None

    def _make_client(self) -> aiomqtt.Client:
        s = self.settings
        tls = None
        if s.tls:
            tls = ssl.create_default_context(cafile=s.ca_file)
        return aiomqtt.Client(
            s.host, s.port, username=s.username, password=s.password, identifier=self.node,
            protocol=aiomqtt.ProtocolVersion.V5, keepalive=self.keepalive, tls_context=tls,
            timeout=CONNECT_TIMEOUT_S,
            will=aiomqtt.Will(self._topic("nodes", self.node), b"", qos=1, retain=True),
            socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
            max_inflight_messages=1000)

    async def _connection(self, first: asyncio.Future[None]) -> None:
        """Stay connected: (re)subscribe, announce, resend, read; back off on failure."""
        delay = BACKOFF_S[0]
        while not self._closing:
            try:
                async with self._make_client() as client:
                    client.pending_calls_threshold = 1_000_000  # many publishes in flight is fine
                    await self._subscribe(client, [self._topic("node", self.node),
                                                   self._topic("nodes", "+")])
                    await self._subscribe(client, [self._inbox_filter(a)
                                                   for a in sorted(self._addresses)])
                    self._client = client
                    self._connected_at = time.monotonic()
                    self.peers.seen_all(self._connected_at)  # we heard nobody while away
                    self._announce()
                    if not first.done():
                        first.set_result(None)
                        self._spawn(self._resend_late())
                        self._spawn(self._heartbeat())
                    else:                       # what the broker may have lost, again
                        self.stats.resent += len(self.window.sent)
                        self._transmit(*self.window.sent.values(), *self.window.pump())
                    delay = BACKOFF_S[0]
                    async for incoming in client.messages:
                        self._on_message(incoming)
            except aiomqtt.MqttError as exc:
                self._client = None
                self._connected_at = None
                if not first.done():
                    first.set_exception(_unavailable(self.settings, exc))
                    return
                if self._closing:
                    return
                self.stats.reconnects += 1
                log.warning("MQTT connection to %s lost (%s); reconnecting in %.1fs",
                            self.settings.where, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, BACKOFF_S[1])

    @staticmethod
    async def _subscribe(client: aiomqtt.Client, filters: Iterable[str]) -> None:
        for topic_filter in filters:
            await client.subscribe(topic_filter, qos=1)

    # --- who listens ------------------------------------------------------------

    def attach(self, address: str) -> None:
        self._addresses.add(address)
        client = self._client
        if client is not None:
            self._spawn(self._subscribe(client, [self._inbox_filter(address)]))
            self._announce()

    def detach(self, address: str) -> None:
        self._addresses.discard(address)
        for subscribers in self._patterns.values():
            subscribers.discard(address)
        client = self._client
        if client is not None:
            self._spawn(client.unsubscribe(self._inbox_filter(address)))
            self._announce()

    def subscribe(self, pattern: str, address: str) -> None:
        self._patterns.setdefault(pattern, set()).add(address)
        self._announce()

    def _announce(self) -> None:
        """Publish this node's presence (retained): addresses and topic subscriptions."""
        client = self._client
        if client is None:
            return
        presence = {"node": self.node, "role": self.role, "pid": os.getpid(),
                    "host": socket.gethostname(), "since": self._since,
                    "addresses": sorted(self._addresses),
                    "subscriptions": {p: sorted(a) for p, a in self._patterns.items() if a}}
        self._spawn(client.publish(self._topic("nodes", self.node), json.dumps(presence),
                                   qos=1, retain=True))

    def serving(self, address: str) -> list[str]:
        """The nodes (this one included) that serve `address`."""
        nodes = [self.node] if address in self._addresses else []
        return nodes + self.peers.serving(address)

    async def wait_for(self, addresses: Iterable[str], timeout: float) -> list[str]:
        """Wait until every address has a node serving it; the ones still missing."""
        wanted = list(addresses)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while any(not self.serving(a) for a in wanted):
                    self._peers_changed.clear()
                    await self._peers_changed.wait()
                return []
        return [a for a in wanted if not self.serving(a)]

    # --- sending ------------------------------------------------------------------

    def post(self, message: Message) -> int:
        if self._inbox is None:
            return 0
        if message.reply_to is not None:
            node = self._reply_node.pop(message.reply_to, None)
            if node is not None:            # straight back to the node that asked
                self._queue(self._topic("node", node), message, message.recipient or "",
                            node=node)
                return 1
        targets = sorted(self.peers.targets(message, self._addresses, self._patterns))
        recipient = message.recipient
        if not targets and recipient and recipient != BROADCAST and self.peers.recently_lost(
                recipient, time.monotonic()):
            # Its node went away moments ago (a broker restart looks like that): keep
            # sending until it is back or the message's deadline passes.
            targets = [recipient]
        for address in targets:
            self._queue(self._topic("inbox", address), message, address)
        return len(targets)

    def _queue(self, topic: str, message: Message, address: str, *,
               node: str | None = None) -> None:
        envelope: dict[str, Any] = {"v": 1, "type": "message", "from": self.node,
                                    "to": address, "message": message.wire()}
        if node is not None and node in self.window.owed:   # to a known node: acks ride along
            envelope["acks"] = self.window.pay(node)
        payload = json.dumps(envelope, separators=(",", ":")).encode()
        expires = message.deadline.timestamp() if message.deadline else None
        self._transmit(*self.window.add(
            Outgoing((message.id, address), topic, payload, expires, message)))

    def _transmit(self, *outs: Outgoing) -> None:
        now = time.monotonic()
        for out in outs:
            out.sending(now)
            if self._client is not None:
                self._spawn(self._publish(out.topic, out.payload, out))

    async def _publish(self, topic: str, payload: bytes, out: Outgoing | None = None) -> None:
        client = self._client
        if client is None:
            return              # the reconnect sends everything unacknowledged again
        try:
            await client.publish(topic, payload, qos=1, timeout=30)
        except aiomqtt.MqttError as exc:
            log.info("publish to %s waits for the reconnect: %s", topic, exc)
            return
        self.stats.published += 1
        if out is not None:
            out.published = True

    async def _resend_late(self) -> None:
        """Send again what was not acknowledged in time; give up on what expired."""
        while True:
            await asyncio.sleep(RESEND_CHECK_S)
            self._transmit(*self.window.due(time.monotonic(), time.time()))

    def _fail_over(self, node: str) -> None:
        """Send the requests `node` took and never answered to whoever serves them now,
        unless the node came back (it was only reconnecting) or we are away ourselves."""
        if node in self.peers.nodes or not self.window.taken_by(node):
            return
        if self._client is None:    # not connected: we cannot tell who is gone; look again
            asyncio.get_running_loop().call_later(FAILOVER_S, self._fail_over, node)
            return
        again = self.window.fail_over(node, time.time())
        for out, tries in again:
            log.warning("node %s went away with request %s for %s: sending it again",
                        node, out.key[0], out.key[1])
            if self._notify is not None:
                self._notify("retry", out.message, out.key[1], {
                    "reason": "the node handling it went away", "node": node,
                    "address": out.key[1], "tries": tries})
        self._transmit(*(out for out, _ in again))

    def _ack(self, node: str, key: tuple[UUID, str]) -> None:
        """Acknowledge a delivery to the node that sent it: within ACK_DELAY_S, together
        with the others owed to that node, or sooner with a message going there."""
        if self.window.owe(node, key):   # a reply sent before then takes them along instead
            asyncio.get_running_loop().call_later(ACK_DELAY_S, self._flush_acks, node)

    def _flush_acks(self, node: str) -> None:
        keys = self.window.pay(node)
        if keys and self._client is not None:
            payload = json.dumps({"v": 1, "type": "ack", "from": self.node, "keys": keys},
                                 separators=(",", ":")).encode()
            self._spawn(self._publish(self._topic("node", node), payload))

    # --- receiving -----------------------------------------------------------------

    def _on_message(self, incoming: aiomqtt.Message) -> None:
        topic = str(incoming.topic)
        payload = incoming.payload if isinstance(incoming.payload, bytes | bytearray) else b""
        if topic.startswith(self._topic("nodes") + "/"):
            self._on_presence(topic.rsplit("/", 1)[1], bytes(payload))
            return
        try:
            envelope = json.loads(payload)
            if envelope.get("type") == "ack":
                self._transmit(*self.window.acknowledged(envelope["keys"],
                                                         str(envelope["from"])))
                return
            if envelope.get("acks"):
                self._transmit(*self.window.acknowledged(envelope["acks"],
                                                         str(envelope["from"])))
            message = Message.from_wire(envelope["message"])
            address, sender_node = str(envelope["to"]), str(envelope["from"])
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning("dropped a malformed MQTT message on %s: %s", topic, exc)
            return
        key = (message.id, address)
        self._transmit(*self.window.answered(message))
        self._ack(sender_node, key)         # again for a duplicate: the first ack was lost
        if key in self._seen:
            self.stats.duplicates += 1
            return
        _remember(self._seen, key, None)
        self.stats.received += 1
        if message.expects_reply:
            _remember(self._reply_node, message.id, sender_node)
        if self._inbox is not None:
            self._inbox(address, message)

    def _on_presence(self, node: str, payload: bytes) -> None:
        if node == self.node:
            return
        if not payload:                 # it left, or its will: the broker saw it die
            self._forget(node)
            return
        try:
            self.peers.heard(node, payload, time.monotonic())
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("ignored malformed presence of node %s: %s", node, exc)
            return
        self._peers_changed.set()

    def _forget(self, node: str) -> None:
        if self.peers.forget(node, time.monotonic()):
            self._peers_changed.set()
        if self.window.taken_by(node):
            asyncio.get_running_loop().call_later(FAILOVER_S, self._fail_over, node)

    async def _heartbeat(self) -> None:
        """Re-announce this node; forget nodes not heard of for STALE_S."""
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            self._announce()
            now = time.monotonic()
            if self._connected_at is None:
                continue        # away ourselves: silence from the others means nothing
            for node in self.peers.stale(now, STALE_S):
                log.info("node %s not heard of for %.0fs: gone", node, STALE_S)
                self._forget(node)

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        exc = None if task.cancelled() else task.exception()
        if exc is not None and not isinstance(exc, aiomqtt.MqttError):
            log.error("MQTT task failed: %r", exc)


def _remember(cache: OrderedDict[Any, Any], key: Any, value: Any) -> None:
    cache[key] = value
    if len(cache) > SEEN_LIMIT:
        cache.popitem(last=False)


def _unavailable(settings: MqttSettings, exc: aiomqtt.MqttError) -> BusUnavailable:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, aiomqtt.MqttCodeError) and exc.rc is not None:
        return BusUnavailable(f"the MQTT broker at {settings.where} refused the connection: "
                              f"{text} (check the user name and password in the URL)")
    return BusUnavailable(f"cannot reach the MQTT broker at {settings.where}: {text}")


__all__ = ["MqttSettings", "MqttStats", "MqttTransport", "node_name"]
