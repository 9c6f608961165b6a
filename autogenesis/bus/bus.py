"""The message bus: one interface for direct, topic, broadcast and request/response.

Every message passes the same gate in `send()`:

1. loop detection (deterministic rules, `loops.py`): a looping message is
   logged with a `loop` event and the sender gets `LoopDetected`;
2. the log: the message is queued for PostgreSQL and delivered only once
   the log writer reports it durable (committed, or fsynced to the spool),
   so after a crash every message a handler acted on is in the log;
3. routing by the transport; a message no mailbox takes becomes a
   `dead_letter` event, and a request that nobody can answer fails at once
   with `Undeliverable`.

Requests carry a deadline; the requester gets `DeadlineExceeded` when it
passes, and the handler is cancelled at the same deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol
from uuid import UUID

from autogenesis.bus.context import Caller, set_caller
from autogenesis.bus.loops import LoopDetector
from autogenesis.bus.message import BROADCAST, Message, check_address, check_topic
from autogenesis.bus.transport import InProcessTransport, Transport
from autogenesis.errors import (
    ConfigError,
    DeadlineExceeded,
    LoopDetected,
    RemoteError,
    Undeliverable,
)
from autogenesis.store.records import Event, EventKind, Record

Handler = Callable[[Message], Awaitable[Message | Mapping[str, Any] | None]]
"""Handles one message; may return a reply (a Message, or a body for `message.reply`)."""

ERROR_KIND = "error"

log = logging.getLogger(__name__)


class RecordLog(Protocol):
    """Where the bus logs records (the `Store`); `sink` is called once they are durable."""

    def log(self, record: Record, sink: Callable[[list[Any]], None] | None = None) -> None: ...


@dataclass
class BusStats:
    sent: int = 0
    delivered: int = 0
    dead_letters: int = 0
    loops: int = 0
    deadlines: int = 0
    handler_errors: int = 0
    retries: int = 0        # requests sent again because the worker handling them died


class _Mailbox:
    def __init__(self, address: str, handler: Handler, concurrency: int) -> None:
        self.address = address
        self.handler = handler
        self.queue: asyncio.Queue[Message] = asyncio.Queue()
        self.concurrency = concurrency
        self.workers: list[asyncio.Task[None]] = []


class Bus:
    def __init__(
        self,
        store: RecordLog | None = None,
        *,
        transport: Transport | None = None,
        loops: LoopDetector | None = None,
        default_timeout: float = 60.0,
        max_in_flight: int = 20_000,
    ) -> None:
        self.store = store
        self.transport: Transport = transport or InProcessTransport()
        self.loops = loops or LoopDetector()
        self.default_timeout = default_timeout
        self.max_in_flight = max_in_flight
        self.stats = BusStats()
        self._mailboxes: dict[str, _Mailbox] = {}
        self._pending: dict[UUID, asyncio.Future[Message]] = {}
        self._in_flight = 0
        self._room = asyncio.Event()
        self._room.set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._started = False

    # --- lifecycle --------------------------------------------------------

    async def start(self) -> Bus:
        if not self._started:
            self._loop = asyncio.get_running_loop()
            self._loop_thread = threading.get_ident()
            await self.transport.start(self._receive, self._notice)
            self._started = True
        return self

    async def close(self) -> None:
        workers = [w for mailbox in self._mailboxes.values() for w in mailbox.workers]
        for mailbox in list(self._mailboxes.values()):
            self._stop_mailbox(mailbox)
        self._mailboxes.clear()
        await asyncio.gather(*workers, return_exceptions=True)
        for future in self._pending.values():
            future.cancel()
        self._pending.clear()
        await self.transport.close()
        self._started = False

    async def __aenter__(self) -> Bus:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- who listens ------------------------------------------------------

    def attach(self, address: str, handler: Handler, *, concurrency: int = 1) -> None:
        """Serve `address` with `handler`, running up to `concurrency` messages at once."""
        self._require_started()
        check_address(address)
        if address in self._mailboxes:
            raise ConfigError(f"an agent is already attached at {address!r}")
        mailbox = _Mailbox(address, handler, max(1, concurrency))
        mailbox.workers = [
            asyncio.create_task(self._work(mailbox), name=f"mailbox:{address}:{i}")
            for i in range(mailbox.concurrency)
        ]
        self._mailboxes[address] = mailbox
        self.transport.attach(address)

    def detach(self, address: str) -> None:
        mailbox = self._mailboxes.pop(address, None)
        if mailbox is not None:
            self._stop_mailbox(mailbox)
        self.transport.detach(address)

    def subscribe(self, pattern: str, address: str) -> None:
        """Deliver topic messages matching `pattern` (MQTT wildcards) to the agent at `address`."""
        check_topic(pattern, pattern=True)
        if address not in self._mailboxes:
            raise ConfigError(f"no agent attached at {address!r} to subscribe")
        self.transport.subscribe(pattern, address)

    # --- sending ----------------------------------------------------------

    async def send(self, message: Message) -> Message:
        """Log and deliver `message`; returns it. Raises `LoopDetected` for a looping one."""
        self._require_started()
        if message.topic is not None:
            check_topic(message.topic)
        elif message.recipient != BROADCAST:
            check_address(message.recipient or "")
        try:
            self.loops.check(message)
        except LoopDetected as exc:
            self.stats.loops += 1
            self._log(message)
            self._event("loop", message, message.sender,
                        {"kind": exc.kind, "path": exc.path})
            raise
        while self._in_flight >= self.max_in_flight:
            self._room.clear()
            await self._room.wait()
        self._in_flight += 1
        self.stats.sent += 1
        if self.store is None:
            self._durable([message])
        else:
            self.store.log(message, self._on_durable)
        return message

    async def request(self, message: Message, *, timeout: float | None = None) -> Message:
        """Send `message` and wait for its reply until the deadline.

        Raises `DeadlineExceeded` when no reply comes in time, `Undeliverable`
        when nobody serves the recipient, `RemoteError` when the handler failed.
        """
        recipient = message.recipient
        if recipient is None or recipient == BROADCAST:
            raise ConfigError("a request goes to one recipient")
        if timeout is None:
            left = message.seconds_left()
            timeout = self.default_timeout if left is None else left
        message = replace(message.with_deadline(timeout), expects_reply=True)
        future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._pending[message.id] = future
        started = time.monotonic()
        try:
            await self.send(message)
            async with asyncio.timeout(max(timeout, 0)):
                reply = await future
        except TimeoutError:
            elapsed = time.monotonic() - started
            self.stats.deadlines += 1
            self._event("deadline", message, message.recipient,
                        {"elapsed": round(elapsed, 6), "limit": timeout, "side": "requester"})
            raise DeadlineExceeded(recipient, elapsed, timeout) from None
        finally:
            self._pending.pop(message.id, None)
        if reply.kind == ERROR_KIND:
            body = reply.body
            raise RemoteError(reply.sender, body.get("error", "Error"), body.get("detail", ""))
        return reply

    # --- delivery (after the log) ------------------------------------------

    def _on_durable(self, messages: list[Any]) -> None:
        """Called by the log writer's thread once `messages` are durable."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        if threading.get_ident() == self._loop_thread:
            self._durable(messages)
        else:
            loop.call_soon_threadsafe(self._durable, messages)

    def _durable(self, messages: list[Message]) -> None:
        for message in messages:
            self._dispatch(message)
        self._in_flight -= len(messages)
        if self._in_flight < self.max_in_flight // 2:
            self._room.set()

    def _dispatch(self, message: Message) -> None:
        if message.reply_to is not None and self._resolve(message):
            return
        delivered = self.transport.post(message)
        if delivered == 0:
            self.stats.dead_letters += 1
            self._event("dead_letter", message, message.recipient,
                        {"address": message.address})
            future = self._pending.get(message.id)
            if future is not None and not future.done():
                future.set_exception(Undeliverable(message.address, str(message.id)))

    def _resolve(self, reply: Message) -> bool:
        future = self._pending.get(reply.reply_to)  # type: ignore[arg-type]
        if future is None:
            return False
        if not future.done():
            future.set_result(reply)
        return True

    def _receive(self, address: str, message: Message) -> None:
        """The transport's inbox: replies resolve requests, the rest go to mailboxes."""
        if message.reply_to is not None and self._resolve(message):
            return
        mailbox = self._mailboxes.get(address)
        if mailbox is not None:
            self.stats.delivered += 1
            mailbox.queue.put_nowait(message)

    async def _work(self, mailbox: _Mailbox) -> None:
        while True:
            message = await mailbox.queue.get()
            try:
                await self._handle(mailbox, message)
            except asyncio.CancelledError:
                raise
            except Exception:  # _handle already turns handler failures into events
                log.exception("bus failed while handling %s at %s", message.id, mailbox.address)

    async def _handle(self, mailbox: _Mailbox, message: Message) -> None:
        left = message.seconds_left()
        if left is not None and left <= 0:
            self.stats.deadlines += 1
            self._event("deadline", message, mailbox.address,
                        {"expired_before_handling": True, "late_by": round(-left, 6)})
            return
        started = time.monotonic()
        set_caller(Caller(mailbox.address, message.run_id, message.id))
        try:
            async with asyncio.timeout(left):
                result = await mailbox.handler(message)
        except TimeoutError:
            self.stats.deadlines += 1
            self._event("deadline", message, mailbox.address,
                        {"elapsed": round(time.monotonic() - started, 6), "limit": left,
                         "side": "handler"})
            return
        except Exception as exc:
            self.stats.handler_errors += 1
            if not isinstance(exc, LoopDetected):  # a loop was logged where it was detected
                self._event("error", message, mailbox.address,
                            {"error": type(exc).__name__, "detail": str(exc)[:2000]})
            if message.expects_reply:
                await self._reply_error(mailbox.address, message, exc)
            return
        if result is None:
            return
        reply = result if isinstance(result, Message) else message.reply(result,
                                                                         sender=mailbox.address)
        try:
            await self.send(reply)
        except LoopDetected as exc:  # the requester learns now, not at its deadline
            self.stats.handler_errors += 1
            if message.expects_reply:
                await self._reply_error(mailbox.address, message, exc)

    async def _reply_error(self, address: str, message: Message, exc: Exception) -> None:
        reply = message.reply({"error": type(exc).__name__, "detail": str(exc)[:2000]},
                              kind=ERROR_KIND, sender=address)
        # On a loop the requester sees its deadline pass; the loop is already logged.
        with contextlib.suppress(LoopDetected):
            await self.send(reply)

    # --- helpers ----------------------------------------------------------

    def _log(self, record: Record) -> None:
        if self.store is not None:
            self.store.log(record)

    def _event(self, kind: EventKind, message: Message, agent: str | None,
               detail: dict[str, Any]) -> None:
        self._log(Event(kind, message.run_id, agent=agent, message_id=message.id, detail=detail))

    def _notice(self, kind: str, message: Message, agent: str | None,
                detail: dict[str, Any]) -> None:
        if kind == "retry":
            self.stats.retries += 1
        self._event(kind, message, agent, detail)  # type: ignore[arg-type]

    def _stop_mailbox(self, mailbox: _Mailbox) -> None:
        for worker in mailbox.workers:
            worker.cancel()

    def _require_started(self) -> None:
        if not self._started:
            raise ConfigError(
                "the bus is not started: use `async with Bus(...)` or `await bus.start()`"
            )

    def pending_requests(self) -> int:
        return len(self._pending)
