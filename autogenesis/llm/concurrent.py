"""Work awaited at once, and how a replay pairs its model calls with the logged ones.

A model call is logged with a number per agent, in the order the calls
start (`LoggedModel`), and a replay answers an agent's calls in that
order (`ReplayModel`). Calls made inside `at_once` start and finish in
whatever order the model serves them, so a replay of such calls pairs each
with the agent's earliest unanswered logged call that asked the same thing
(the same prompt hash: messages, schema and settings), wherever its
number. Calls outside keep the strict order, so a replay still stops at
the first call that differs.

`limit` bounds the model calls in flight, not the awaitables: nested
`at_once` share the outermost one's gate, and only a model call holds a
place in it (`call_slot`, taken by `LoggedModel`), so a branch waiting for
its own calls never keeps another branch's call out.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import TypeVar

T = TypeVar("T")

_any_order: ContextVar[bool] = ContextVar("autogenesis_any_order", default=False)
_gate: ContextVar[asyncio.Semaphore | None] = ContextVar("autogenesis_gate", default=None)


def in_any_order() -> bool:
    """Whether the current model call is one of several made at once."""
    return _any_order.get()


async def at_once(work: Sequence[Awaitable[T]], limit: int) -> list[T]:
    """Each of `work` awaited, at most `limit` at a time; the results in `work`'s order.

    With `limit` 1 they run one after another, exactly as a plain loop would.
    """
    if limit <= 1 or len(work) <= 1:
        return [await item for item in work]
    gate = _gate.get() or asyncio.Semaphore(limit)

    async def one(item: Awaitable[T]) -> T:
        _any_order.set(True)      # these set this task's context only
        _gate.set(gate)
        return await item

    return list(await asyncio.gather(*(one(item) for item in work)))


def in_threads(work: Sequence[Callable[[], T]], limit: int) -> list[T]:
    """Each of `work` called, at most `limit` at a time on threads of their own, each in a
    copy of the caller's context (its agent and run) marked as one of several at once;
    the results in `work`'s order. With `limit` 1 they run in turn on this thread.

    For blocking work whose results a replay answers from the log (the sandboxed runs of
    the system, `build.observe.Observer`), paired as model calls are (see the module).
    """
    if limit <= 1 or len(work) <= 1:
        return [fn() for fn in work]

    def one(fn: Callable[[], T]) -> T:
        _any_order.set(True)      # in this thread's copy of the context only
        return fn()

    with ThreadPoolExecutor(max_workers=min(limit, len(work)),
                            thread_name_prefix="at-once") as pool:
        running = [pool.submit(contextvars.copy_context().run, one, fn) for fn in work]
        return [future.result() for future in running]


def take_place(open_: list[int], asks_the_same: Callable[[int], bool]) -> int | None:
    """Which of the unanswered logged places (`open_`, in order) the current call or
    observation takes, removed from `open_`: the first, or, for one made among others at
    once, the first that asks the same (the first anyway when none does, so that the
    difference is reported against it). None when every place is answered."""
    if not open_:
        return None
    place = open_[0]
    if in_any_order():
        place = next((i for i in open_ if asks_the_same(i)), place)
    open_.remove(place)
    return place


@asynccontextmanager
async def call_slot() -> AsyncIterator[None]:
    """A place among the model calls in flight of the enclosing `at_once` (none needed
    outside one)."""
    gate = _gate.get()
    if gate is None:
        yield
        return
    async with gate:
        yield
