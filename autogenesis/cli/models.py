"""`autogenesis models` and `autogenesis generate`: see and try the local model."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from autogenesis.cli.options import BACKEND_HELP, MODEL_HELP
from autogenesis.config import Settings
from autogenesis.errors import AutogenesisError, UserError


def describe(model: str | None, backend: str | None) -> dict[str, Any]:
    """What is configured and where it lives, without loading anything."""
    from autogenesis.canonical import file_sha256
    from autogenesis.llm.loader import (
        choose_backend,
        gpu_present,
        llamacpp_installed,
        served_elsewhere,
    )
    from autogenesis.llm.source import resolve
    from autogenesis.llm.transformers_backend import cache_folder, cached_conversion

    settings = Settings.from_env()
    named = model if model is not None else settings.model
    if named is not None and served_elsewhere(named):
        return _describe_server(named)
    source = resolve(named)
    info: dict[str, Any] = {
        "model": source.name, "kind": source.kind, "location": source.location,
        "backend_requested": backend or settings.backend,
        "backend": choose_backend(backend or settings.backend, source),
        "llamacpp_installed": llamacpp_installed(), "gpu": gpu_present(),
        "cache_dir": str(settings.models_dir),
    }
    if source.kind == "gguf":
        sha256 = file_sha256(source.path)
        converted = cached_conversion(settings.models_dir, source.path, sha256)
        info |= {
            "size_bytes": source.path.stat().st_size, "sha256": sha256,
            "transformers_cache": str(converted or cache_folder(settings.models_dir,
                                                                  source.path, sha256)),
            "transformers_cache_ready": converted is not None,
        }
    return info


def _describe_server(url: str) -> dict[str, Any]:
    """A model another process serves: asked who it is (its server must be up)."""
    from autogenesis.llm.loader import load_model

    identity = load_model(url).identity
    return {"model": identity.model_id, "kind": "server", "location": url,
            "backend_requested": "-", "backend": identity.backend,
            "revision": identity.revision}


def models(
    model: str | None = typer.Option(None, "--model", "-m", help=MODEL_HELP),
    backend: str | None = typer.Option(None, "--backend", "-b", help=BACKEND_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for tools."),
) -> None:
    """Show the configured model: where its file is, which backend runs it, cache state."""
    from autogenesis.llm.loader import LLAMACPP_HINT

    info = describe(model, backend)
    if as_json:
        typer.echo(json.dumps(info, indent=2))
        return
    console = Console(soft_wrap=True)
    if info["kind"] == "server":
        console.print(f"model      {info['model']} (served)")
        console.print(f"backend    {info['backend']}; the server says: {info['revision'] or '-'}")
        return
    console.print(f"model      {info['model']} ({info['kind']})")
    console.print(f"location   {info['location']}")
    if "sha256" in info:
        console.print(f"size       {info['size_bytes'] / 1e6:.1f} MB, sha256 {info['sha256']}")
    console.print(f"backend    {info['backend']} (asked: {info['backend_requested']}; "
                  f"GPU: {'yes' if info['gpu'] else 'no'})")
    if not info["llamacpp_installed"]:
        console.print(f"llama.cpp  not installed: {LLAMACPP_HINT}")
    if "transformers_cache" in info:
        state = "ready" if info["transformers_cache_ready"] else "not converted yet (first " \
                "transformers load dequantises the GGUF, ~20-60 s)"
        console.print(f"converted  {info['transformers_cache']}: {state}")


def generate(
    prompt: str = typer.Argument(..., help="The user message. '-' reads it from stdin."),
    schema_file: Path | None = typer.Option(None, "--schema", exists=True, dir_okay=False,
                                            help="A JSON schema file: the answer is decoded "
                                            "under it and printed as validated JSON."),
    system: str | None = typer.Option(None, "--system", help="A system message."),
    model: str | None = typer.Option(None, "--model", "-m", help=MODEL_HELP),
    backend: str | None = typer.Option(None, "--backend", "-b", help=BACKEND_HELP),
    max_new_tokens: int = typer.Option(256, "--max-new-tokens", min=1, max=32768),
    temperature: float = typer.Option(0.0, min=0.0, max=5.0,
                                      help="0 decodes greedily (deterministic)."),
    seed: int | None = typer.Option(None, min=0, help="Makes sampling reproducible."),
) -> None:
    """Ask the local model once; the call is logged as a run of kind 'generate'."""
    import asyncio

    from autogenesis.llm.base import Decoding
    from autogenesis.llm.loader import load_model
    from autogenesis.llm.logged import LoggedModel
    from autogenesis.llm.schema import load_schema
    from autogenesis.store import Store
    from autogenesis.store.records import Run

    text = sys.stdin.read() if prompt == "-" else prompt
    if not text.strip():
        raise UserError("the prompt is empty")
    schema = load_schema(str(schema_file)) if schema_file else None
    settings = Decoding(max_new_tokens=max_new_tokens, temperature=temperature, seed=seed)
    messages = ([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": text}]
    err = Console(stderr=True, soft_wrap=True)
    started = time.perf_counter()
    with err.status("loading the model...") as status:
        loaded = load_model(model, backend=backend,
                            progress=lambda line: status.update(line))
    err.print(f"[dim]{loaded.identity.backend} {loaded.identity.model_id} loaded in "
              f"{time.perf_counter() - started:.1f}s[/]")
    with Store.open() as store:
        run = store.start_run(Run(kind="generate", name="generate", model=loaded.identity.model_id,
                                  config={"backend": loaded.identity.backend,
                                          **settings.as_dict()}))
        logged = LoggedModel(loaded, store, run_id=run.id, agent="user")
        try:
            with err.status("generating..."):
                result = asyncio.run(logged.generate(messages, schema=schema, settings=settings))
        except AutogenesisError as exc:
            store.finish_run(run, "failed", error=str(exc))
            raise
        store.finish_run(run, "succeeded" if result.problem is None else "failed",
                         error=result.problem)
    if schema is not None and result.parsed is not None:
        typer.echo(json.dumps(result.parsed, indent=2, ensure_ascii=False))
    else:
        typer.echo(result.text)
    seconds = result.latency_ms / 1000
    err.print(f"[dim]{result.tokens_in} tokens in, {result.tokens_out} out in {seconds:.2f}s "
              f"({result.tokens_out / max(seconds, 1e-9):.1f} tokens/s), "
              f"finish: {result.finish_reason}; run {run.id}[/]")
    if result.problem is not None:
        raise UserError(result.problem + " (try a larger --max-new-tokens)")

