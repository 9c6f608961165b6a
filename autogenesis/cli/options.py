"""Help texts and small helpers shared by several commands.

Light on purpose (stdlib and `autogenesis.config` only): every command module
imports it at startup, so `autogenesis --help` stays fast.
"""

from __future__ import annotations

from autogenesis.config import BACKENDS, Settings

MODEL_HELP = ("A .gguf file, a model directory, a Hugging Face id in the local cache, or a "
              "model on an OpenAI-compatible server (Ollama, llama.cpp, vLLM) as "
              "openai://host:port/v1/MODEL (openais:// for TLS; API key in "
              "AUTOGENESIS_API_KEY) [default: AUTOGENESIS_MODEL_URL, else AUTOGENESIS_MODEL, "
              "else the offline SmolLM2-135M-Instruct GGUF].")
BACKEND_HELP = (f"One of {', '.join(BACKENDS)} [default: AUTOGENESIS_BACKEND, else auto: "
                "llama.cpp for a .gguf on a machine without GPU when installed].")
MODEL_READS_HELP = ("Also ask the model for its own list of the spec's agents, a third opinion "
                    "merged only where the approver's second reading agrees (default: on for "
                    "a --model or AUTOGENESIS_MODEL other than the small offline default).")


def model_reads(flag: bool | None, model: str | None) -> bool:
    """--model-reads / --no-model-reads, else on for a model other than the default."""
    if flag is not None:
        return flag
    from autogenesis.llm.source import is_default

    return not is_default(model or Settings.from_env().model)
