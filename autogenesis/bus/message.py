"""Messages: the immutable records agents exchange over the bus."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from uuid import UUID, uuid4

from autogenesis.canonical import canonical_json
from autogenesis.config import name_regex
from autogenesis.errors import ConfigError

BROADCAST = "*"
"""Recipient of a broadcast: every agent on the bus except the sender."""

_ADDRESS = re.compile(rf"^{name_regex()}(/{name_regex()})*$")
_TOPIC_LEVEL = re.compile(r"^[A-Za-z0-9_.:-]+$")


def check_address(address: str) -> str:
    """An agent address: a safe name, or names joined by `/` for nested networks."""
    if not isinstance(address, str) or not _ADDRESS.match(address):
        raise ConfigError(
            f"invalid agent address {address!r}: names of a-z, 0-9 and _ joined by '/'"
        )
    return address


def check_topic(topic: str, *, pattern: bool = False) -> str:
    """A topic is `/`-separated levels; a subscription pattern may use MQTT's `+` and `#`."""
    levels = topic.split("/") if isinstance(topic, str) else [""]
    for i, level in enumerate(levels):
        if pattern and level == "+":
            continue
        if pattern and level == "#" and i == len(levels) - 1:
            continue
        if not _TOPIC_LEVEL.match(level):
            raise ConfigError(f"invalid topic {topic!r}: level {level!r} is not allowed")
    return topic


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Message:
    """One message on the bus.

    The body is kept as its canonical JSON text (`body_json`): that is what is
    logged and hashed, and `body` hands each reader a fresh copy, so no
    handler can change a message another handler also sees.
    A message has either a `recipient` (direct or broadcast) or a `topic`.
    """

    run_id: UUID
    sender: str
    kind: str
    body_json: str
    recipient: str | None = None
    topic: str | None = None
    id: UUID = field(default_factory=uuid4)
    conversation_id: UUID = field(default=None)  # type: ignore[assignment]
    reply_to: UUID | None = None
    hop: int = 0
    expects_reply: bool = False
    created_at: datetime = field(default_factory=_now)
    deadline: datetime | None = None
    table: ClassVar[str] = "messages"

    def __post_init__(self) -> None:
        if self.conversation_id is None:
            object.__setattr__(self, "conversation_id", self.id)
        if (self.recipient is None) == (self.topic is None):
            raise ConfigError("a message needs exactly one of recipient or topic")

    @classmethod
    def new(
        cls,
        *,
        run_id: UUID,
        sender: str,
        kind: str,
        body: Mapping[str, Any] | None = None,
        recipient: str | None = None,
        topic: str | None = None,
        conversation_id: UUID | None = None,
        timeout: float | None = None,
        expects_reply: bool = False,
    ) -> Message:
        created = _now()
        return cls(
            run_id=run_id,
            sender=sender,
            kind=kind,
            body_json=canonical_json(body or {}),
            recipient=recipient,
            topic=topic,
            conversation_id=conversation_id,  # type: ignore[arg-type]
            expects_reply=expects_reply,
            created_at=created,
            deadline=created + timedelta(seconds=timeout) if timeout is not None else None,
        )

    def row(self) -> tuple[Any, ...]:
        """The message as a row of the `messages` log table."""
        return (
            self.id, self.run_id, self.conversation_id, self.sender, self.recipient, self.topic,
            self.kind, self.body_json, self.reply_to, self.hop, self.expects_reply,
            self.created_at, self.deadline,
        )

    def wire(self) -> dict[str, Any]:
        """The message as JSON-ready fields, for a transport between processes."""
        return {"id": str(self.id), "run_id": str(self.run_id),
                "conversation_id": str(self.conversation_id), "sender": self.sender,
                "recipient": self.recipient, "topic": self.topic, "kind": self.kind,
                "body": self.body_json,
                "reply_to": str(self.reply_to) if self.reply_to else None, "hop": self.hop,
                "expects_reply": self.expects_reply, "created_at": self.created_at.isoformat(),
                "deadline": self.deadline.isoformat() if self.deadline else None}

    @classmethod
    def from_wire(cls, fields: Mapping[str, Any]) -> Message:
        """The message `wire()` gave (raises KeyError/ValueError on anything else)."""
        def when(text: str | None) -> datetime | None:
            return datetime.fromisoformat(text) if text else None

        return cls(run_id=UUID(fields["run_id"]), sender=fields["sender"], kind=fields["kind"],
                   body_json=fields["body"], recipient=fields["recipient"],
                   topic=fields["topic"], id=UUID(fields["id"]),
                   conversation_id=UUID(fields["conversation_id"]),
                   reply_to=UUID(fields["reply_to"]) if fields["reply_to"] else None,
                   hop=int(fields["hop"]), expects_reply=bool(fields["expects_reply"]),
                   created_at=when(fields["created_at"]),  # type: ignore[arg-type]
                   deadline=when(fields["deadline"]))

    @property
    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = json.loads(self.body_json)
        return body

    @property
    def address(self) -> str:
        """Where the message goes: the recipient, or `topic:<topic>`."""
        return self.recipient if self.recipient is not None else f"topic:{self.topic}"

    def content_hash(self) -> str:
        """Identity of what the message says (kind and body), for loop detection."""
        return hashlib.blake2b(f"{self.kind}\n{self.body_json}".encode(), digest_size=8).hexdigest()

    def seconds_left(self, now: datetime | None = None) -> float | None:
        if self.deadline is None:
            return None
        return (self.deadline - (now or _now())).total_seconds()

    def reply(self, body: Mapping[str, Any] | None = None, *, kind: str | None = None,
              sender: str | None = None) -> Message:
        """A reply to this message: same conversation and deadline, back to the sender."""
        return self.follow_up(
            self.sender,
            body,
            kind=kind or f"{self.kind}.reply",
            sender=sender or self.recipient or self.sender,
            reply_to=self.id,
        )

    def follow_up(self, recipient: str | None, body: Mapping[str, Any] | None = None, *,
                  kind: str, sender: str | None = None, reply_to: UUID | None = None,
                  expects_reply: bool = False, topic: str | None = None) -> Message:
        """A further message in this conversation (one hop more, same deadline).

        It goes to `recipient`, or, with `recipient=None`, is published on `topic`.
        """
        return Message(
            run_id=self.run_id,
            sender=sender or self.recipient or self.sender,
            kind=kind,
            body_json=canonical_json(body or {}),
            recipient=recipient,
            topic=topic,
            conversation_id=self.conversation_id,
            reply_to=reply_to,
            hop=self.hop + 1,
            expects_reply=expects_reply,
            deadline=self.deadline,
        )

    def with_deadline(self, timeout: float) -> Message:
        return replace(self, deadline=_now() + timedelta(seconds=timeout))
