"""A model that answers from a logged run instead of running a model.

Each agent's calls are answered in the order that agent made them in the
original run: the n-th call of `design` gets the n-th logged completion of
`design`. Before answering, the call is compared with the logged one (a
hash of messages, schema and settings); a call that differs, or one the
log does not have, raises `ReplayMismatch` naming the agent, the call index
and the first difference; with a `fallback` model, calls past the log go to
it instead (resuming a run). A call made among others at once
(`llm.concurrent.at_once`) gets the agent's earliest unanswered logged call
with the same hash, whatever its number: such calls start in no fixed order.
"""

from __future__ import annotations

import difflib
import json
import threading
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from uuid import UUID

from autogenesis import __version__
from autogenesis.bus.context import current_caller
from autogenesis.errors import ReplayMismatch
from autogenesis.llm.base import (
    ChatMessage,
    Decoding,
    Generation,
    Model,
    ModelIdentity,
    check_messages,
    prompt_sha256,
)
from autogenesis.llm.concurrent import take_place
from autogenesis.llm.schema import judge_output


class ReplayModel:
    """Answers each agent's calls from the completions of one logged run."""

    def __init__(self, completions: Iterable[Mapping[str, Any]], *, run_id: UUID | str = "",
                 agent: str = "user", fallback: Model | None = None) -> None:
        self.agent = agent  # for calls made outside any bus handler
        self.fallback = fallback  # answers an agent's calls past the log (resume)
        self._logged: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
        for row in completions:
            self._logged[row["agent"]].append(row)
        for rows in self._logged.values():
            rows.sort(key=lambda r: r["call_index"])
        self._open: dict[str, list[int]] = {   # per agent, the unanswered calls' places
            agent: list(range(len(rows))) for agent, rows in self._logged.items()}
        self._lock = threading.Lock()
        self.identity = fallback.identity if fallback is not None else ModelIdentity(
            backend="replay", backend_version=__version__, model_id=f"replay:{run_id}")

    @classmethod
    def from_store(cls, store: Any, run_id: UUID) -> ReplayModel:
        return cls(store.completions(run_id), run_id=run_id)

    def unanswered(self) -> dict[str, int]:
        """Logged calls nobody has asked for yet, per agent (all zero after a faithful replay)."""
        return {agent: len(open_) for agent, open_ in self._open.items() if open_}

    async def generate(self, messages: Sequence[ChatMessage], *,
                       schema: Mapping[str, Any] | None = None,
                       settings: Decoding | None = None) -> Generation:
        caller = current_caller()
        agent = caller.agent if caller else self.agent
        settings = settings or Decoding()
        checked = check_messages(messages)
        digest = prompt_sha256(checked, schema, settings)
        logged = self._logged.get(agent, [])
        with self._lock:   # taken even when it differs: the next call is the next
            place = take_place(self._open.setdefault(agent, []),
                               lambda i: logged[i].get("prompt_sha256") == digest)
        if place is None and self.fallback is not None:
            return await self.fallback.generate(checked, schema=schema, settings=settings)
        if place is None:
            raise ReplayMismatch(agent, len(logged), "extra_call",
                                 f"the log has {len(logged)} call(s) for {agent}, all answered; "
                                 f"this one's prompt starts {_snippet(checked)}")
        row = logged[place]
        if row.get("prompt_sha256") != digest:
            what, detail = _difference(row, checked, schema, settings)
            raise ReplayMismatch(agent, place, what, detail)
        finish = row.get("finish_reason") or "stop"
        # `problem` is not logged: judged again from the logged output, as the backend did
        parsed, problem = judge_output(row["output"], schema, finish, settings.max_new_tokens)
        return Generation(
            text=row["output"], tokens_in=row["tokens_in"], tokens_out=row["tokens_out"],
            latency_ms=0.0, finish_reason=finish, parsed=parsed, batch_size=1,
            seed=row["seed"], problem=problem,
        )


def _snippet(messages: list[dict[str, str]]) -> str:
    text = messages[-1]["content"]
    return repr(text[:80] + ("..." if len(text) > 80 else ""))


def _difference(row: Mapping[str, Any], messages: list[dict[str, str]],
                schema: Mapping[str, Any] | None, settings: Decoding) -> tuple[str, str]:
    """Which part of a call differs from the logged one, and a short diff of it."""
    if row["prompt"] != messages:
        return "prompt", diff_json(row["prompt"], messages)
    if row["json_schema"] != (dict(schema) if schema is not None else None):
        return "schema", diff_json(row["json_schema"], schema)
    if row["settings"] != settings.as_dict():
        return "settings", diff_json(row["settings"], settings.as_dict())
    return "prompt", "the logged call has no prompt hash (logged by an older version)"


def diff_json(logged: Any, now: Any, limit: int = 20) -> str:
    """A short unified diff of two JSON values (logged first)."""
    def lines_of(value: Any) -> list[str]:
        return json.dumps(value, indent=1, sort_keys=True, ensure_ascii=False,
                          default=str).splitlines()

    before, after = lines_of(logged), lines_of(now)
    lines = list(difflib.unified_diff(before, after, "logged", "replayed", n=1, lineterm=""))
    shown = lines[:limit] + ([f"... {len(lines) - limit} more diff lines"]
                             if len(lines) > limit else [])
    return "\n".join(shown)
