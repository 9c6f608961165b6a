"""A model behind an OpenAI-compatible server: Ollama, llama.cpp's server,
llama-cpp-python's server, vLLM, or anything else that speaks `/v1/chat/completions`.

Named by a model URL, `openai://host:port/v1/MODEL` (`openais://` for TLS),
given to `--model` or in AUTOGENESIS_MODEL_URL. The part after `/v1/` is the
model's name on the server, and may itself hold slashes (vLLM serves
`HuggingFaceTB/SmolLM2-135M-Instruct`) or a tag (`smollm2:135m` on Ollama).
An API key, where the server wants one, comes from AUTOGENESIS_API_KEY (or
OPENAI_API_KEY) and never from the URL: the URL is logged with every run.

Constrained output asks the server for JSON that follows the schema: the
OpenAI form, `response_format: {"type": "json_schema", ...}` (vLLM, Ollama,
llama.cpp's server); a server that refuses that form is asked in
llama-cpp-python's, `{"type": "json_object", "schema": ...}`, from then on.
Either way the answer is validated again here (`schema.judge_output`), with
the same problem reporting as the in-process backends, so a server that
ignores the schema gives a `problem`, not a wrong `parsed`.

Calls are independent HTTP requests, so callers that ask at once have
several requests in flight and the server batches them if it can. Connection
errors and 5xx answers are retried with backoff; a server that is not there,
or does not serve the model named, is one clear `ModelNotFound` at load.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from autogenesis.errors import ConfigError, ModelNotFound
from autogenesis.llm.base import ChatMessage, Decoding, Generation, ModelIdentity, check_messages
from autogenesis.llm.schema import check_schema, judge_output

SCHEMES = {"openai": "http", "openais": "https"}
KEY_VARIABLES = ("AUTOGENESIS_API_KEY", "OPENAI_API_KEY")
CONNECT_TIMEOUT_S = 10.0
CALL_TIMEOUT_S = 600.0
"""A call's whole answer: a small model on a busy CPU server can take minutes."""
RETRIES = 3
BACKOFF_S = 1.0
"""The first retry waits about this long; each next one twice as long."""


def is_server_url(model: str | None) -> bool:
    """Whether `model` (a --model value) names a model on an OpenAI-compatible server."""
    return model is not None and urlsplit(model).scheme in SCHEMES and "://" in model


@dataclass(frozen=True)
class ServerModel:
    """Where a model URL points: the server's API root and the model's name there."""

    url: str        # as given (no credentials: they are refused)
    api_base: str   # http(s)://host:port/v1
    name: str       # the model's name on the server

    @classmethod
    def parse(cls, url: str) -> ServerModel:
        parts = urlsplit(url)
        form = "openai://host:port/v1/MODEL (openais:// for TLS)"
        if parts.scheme not in SCHEMES:
            raise ConfigError(f"a model server URL looks like {form}, got {url!r}")
        if parts.username or parts.password:
            raise ConfigError("put the server's API key in AUTOGENESIS_API_KEY, not in the "
                              "model URL (the URL is logged with every run)")
        if not parts.hostname:
            raise ConfigError(f"the model URL {url!r} names no host: use {form}")
        try:
            parts.port  # noqa: B018  (raises on a port that is not a number)
        except ValueError as exc:
            raise ConfigError(f"the model URL {url!r} has a bad port: use {form}") from exc
        root, marker, name = parts.path.partition("/v1/")
        if not marker or not name.strip("/"):
            raise ConfigError(f"the model URL {url!r} names no model after /v1/: use {form}")
        if parts.query or parts.fragment:
            raise ConfigError(f"the model URL {url!r} has a query or fragment; use {form}")
        return cls(url=url, name=unquote(name.strip("/")),
                   api_base=f"{SCHEMES[parts.scheme]}://{parts.netloc}{root}/v1")


