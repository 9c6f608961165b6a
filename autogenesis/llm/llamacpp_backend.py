"""The llama.cpp backend (llama-cpp-python): the fast path for .gguf models on CPU.

The quantised weights run as they are (no dequantisation, load in well
under a second). One `Llama` context is not thread-safe, so calls run one
at a time on a single worker thread: concurrent callers queue, and their
requests are never interleaved in one context. That thread also loads the
model and is the only one that ever calls llama.cpp: its OpenMP build keeps
a team of spinning worker threads per calling thread, and a second calling
thread (measured on 2 cores) cut decoding from ~75 to ~16-30 tokens/s. The result of a
constrained call is validated again with `jsonschema`.
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

import numpy as np

from autogenesis.canonical import file_sha256
from autogenesis.errors import ConfigError, ModelNotFound
from autogenesis.llm.base import (
    ChatMessage,
    Decoding,
    Generation,
    ModelIdentity,
    check_messages,
)
from autogenesis.llm.grammar import JsonGrammars
from autogenesis.llm.schema import check_schema, judge_output
from autogenesis.llm.source import ModelSource


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
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llamacpp")
        try:
            self.llm = self._worker.submit(
                llama_cpp.Llama, model_path=source.location, n_ctx=n_ctx,
                n_threads=n_threads or os.cpu_count(), verbose=False,
            ).result()
        except ValueError as exc:
            self._worker.shutdown()
            raise ModelNotFound(f"llama.cpp cannot load {source.location}: {exc}") from exc
        self.load_seconds = time.perf_counter() - started
        description = self.llm._model.desc() if hasattr(self.llm, "_model") else ""
        self.identity = ModelIdentity(
            backend=self.backend, backend_version=llama_cpp.__version__,
            model_id=source.name if source.name != "default" else source.location,
            revision=sha256, dtype=description.split()[-1] if description else None,
            device="cpu",
        )
        self._grammars: JsonGrammars | None = None
        self._grammar_lock = threading.Lock()

    def _grammar(self, schema: Mapping[str, Any]) -> Any:
        """The schema compiled for this model's vocabulary (built on first use)."""
        with self._grammar_lock:
            if self._grammars is None:
                import xgrammar

                # Control tokens detokenize to b"", which xgrammar never allows.
                vocab = [self.llm.detokenize([i]) for i in range(self.llm.n_vocab())]
                self._grammars = JsonGrammars(xgrammar.TokenizerInfo(
                    vocab, xgrammar.VocabType.RAW, vocab_size=len(vocab),
                    stop_token_ids=[self.llm.token_eos()]))
        return self._grammars.compile(schema)

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
        parsed, problem = judge_output(text, schema, finish, settings.max_new_tokens)
        usage = response["usage"]
        return Generation(
            text=text, tokens_in=usage["prompt_tokens"], tokens_out=usage["completion_tokens"],
            latency_ms=(time.perf_counter() - enqueued) * 1000.0, finish_reason=finish,
            parsed=parsed, batch_size=1, seed=seed, problem=problem,
        )

    def _complete(self, messages: list[dict[str, str]], grammar: Any, settings: Decoding,
                  seed: int | None) -> dict[str, Any]:
        greedy = settings.greedy
        processors = None
        if grammar is not None:
            processors = self._llama_cpp.LogitsProcessorList([_Constrain(grammar)])
        return self.llm.create_chat_completion(
            messages=messages, logits_processor=processors, max_tokens=settings.max_new_tokens,
            temperature=settings.temperature, top_p=1.0 if greedy else settings.top_p,
            top_k=1 if greedy else 0, min_p=0.0, repeat_penalty=settings.repetition_penalty,
            seed=seed if seed is not None else 0, stop=list(settings.stop) or None,
        )

    def close(self) -> None:
        self._worker.submit(self.llm.close).result()
        self._worker.shutdown(wait=True)


class _Constrain:
    """A llama-cpp-python logits processor: only tokens the grammar allows next."""

    def __init__(self, compiled: Any) -> None:
        import xgrammar

        self.matcher = xgrammar.GrammarMatcher(compiled)
        self.bitmask = xgrammar.allocate_token_bitmask(1, compiled.tokenizer_info.vocab_size)
        self.seen: int | None = None

    def __call__(self, input_ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
        if self.seen is not None and len(input_ids) > self.seen:
            self.matcher.accept_token(int(input_ids[-1]))  # the token sampled last step
        self.seen = len(input_ids)
        self.matcher.fill_next_token_bitmask(self.bitmask)
        bits = np.unpackbits(self.bitmask.numpy().view(np.uint8), bitorder="little")
        scores[~bits[: scores.shape[-1]].astype(bool)] = -np.inf
        return scores
