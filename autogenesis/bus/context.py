"""Who is acting right now: the agent handling a message, in which run.

The bus sets this around every handler call, so code deep inside a handler
(a model call, say) knows its agent, run and the message it answers
without threading them through every signature. Tasks a handler starts
inherit it (contextvars copy into new tasks). Code that acts outside a
handler (the CLI, a test) sets it with `acting_as`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from uuid import UUID


@dataclass(frozen=True, slots=True)
class Caller:
    agent: str
    run_id: UUID | None = None
    message_id: UUID | None = None


_current: ContextVar[Caller | None] = ContextVar("autogenesis_caller", default=None)


def current_caller() -> Caller | None:
    return _current.get()


def set_caller(caller: Caller) -> None:
    """Set the caller for the rest of the current task (the bus does this per message)."""
    _current.set(caller)


@contextmanager
def acting_as(agent: str, *, run_id: UUID | None = None,
              message_id: UUID | None = None) -> Iterator[Caller]:
    caller = Caller(agent, run_id, message_id)
    token = _current.set(caller)
    try:
        yield caller
    finally:
        _current.reset(token)