def api_key() -> str | None:
    for variable in KEY_VARIABLES:
        if os.environ.get(variable):
            return os.environ[variable]
    return None


class ServerError(Exception):
    """The server answered a call with an error (its status and what it said)."""

    def __init__(self, status: int, said: str) -> None:
        super().__init__(f"HTTP {status}: {said}")
        self.status, self.said = status, said


class OpenAIModel:
    """A model served by an OpenAI-compatible server (see the module's notes)."""

    backend = "openai"

    def __init__(self, url: str, *, timeout: float = CALL_TIMEOUT_S,
                 retries: int = RETRIES, backoff: float = BACKOFF_S) -> None:
        import httpx

        self.server = ServerModel.parse(url)
        self.timeout, self.retries, self.backoff = timeout, retries, backoff
        self._headers = {"Authorization": f"Bearer {key}"} if (key := api_key()) else {}
        self._schema_form = "json_schema"   # until the server refuses it
        listed = self._models()
        served = {str(m.get("id")): m for m in listed if isinstance(m, dict)}
        if self.server.name not in served:
            raise ModelNotFound(
                f"the server at {self.server.api_base} does not serve {self.server.name!r}; "
                f"it serves: {', '.join(sorted(served)) or 'nothing'}")
        entry = served[self.server.name]
        # What the server says of the model, less what changes from call to call.
        said = ", ".join(f"{k}={entry[k]}" for k in sorted(entry)
                         if k not in ("id", "object", "created", "permission")
                         and isinstance(entry[k], str | int | float | bool))
        self.identity = ModelIdentity(backend=self.backend, backend_version=httpx.__version__,
                                      model_id=url, revision=said or None, device="server")

    def _models(self) -> list[Any]:
        """The server's model list: a server that is not there fails here, at once."""
        import httpx

        where = f"{self.server.api_base}/models"
        try:
            answer = httpx.get(where, headers=self._headers, timeout=CONNECT_TIMEOUT_S)
        except httpx.HTTPError as exc:
            raise ModelNotFound(f"no model server answers at {self.server.api_base} "
                                f"({type(exc).__name__}: {exc or 'no answer'})") from exc
        if answer.status_code in (401, 403):
            raise ModelNotFound(f"the model server at {self.server.api_base} refused the "
                                f"API key (HTTP {answer.status_code}): set AUTOGENESIS_API_KEY")
        if answer.status_code != 200:
            raise ModelNotFound(f"{where} answered HTTP {answer.status_code}: "
                                f"{answer.text[:200]}: is this an OpenAI-compatible server?")
        try:
            data = answer.json().get("data")
        except (ValueError, AttributeError) as exc:
            raise ModelNotFound(f"{where} did not answer with a model list: "
                                f"{answer.text[:200]}") from exc
        return data if isinstance(data, list) else []

    def request(self, messages: list[dict[str, str]], schema: Mapping[str, Any] | None,
                settings: Decoding, seed: int | None) -> dict[str, Any]:
        """The body of a chat completion request for this call."""
        body: dict[str, Any] = {
            "model": self.server.name, "messages": messages,
            "max_tokens": settings.max_new_tokens, "temperature": settings.temperature,
            "top_p": settings.top_p, "stream": False}
        if seed is not None:
            body["seed"] = seed
        if settings.stop:
            body["stop"] = list(settings.stop)
        if settings.repetition_penalty != 1.0:   # llama.cpp's and vLLM's names for it
            body["repeat_penalty"] = body["repetition_penalty"] = settings.repetition_penalty
        if schema is not None:
            body["response_format"] = (
                {"type": "json_schema",
                 "json_schema": {"name": "answer", "schema": dict(schema), "strict": True}}
                if self._schema_form == "json_schema"
                else {"type": "json_object", "schema": dict(schema)})
        return body

    async def generate(self, messages: Sequence[ChatMessage], *,
                       schema: Mapping[str, Any] | None = None,
                       settings: Decoding | None = None) -> Generation:
        settings = settings or Decoding()
        checked = check_messages(messages)
        if schema is not None:
            schema = check_schema(schema)
        seed = settings.call_seed()
        started = time.perf_counter()
        try:
            answer = await self._complete(self.request(checked, schema, settings, seed))
        except ServerError as exc:
            if schema is None or self._schema_form != "json_schema":
                raise self._refused(exc) from exc
            self._schema_form = "json_object"   # llama-cpp-python's form of the same ask
            try:
                answer = await self._complete(self.request(checked, schema, settings, seed))
            except ServerError as again:
                raise self._refused(again) from again
        choice = (answer.get("choices") or [{}])[0]
        text = str((choice.get("message") or {}).get("content") or "")
        finish = "length" if choice.get("finish_reason") == "length" else "stop"
        usage = answer.get("usage") or {}
        parsed, problem = judge_output(text, schema, finish, settings.max_new_tokens)
        return Generation(
            text=text, tokens_in=int(usage.get("prompt_tokens") or 0),
            tokens_out=int(usage.get("completion_tokens") or 0),
            latency_ms=(time.perf_counter() - started) * 1000.0, finish_reason=finish,
            parsed=parsed, seed=seed, problem=problem)

    def _refused(self, exc: ServerError) -> ConfigError:
        return ConfigError(f"the model server at {self.server.api_base} refused the call "
                           f"to {self.server.name!r}: {exc}")

    async def _complete(self, body: dict[str, Any]) -> dict[str, Any]:
        """One chat completion, retried with backoff on connection errors and 5xx."""
        import httpx

        where = f"{self.server.api_base}/chat/completions"
        timeout = httpx.Timeout(self.timeout, connect=CONNECT_TIMEOUT_S)
        last = ""
        for attempt in range(self.retries + 1):
            if attempt:
                await asyncio.sleep(self.backoff * 2 ** (attempt - 1) * random.uniform(0.8, 1.2))
            try:
                async with httpx.AsyncClient(headers=self._headers, timeout=timeout) as client:
                    answer = await client.post(where, json=body)
            except httpx.TimeoutException as exc:
                raise ModelNotFound(f"the model server at {self.server.api_base} gave no "
                                    f"answer within {self.timeout:.0f}s") from exc
            except httpx.TransportError as exc:
                last = f"{type(exc).__name__}: {exc or 'no answer'}"
                continue
            if answer.status_code >= 500 and not _about_the_format(answer):
                last = f"HTTP {answer.status_code}: {answer.text[:300]}"
                continue
            if answer.status_code != 200:
                raise ServerError(answer.status_code, _said(answer))
            try:
                data: dict[str, Any] = answer.json()
            except ValueError as exc:
                raise ModelNotFound(f"{where} answered with no JSON: "
                                    f"{answer.text[:200]}") from exc
            return data
        raise ModelNotFound(f"the model server at {self.server.api_base} failed "
                            f"{self.retries + 1} times; last: {last}")


def _about_the_format(answer: Any) -> bool:
    """Whether an error answer is about `response_format` (llama-cpp-python refuses the
    OpenAI form with a 500): not worth retrying, worth asking in the other form."""
    return "response_format" in str(answer.text[:2000])


def _said(answer: Any) -> str:
    """The error message in a server's error body, or the start of the body."""
    try:
        body = answer.json()
    except ValueError:
        return str(answer.text[:300])
    error = body.get("error", body.get("detail", body)) if isinstance(body, dict) else body
    if isinstance(error, dict):
        error = error.get("message", error)
    return str(error)[:300]


def model_url(host: str, port: int, name: str, *, tls: bool = False) -> str:
    """The model URL for a model `name` on a server at host:port (for tests and docs)."""
    return f"{'openais' if tls else 'openai'}://{host}:{port}/v1/{quote(name, safe='/:.-_')}"
