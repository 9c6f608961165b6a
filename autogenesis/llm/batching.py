"""Continuous batching for llama.cpp: several requests decoded together in one context.

A `Batcher` owns one llama.cpp context of `slots` sequences (a sequence id
per request). One thread, the only one that ever calls llama.cpp, runs the
loop: requests join as soon as a slot is free, each step puts the next
token of every running sequence (and pending prompt tokens of new ones)
into one `llama_decode`, every sequence samples its own token with its own
settings, grammar matcher and random generator, and a sequence leaves as
soon as it stops. A request alone is decoded exactly as llama-cpp-python's
chat completion decoded it before, and in a batch it gets the same answer
as alone (tests/test_llm_batching.py; `bench/llm.py` counts it too).

Each sequence has a part of the KV cache of its own, `n_ctx` tokens (what a
lone context had before), so its attention reads only its own cells. That
is what keeps a batched answer equal to the answer alone: with one cache
shared by all (llama.cpp's unified KV cache, a quarter of the memory) every
sequence attends over every cell, masked, and greedy answers drifted apart
after a few dozen tokens (measured: tests/test_llm_batching.py fails with
it). A slot keeps the tokens of its last request in its cache, so a request
that starts like an earlier one (the same system prompt, say) evaluates only
what differs, as llama-cpp-python's `Llama` does for its one sequence.
"""

from __future__ import annotations

import contextlib
import queue
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from autogenesis.errors import ConfigError
from autogenesis.llm.base import Decoding

PENALTY_WINDOW = 64
"""Tokens a repetition penalty looks back over (llama.cpp's default `penalty_last_n`)."""


@dataclass
class Request:
    """One generation asked of the batcher, answered through `future`."""

    tokens: list[int]
    settings: Decoding
    seed: int | None
    matcher: Any = None         # a grammar.TokenMatcher, fresh for this request
    future: Future[Done] = field(default_factory=Future)


@dataclass(frozen=True)
class Done:
    """What a finished request gave."""

    tokens: list[int]
    finish: str                  # "stop" or "length"
    text: str
    batch_size: int              # the most sequences it shared a decode step with


@dataclass
class _Sequence:
    request: Request
    seq_id: int
    pending: list[int]           # prompt tokens not yet in the cache
    generated: list[int] = field(default_factory=list)
    rng: np.random.Generator | None = None
    widest: int = 1

    @property
    def settings(self) -> Decoding:
        return self.request.settings


