"""The llama.cpp backend (llama-cpp-python): the fast path for .gguf models on CPU.

The quantised weights run as they are (no dequantisation, load in well
under a second). Calls from any number of tasks are decoded together: the
`Batcher` (`llm/batching.py`) runs up to `slots` sequences in one llama.cpp
context, on one dedicated thread. That thread is the only one that ever
decodes: llama.cpp's OpenMP build keeps a team of spinning worker threads
per calling thread, and a second calling thread (measured on 2 cores) cut
decoding from ~75 to ~16-30 tokens/s. Messages are laid out with the
GGUF's own chat template, as llama-cpp-python's `create_chat_completion`
does. A constrained call's tokens are masked by llguidance (llama.cpp's own grammar
engine; no torch) or xgrammar (`grammar.py`), and its result is validated again with
`jsonschema`.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from typing import Any

from autogenesis.canonical import file_sha256
from autogenesis.errors import ConfigError, ModelNotFound
from autogenesis.llm.base import (
    ChatMessage,
    Decoding,
    Generation,
    ModelIdentity,
    check_messages,
)
from autogenesis.llm.batching import Batcher, Request
from autogenesis.llm.grammar import GuidanceMasks, TokenMatcher, XGrammarMasks, grammar_engine
from autogenesis.llm.schema import check_schema, judge_output
from autogenesis.llm.source import ModelSource


class LlamaCppModel:
    """A .gguf model run by llama.cpp, shared by every agent of the process."""

    backend = "llamacpp"

    def __init__(self, source: ModelSource, *, n_ctx: int = 8192,
                 n_threads: int | None = None, slots: int = 4,
                 grammar: str | None = None) -> None:
        """`n_ctx` tokens per request; `slots` requests decoded at once; `grammar` the
        engine that constrains JSON (`grammar.GRAMMAR_ENGINES`; default: llguidance when
        installed, else xgrammar)."""
        if source.kind != "gguf":
            raise ConfigError(f"llama.cpp loads .gguf files, not {source.name}")
        try:
            import llama_cpp
        except ImportError as exc:
            raise ModelNotFound("the llamacpp backend needs llama-cpp-python: "
                                "`pip install llama-cpp-python`") from exc
        self.source = source
        self.grammar_engine = grammar_engine(grammar)
        started = time.perf_counter()
        sha256 = file_sha256(source.path)
        threads = n_threads or os.cpu_count() or 1

        def load() -> tuple[Any, Batcher]:
            # `Llama` gives the weights, the tokenizer and the chat template; its own small
            # context is never decoded in. The batcher's context is where answers are made.
            llm = llama_cpp.Llama(model_path=source.location, n_ctx=256, n_batch=256,
                                  n_threads=threads, verbose=False)
            return llm, Batcher(llm, llama_cpp, slots=slots, n_ctx=n_ctx, n_threads=threads)

        loaded: Future[tuple[Any, Batcher]] = Future()
        # A daemon thread: a model shared by the process (`load_model`) is never closed,
        # and an idle batcher must not keep the interpreter from exiting.
        self._thread = threading.Thread(target=_load_and_serve, args=(load, loaded),
                                        name="llamacpp", daemon=True)
        self._thread.start()
        try:
            self.llm, self.batcher = loaded.result()
        except ValueError as exc:
            raise ModelNotFound(f"llama.cpp cannot load {source.location}: {exc}") from exc
        self._chat = _chat_template(self.llm, llama_cpp)
        self.load_seconds = time.perf_counter() - started
        description = self.llm._model.desc() if hasattr(self.llm, "_model") else ""
        self.identity = ModelIdentity(
            # the grammar engine too: it decides which tokens a typed answer may take
            backend=self.backend, backend_version=f"{llama_cpp.__version__}, "
                                                  f"{self.grammar_engine}",
            model_id=source.name if source.name != "default" else source.location,
            revision=sha256, dtype=description.split()[-1] if description else None,
            device="cpu",
        )
        self._masks: GuidanceMasks | XGrammarMasks | None = None
        self._grammar_lock = threading.Lock()

    @property
    def slots(self) -> int:
        return self.batcher.slots

    def _matcher(self, schema: Mapping[str, Any]) -> TokenMatcher:
        """A fresh matcher for `schema` (the engine's vocabulary is built on first use)."""
        with self._grammar_lock:
            if self._masks is None:
                if self.grammar_engine == "llguidance":
                    import llama_cpp

                    self._masks = GuidanceMasks(llama_cpp.llama_model_get_vocab(self.llm.model),
                                                self.llm.n_vocab(), self.llm.token_eos())
                else:
                    self._masks = XGrammarMasks(
                        [self.llm.detokenize([i]) for i in range(self.llm.n_vocab())],
                        self.llm.token_eos())
            return self._masks.matcher(schema)

    async def generate(self, messages: Sequence[ChatMessage], *,
                       schema: Mapping[str, Any] | None = None,
                       settings: Decoding | None = None) -> Generation:
        settings = settings or Decoding()
        checked = check_messages(messages)
        matcher = None
        if schema is not None:
            schema = check_schema(schema)
            matcher = self._matcher(schema)
        seed = settings.call_seed()   # llama.cpp seeds were 32-bit; kept for the logs
        enqueued = time.perf_counter()
        tokens = self._prompt(checked)
        done = await asyncio.wrap_future(self.batcher.submit(
            Request(tokens, settings, seed, matcher)))
        parsed, problem = judge_output(done.text, schema, done.finish, settings.max_new_tokens)
        return Generation(
            text=done.text, tokens_in=len(tokens), tokens_out=len(done.tokens),
            latency_ms=(time.perf_counter() - enqueued) * 1000.0,
            finish_reason="length" if done.finish == "length" else "stop",
            parsed=parsed, batch_size=done.batch_size, seed=seed, problem=problem,
        )

    def _prompt(self, messages: list[dict[str, str]]) -> list[int]:
        """The messages in the model's chat layout, as tokens."""
        laid_out = self._chat(messages=messages)
        tokens: list[int] = self.llm.tokenize(laid_out.prompt.encode("utf-8"),
                                              add_bos=not laid_out.added_special, special=True)
        return tokens

    def close(self) -> None:
        self.batcher.stop()
        self._thread.join()


def _load_and_serve(load: Callable[[], tuple[Any, Batcher]],
                    loaded: Future[tuple[Any, Batcher]]) -> None:
    """The model's thread: it loads the model and is the only one that decodes."""
    try:
        llm, batcher = load()
    except BaseException as exc:  # handed to the constructor, which raises it
        loaded.set_exception(exc)
        return
    loaded.set_result((llm, batcher))
    try:
        batcher.serve()
    finally:
        llm.close()


def _chat_template(llm: Any, llama_cpp: Any) -> Any:
    """The formatter `Llama` itself uses for a GGUF that carries a chat template."""
    from llama_cpp import llama_chat_format

    template = llm.metadata.get("tokenizer.chat_template")
    if not template:
        raise ModelNotFound("this .gguf carries no chat template (tokenizer.chat_template): "
                            "the llamacpp backend needs one to lay out chat messages")
    eos, bos = llm.token_eos(), llm.token_bos()
    vocab = llama_cpp.llama_model_get_vocab(llm.model)

    def text(token: int) -> str:
        return llama_cpp.llama_vocab_get_text(vocab, token).decode("utf-8") if token != -1 else ""

    return llama_chat_format.Jinja2ChatFormatter(
        template=template, eos_token=text(eos), bos_token=text(bos), stop_token_ids=[eos])
