"""The OpenAI-compatible server backend, against a real server: llama-cpp-python's
(`python -m llama_cpp.server`) on the default GGUF, started here.

The model conformance suite runs through it; so do a build of trip_planner.md and
its re-execution from the log once the server is gone. The server is started with an
API key, so every call here also shows that the key is sent, and the log is searched
for it afterwards.
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from llama_server import ALIAS, KEY, free_port, llama_server
from test_cli import cli, model_env

from autogenesis.errors import ConfigError, ModelNotFound
from autogenesis.llm.base import Decoding, Model
from autogenesis.llm.openai_backend import OpenAIModel, ServerModel, is_server_url, model_url
from autogenesis.store import Store

from model_conformance import *  # noqa: F403  (the shared tests)


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    with llama_server() as url:
        yield url


@pytest.fixture(scope="module")
def model(server_url: str) -> Iterator[Model]:
    """The conformance suite's model: the server backend, with the key from the
    environment (never from the URL)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AUTOGENESIS_API_KEY", KEY)
        yield OpenAIModel(server_url)


def test_model_urls_are_parsed_and_checked():
    parsed = ServerModel.parse("openai://gpu-box:8000/v1/HuggingFaceTB/SmolLM2-135M-Instruct")
    assert parsed.api_base == "http://gpu-box:8000/v1"
    assert parsed.name == "HuggingFaceTB/SmolLM2-135M-Instruct"
    tls = ServerModel.parse("openais://models.example/api/v1/smollm2:135m")
    assert (tls.api_base, tls.name) == ("https://models.example/api/v1", "smollm2:135m")
    assert is_server_url("openai://h:1/v1/m") and not is_server_url("models/x.gguf")
    for bad, why in [("openai://user:secret@h:1/v1/m", "AUTOGENESIS_API_KEY"),
                     ("openai://h:1/v1/", "names no model"),
                     ("openai://h:1/m", "names no model"),
                     ("openai://h:port/v1/m", "bad port"),
                     ("openai:///v1/m", "names no host")]:
        with pytest.raises(ConfigError, match=why):
            ServerModel.parse(bad)


def test_the_server_reports_who_it_is(model: Model, server_url: str):
    identity = model.identity
    assert identity.backend == "openai" and identity.model_id == server_url
    assert KEY not in json.dumps(identity.__repr__())
    assert identity.revision and "owned_by" in identity.revision


def test_a_server_that_is_not_there_is_one_clear_error():
    with pytest.raises(ModelNotFound, match=r"no model server answers at http://127\.0\.0\.1"):
        OpenAIModel(model_url("127.0.0.1", free_port(), "m"))


def test_an_unknown_model_or_a_wrong_key_is_named(server_url: str, monkeypatch):
    monkeypatch.setenv("AUTOGENESIS_API_KEY", KEY)
    with pytest.raises(ModelNotFound, match=f"does not serve 'nope'; it serves: {ALIAS}"):
        OpenAIModel(server_url.replace(ALIAS, "nope"))
    monkeypatch.setenv("AUTOGENESIS_API_KEY", "wrong")
    with pytest.raises(ModelNotFound, match="refused the API key"):
        OpenAIModel(server_url)


def test_the_cli_takes_a_model_url_and_says_what_is_wrong_in_one_line(env, server_url):
    served = cli("generate", "--model", server_url, "--max-new-tokens", "8", "Say hi.",
                 env={**env, "AUTOGENESIS_API_KEY": KEY})
    assert served.returncode == 0, served.stderr
    assert served.stdout.strip()
    # the same URL from the environment, when no --model is given
    from_env = cli("models", "--json", env={**env, "AUTOGENESIS_API_KEY": KEY,
                                            "AUTOGENESIS_MODEL_URL": server_url})
    assert from_env.returncode == 0, from_env.stderr
    assert json.loads(from_env.stdout)["backend"] == "openai"
    down = cli("generate", "--model", model_url("127.0.0.1", free_port(), "m"), "Hi.",
               env=env)
    assert down.returncode == 1
    assert down.stderr.count("\n") == 1 and "no model server answers" in down.stderr
    bad = cli("generate", "Hi.", env={**env, "AUTOGENESIS_MODEL_URL": "http://h/v1/m"})
    assert bad.returncode == 1 and "AUTOGENESIS_MODEL_URL must look like" in bad.stderr


