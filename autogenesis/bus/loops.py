"""Deterministic loop detection: rules over what a conversation has already carried.

Three rules, checked for every message before it is logged or delivered:

- repeat: the same (sender, recipient, content) appears twice in a
  conversation: a worker that answers a rejection with the same artefact;
- ping_pong: an agent sends back, unchanged, content it received from the
  agent it is sending to;

"Content" is the kind and the body together, so a reply (kind `x.reply`)
that echoes its request's body is not mistaken for a bounce.
- hop_limit: a conversation went through more hops than allowed.

Topic messages are checked on (sender, topic, content). State is kept for the
most recent `max_conversations` conversations, so memory stays bounded.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from autogenesis.bus.message import Message
from autogenesis.errors import LoopDetected

_MAX_PATH = 64


@dataclass
class _Conversation:
    seen: set[tuple[str, str, str]] = field(default_factory=set)
    path: list[str] = field(default_factory=list)


class LoopDetector:
    def __init__(self, *, max_hops: int = 32, max_conversations: int = 10_000) -> None:
        self.max_hops = max_hops
        self.max_conversations = max_conversations
        self._conversations: OrderedDict[object, _Conversation] = OrderedDict()

    def check(self, message: Message) -> None:
        """Record `message`, or raise `LoopDetected` if it would make a loop."""
        conversation = self._conversations.get(message.conversation_id)
        if conversation is None:
            conversation = self._conversations[message.conversation_id] = _Conversation()
            if len(self._conversations) > self.max_conversations:
                self._conversations.popitem(last=False)
        else:
            self._conversations.move_to_end(message.conversation_id)

        target = message.address
        digest = message.content_hash()
        path = [*conversation.path, target] if conversation.path else [message.sender, target]
        if message.hop > self.max_hops:
            raise LoopDetected("hop_limit", path[-_MAX_PATH:], str(message.id))
        key = (message.sender, target, digest)
        if key in conversation.seen:
            raise LoopDetected("repeat", path[-_MAX_PATH:], str(message.id))
        if (target, message.sender, digest) in conversation.seen:
            raise LoopDetected("ping_pong", path[-_MAX_PATH:], str(message.id))
        conversation.seen.add(key)
        if not conversation.path:
            conversation.path.append(message.sender)
        conversation.path.append(target)
        del conversation.path[:-_MAX_PATH]
