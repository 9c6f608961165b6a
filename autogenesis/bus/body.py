"""Message bodies as types: one pydantic model per request and per reply.

A request type names the `kind` it travels under; an agent's handler for it is
chosen by that kind (`runtime.agent.handles`) and gets the body already
validated, so no handler indexes a dict or branches on a kind string. On the
wire a body is still a JSON object: `dump()` gives the fields that were given
when the body was made (a field left out is absent, not null), so a type
reproduces byte for byte the bodies that logged runs hold.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, ValidationError

from autogenesis.errors import ConfigError

if TYPE_CHECKING:
    from autogenesis.bus.message import Message


class Body(BaseModel):
    """A message body. Subclasses list its fields; a request also sets `kind`."""

    model_config = ConfigDict(frozen=True, extra="forbid", ser_json_inf_nan="constants")
    kind: ClassVar[str] = ""

    def dump(self) -> dict[str, Any]:
        """The body as it travels and is logged: the fields given, as JSON values (a
        nested model whole)."""
        return self.model_dump(mode="json", include=set(self.model_fields_set))

    @classmethod
    def of(cls, message: Message) -> Self:
        """`message`'s body as this type; a body that does not fit is a `ConfigError`
        naming the sender, the kind and what is wrong."""
        try:
            return cls.model_validate(message.body)
        except ValidationError as exc:
            wrong = "; ".join(f"{'.'.join(map(str, e['loc'])) or '(body)'}: {e['msg']}"
                              for e in exc.errors()[:3])
            raise ConfigError(f"a {message.kind!r} message from {message.sender} is not a "
                              f"{cls.__name__}: {wrong}") from None
