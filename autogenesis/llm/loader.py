"""Pick a backend for a model and load it once per process.

`auto` takes llama.cpp for a .gguf model on a machine without a GPU when
the `llamacpp` extra is installed (several times faster on CPU), and
transformers otherwise (Hugging Face models, GPUs through accelerate, and
anything llama.cpp cannot load).
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path
from typing import Any

from autogenesis.config import BACKENDS, Settings
from autogenesis.errors import ConfigError, ModelNotFound
from autogenesis.llm.base import Model, Progress
from autogenesis.llm.openai_backend import is_server_url
from autogenesis.llm.served import served_url
from autogenesis.llm.source import ModelSource, resolve

LLAMACPP_HINT = ("install the llama.cpp backend with `pip install llama-cpp-python` "
                 "(scripts/setup.sh does this; it builds from source, ~6 minutes on 2 cores)")

_shared: dict[tuple[Any, ...], Model] = {}
_lock = threading.Lock()


def llamacpp_installed() -> bool:
    return importlib.util.find_spec("llama_cpp") is not None


def gpu_present() -> bool:
    """An NVIDIA GPU is visible, judged without importing torch."""
    return Path("/proc/driver/nvidia/gpus").is_dir() and any(
        Path("/proc/driver/nvidia/gpus").iterdir())


def choose_backend(requested: str, source: ModelSource) -> str:
    if requested not in BACKENDS:
        raise ConfigError(f"backend must be one of {', '.join(BACKENDS)}, got {requested!r}")
    if requested == "llamacpp":
        if source.kind != "gguf":
            raise ConfigError(f"the llamacpp backend loads .gguf files; {source.name} is a "
                              f"{source.kind} model: use --backend transformers")
        if not llamacpp_installed():
            raise ModelNotFound(f"the llamacpp backend is not installed: {LLAMACPP_HINT}")
        return requested
    if requested == "transformers":
        return requested
    if source.kind == "gguf" and llamacpp_installed() and not gpu_present():
        return "llamacpp"
    return "transformers"


def load_model(model: str | None = None, *, backend: str | None = None,
               settings: Settings | None = None, progress: Progress | None = None,
               **options: Any) -> Model:
    """The process's shared instance of `model` on `backend` (loading it the first time).

    `model` and `backend` default to AUTOGENESIS_MODEL_URL or AUTOGENESIS_MODEL, and
    AUTOGENESIS_BACKEND. A model URL (`openai://host:port/v1/NAME`, `unix:PATH`) names a
    model another process serves; `backend` and `options` do not apply to it.
    `options` go to the backend (dtype, max_batch, n_threads, ...), but for `slots`: how
    many requests llama.cpp decodes at once (each slot holds a cache of its own; the
    transformers backend batches what waits, up to its max_batch, and ignores it).
    """
    settings = settings or Settings.from_env()
    named = model if model is not None else settings.model
    if named is not None and served_elsewhere(named):
        with _lock:
            if ("url", named) not in _shared:
                _shared[("url", named)] = _connect(named)
            return _shared[("url", named)]
    source = resolve(named)
    chosen = choose_backend(backend or settings.backend, source)
    key = (chosen, source.location, tuple(sorted(options.items())))
    with _lock:
        if key not in _shared:
            _shared[key] = _construct(chosen, source, settings, progress, options)
        return _shared[key]


def served_elsewhere(model: str) -> bool:
    """Whether `model` (a --model value) is a URL of a model another process serves."""
    return is_server_url(model) or served_url(model)


def _connect(url: str) -> Model:
    """A model on an OpenAI-compatible server (`llm.openai_backend`), or another process's
    model lent over a socket (`llm.served`)."""
    if is_server_url(url):
        from autogenesis.llm.openai_backend import OpenAIModel

        return OpenAIModel(url)
    from autogenesis.llm.served import ServedModel

    return ServedModel(url)


def _construct(backend: str, source: ModelSource, settings: Settings,
               progress: Progress | None, options: dict[str, Any]) -> Model:
    options = dict(options)
    slots = options.pop("slots", None)
    if backend == "llamacpp":
        from autogenesis.llm.llamacpp_backend import LlamaCppModel

        return LlamaCppModel(source, **options, **({"slots": slots} if slots else {}))
    if importlib.util.find_spec("torch") is None or \
            importlib.util.find_spec("transformers") is None:
        raise ModelNotFound(
            f"no backend to run {source.name} in this process is installed: install "
            "`autogenesis[llamacpp]` (.gguf files) or `autogenesis[transformers]`, or ask a "
            "model server with --model openai://host:port/v1/MODEL")
    from autogenesis.llm.transformers_backend import TransformersModel

    return TransformersModel(source, cache_root=settings.models_dir, progress=progress,
                             **options)
