"""Where autogenesis keeps its state and which servers it talks to.

Everything comes from the environment so the CLI, workers and generated
systems agree without passing flags around:

- `AUTOGENESIS_HOME`: the data directory (embedded PostgreSQL, spool, caches).
  Default: `/var/lib/autogenesis` for root (the embedded server makes every
  parent of its data directory world-readable, so it must stay out of
  `/root`), the XDG data directory (`~/.local/share/autogenesis`) otherwise.
- `AUTOGENESIS_DATABASE_URL`: a PostgreSQL server to use instead of the
  embedded one.
- `AUTOGENESIS_MQTT_URL`: an MQTT broker for the bus: `autogenesis worker`
  serves agents there, and `autogenesis build` has workers there run its
  agents (`--local` keeps them in the process); unset means the in-process bus.
- `AUTOGENESIS_MODEL_URL`: a model on an OpenAI-compatible server (Ollama,
  llama.cpp's server, vLLM), `openai://host:port/v1/MODEL` (`openais://` for
  TLS); its API key, if it wants one, in `AUTOGENESIS_API_KEY`. It is used
  when no `--model` is given, before AUTOGENESIS_MODEL.
- `AUTOGENESIS_MODEL`: the model (a .gguf file, a model directory or a
  Hugging Face id in the local cache); unset means the offline default.
- `AUTOGENESIS_BACKEND`: `auto` (default), `llamacpp` or `transformers`.
- `AUTOGENESIS_MODEL_CACHE`: where converted model weights are kept
  (default `<home>/models`).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from autogenesis.errors import ConfigError

NAME_MAX = 63
"""The longest name anything may have: an address, a database name, a run's name."""
AGENT_NAME_MAX = 40
"""The longest name of a generated agent or system: it becomes a folder, a module, a class
and an address, and the model writes it (`spec.names` cuts names to it)."""


def name_regex(max_length: int = NAME_MAX) -> str:
    """The one rule for a safe name: a-z first, then a-z, 0-9 and _, at most `max_length`
    characters. Names reach addresses, database rows, file paths and templates."""
    return rf"[a-z][a-z0-9_]{{0,{max_length - 1}}}"


_NAME = re.compile(rf"^{name_regex()}$")
BACKENDS = ("auto", "llamacpp", "transformers")
"""What AUTOGENESIS_BACKEND and --backend accept (`autogenesis.llm.loader` picks one)."""


def check_name(name: str, what: str = "name") -> str:
    """Return `name` if it is a safe identifier (lower-case, digits, underscores).

    Names reach addresses, database rows, file paths and templates, so they
    are checked once at the edge with one rule.
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(
            f"invalid {what} {name!r}: use 1-63 characters a-z, 0-9 and _, starting with a letter"
        )
    return name


def default_home() -> Path:
    if os.geteuid() == 0:
        return Path("/var/lib/autogenesis")
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg) / "autogenesis"


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str | None
    mqtt_url: str | None
    model: str | None = None
    backend: str = "auto"
    model_cache: Path | None = None

    @classmethod
    def from_env(cls) -> Settings:
        home = os.environ.get("AUTOGENESIS_HOME")
        home_path = Path(home).expanduser() if home else default_home()
        if not home_path.is_absolute():
            home_path = home_path.resolve()
        database_url = os.environ.get("AUTOGENESIS_DATABASE_URL") or None
        if database_url and urlsplit(database_url).scheme not in ("postgresql", "postgres"):
            raise ConfigError(
                "AUTOGENESIS_DATABASE_URL must be a postgresql:// URL, "
                f"got {redact_url(database_url)!r}"
            )
        model_url = os.environ.get("AUTOGENESIS_MODEL_URL") or None
        if model_url and urlsplit(model_url).scheme not in ("openai", "openais"):
            raise ConfigError("AUTOGENESIS_MODEL_URL must look like "
                              f"openai://host:port/v1/MODEL, got {redact_url(model_url)!r}")
        return cls(
            home=home_path,
            database_url=database_url,
            mqtt_url=os.environ.get("AUTOGENESIS_MQTT_URL") or None,
            model=model_url or os.environ.get("AUTOGENESIS_MODEL") or None,
            backend=os.environ.get("AUTOGENESIS_BACKEND") or "auto",
            model_cache=Path(cache).expanduser().resolve()
            if (cache := os.environ.get("AUTOGENESIS_MODEL_CACHE")) else None,
        )

    @property
    def spool_dir(self) -> Path:
        return self.home / "spool"

    @property
    def pgdata(self) -> Path:
        return self.home / "pgdata"

    @property
    def models_dir(self) -> Path:
        """Converted model weights (a .gguf dequantised for transformers)."""
        return self.model_cache or self.home / "models"


def redact_url(url: str) -> str:
    """The URL with any password replaced by `***`, for messages and status output."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))
