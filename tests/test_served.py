"""A model lent over a Unix socket (`autogenesis.llm.served`): it answers as the model
does, refuses what a local call refuses, and lets a build's sandboxed runs of the system
use the build's model, several at once, with the build still re-executing identically."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from scripted_build import build_model

from autogenesis.build.orchestrator import Build, BuildOptions
from autogenesis.errors import ConfigError, ModelNotFound
from autogenesis.llm.base import Decoding, Model
from autogenesis.llm.served import ModelServer, ServedModel
from autogenesis.llm.testing import FunctionModel
from autogenesis.replay import reexecute
from autogenesis.store import Store

from conftest import REPO

PERSON = {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}


def answers(messages, schema, settings):
    if schema is not None:
        return {"name": messages[-1]["content"][:10]}
    return f"echo: {messages[-1]['content']} ({settings.max_new_tokens})"


class Lent:
    """A ModelServer on an event loop of its own thread, as a build process runs it."""

    def __init__(self, model: Model) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server = ModelServer(model)
        asyncio.run_coroutine_threadsafe(self.server.__aenter__(), self.loop).result(10)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.__aexit__(None, None, None),
                                         self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture
def lent() -> Iterator[Lent]:
    served = Lent(FunctionModel(answers))
    yield served
    served.close()


def test_a_served_model_answers_as_the_model_does(lent: Lent):
    model = ServedModel(lent.server.url)
    assert model.identity == lent.server.model.identity

    async def ask():
        plain = await model.generate([{"role": "user", "content": "hello"}],
                                     settings=Decoding(max_new_tokens=7))
        shaped = await model.generate([{"role": "user", "content": "Ada Lovelace"}],
                                      schema=PERSON)
        together = await asyncio.gather(*(model.generate(
            [{"role": "user", "content": f"n{i}"}]) for i in range(5)))
        return plain, shaped, together

    plain, shaped, together = asyncio.run(ask())
    assert plain.text == "echo: hello (7)" and plain.tokens_out > 0
    assert shaped.parsed == {"name": "Ada Lovela"} and shaped.problem is None
    assert [r.text for r in together] == [f"echo: n{i} (256)" for i in range(5)]
    assert lent.server.calls == 7


def test_what_a_local_call_refuses_the_server_refuses(lent: Lent):
    model = ServedModel(lent.server.url)
    with pytest.raises(ConfigError, match=r"refused the call: message 0 must be .*role"):
        asyncio.run(model.generate([{"role": "wizard", "content": "x"}]))
    with pytest.raises(ConfigError, match=r"max_new_tokens must be 1\.\.32768"):
        asyncio.run(model.generate([{"role": "user", "content": "x"}],
                                   settings=_bad_settings()))
    # and it goes on answering
    assert asyncio.run(model.generate([{"role": "user", "content": "ok"}])).text


def _bad_settings() -> Decoding:
    """Settings a local call would refuse, smuggled past the client's own check: the
    server checks again (what arrives on the socket is untrusted)."""
    settings = Decoding()
    object.__setattr__(settings, "max_new_tokens", 10**6)
    return settings


def test_no_server_is_one_clear_error(tmp_path: Path):
    with pytest.raises(ModelNotFound, match="no model is served at"):
        ServedModel(f"unix:{tmp_path / 'nothing.sock'}")
    with pytest.raises(ConfigError, match="unix:/path/to/socket"):
        ServedModel("tcp://localhost:1")


class Deliberate:
    """The scripted build model, taking a quarter of a second over each task an agent is
    given (the runtime's and the trials' "Task: ..."), as a real model would: a run of the
    system then lasts long enough for two at once to be seen overlapping."""

    def __init__(self) -> None:
        self.model = build_model()
        self.identity = self.model.identity

    async def generate(self, messages, *, schema=None, settings=None):
        if messages[-1]["content"].startswith("Task:"):
            await asyncio.sleep(0.25)
        return await self.model.generate(messages, schema=schema, settings=settings)


@pytest.fixture
def store(service_url: str, tmp_path: Path) -> Iterator[Store]:
    with Store(service_url, spool_dir=tmp_path / "spool") as opened:
        yield opened


def test_a_build_lends_its_model_to_the_runs_of_the_system_at_once(store: Store,
                                                                    tmp_path: Path):
    """The sandboxed runs (real subprocesses, no model of their own) ask the build's
    model over the socket; testing's example runs overlap; the log re-executes."""
    build = Build(store, Deliberate(), options=BuildOptions(
        out_dir=tmp_path / "out", concurrency=4, serve_model=True, max_iterations=1))
    spec = REPO / "examples" / "trip_planner.md"
    built = asyncio.run(build.run(spec.read_text(), spec_path="examples/trip_planner.md",
                                  name="trip_planner"))
    store.flush()
    assert store.run(built.run_id)["config"]["serve_model"] is True
    children = store.children(built.run_id)
    testing = [c for c in children if c["config"].get("stage") == "testing"]
    assert len(testing) == 2 and all(c["status"] == "succeeded" for c in testing)
    spans = []   # when each run's system was at work: its first and last message
    for child in testing:
        times = [m["created_at"] for m in store.messages(child["id"])]
        spans.append((min(times), max(times)))
    assert max(start for start, _ in spans) < min(end for _, end in spans)   # overlapped
    for child in children:   # each run's calls went to the build's (scripted) model
        calls = store.completions(child["id"])
        assert calls and {c["backend"] for c in calls} == {"scripted"}
    again = asyncio.run(reexecute(store, built.run_id, out_dir=tmp_path / "again"))
    assert again.diverged is None, str(again.diverged)
    assert again.package_sha256 == built.package.sha256
