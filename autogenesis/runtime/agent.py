"""Agents and networks of agents: what generated systems are made of.

An `Agent` has a name and handles messages. A `Network` is a set of agents
wired on a bus with one entry agent; it is itself an agent, so a network can
sit inside a bigger network (as llm_net's GenNetwork does). Addresses are
hierarchical: the agent `writer` inside the network `blog` lives at
`blog/writer`, and agents name their siblings by plain name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, TypeVar
from uuid import UUID

from autogenesis.bus.body import Body
from autogenesis.bus.bus import Bus
from autogenesis.bus.message import Message
from autogenesis.config import check_name
from autogenesis.errors import ConfigError

Method = TypeVar("Method", bound=Callable[..., Any])


def handles(request: type[Body]) -> Callable[[Method], Method]:
    """Mark an agent's method as its handler for `request` messages (chosen by the
    type's `kind`): it is called with the body as that type and the message itself (to
    follow up within its conversation), and returns the reply body (a `Body`, or None)."""
    if not request.kind:
        raise ConfigError(f"{request.__name__} has no kind: only a request type can be handled")

    def mark(method: Method) -> Method:
        method.__handles__ = request  # type: ignore[attr-defined]
        return method
    return mark


class Agent:
    """Subclass and give handlers (`@handles(SomeRequest)`), or override `handle`. Set
    `subscriptions` to receive topic messages."""

    subscriptions: tuple[str, ...] = ()
    handlers: ClassVar[dict[str, tuple[type[Body], str]]] = {}
    """kind -> (request type, method name): the class's `@handles` methods, its
    bases' included (a subclass may override a handler by its method name)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        table = dict(cls.handlers)
        for name, member in vars(cls).items():
            request = getattr(member, "__handles__", None)
            if request is not None:
                table[request.kind] = (request, name)
        cls.handlers = table

    def __init__(self, name: str, *, concurrency: int = 1) -> None:
        self.name = check_name(name, "agent name")
        self.concurrency = concurrency
        self.parent: Network | None = None
        self._bus: Bus | None = None

    # --- identity ---------------------------------------------------------

    @property
    def address(self) -> str:
        return self.name if self.parent is None else f"{self.parent.address}/{self.name}"

    @property
    def bus(self) -> Bus:
        if self._bus is None:
            raise ConfigError(f"agent {self.name!r} is not attached to a bus")
        return self._bus

    def resolve(self, name: str) -> str:
        """The address of `name`: a sibling in the same network, or an absolute address."""
        if "/" in name or self.parent is None:
            return name
        return f"{self.parent.address}/{name}"

    # --- handling: by the request's type, or override ------------------------

    async def handle(self, message: Message) -> Message | Mapping[str, Any] | None:
        """Handle one message; return a reply body (or Message) to answer it. By default
        the handler for the message's kind gets the body as its request type."""
        found = self.handlers.get(message.kind)
        if found is None:
            raise ConfigError(f"agent {self.name!r} cannot handle {message.kind!r} messages"
                              f" (it handles: {', '.join(sorted(self.handlers)) or 'none'})")
        request, method = found
        reply = await getattr(self, method)(request.of(message), message)
        return reply.dump() if isinstance(reply, Body) else reply

    # --- wiring -----------------------------------------------------------

    async def attach(self, bus: Bus) -> None:
        self._bus = bus
        bus.attach(self.address, self.handle, concurrency=self.concurrency)
        for pattern in self.subscriptions:
            bus.subscribe(pattern, self.address)

    async def detach(self) -> None:
        if self._bus is not None:
            self._bus.detach(self.address)
            self._bus = None

    # --- talking, always within the conversation being handled ------------

    async def send(self, to: str, kind: str, body: Mapping[str, Any] | None = None, *,
                   within: Message) -> Message:
        return await self.bus.send(within.follow_up(self.resolve(to), body, kind=kind,
                                                    sender=self.address))

    async def request(self, to: str, kind: str, body: Mapping[str, Any] | None = None, *,
                      within: Message, timeout: float | None = None) -> Message:
        message = within.follow_up(self.resolve(to), body, kind=kind, sender=self.address,
                                   expects_reply=True)
        return await self.bus.request(message, timeout=timeout)

    async def call(self, to: str, request: Body, *, within: Message,
                   timeout: float | None = None) -> Message:
        """`request` to `to` (under its type's kind), within the conversation being
        handled; the reply's body is read with its own type's `of`."""
        return await self.request(to, request.kind, request.dump(), within=within,
                                  timeout=timeout)

    async def publish(self, topic: str, kind: str, body: Mapping[str, Any] | None = None, *,
                      within: Message) -> Message:
        return await self.bus.send(within.follow_up(None, body, kind=kind, sender=self.address,
                                                    topic=topic))


class Network(Agent):
    """Agents wired on one bus; a request to the network goes to its entry agent."""

    def __init__(self, name: str, agents: Sequence[Agent], *, entry: str,
                 timeout: float = 60.0) -> None:
        super().__init__(name)
        names = [agent.name for agent in agents]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ConfigError(f"network {name!r} has duplicate agent names: {duplicates}")
        if entry not in names:
            raise ConfigError(f"network {name!r} has no agent {entry!r} to use as entry")
        self.agents = {agent.name: agent for agent in agents}
        self.entry = entry
        self.timeout = timeout
        for agent in agents:
            agent.parent = self

    def resolve(self, name: str) -> str:
        """A network names its own agents by plain name; anything else as an agent would."""
        if name in self.agents:
            return f"{self.address}/{name}"
        return super().resolve(name)

    async def attach(self, bus: Bus) -> None:
        await super().attach(bus)
        for agent in self.agents.values():
            await agent.attach(bus)

    async def detach(self) -> None:
        for agent in self.agents.values():
            await agent.detach()
        await super().detach()

    async def handle(self, message: Message) -> Message | Mapping[str, Any] | None:
        entry = f"{self.address}/{self.entry}"
        reply = await self.request(entry, message.kind, message.body, within=message)
        return reply.body

    async def ask(self, body: Mapping[str, Any], *, run_id: UUID, kind: str = "task",
                  sender: str = "user", timeout: float | None = None) -> Message:
        """Send `body` to this network as `sender` and wait for the answer."""
        message = Message.new(run_id=run_id, sender=sender, recipient=self.address, kind=kind,
                              body=body)
        return await self.bus.request(message, timeout=timeout or self.timeout)
