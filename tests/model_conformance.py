"""One conformance suite for every model backend (like tests/bus_conformance.py).

A test module imports these tests and defines a `model` fixture returning a
loaded backend. Everything here runs the real model: outputs are not
compared with fixed strings, but with each other and with the schemas.
"""

from __future__ import annotations

import asyncio
from typing import Literal
from uuid import uuid4

import pytest
from pydantic import BaseModel, Field

from autogenesis.bus.context import acting_as
from autogenesis.errors import ReplayMismatch
from autogenesis.llm.base import Decoding, Model
from autogenesis.llm.logged import LoggedModel
from autogenesis.llm.replay import ReplayModel
from autogenesis.llm.schema import problems, schema_of
from autogenesis.store.records import Run


class Step(BaseModel):
    agent: str = Field(max_length=16)
    action: Literal["plan", "write", "review"]


class Plan(BaseModel):  # a small artefact-like type: nested objects, arrays, enums
    title: str = Field(max_length=30)
    steps: list[Step] = Field(min_length=1, max_length=2)


SCHEMAS = {
    "nested_object": {
        "type": "object",
        "properties": {
            "person": {"type": "object",
                       "properties": {"name": {"type": "string", "maxLength": 12},
                                      "age": {"type": "integer", "minimum": 0,
                                              "maximum": 120}},
                       "required": ["name", "age"]},
        },
        "required": ["person"],
    },
    "array_of_enums": {
        "type": "object",
        "properties": {"colours": {"type": "array", "minItems": 2, "maxItems": 3,
                                   "items": {"enum": ["red", "green", "blue"]}}},
        "required": ["colours"],
    },
    "pattern": {
        "type": "object",
        "properties": {"code": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{2}$"},
                       "ok": {"type": "boolean"}},
        "required": ["code", "ok"],
    },
    "from_a_type": schema_of(Plan),
}
ASK = [{"role": "user", "content": "Describe a small team that writes a blog, as JSON."}]
SHORT = Decoding(max_new_tokens=24)


@pytest.mark.parametrize("name", sorted(SCHEMAS))
async def test_constrained_output_validates(model: Model, name: str) -> None:
    schema = SCHEMAS[name]
    result = await model.generate(ASK, schema=schema, settings=Decoding(max_new_tokens=96))
    assert result.problem is None, result.text
    assert result.finish_reason == "stop"
    assert result.parsed is not None
    assert problems(result.parsed, schema) == []


async def test_greedy_is_deterministic(model: Model) -> None:
    first = await model.generate(ASK, settings=SHORT)
    second = await model.generate(ASK, settings=SHORT)
    assert first.text == second.text
    assert first.text.strip()


async def test_seed_makes_sampling_reproducible(model: Model) -> None:
    def sampled(seed: int) -> Decoding:
        return Decoding(max_new_tokens=16, temperature=1.2, seed=seed)

    a = await model.generate(ASK, settings=sampled(1))
    b = await model.generate(ASK, settings=sampled(1))
    others = [await model.generate(ASK, settings=sampled(seed)) for seed in (2, 3)]
    assert a.text == b.text
    assert a.seed == 1
    assert any(other.text != a.text for other in others)  # the seed is really used


async def test_unseeded_sampling_records_its_seed(model: Model) -> None:
    settings = Decoding(max_new_tokens=12, temperature=1.0)
    first = await model.generate(ASK, settings=settings)
    assert first.seed is not None
    again = await model.generate(ASK, settings=Decoding(max_new_tokens=12, temperature=1.0,
                                                        seed=first.seed))
    assert again.text == first.text


async def test_token_accounting(model: Model) -> None:
    capped = await model.generate(ASK, settings=Decoding(max_new_tokens=5))
    assert capped.finish_reason == "length"
    assert capped.tokens_out == 5
    longer_prompt = [{"role": "user", "content": ASK[0]["content"] + " Use short names only."}]
    longer = await model.generate(longer_prompt, settings=Decoding(max_new_tokens=5))
    assert 0 < capped.tokens_in < longer.tokens_in
    assert capped.latency_ms > 0


async def test_truncated_json_is_reported_not_raised(model: Model) -> None:
    result = await model.generate(ASK, schema=SCHEMAS["from_a_type"],
                                  settings=Decoding(max_new_tokens=4))
    assert result.finish_reason == "length"
    assert result.parsed is None
    assert "max_new_tokens" in result.problem


async def test_concurrent_callers_get_their_own_answers(model: Model) -> None:
    topics = ["cats", "rockets", "bread", "rivers"]
    prompts = [[{"role": "user", "content": f"Write one sentence about {t}."}] for t in topics]
    alone = [await model.generate(p, settings=SHORT) for p in prompts]
    together = await asyncio.gather(*(model.generate(p, settings=SHORT) for p in prompts))
    for topic, single, concurrent in zip(topics, alone, together, strict=True):
        # never interleaved: each answer is about its own prompt, as when asked alone
        assert concurrent.text.split()[:4] == single.text.split()[:4], topic
    if model.identity.backend in ("transformers", "llamacpp"):
        assert max(r.batch_size for r in together) > 1  # waiting requests were batched


async def test_every_completion_is_logged_and_replays(model: Model, store) -> None:
    run = store.start_run(Run(kind="test", name="model-conformance"))
    logged = LoggedModel(model, store)
    with acting_as("writer", run_id=run.id, message_id=uuid4()):
        first = await logged.generate(ASK, settings=SHORT)
        shaped = await logged.generate(ASK, schema=SCHEMAS["pattern"], settings=SHORT)
    with acting_as("critic", run_id=run.id):
        critique = await logged.generate([{"role": "user", "content": first.text}],
                                         settings=SHORT)
    store.flush()
    rows = store.completions(run.id)
    assert [(r["agent"], r["call_index"]) for r in rows] == [
        ("critic", 0), ("writer", 0), ("writer", 1)]
    identity = model.identity
    for row in rows:
        assert row["backend"] == identity.backend
        assert row["backend_version"] == identity.backend_version
        assert row["model_revision"] == identity.revision
        assert row["dtype"] == identity.dtype and row["device"] == identity.device
        assert row["settings"]["max_new_tokens"] == SHORT.max_new_tokens
        assert row["prompt_sha256"] and row["tokens_out"] > 0
    assert rows[2]["parsed"] == shaped.parsed and rows[2]["json_schema"] == SCHEMAS["pattern"]
    assert rows[1]["message_id"] is not None and rows[0]["message_id"] is None

    # The same calls, answered from the log without the model.
    replay = ReplayModel.from_store(store, run.id)
    with acting_as("critic", run_id=run.id):
        assert (await replay.generate([{"role": "user", "content": first.text}],
                                      settings=SHORT)).text == critique.text
    with acting_as("writer", run_id=run.id):
        assert (await replay.generate(ASK, settings=SHORT)).text == first.text
        again = await replay.generate(ASK, schema=SCHEMAS["pattern"], settings=SHORT)
        assert again.parsed == shaped.parsed
        with pytest.raises(ReplayMismatch) as extra:
            await replay.generate(ASK, settings=SHORT)
    assert (extra.value.agent, extra.value.call_index, extra.value.what) == (
        "writer", 2, "extra_call")
    assert replay.unanswered() == {}
