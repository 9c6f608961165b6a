"""Scripted models for unit tests of logic (shipped, like llm's MockModel and
pydantic-ai's FunctionModel). They follow the `Model` protocol, so
`LoggedModel` and agents cannot tell them from a real one; token counts are
word counts. Tests of the model itself use the real default model.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any

from autogenesis import __version__
from autogenesis.llm.base import (
    ChatMessage,
    Decoding,
    Generation,
    ModelIdentity,
    check_messages,
)
from autogenesis.llm.schema import parse_output, schema_type

Reply = str | Mapping[str, Any] | list[Any]
ReplyFunction = Callable[[list[dict[str, str]], Mapping[str, Any] | None, Decoding],
                         Reply | Awaitable[Reply]]


class ScriptedModel:
    """Answers with queued replies, in order. Dicts and lists are sent as JSON.

    `calls` records (messages, schema, settings) of every call for assertions.
    """

    def __init__(self, replies: Iterable[Reply] = (), *, name: str = "scripted") -> None:
        self._replies: deque[Reply] = deque(replies)
        self.calls: list[tuple[list[dict[str, str]], Mapping[str, Any] | None, Decoding]] = []
        self.identity = ModelIdentity(backend="scripted", backend_version=__version__,
                                      model_id=name)

    def enqueue(self, *replies: Reply) -> None:
        self._replies.extend(replies)

    async def _reply(self, messages: list[dict[str, str]], schema: Mapping[str, Any] | None,
                     settings: Decoding) -> Reply:
        if not self._replies:
            raise LookupError(f"{self.identity.model_id}: no scripted reply left for call "
                              f"{len(self.calls) - 1}: {messages[-1]['content'][:80]!r}")
        return self._replies.popleft()

    async def generate(self, messages: Sequence[ChatMessage], *,
                       schema: Mapping[str, Any] | None = None,
                       settings: Decoding | None = None) -> Generation:
        settings = settings or Decoding()
        checked = check_messages(messages)
        self.calls.append((checked, schema, settings))
        reply = await self._reply(checked, schema, settings)
        await asyncio.sleep(0)  # a real model yields to the loop too
        text = reply if isinstance(reply, str) else json.dumps(reply, ensure_ascii=False)
        words = text.split()
        finish = "length" if len(words) > settings.max_new_tokens else "stop"
        if finish == "length":
            text = " ".join(words[: settings.max_new_tokens])
        parsed = problem = None
        if schema is not None:
            parsed, problem = parse_output(text, schema)
        return Generation(
            text=text, tokens_in=sum(len(m["content"].split()) for m in checked),
            tokens_out=min(len(words), settings.max_new_tokens), latency_ms=0.0,
            finish_reason=finish, parsed=parsed, seed=settings.seed, problem=problem,
        )


class FunctionModel(ScriptedModel):
    """Answers with `fn(messages, schema, settings)` (sync or async)."""

    def __init__(self, fn: ReplyFunction, *, name: str = "function") -> None:
        super().__init__(name=name)
        self.fn = fn

    async def _reply(self, messages: list[dict[str, str]], schema: Mapping[str, Any] | None,
                     settings: Decoding) -> Reply:
        reply = self.fn(messages, schema, settings)
        return await reply if inspect.isawaitable(reply) else reply


def asks_for(schema: Mapping[str, Any] | None, *types: type) -> bool:
    """Whether a call's `schema` was made from one of `types` (or a subclass): how a
    scripted model tells a judgement from a bid without reading the schema's fields."""
    made_from = schema_type(schema)
    return made_from is not None and issubclass(made_from, types)
