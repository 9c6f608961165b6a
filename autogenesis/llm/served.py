"""One process's model lent to others over a Unix socket: the build's batched model,
used by the generated system it runs in the sandbox.

A sandboxed run of the system would otherwise load a model of its own: a
second llama.cpp on the same cores, which made two runs at once 1.8x
slower than one after the other (bench/README.md). Served, every run's calls
and the build's own are decoded in one batch, and a run starts without
loading anything.

The protocol is one JSON object per line. On connecting, the server sends
`{"identity": {...}}`; then each line the client sends, `{"messages": [...],
"schema": {...} | null, "settings": {...}}`, gets one line back,
`{"generation": {...}}` or `{"error": "..."}`. A connection carries one call at
a time; a client opens one per call (a Unix socket connects in microseconds).
Everything a request carries is checked as a local call is (`check_messages`,
`check_schema`, `Decoding`): the sandboxed code is untrusted, and it can ask
for completions and nothing else. The socket lies in a folder only this
user can enter; the sandbox's own network namespace does not hide a path.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any
from uuid import uuid4

from autogenesis.errors import AutogenesisError, ConfigError, ModelNotFound
from autogenesis.llm.base import ChatMessage, Decoding, Generation, Model, ModelIdentity

SCHEME = "unix:"
"""`--model unix:/path/to/socket` names a served model."""
LINE_LIMIT = 8 << 20
"""The longest request line taken (messages and schema of one call)."""


class ModelServer:
    """Serves `model` on a Unix socket in a private temporary folder while open:

        async with ModelServer(model) as server:
            ... run things with `--model {server.url}` ...
    """

    def __init__(self, model: Model) -> None:
        self.model = model
        self._folder = Path(tempfile.gettempdir()) / f"autogenesis-model-{uuid4().hex[:12]}"
        self.path = self._folder / "model.sock"   # short: a socket path has 107 bytes at most
        self._server: asyncio.Server | None = None
        self.calls = 0

    @property
    def url(self) -> str:
        return f"{SCHEME}{self.path}"

    async def __aenter__(self) -> ModelServer:
        self._folder.mkdir(mode=0o700, exist_ok=True)   # only this user may connect
        self._server = await asyncio.start_unix_server(self._serve, path=str(self.path),
                                                       limit=LINE_LIMIT)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        with contextlib.suppress(OSError):
            self.path.unlink()
            self._folder.rmdir()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await _send(writer, {"identity": asdict(self.model.identity)})
            while line := await reader.readline():
                await _send(writer, await self._answer(line))
        except (ConnectionError, asyncio.LimitOverrunError, ValueError):
            pass   # a client that went away or sent too much: nothing to answer
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _answer(self, line: bytes) -> dict[str, Any]:
        try:
            asked = json.loads(line)
            if not isinstance(asked, dict):
                raise ConfigError("a request is a JSON object")
            settings = Decoding(**{**asked.get("settings", {}),
                                   "stop": tuple(asked.get("settings", {}).get("stop", ()))})
            result = await self.model.generate(asked.get("messages", []),
                                               schema=asked.get("schema"), settings=settings)
        except (AutogenesisError, TypeError, json.JSONDecodeError) as exc:
            return {"error": str(exc)}
        self.calls += 1
        return {"generation": asdict(result)}


async def _send(writer: asyncio.StreamWriter, body: Mapping[str, Any]) -> None:
    writer.write(json.dumps(body, ensure_ascii=False).encode() + b"\n")
    await writer.drain()


class ServedModel:
    """A `Model` that asks a `ModelServer` (`unix:/path/to/socket`)."""

    backend = "served"

    def __init__(self, url: str) -> None:
        if not url.startswith(SCHEME):
            raise ConfigError(f"a served model is named {SCHEME}/path/to/socket, got {url!r}")
        self.path = url[len(SCHEME):]
        try:   # the identity now: a server that is not there is a clear error at once
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(10)
                sock.connect(self.path)
                hello = json.loads(sock.makefile("rb").readline())
        except (OSError, ValueError) as exc:
            raise ModelNotFound(f"no model is served at {self.path}: {exc}") from exc
        self.identity = ModelIdentity(**hello["identity"])

    async def generate(self, messages: Sequence[ChatMessage], *,
                       schema: Mapping[str, Any] | None = None,
                       settings: Decoding | None = None) -> Generation:
        settings = settings or Decoding()
        request = {"messages": [dict(m) for m in messages],
                   "schema": dict(schema) if schema is not None else None,
                   "settings": {**asdict(settings), "stop": list(settings.stop)}}
        try:
            reader, writer = await asyncio.open_unix_connection(self.path, limit=LINE_LIMIT)
        except OSError as exc:
            raise ModelNotFound(f"the model served at {self.path} went away: {exc}") from exc
        try:
            await reader.readline()   # its identity, known already
            await _send(writer, request)
            line = await reader.readline()
        finally:
            writer.close()
        if not line:
            raise ModelNotFound(f"the model served at {self.path} closed the connection")
        answer = json.loads(line)
        if "error" in answer:
            raise ConfigError(f"the served model refused the call: {answer['error']}")
        return Generation(**answer["generation"])


def served_url(model: str | None) -> bool:
    """Whether `model` (a --model value) names a served model."""
    return model is not None and model.startswith(SCHEME)