class Flaky(BaseHTTPRequestHandler):
    """A server that fails its first `failures` completions with 503, then answers."""

    failures = 2
    seen: ClassVar[list[dict]] = []

    def log_message(self, *args: object) -> None:
        pass

    def _send(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._send(200, {"data": [{"id": "m", "owned_by": "test"}]})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Flaky.seen.append(body)
        if len(Flaky.seen) <= Flaky.failures:
            self._send(503, {"error": {"message": "loading"}})
            return
        if body.get("response_format", {}).get("type") == "json_schema":
            self._send(422, {"detail": "response_format: json_schema is not supported"})
            return
        self._send(200, {"choices": [{"message": {"content": '{"ok": tru'},
                                      "finish_reason": "length"}],
                         "usage": {"prompt_tokens": 7, "completion_tokens": 3}})


def test_retries_fallback_and_local_validation_on_a_scripted_server():
    """The logic around the HTTP calls, on a scripted server (a unit test: the real server
    is the conformance suite's): 5xx retried with backoff, the schema asked again in
    llama-cpp-python's form when the OpenAI form is refused, and the answer judged here."""
    Flaky.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Flaky)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        model = OpenAIModel(model_url("127.0.0.1", server.server_address[1], "m"),
                            backoff=0.05)
        schema = {"type": "object", "properties": {"ok": {"type": "boolean"}},
                  "required": ["ok"]}
        result = asyncio.run(model.generate([{"role": "user", "content": "ok?"}],
                                            schema=schema, settings=Decoding(max_new_tokens=3)))
        assert [b.get("response_format", {}).get("type") for b in Flaky.seen] == [
            "json_schema", "json_schema", "json_schema", "json_object"]
        assert Flaky.seen[-1]["response_format"]["schema"] == schema
        assert result.parsed is None and "max_new_tokens" in result.problem
        assert (result.tokens_in, result.tokens_out, result.finish_reason) == (7, 3, "length")
        Flaky.seen, Flaky.failures = [], 10
        with pytest.raises(ModelNotFound, match="failed 4 times; last: HTTP 503"):
            asyncio.run(OpenAIModel(model.server.url, backoff=0.01).generate(
                [{"role": "user", "content": "hi"}]))
    finally:
        Flaky.failures = 2
        server.shutdown()


@pytest.mark.timeout(1500)
def test_a_build_through_the_server_reexecutes_without_it(env, service_url, tmp_path):
    """`autogenesis build examples/trip_planner.md --model <server URL>`, then its run
    re-executed from the log with the server stopped; the key appears nowhere in the log."""
    out = tmp_path / "generated"
    keyed = {**model_env(env), "AUTOGENESIS_API_KEY": KEY}
    with llama_server() as url:
        built = cli("build", "examples/trip_planner.md", "--out", str(out), "--model", url,
                    "--max-iterations", "1", env=keyed, timeout=1400)
    assert built.returncode == 0, built.stderr[-3000:]
    run_id = uuid.UUID(built.stdout.strip().splitlines()[0].rsplit("run ", 1)[1])
    with Store(service_url, spool_dir=tmp_path / "spool") as store:
        completions = store.completions(run_id)
        assert completions and {c["backend"] for c in completions} == {"openai"}
        assert {c["model_id"] for c in completions} == {url}
        assert store.run(run_id)["status"] == "succeeded"
    log = cli("replay", str(run_id), "--jsonl", env=env).stdout
    assert KEY not in log and KEY not in built.stdout + built.stderr
    # No server now, and nothing that could reach one: the log answers every call.
    again = cli("replay", str(run_id)[:8], "--reexecute", env=env, timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]
    assert again.stdout.startswith("identical: re-executed run"), again.stdout[-2000:]
