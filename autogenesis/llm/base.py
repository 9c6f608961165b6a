"""The one model interface, and the small records around it.

A `Model` has an identity and one method, `generate(messages, schema=,
settings=)`. Everything else (loading, batching, logging, replay, scripted
answers for tests) is a class that implements or wraps that method, as in
smolagents' `Model.generate` or pydantic-ai's `Model.request`.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from autogenesis.canonical import sha256_of
from autogenesis.errors import ConfigError

ChatMessage = Mapping[str, str]  # {"role": "system" | "user" | "assistant", "content": "..."}
FinishReason = Literal["stop", "length"]
ROLES = ("system", "user", "assistant")
Progress = Callable[[str], None]  # told one line at a time what a slow load is doing


@dataclass(frozen=True, slots=True)
class Decoding:
    """How to pick tokens. Greedy (temperature 0) unless told otherwise.

    With temperature > 0, a seed makes sampling reproducible; without one
    a seed is drawn and recorded, so every sampled completion can be redone.
    """

    max_new_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = None
    stop: tuple[str, ...] = field(default_factory=tuple)
    repetition_penalty: float = 1.0
    """> 1 makes tokens already in the text less likely (a small model's greedy loops)."""

    def __post_init__(self) -> None:
        if not 1 <= self.max_new_tokens <= 32768:
            raise ConfigError(f"max_new_tokens must be 1..32768, got {self.max_new_tokens}")
        if not 0.0 <= self.temperature <= 5.0:
            raise ConfigError(f"temperature must be 0..5, got {self.temperature}")
        if not 0.0 < self.top_p <= 1.0:
            raise ConfigError(f"top_p must be in (0, 1], got {self.top_p}")
        if not 1.0 <= self.repetition_penalty <= 2.0:
            raise ConfigError("repetition_penalty must be 1..2, got "
                              f"{self.repetition_penalty}")
        if self.seed is not None and not 0 <= self.seed < 2**63:
            raise ConfigError(f"seed must be 0..2**63-1, got {self.seed}")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0

    def call_seed(self, below: int = 2**31) -> int | None:
        """The seed a call uses: the one given, else for sampling one drawn below `below`
        (recorded with the completion, so the call can be made again); None when greedy."""
        if self.seed is not None or self.greedy:
            return self.seed
        return random.randrange(below)

    def as_dict(self) -> dict[str, Any]:
        settings = {**asdict(self), "stop": list(self.stop)}
        if self.repetition_penalty == 1.0:  # logged (and hashed) as before it existed
            del settings["repetition_penalty"]
        return settings


@dataclass(frozen=True, slots=True)
class ModelIdentity:
    """What produced a completion: recorded with every one of them."""

    backend: str                 # "transformers", "llamacpp", "scripted", ...
    backend_version: str
    model_id: str                # a Hugging Face id, a directory or a .gguf path
    revision: str | None = None  # sha256 of a .gguf file, or the hub commit
    dtype: str | None = None
    device: str | None = None


@dataclass(frozen=True, slots=True)
class Generation:
    """One answer.

    With a schema, `parsed` is the decoded JSON, which validates against it.
    When it cannot be had (the output hit max_new_tokens first, say),
    `parsed` is None and `problem` says why: a model's mistake is data for
    the caller to act on, not an exception.
    """

    text: str
    tokens_in: int
    tokens_out: int
    latency_ms: float
    finish_reason: FinishReason = "stop"
    parsed: Any = None
    batch_size: int = 1
    seed: int | None = None
    problem: str | None = None


@runtime_checkable
class Model(Protocol):
    """Anything that answers chat messages. Implementations must be safe to call
    concurrently from several tasks (serialise or batch, never interleave)."""

    @property
    def identity(self) -> ModelIdentity: ...

    async def generate(self, messages: Sequence[ChatMessage], *,
                       schema: Mapping[str, Any] | None = None,
                       settings: Decoding | None = None) -> Generation: ...


def check_messages(messages: Sequence[ChatMessage]) -> list[dict[str, str]]:
    """Plain dicts with a known role and string content, or a ConfigError."""
    if not messages:
        raise ConfigError("a model call needs at least one message")
    checked = []
    for i, message in enumerate(messages):
        role, content = message.get("role"), message.get("content")
        if role not in ROLES or not isinstance(content, str):
            raise ConfigError(
                f"message {i} must be {{'role': one of {ROLES}, 'content': str}}, got {message!r}"
            )
        checked.append({"role": role, "content": content})
    return checked


def prompt_sha256(messages: Sequence[ChatMessage], schema: Mapping[str, Any] | None,
                  settings: Decoding) -> str:
    """One hash for everything that determines a call's answer, besides the model."""
    payload = {"messages": [dict(m) for m in messages], "schema": schema,
               "settings": settings.as_dict()}
    return sha256_of(payload)
