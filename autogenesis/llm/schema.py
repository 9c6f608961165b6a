"""JSON schemas: made from types, checked, and used to judge model output.

Schemas are never written by hand: `schema_of(SomeType)` derives one from a
pydantic model or dataclass. The same schema constrains decoding (the
backends compile it into a grammar) and validates the result here with
`jsonschema`, so a grammar gap can never let an invalid object through.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import jsonschema

from autogenesis.errors import SchemaError


def schema_of(tp: Any) -> dict[str, Any]:
    """The JSON schema of a pydantic model, dataclass or typing type."""
    from pydantic import TypeAdapter

    return TypeAdapter(tp).json_schema()


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
