"""Every model call, written to the log.

`LoggedModel` wraps any `Model`. It learns who is calling from the bus
context (the agent handling a message, its run, the message) and numbers
the calls of each agent in a run 0, 1, 2, ... in the order they start. Each
answer becomes a `Completion` row with everything replay needs: the
rendered messages, schema, settings, seed, output, and what produced it.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any, Protocol
from uuid import UUID

from autogenesis.bus.context import current_caller
from autogenesis.errors import ConfigError
from autogenesis.llm.base import (
    ChatMessage,
    Decoding,
    Generation,
    Model,
    ModelIdentity,
    check_messages,
    prompt_sha256,
)
from autogenesis.llm.concurrent import call_slot
from autogenesis.store.records import Completion, Record


class Log(Protocol):
    """The part of `Store` used here."""

    def log(self, record: Record) -> None: ...


class LoggedModel:
    """A model whose every call is logged as a completion of the caller's run."""

    def __init__(self, model: Model, store: Log, *, run_id: UUID | None = None,
                 agent: str = "user") -> None:
        self.model = model
        self.store = store
        self.run_id = run_id    # used when a call is made outside any bus handler
        self.agent = agent
        self._lock = threading.Lock()
        self._next: dict[tuple[UUID, str], int] = defaultdict(int)
        self.calls = 0
        self.tokens_in = 0
        self.tokens_out = 0

    @property
    def identity(self) -> ModelIdentity:
        return self.model.identity

    def continue_from(self, run_id: UUID, counts: Mapping[str, int]) -> None:
        """Number further calls after those already logged (per agent), e.g. on resume."""
        with self._lock:
            for agent, count in counts.items():
                self._next[(run_id, agent)] = max(self._next[(run_id, agent)], count)

    async def generate(self, messages: Sequence[ChatMessage], *,
                       schema: Mapping[str, Any] | None = None,
                       settings: Decoding | None = None) -> Generation:
        caller = current_caller()
        agent = caller.agent if caller else self.agent
        run_id = (caller.run_id if caller else None) or self.run_id
        if run_id is None:
            raise ConfigError("a logged model call needs a run: call it from an agent "
                              "or give LoggedModel a run_id")
        settings = settings or Decoding()
        checked = check_messages(messages)
        with self._lock:
            index = self._next[(run_id, agent)]
            self._next[(run_id, agent)] += 1
        async with call_slot():   # bounded when made among others at once
            result = await self.model.generate(checked, schema=schema, settings=settings)
        with self._lock:
            self.calls += 1
            self.tokens_in += result.tokens_in
            self.tokens_out += result.tokens_out
        identity = self.model.identity
        self.store.log(Completion(
            run_id=run_id, agent=agent, call_index=index, backend=identity.backend,
            model_id=identity.model_id, settings=settings.as_dict(), prompt=checked,
            output=result.text, tokens_in=result.tokens_in, tokens_out=result.tokens_out,
            latency_ms=result.latency_ms, message_id=caller.message_id if caller else None,
            model_revision=identity.revision, seed=result.seed,
            json_schema=dict(schema) if schema is not None else None, parsed=result.parsed,
            batch_size=result.batch_size, backend_version=identity.backend_version,
            dtype=identity.dtype, device=identity.device, finish_reason=result.finish_reason,
            prompt_sha256=prompt_sha256(checked, schema, settings),
        ))
        return result
