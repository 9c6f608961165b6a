"""JSON schemas compiled into token masks for one model's vocabulary: the grammar layer of
the in-process backends. The engines are imported only when a backend is loaded."""

from __future__ import annotations

import importlib.util
import warnings
from collections.abc import Mapping
from typing import Any, Protocol

from autogenesis.canonical import canonical_json
from autogenesis.errors import ConfigError, SchemaError


class JsonGrammars:
    """xgrammar: compiles schemas for one tokenizer (the transformers backend's, whose masks
    apply to torch logits); its compiler caches what it compiled."""

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


# --- token masks for the llama.cpp backend --------------------------------------------
#
# The llama.cpp batcher asks a matcher per sequence which tokens may come next and tells
# it the one chosen. Two engines can answer: llguidance (what llama.cpp itself uses; no
# dependencies) and xgrammar (whose masks are torch tensors, so it pulls torch). Which
# one, and why, is measured in bench/grammar.py and bench/README.md.

GRAMMAR_ENGINES = ("llguidance", "xgrammar")


class TokenMatcher(Protocol):
    """One sequence's grammar state."""

    def allowed(self) -> Any:
        """A numpy bool array: which tokens (by id; it may run past the vocabulary) may
        come next."""

    def accept(self, token: int) -> None: ...


def grammar_engine(requested: str | None = None) -> str:
    """`requested`, or llguidance when installed, else xgrammar."""
    if requested is not None:
        if requested not in GRAMMAR_ENGINES:
            raise ConfigError(f"grammar engine must be one of {', '.join(GRAMMAR_ENGINES)}, "
                              f"got {requested!r}")
        return requested
    return "llguidance" if importlib.util.find_spec("llguidance") else "xgrammar"


class XGrammarMasks:
    """xgrammar's masks for a llama.cpp vocabulary (`pieces`: each token's bytes)."""

    engine = "xgrammar"

    def __init__(self, pieces: list[bytes], eos: int) -> None:
        import xgrammar

        # Control tokens detokenize to b"", which xgrammar never allows.
        self._grammars = JsonGrammars(xgrammar.TokenizerInfo(
            pieces, xgrammar.VocabType.RAW, vocab_size=len(pieces), stop_token_ids=[eos]))
        self._vocab = len(pieces)

    def matcher(self, schema: Mapping[str, Any]) -> TokenMatcher:
        return _XGrammarMatcher(self._grammars.matcher(schema), self._vocab)


class _XGrammarMatcher:
    def __init__(self, matcher: Any, vocab: int) -> None:
        import xgrammar

        self._matcher = matcher
        self._mask = xgrammar.allocate_token_bitmask(1, vocab)

    def allowed(self) -> Any:
        import numpy as np

        self._matcher.fill_next_token_bitmask(self._mask)
        return np.unpackbits(self._mask.numpy().view(np.uint8), bitorder="little").astype(bool)

    def accept(self, token: int) -> None:
        self._matcher.accept_token(token)


class GuidanceMasks:
    """llguidance's masks for a llama.cpp vocabulary (`vocab`: llama.cpp's vocab pointer)."""

    engine = "llguidance"

    def __init__(self, vocab: Any, n_vocab: int, eos: int) -> None:
        from llguidance.llamacpp import lltokenizer_from_vocab

        with warnings.catch_warnings():   # it asks llama-cpp-python for every token's
            warnings.simplefilter("ignore", DeprecationWarning)   # attributes by an old name
            self._tokenizer = lltokenizer_from_vocab(vocab, eos_token=eos)
        self._vocab = n_vocab
        self._compiled: dict[str, str] = {}

    def _grammar(self, schema: Mapping[str, Any]) -> str:
        from llguidance import LLMatcher

        key = canonical_json(schema)
        if key not in self._compiled:
            # As xgrammar constrains: no free whitespace (small models pad JSON with
            # newlines), ", " and ": " between items, and no properties the schema does not
            # name (xgrammar's strict mode).
            grammar = LLMatcher.grammar_from_json_schema(
                canonical_json(_closed(schema)),
                defaults={"whitespace_flexible": False, "item_separator": ", ",
                          "key_separator": ": "})
            error, messages = LLMatcher.validate_grammar_with_warnings(grammar, self._tokenizer)
            if error:
                raise SchemaError(f"cannot constrain decoding to this schema: {messages[0]}")
            self._compiled[key] = grammar
        return self._compiled[key]

    def matcher(self, schema: Mapping[str, Any]) -> TokenMatcher:
        from llguidance import LLMatcher

        return _GuidanceMatcher(LLMatcher(self._tokenizer, self._grammar(schema), log_level=0),
                                self._vocab)


def _closed(schema: Any) -> Any:
    """`schema` with `additionalProperties: false` on every object that does not say."""
    if isinstance(schema, list):
        return [_closed(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    closed = {key: _closed(value) if key not in ("enum", "const", "default", "examples")
              else value for key, value in schema.items()}
    if (schema.get("type") == "object" or "properties" in schema) and \
            "additionalProperties" not in schema:
        closed["additionalProperties"] = False
    return closed


class _GuidanceMatcher:
    def __init__(self, matcher: Any, vocab: int) -> None:
        from llguidance.numpy import allocate_token_bitmask

        self._matcher = matcher
        self._mask = allocate_token_bitmask(1, vocab)

    def allowed(self) -> Any:
        import numpy as np
        from llguidance.numpy import fill_next_token_bitmask

        fill_next_token_bitmask(self._matcher, self._mask, 0)
        return np.unpackbits(self._mask.view(np.uint8), bitorder="little").astype(bool)

    def accept(self, token: int) -> None:
        self._matcher.consume_token(token)
