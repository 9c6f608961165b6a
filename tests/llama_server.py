"""llama-cpp-python's OpenAI-compatible server (`python -m llama_cpp.server`) on the default
GGUF, started for a test: a real model server, as Ollama or vLLM would be."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import httpx

from autogenesis.llm.openai_backend import model_url
from autogenesis.llm.source import resolve

KEY = "test-key-" + uuid.uuid4().hex[:12]
"""The server's API key: every call must send it (from AUTOGENESIS_API_KEY)."""
ALIAS = "smollm2"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def llama_server(key: str | None = KEY) -> Iterator[str]:
    """llama-cpp-python's OpenAI-compatible server on the default model; its model URL."""
    port = free_port()
    threads = os.cpu_count() or 1
    argv = [sys.executable, "-m", "llama_cpp.server", "--model", resolve(None).location,
            "--model_alias", ALIAS, "--host", "127.0.0.1", "--port", str(port),
            "--n_ctx", "8192", "--verbose", "False",
            # its default is half the cores (1 here): as many as the in-process backend
            "--n_threads", str(threads), "--n_threads_batch", str(threads)]
    if key:
        argv += ["--api_key", key]
    server = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              text=True)
    try:
        deadline = time.monotonic() + 90
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"the server stopped: {server.stderr.read()[-2000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=2,
                             headers={"Authorization": f"Bearer {key}"}).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not start within 90 s")
            time.sleep(0.3)
        yield model_url("127.0.0.1", port, ALIAS)
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
