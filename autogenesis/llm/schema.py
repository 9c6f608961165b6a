"""JSON schemas: made from types, checked, and used to judge model output.

Schemas are never written by hand: `schema_of(SomeType)` derives one from a
pydantic model or dataclass. The same schema constrains decoding (the
backends compile it into a grammar) and validates the result here with
`jsonschema`, so a grammar gap can never let an invalid object through.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any, ClassVar, Literal

import jsonschema
from pydantic import BaseModel, ConfigDict, TypeAdapter, create_model
from pydantic.json_schema import GenerateJsonSchema
from pydantic_core import core_schema

from autogenesis.canonical import canonical_json
from autogenesis.errors import SchemaError


def schema_of(tp: Any) -> dict[str, Any]:
    """The JSON schema of a pydantic model, dataclass or typing type."""
    return TypeAdapter(tp).json_schema()


class Decoded(BaseModel):
    """Base of the small types a model fills in under a grammar (a judgement, a bid):
    no field beyond those listed."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class _Constraints(GenerateJsonSchema):
    """A literal is its bare `enum` (whatever the values' type, one value or many)."""

    def literal_schema(self, schema: core_schema.LiteralSchema) -> dict[str, Any]:
        return {"enum": [getattr(v, "value", v) for v in schema["expected"]]}


_TYPES: dict[str, type[BaseModel]] = {}


@lru_cache(maxsize=512)
def decoding_schema(tp: type[BaseModel]) -> dict[str, Any]:
    """The schema that constrains a model's answer to `tp`: only what constrains (no
    titles or descriptions), every reference inlined, as grammar compilers take it. The
    type is remembered, so `schema_type` tells which type a schema came from. Made once
    per type (a router asks for its choice's on every call): the dict is shared, not to
    be changed."""
    generated = tp.model_json_schema(schema_generator=_Constraints)
    schema: dict[str, Any] = _plain(generated, generated.get("$defs", {}))
    _TYPES[canonical_json(schema)] = tp
    return schema


def _plain(node: Any, defs: Mapping[str, Any]) -> Any:
    if isinstance(node, list):
        return [_plain(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return _plain(defs[node["$ref"].rsplit("/", 1)[-1]], defs)
    return {key: ({name: _plain(s, defs) for name, s in value.items()}
                  if key == "properties" else _plain(value, defs))
            for key, value in node.items() if key not in ("title", "description", "$defs")}


def schema_type(schema: Mapping[str, Any] | None) -> type[BaseModel] | None:
    """The type `schema` was made from by `decoding_schema` (None: not made from one)."""
    return None if schema is None else _TYPES.get(canonical_json(schema))


class OneOf(Decoded):
    """Base of the types `one_of` makes: `field` is one of `options`."""

    field: ClassVar[str]
    options: ClassVar[tuple[str, ...]]


@lru_cache(maxsize=256)
def one_of(field: str, options: Sequence[str]) -> type[OneOf]:
    """A type with one field whose value is one of `options` (a router's choice, a
    design's topology): made at run time, as the options are."""
    made: type[OneOf] = create_model(  # type: ignore[call-overload]
        f"OneOf_{field}", __base__=OneOf,
        **{field: (Literal[tuple(options)], ...)})
    made.field, made.options = field, tuple(options)
    return made


def check_schema(schema: Any) -> dict[str, Any]:
    """Return `schema` as a dict if it is a valid JSON schema describing an object or array."""
    if not isinstance(schema, Mapping):
        raise SchemaError(f"a JSON schema must be an object, got {type(schema).__name__}")
    schema = dict(schema)
    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "(root)"
        raise SchemaError(f"invalid JSON schema at {where}: {exc.message}") from exc
    return schema


def load_schema(path: str) -> dict[str, Any]:
    """Read and check a schema file (the CLI's --schema)."""
    try:
        with open(path, encoding="utf-8") as f:
            schema = json.load(f)
    except OSError as exc:
        raise SchemaError(f"cannot read schema {path}: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise SchemaError(f"schema {path} is not JSON: {exc}") from exc
    return check_schema(schema)


def problems(instance: Any, schema: Mapping[str, Any]) -> list[str]:
    """Every way `instance` fails `schema`, as short readable lines (empty when valid)."""
    validator = jsonschema.validators.validator_for(schema)(schema)
    found = []
    for error in sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path)):
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        found.append(f"{where}: {error.message}")
    return found


def parse_output(text: str, schema: Mapping[str, Any]) -> tuple[Any, str | None]:
    """(parsed object, None) when `text` is JSON valid against `schema`, else (None, why)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, f"output is not complete JSON: {exc.msg} at character {exc.pos}"
    found = problems(value, schema)
    if found:
        return None, "output does not match the schema: " + "; ".join(found[:5])
    return value, None


def judge_output(text: str, schema: Mapping[str, Any] | None, finish_reason: str,
                 max_new_tokens: int) -> tuple[Any, str | None]:
    """(parsed, problem) of a model's answer: (None, None) when there was no schema."""
    if schema is None:
        return None, None
    if finish_reason == "length":
        return None, (f"output stopped at max_new_tokens={max_new_tokens} before the JSON "
                      "was complete")
    return parse_output(text, schema)
