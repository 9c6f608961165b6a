"""The llama.cpp backend (llama-cpp-python): the fast path for .gguf models on CPU.

The quantised weights run as they are (no dequantisation, load in well
under a second). One `Llama` context is not thread-safe, so calls run one
at a time on a single worker thread: concurrent callers queue, and their
requests are never interleaved in one context. A JSON schema becomes a
llama.cpp grammar (llama-cpp-python's JSON-schema converter), applied at
every sampled token; the result is validated again with `jsonschema`.
"""

from __future__ import annotations

import asyncio
import os
import random
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from autogenesis.errors import ConfigError, ModelNotFound, SchemaError
from autogenesis.llm.base import (
    ChatMessage,
    Decoding,
    Generation,
    ModelIdentity,
    canonical,
    check_messages,
)
from autogenesis.llm.schema import check_schema, parse_output
from autogenesis.llm.source import ModelSource, file_sha256


class LlamaCppModel:
    """A .gguf model run by llama.cpp, shared by every agent of the process."""

    backend = "llamacpp"

    def __init__(self, source: ModelSource, *, n_ctx: int = 8192,
                 n_threads: int | None = None) -> None:
        if source.kind != "gguf":
            raise ConfigError(f"llama.cpp loads .gguf files, not {source.name}")
        try:
            import llama_cpp
        except ImportError as exc:
            raise ModelNotFound("the llamacpp backend needs llama-cpp-python: "
                                "`pip install llama-cpp-python`") from exc
        self._llama_cpp = llama_cpp
        self.source = source
        started = time.perf_counter()
        sha256 = file_sha256(source.path)
        try:
            self.llm = llama_cpp.Llama(
                model_path=source.location, n_ctx=n_ctx, n_threads=n_threads or os.cpu_count(),
                verbose=False,
            )
        except ValueError as exc:
            raise ModelNotFound(f"llama.cpp cannot load {source.location}: {exc}") from exc
        self.load_seconds = time.perf_counter() - started
        description = self.llm._model.desc() if hasattr(self.llm, "_model") else ""
        self.identity = ModelIdentity(
            backend=self.backend, backend_version=llama_cpp.__version__,
            model_id=source.name if source.name != "default" else source.location,
            revision=sha256, dtype=description.split()[-1] if description else None,
            device="cpu",
        )
        self._grammars: dict[str, Any] = {}
        self._grammar_lock = threading.Lock()
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llamacpp")

    def _grammar(self, schema: Mapping[str, Any]) -> Any:
        key = canonical(schema)
        with self._grammar_lock:
            if key not in self._grammars:
                try:
                    self._grammars[key] = self._llama_cpp.LlamaGrammar.from_json_schema(
                        key, verbose=False)
                except Exception as exc:  # the converter raises ValueError/KeyError/...
                    raise SchemaError(f"cannot constrain decoding to this schema: {exc}") from exc
            return self._grammars[key]

    async def generate(self, messages: Sequence[ChatMessage], *,
                       schema: Mapping[str, Any] | None = None,
                       settings: Decoding | None = None) -> Generation:
        settings = settings or Decoding()
        checked = check_messages(messages)
        grammar = None
        if schema is not None:
            schema = check_schema(schema)
            grammar = self._grammar(schema)
        seed = settings.seed
        if seed is None and not settings.greedy:
            seed = random.randrange(2**31)  # llama.cpp seeds are 32-bit
        enqueued = time.perf_counter()
        loop = asyncio.get_running_loop()
        response = await loop.run_in_executor(
            self._worker, self._complete, checked, grammar, settings, seed)
        choice = response["choices"][0]
        text = choice["message"]["content"] or ""
        finish = "length" if choice.get("finish_reason") == "length" else "stop"
        parsed = problem = None
        if schema is not None:
            if finish == "length":
                problem = (f"output stopped at max_new_tokens={settings.max_new_tokens}"
                           " before the JSON was complete")
            else:
                parsed, problem = parse_output(text, schema)
        usage = response["usage"]
        return Generation(
            text=text, tokens_in=usage["prompt_tokens"], tokens_out=usage["completion_tokens"],
            latency_ms=(time.perf_counter() - enqueued) * 1000.0, finish_reason=finish,
            parsed=parsed, batch_size=1, seed=seed, problem=problem,
        )

    def _complete(self, messages: list[dict[str, str]], grammar: Any, settings: Decoding,
                  seed: int | None) -> dict[str, Any]:
        greedy = settings.greedy
        return self.llm.create_chat_completion(
            messages=messages, grammar=grammar, max_tokens=settings.max_new_tokens,
            temperature=settings.temperature, top_p=1.0 if greedy else settings.top_p,
            top_k=1 if greedy else 0, min_p=0.0, repeat_penalty=1.0,
            seed=seed if seed is not None else 0, stop=list(settings.stop) or None,
        )

    def close(self) -> None:
        self._worker.shutdown(wait=True)
        self.llm.close()
