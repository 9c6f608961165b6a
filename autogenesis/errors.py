"""The error tree.

`UserError` and its children are mistakes a user can fix (bad input,
unreachable configuration): the CLI prints them as one line. Everything
under `RuntimeFailure` is something that happened while running (a loop, a
missed deadline); it carries the data needed to understand it. Anything else
is a bug and keeps its traceback.
"""

from __future__ import annotations


class AutogenesisError(Exception):
    """Base of every error autogenesis raises on purpose."""


class UserError(AutogenesisError):
    """A mistake the user can fix: the message says how."""


class ConfigError(UserError):
    """Bad or unusable configuration (URLs, data directory, names)."""


class StoreUnavailable(UserError):
    """The database cannot be reached or started."""


class BusUnavailable(UserError):
    """The MQTT broker cannot be reached, or refused us (credentials, permissions)."""


class MigrationError(AutogenesisError):
    """The schema cannot be brought up to date safely."""


class RuntimeFailure(AutogenesisError):
    """Something went wrong while agents were running."""


class LoopDetected(RuntimeFailure):
    """The bus refused a message because the conversation is looping.

    `kind` is one of "repeat" (same sender, recipient and body again),
    "ping_pong" (content bounced back unchanged) or "hop_limit".
    `path` is the sequence of agents the conversation went through.
    """

    def __init__(self, kind: str, path: list[str], message_id: str) -> None:
        self.kind = kind
        self.path = path
        self.message_id = message_id
        super().__init__(f"loop detected ({kind}): {' -> '.join(path)}")


class DeadlineExceeded(RuntimeFailure):
    """A request was not answered before its deadline."""

    def __init__(self, agent: str, elapsed: float, limit: float) -> None:
        self.agent = agent
        self.elapsed = elapsed
        self.limit = limit
        super().__init__(f"{agent} did not answer within {limit:.3f}s (waited {elapsed:.3f}s)")


class Undeliverable(RuntimeFailure):
    """No agent is listening at the message's address; it went to the dead letters."""

    def __init__(self, address: str, message_id: str) -> None:
        self.address = address
        self.message_id = message_id
        super().__init__(f"no agent at {address!r}; message {message_id} recorded as a dead letter")


class RemoteError(RuntimeFailure):
    """The agent that handled a request failed; its error travelled back as a reply."""

    def __init__(self, agent: str, error_type: str, detail: str) -> None:
        self.agent = agent
        self.error_type = error_type
        self.detail = detail
        super().__init__(f"{agent} failed: {error_type}: {detail}")


class ModelNotFound(UserError):
    """The configured model cannot be found or loaded; the message says how to get one."""


class SchemaError(UserError):
    """A JSON schema is malformed or uses something constrained decoding cannot enforce."""


class PromptError(AutogenesisError):
    """A prompt template is missing, or rendering it needs a variable nobody passed."""


class ReplayMismatch(RuntimeFailure):
    """A re-executed run does not match its log: the first divergence.

    `what` says what differs: "prompt", "schema", "settings" or "extra_call"
    for a model call; "observation" for a sandbox result or clock reading;
    "message", "artefact", "verdict", "event", "file" or "run" for a logged
    record; "missing" for something the original logged that the re-execution
    never produced. `call_index` is the agent's call (or the record's place
    among its kind); `detail` shows the first difference as a diff.
    """

    def __init__(self, agent: str, call_index: int, what: str, detail: str, *,
                 stage: str | None = None) -> None:
        self.agent = agent
        self.call_index = call_index
        self.what = what
        self.detail = detail
        self.stage = stage
        where = f"stage {stage}, " if stage else ""
        super().__init__(f"replay diverged at {where}{agent} call {call_index} ({what}): {detail}")


class SpecError(UserError):
    """The spec cannot be used: missing, empty, binary, too large, or describing nothing."""


class StageFailed(RuntimeFailure):
    """A build stage could not produce an approved artefact.

    `reason` is why: rounds exhausted (with the last rejection's reasons), a
    loop that perturbing the prompt did not break, a missed deadline, or an
    agent that failed.
    """

    def __init__(self, stage: str, reason: str, *, rounds: int = 0) -> None:
        self.stage = stage
        self.reason = reason
        self.rounds = rounds
        super().__init__(f"stage {stage} failed after {rounds} round(s): {reason}")
