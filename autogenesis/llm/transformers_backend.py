"""The Hugging Face transformers backend: any HF model, a directory, or a .gguf file.

- torch and transformers are imported when a model is loaded, never before.
- A .gguf file is dequantised by transformers once (tens of seconds) and the
  result kept under `<home>/models/<stem>-<sha256 prefix>/` as safetensors,
  so the next load reads plain weights. The folder name and its
  `source.json` carry the GGUF's sha256: a changed file gets a new entry.
- Decoding runs on one worker thread that owns the model. Requests that
  arrive together (within `gather_ms` of the first) or while it is busy
  wait in a queue and are decoded together as one batch (static batching:
  left-padded prefill, then one forward pass per step for every row still
  running; finished rows leave the batch).
- A JSON schema is compiled by xgrammar into a token mask applied at every
  step, so the output always parses and validates.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import queue
import shutil
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autogenesis.canonical import file_sha256
from autogenesis.errors import ConfigError, ModelNotFound
from autogenesis.llm.base import (
    ChatMessage,
    Decoding,
    Generation,
    ModelIdentity,
    Progress,
    check_messages,
)
from autogenesis.llm.grammar import JsonGrammars
from autogenesis.llm.schema import check_schema, judge_output
from autogenesis.llm.source import ModelSource

log = logging.getLogger(__name__)
DTYPES = ("auto", "float32", "bfloat16", "float16")


def cache_folder(cache_root: Path, gguf: Path, sha256: str) -> Path:
    return cache_root / f"{gguf.stem}-{sha256[:16]}"


def cached_conversion(cache_root: Path, gguf: Path, sha256: str) -> Path | None:
    """The folder of converted weights for this exact GGUF, if it is complete."""
    folder = cache_folder(cache_root, gguf, sha256)
    try:
        meta = json.loads((folder / "source.json").read_text())
    except (OSError, ValueError):
        return None
    return folder if meta.get("sha256") == sha256 else None


@dataclass
class _Request:
    ids: list[int]
    settings: Decoding
    seed: int | None
    matcher: Any                       # xgrammar.GrammarMatcher or None
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Generation]
    schema: Mapping[str, Any] | None
    enqueued: float = field(default_factory=time.perf_counter)
    out: list[int] = field(default_factory=list)
    finish: str | None = None
    generator: Any = None              # torch.Generator when sampling

    @property
    def cancelled(self) -> bool:
        return self.future.cancelled()

    def resolve(self, result: Generation | BaseException) -> None:
        def settle() -> None:
            if self.future.done():
                return
            if isinstance(result, BaseException):
                self.future.set_exception(result)
            else:
                self.future.set_result(result)
        with contextlib.suppress(RuntimeError):  # the caller's loop is gone: nobody waits
            self.loop.call_soon_threadsafe(settle)


class TransformersModel:
    """A model loaded with transformers, shared by every agent of the process."""

    backend = "transformers"

    def __init__(self, source: ModelSource, *, cache_root: Path, dtype: str = "auto",
                 device: str | None = None, max_batch: int = 8, gather_ms: float = 20.0,
                 quantize: str | None = None, progress: Progress | None = None) -> None:
        if dtype not in DTYPES:
            raise ConfigError(f"dtype must be one of {DTYPES}, got {dtype!r}")
        if quantize not in (None, "int8"):
            raise ConfigError(f"quantize must be None or 'int8', got {quantize!r}")
        try:
            import torch
            import transformers
            import xgrammar
        except ImportError as exc:
            raise ModelNotFound(
                f"the transformers backend needs {exc.name}: run scripts/setup.sh "
                "or `pip install torch==2.13.0 transformers xgrammar`"
            ) from exc
        transformers.logging.set_verbosity_error()
        transformers.utils.logging.disable_progress_bar()
        self._torch, self._xgr = torch, xgrammar
        self.source = source
        self.max_batch = max(1, max_batch)
        self.gather_seconds = max(0.0, gather_ms) / 1000.0
        say = progress or (lambda line: log.info("%s", line))

        cuda = torch.cuda.is_available() and device in (None, "cuda")
        if cuda:
            if dtype == "auto":
                dtype = "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
            place: dict[str, Any] = {"device_map": "auto"}  # accelerate spreads the layers
        else:
            torch.set_num_threads(os.cpu_count() or 1)
            dtype = "float32" if dtype == "auto" else dtype
            place = {}
        torch_dtype = getattr(torch, dtype)

        started = time.perf_counter()
        self.model, self.tokenizer, revision = self._load(source, cache_root, torch_dtype, place,
                                                          say)
        if quantize == "int8":
            self.model = torch.ao.quantization.quantize_dynamic(
                self.model, {torch.nn.Linear}, dtype=torch.qint8)
        self.model.eval()
        self.load_seconds = time.perf_counter() - started
        self.device = str(next(self.model.parameters()).device) if cuda else "cpu"
        self.identity = ModelIdentity(
            backend=self.backend, backend_version=transformers.__version__,
            model_id=source.name if source.name != "default" else source.location,
            revision=revision, dtype=dtype + ("+int8" if quantize else ""), device=self.device,
        )

        self.eos_ids = self._eos_ids()
        self._grammars = JsonGrammars(xgrammar.TokenizerInfo.from_huggingface(
            self.tokenizer, vocab_size=self.model.config.vocab_size,
            stop_token_ids=sorted(self.eos_ids)))
        self._vocab_size = self.model.config.vocab_size
        self._pad_id = (self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None
                        else min(self.eos_ids))
        self._queue: queue.Queue[_Request | None] = queue.Queue()
        self._worker = threading.Thread(target=self._serve, name="transformers-decode",
                                        daemon=True)
        self._worker.start()

    # --- loading ----------------------------------------------------------

    def _load(self, source: ModelSource, cache_root: Path, torch_dtype: Any,
              place: dict[str, Any], say: Progress) -> tuple[Any, Any, str | None]:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        try:
            if source.kind == "gguf":
                gguf = source.path
                sha256 = file_sha256(gguf)
                folder = cached_conversion(cache_root, gguf, sha256)
                if folder is None:
                    say(f"converting {gguf.name} for transformers (once; cached under "
                        f"{cache_root})")
                    folder = self._convert(gguf, sha256, cache_root)
                return (AutoModelForCausalLM.from_pretrained(folder, dtype=torch_dtype, **place),
                        AutoTokenizer.from_pretrained(folder), sha256)
            local = {"local_files_only": True}  # weights are never downloaded at run time
            model = AutoModelForCausalLM.from_pretrained(source.location, dtype=torch_dtype,
                                                         **place, **local)
            tokenizer = AutoTokenizer.from_pretrained(source.location, **local)
            revision = getattr(model.config, "_commit_hash", None)
            return model, tokenizer, revision
        except OSError as exc:
            hint = ("download it first (e.g. `hf download " + source.location + "`)"
                    if source.kind == "hub" else "check the path")
            raise ModelNotFound(f"cannot load model {source.name}: {exc}; {hint}") from exc

    @staticmethod
    def _convert(gguf: Path, sha256: str, cache_root: Path) -> Path:
        """Dequantise `gguf` into safetensors in a temporary folder, then rename it into place."""
        import transformers
        from safetensors.torch import save_model
        from transformers import AutoModelForCausalLM, AutoTokenizer

        folder = cache_folder(cache_root, gguf, sha256)
        tmp = folder.with_name(f"{folder.name}.tmp-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        try:
            model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
            tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
            config = model.config
            if hasattr(config, "quantization_config"):
                del config.quantization_config  # the saved weights are plain tensors
            config.save_pretrained(tmp)
            tokenizer.save_pretrained(tmp)
            save_model(model, str(tmp / "model.safetensors"))
            (tmp / "source.json").write_text(json.dumps({
                "gguf": str(gguf), "sha256": sha256,
                "transformers": transformers.__version__}, indent=2))
            try:
                tmp.rename(folder)
            except OSError:  # another process finished first: keep its copy
                shutil.rmtree(tmp, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return folder

    def _eos_ids(self) -> set[int]:
        ids = set()
        configured = getattr(self.model.generation_config, "eos_token_id", None)
        if isinstance(configured, int):
            ids.add(configured)
        elif configured:
            ids.update(configured)
        if self.tokenizer.eos_token_id is not None:
            ids.add(self.tokenizer.eos_token_id)
        return ids

    # --- the Model protocol -----------------------------------------------

    async def generate(self, messages: Sequence[ChatMessage], *,
                       schema: Mapping[str, Any] | None = None,
                       settings: Decoding | None = None) -> Generation:
        settings = settings or Decoding()
        checked = check_messages(messages)
        matcher = None
        if schema is not None:
            schema = check_schema(schema)
            matcher = self._grammars.matcher(schema)
        encoded = self.tokenizer.apply_chat_template(checked, add_generation_prompt=True,
                                                     tokenize=True, return_dict=True)
        seed = settings.call_seed(2**63)
        loop = asyncio.get_running_loop()
        request = _Request(list(encoded["input_ids"]), settings, seed, matcher, loop,
                           loop.create_future(), schema)
        self._queue.put(request)
        return await request.future

    def close(self) -> None:
        self._queue.put(None)
        self._worker.join(timeout=30)

    # --- the decode worker ------------------------------------------------

    def _serve(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            until = time.perf_counter() + self.gather_seconds
            while len(batch) < self.max_batch:
                try:  # callers that asked at the same moment share the batch
                    more = self._queue.get(timeout=max(0.0, until - time.perf_counter()))
                except queue.Empty:
                    break
                if more is None:
                    self._queue.put(None)
                    break
                batch.append(more)
            batch = [r for r in batch if not r.cancelled]
            if not batch:
                continue
            try:
                self._decode(batch)
            except Exception as exc:  # a bug or an OOM: every caller in the batch hears of it
                log.exception("decoding a batch of %d failed", len(batch))
                for request in batch:
                    request.resolve(exc)

    def _decode(self, batch: list[_Request]) -> None:
        torch, xgr = self._torch, self._xgr
        from transformers import DynamicCache

        size = len(batch)
        for request in batch:
            if request.seed is not None and not request.settings.greedy:
                request.generator = torch.Generator().manual_seed(request.seed)
        width = max(len(r.ids) for r in batch)
        tokens = torch.full((size, width), self._pad_id, dtype=torch.long)
        mask = torch.zeros((size, width), dtype=torch.long)
        for i, request in enumerate(batch):  # left padding: every prompt ends at the same column
            tokens[i, width - len(request.ids):] = torch.tensor(request.ids)
            mask[i, width - len(request.ids):] = 1
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        device = self.model.device
        bitmask = (xgr.allocate_token_bitmask(size, self._vocab_size)
                   if any(r.matcher is not None for r in batch) else None)
        cache = DynamicCache()
        rows = list(batch)
        with torch.inference_mode():
            logits = self.model(input_ids=tokens.to(device), attention_mask=mask.to(device),
                                position_ids=positions.to(device), past_key_values=cache,
                                use_cache=True, logits_to_keep=1).logits[:, -1, :].float().cpu()
            while True:
                chosen = self._choose(rows, logits, bitmask)
                keep = []
                for i, (request, token) in enumerate(zip(rows, chosen, strict=True)):
                    self._advance(request, token)
                    if request.finish is None and not request.cancelled:
                        keep.append(i)
                    elif not request.cancelled:
                        request.resolve(self._result(request, size))
                if not keep:
                    return
                if len(keep) < len(rows):
                    index = torch.tensor(keep)
                    cache.batch_select_indices(index.to(device))
                    mask, positions = mask[index], positions[index]
                    chosen = [chosen[i] for i in keep]
                    rows = [rows[i] for i in keep]
                mask = torch.cat([mask, torch.ones((len(rows), 1), dtype=torch.long)], dim=1)
                positions = positions[:, -1:] + 1
                step = torch.tensor(chosen, dtype=torch.long).unsqueeze(1)
                logits = self.model(input_ids=step.to(device), attention_mask=mask.to(device),
                                    position_ids=positions.to(device), past_key_values=cache,
                                    use_cache=True).logits[:, -1, :].float().cpu()

    def _choose(self, rows: list[_Request], logits: Any, bitmask: Any) -> list[int]:
        xgr = self._xgr
        constrained = [i for i, r in enumerate(rows) if r.matcher is not None]
        if constrained:
            for i in constrained:
                rows[i].matcher.fill_next_token_bitmask(bitmask, i)
            xgr.apply_token_bitmask_inplace(logits, bitmask[: len(rows)].to(logits.device),
                                            vocab_size=self._vocab_size, indices=constrained)
        for i, request in enumerate(rows):
            penalty = request.settings.repetition_penalty
            if penalty != 1.0 and request.out:  # over the generated tokens (llama.cpp:
                # its last 64 tokens, prompt included)
                seen = self._torch.tensor(sorted(set(request.out)), dtype=self._torch.long)
                row = logits[i, seen]
                logits[i, seen] = self._torch.where(row > 0, row / penalty, row * penalty)
        chosen = logits.argmax(dim=-1).tolist()
        for i, request in enumerate(rows):
            if not request.settings.greedy:
                chosen[i] = self._sample(logits[i], request)
        return chosen

    def _sample(self, logits: Any, request: _Request) -> int:
        torch = self._torch
        probs = torch.softmax(logits / request.settings.temperature, dim=-1)
        if request.settings.top_p < 1.0:
            ordered, order = probs.sort(descending=True)
            outside = ordered.cumsum(-1) - ordered > request.settings.top_p
            ordered[outside] = 0.0
            probs = torch.zeros_like(probs).scatter(0, order, ordered)
        return int(torch.multinomial(probs, 1, generator=request.generator).item())

    def _advance(self, request: _Request, token: int) -> None:
        if request.matcher is not None and not request.matcher.is_terminated():
            request.matcher.accept_token(token)
        if token in self.eos_ids:
            request.finish = "stop"
            return
        request.out.append(token)
        if request.settings.stop:
            text = self.tokenizer.decode(request.out, skip_special_tokens=True)
            if any(stop in text for stop in request.settings.stop):
                request.finish = "stop"
                return
        if len(request.out) >= request.settings.max_new_tokens:
            request.finish = "length"

    def _result(self, request: _Request, batch_size: int) -> Generation:
        text = self.tokenizer.decode(request.out, skip_special_tokens=True)
        for stop in request.settings.stop:
            if stop in text:
                text = text[: text.index(stop)]
        parsed, problem = judge_output(text, request.schema, request.finish or "stop",
                                       request.settings.max_new_tokens)
        return Generation(
            text=text, tokens_in=len(request.ids), tokens_out=len(request.out),
            latency_ms=(time.perf_counter() - request.enqueued) * 1000.0,
            finish_reason=request.finish or "stop", parsed=parsed, batch_size=batch_size,
            seed=request.seed, problem=problem,
        )