class Batcher:
    """Decodes requests for one model in one context of `slots` sequences (see module)."""

    def __init__(self, llm: Any, llama_cpp: Any, *, slots: int, n_ctx: int,
                 n_threads: int, n_batch: int = 512) -> None:
        """`slots` sequences decoded at once, each with a cache of `n_ctx` tokens."""
        if slots < 1:
            raise ConfigError(f"a llama.cpp context needs at least one slot, got {slots}")
        self.llm = llm
        self.lib = llama_cpp
        self.slots = slots
        self.n_batch = n_batch
        self.n_vocab = llm.n_vocab()
        self.vocab = llama_cpp.llama_model_get_vocab(llm.model)
        # `Llama`'s own settings (flash attention off, its rope defaults), so that a request
        # alone is computed exactly as llama-cpp-python computes it
        params = llama_cpp.llama_context_params.from_buffer_copy(llm.context_params)
        params.n_ctx = n_ctx * slots
        params.n_batch = n_batch
        params.n_ubatch = n_batch
        params.n_seq_max = slots
        params.kv_unified = False  # a part of the cache per sequence (see the module)
        params.n_threads = n_threads
        params.n_threads_batch = n_threads
        self.ctx = llama_cpp.llama_init_from_model(llm.model, params)
        if not self.ctx:
            raise ConfigError(f"llama.cpp could not make a context of {n_ctx} tokens")
        self.n_ctx = llama_cpp.llama_n_ctx(self.ctx) // slots
        self.memory = llama_cpp.llama_get_memory(self.ctx)
        self.batch = llama_cpp.llama_batch_init(n_batch, 0, 1)
        self.cached: list[list[int]] = [[] for _ in range(slots)]   # tokens in each slot
        self.running: dict[int, _Sequence] = {}
        self.waiting: list[Request] = []
        self.inbox: queue.Queue[Request | None] = queue.Queue()

    # --- called from any thread ------------------------------------------

    def submit(self, request: Request) -> Future[Done]:
        self.inbox.put(request)
        return request.future

    def stop(self) -> None:
        self.inbox.put(None)

    # --- the loop, on the model's thread ---------------------------------

    def serve(self) -> None:
        """Run until `stop()`: the only code that calls llama.cpp after the load."""
        try:
            while True:
                if not self.running and not self.waiting:
                    request = self.inbox.get()
                    if request is None:
                        break
                    self.waiting.append(request)
                if not self._drain():
                    break
                self._admit()
                if self.running:
                    self._step()
        finally:
            for seq in list(self.running.values()):
                self._fail(seq, RuntimeError("the model was closed"))
            for request in self.waiting:
                request.future.cancel()
            self.lib.llama_batch_free(self.batch)
            self.lib.llama_free(self.ctx)

    def _drain(self) -> bool:
        """Move newly submitted requests to `waiting`; False once told to stop."""
        while True:
            try:
                request = self.inbox.get_nowait()
            except queue.Empty:
                return True
            if request is None:
                return False
            self.waiting.append(request)

    def _admit(self) -> None:
        """Give free slots to waiting requests, each the slot whose cache shares most."""
        self.waiting = [r for r in self.waiting if not r.future.cancelled()]
        free = [s for s in range(self.slots) if s not in self.running]
        while free and self.waiting:
            request = self.waiting.pop(0)
            if len(request.tokens) >= self.n_ctx:
                request.future.set_exception(ConfigError(
                    f"the prompt ({len(request.tokens)} tokens) does not fit the model's "
                    f"context of {self.n_ctx} tokens"))
                continue
            slot = max(free, key=lambda s: (_shared(self.cached[s], request.tokens), -s))
            free.remove(slot)
            # at least the last prompt token is evaluated: its logits give the first token
            keep = min(_shared(self.cached[slot], request.tokens), len(request.tokens) - 1)
            self.lib.llama_memory_seq_rm(self.memory, slot, keep, -1)
            self.cached[slot] = request.tokens[:keep]
            seq = _Sequence(request, slot, pending=request.tokens[keep:])
            if not request.settings.greedy:
                seq.rng = np.random.default_rng(request.seed)
            self.running[slot] = seq

    def _step(self) -> None:
        """One llama_decode over every running sequence, then one token each."""
        for seq in [s for s in self.running.values() if s.request.future.cancelled()]:
            self._release(seq)
        if not self.running:
            return
        rows = self._fill()
        status = self.lib.llama_decode(self.ctx, self.batch)
        if status != 0:   # 1 is a full cache, which the length limits rule out
            for seq in list(self.running.values()):
                self._fail(seq, RuntimeError(f"llama_decode failed ({status})"))
            return
        self._advance()
        width = len(self.running)
        for seq, row in rows:
            seq.widest = max(seq.widest, width)
            self._sample(seq, row)

    def _fill(self) -> list[tuple[_Sequence, int]]:
        """Put this step's tokens in the batch: each decoding sequence's last token, then
        prompt tokens of new ones as far as the batch holds. (sequence, row) pairs whose
        logits this step gives."""
        b, n, rows = self.batch, 0, []
        decoding = [s for s in self.running.values() if not s.pending]
        prefilling = [s for s in self.running.values() if s.pending]
        for seq in decoding:
            self._put(n, seq.generated[-1], len(self.cached[seq.seq_id]), seq.seq_id, True)
            rows.append((seq, n))
            n += 1
        for seq in prefilling:
            room = self.n_batch - n
            if room <= 0:
                break
            chunk = seq.pending[:room]
            start = len(self.cached[seq.seq_id])
            for i, token in enumerate(chunk):
                last = i == len(chunk) - 1 and len(chunk) == len(seq.pending)
                self._put(n, token, start + i, seq.seq_id, last)
                if last:
                    rows.append((seq, n))
                n += 1
        b.n_tokens = n
        return rows

    def _put(self, i: int, token: int, pos: int, seq_id: int, logits: bool) -> None:
        b = self.batch
        b.token[i] = token
        b.pos[i] = pos
        b.n_seq_id[i] = 1
        b.seq_id[i][0] = seq_id
        b.logits[i] = logits

    def _advance(self) -> None:
        """Record in each slot's cache what the last decode put there, and take the
        prompt tokens it evaluated off their sequence's pending list."""
        evaluated: dict[int, int] = {}
        for i in range(self.batch.n_tokens):
            slot = self.batch.seq_id[i][0]
            self.cached[slot].append(self.batch.token[i])
            evaluated[slot] = evaluated.get(slot, 0) + 1
        for slot, count in evaluated.items():
            seq = self.running[slot]
            if seq.pending:
                del seq.pending[:count]

    def _sample(self, seq: _Sequence, row: int) -> None:
        logits = np.ctypeslib.as_array(self.lib.llama_get_logits_ith(self.ctx, row),
                                       shape=(self.n_vocab,)).copy()
        token = self._choose(seq, logits)
        settings = seq.settings
        if self.lib.llama_vocab_is_eog(self.vocab, token):
            return self._finish(seq, "stop")
        seq.generated.append(token)
        if seq.request.matcher is not None:
            seq.request.matcher.accept(token)
        if settings.stop:
            text = self._text(seq)
            for stop in settings.stop:
                if stop in text:
                    return self._finish(seq, "stop", text[:text.index(stop)])
        if len(seq.generated) >= min(settings.max_new_tokens,
                                     self.n_ctx - len(seq.request.tokens)):
            self._finish(seq, "length")   # (the context's end, too, as before)

    def _choose(self, seq: _Sequence, logits: np.ndarray) -> int:
        settings = seq.settings
        if seq.request.matcher is not None:
            logits[~seq.request.matcher.allowed()[: self.n_vocab]] = -np.inf
        if settings.repetition_penalty != 1.0:
            recent = self.cached[seq.seq_id][-PENALTY_WINDOW:]   # prompt and answer so far
            seen = np.unique(np.asarray(recent, dtype=np.int64))
            picked = logits[seen]
            logits[seen] = np.where(picked > 0, picked / settings.repetition_penalty,
                                    picked * settings.repetition_penalty)
        if settings.greedy or seq.rng is None:
            return int(np.argmax(logits))
        scaled = logits / settings.temperature
        probs = np.exp(scaled - np.max(scaled))
        probs /= probs.sum()
        if settings.top_p < 1.0:
            order = np.argsort(-probs, kind="stable")
            cut = int(np.searchsorted(np.cumsum(probs[order]), settings.top_p)) + 1
            kept = np.zeros_like(probs)
            kept[order[:cut]] = probs[order[:cut]]
            probs = kept / kept.sum()
        return int(seq.rng.choice(self.n_vocab, p=probs))

    def _text(self, seq: _Sequence) -> str:
        data: bytes = self.llm.detokenize(seq.generated, prev_tokens=seq.request.tokens)
        return data.decode("utf-8", errors="ignore")

    def _finish(self, seq: _Sequence, finish: str, text: str | None = None) -> None:
        done = Done(list(seq.generated), finish, self._text(seq) if text is None else text,
                    seq.widest)
        self._release(seq)
        with contextlib.suppress(InvalidStateError):   # its caller gave up meanwhile
            seq.request.future.set_result(done)

    def _fail(self, seq: _Sequence, error: BaseException) -> None:
        self._release(seq)
        with contextlib.suppress(InvalidStateError):
            seq.request.future.set_exception(error)

    def _release(self, seq: _Sequence) -> None:
        """The slot is free; its cache keeps the prompt and answer for a later request."""
        self.running.pop(seq.seq_id, None)


def _shared(a: list[int], b: list[int]) -> int:
    """Length of the common prefix of two token lists."""
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n
