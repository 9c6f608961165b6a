"""JSON schemas compiled by xgrammar for one model's vocabulary: the grammar layer
both backends share. xgrammar is imported only when a backend is loaded."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from autogenesis.canonical import canonical_json
from autogenesis.errors import SchemaError


class JsonGrammars:
    """Compiles schemas for one tokenizer; xgrammar's compiler caches what it compiled."""

    def __init__(self, tokenizer_info: Any) -> None:
        import xgrammar

        self._compiler = xgrammar.GrammarCompiler(tokenizer_info)

    def compile(self, schema: Mapping[str, Any]) -> Any:
        try:
            # No free whitespace: small models otherwise pad JSON with newlines forever.
            return self._compiler.compile_json_schema(canonical_json(schema), any_whitespace=False)
        except Exception as exc:  # xgrammar raises RuntimeError/ValueError for unsupported parts
            raise SchemaError(f"cannot constrain decoding to this schema: {exc}") from exc

    def matcher(self, schema: Mapping[str, Any]) -> Any:
        """A fresh matcher: one per generated sequence."""
        import xgrammar

        return xgrammar.GrammarMatcher(self.compile(schema))
