"""The llama.cpp backend's batching, with the real default model: alone it answers as
llama-cpp-python's own chat completion does; in a batch, mixed constrained and free
requests answer as they do alone; slots are shared, freed and bounded."""

from __future__ import annotations

import asyncio
import os

import pytest

from autogenesis.errors import ConfigError
from autogenesis.llm.base import Decoding
from autogenesis.llm.llamacpp_backend import LlamaCppModel
from autogenesis.llm.loader import load_model
from autogenesis.llm.source import resolve

GREEDY = Decoding(max_new_tokens=40)
PROMPTS = [
    [{"role": "user", "content": "Write one sentence about lighthouses."}],
    [{"role": "system", "content": "You are a travel planner. Answer in one line."},
     {"role": "user", "content": "Task: two days in Lisbon on a small budget"}],
    [{"role": "user", "content": "List three colours, comma separated."}],
    [{"role": "system", "content": "You review answers."},
     {"role": "user", "content": "Is 'Paris is the capital of France' correct?"}],
]
VERDICT = {"type": "object", "required": ["approved", "feedback"], "properties": {
    "approved": {"type": "boolean"}, "feedback": {"type": "string", "maxLength": 60}}}
PERSON = {"type": "object", "required": ["name", "age"], "properties": {
    "name": {"type": "string", "maxLength": 12},
    "age": {"type": "integer", "minimum": 0, "maximum": 120}}}


@pytest.fixture(scope="module")
def model() -> LlamaCppModel:
    loaded = load_model(backend="llamacpp")
    assert isinstance(loaded, LlamaCppModel)
    return loaded


def mixed() -> list[tuple[list[dict[str, str]], dict | None, Decoding]]:
    """Free and constrained requests of different lengths, as a build makes them."""
    return [
        (PROMPTS[0], None, GREEDY),
        (PROMPTS[3], VERDICT, Decoding(max_new_tokens=48)),
        (PROMPTS[1], None, Decoding(max_new_tokens=24)),
        ([{"role": "user", "content": "Invent a person."}], PERSON, Decoding(max_new_tokens=32)),
        (PROMPTS[2], None, Decoding(max_new_tokens=16, stop=("\n",))),
        (PROMPTS[1], VERDICT, Decoding(max_new_tokens=48)),
    ]


def test_alone_it_answers_as_llama_cpp_pythons_chat_completion(model: LlamaCppModel):
    """The previous backend's call, on a context of its own: same prompt layout, same
    greedy tokens."""
    import llama_cpp

    reference = llama_cpp.Llama(model_path=resolve(None).location, n_ctx=8192,
                                n_threads=os.cpu_count(), verbose=False)
    try:
        for messages in PROMPTS:
            expected = reference.create_chat_completion(
                messages=messages, max_tokens=GREEDY.max_new_tokens, temperature=0.0,
                top_k=1, top_p=1.0, min_p=0.0, repeat_penalty=1.0, seed=0)
            ours = asyncio.run(model.generate(messages, settings=GREEDY))
            assert ours.text == expected["choices"][0]["message"]["content"]
            assert ours.tokens_in == expected["usage"]["prompt_tokens"]
            assert ours.tokens_out == expected["usage"]["completion_tokens"]
            assert ours.batch_size == 1
    finally:
        reference.close()


def test_a_batch_of_mixed_requests_answers_as_each_alone(model: LlamaCppModel):
    """Constrained and free requests decoded together give the tokens each gives alone,
    and were decoded together (their batch size says so)."""
    requests = mixed()

    async def alone():
        return [await model.generate(m, schema=s, settings=d) for m, s, d in requests]

    async def together():
        return await asyncio.gather(*(model.generate(m, schema=s, settings=d)
                                      for m, s, d in requests))

    solo, batched = asyncio.run(alone()), asyncio.run(together())
    for (_, schema, _), one, many in zip(requests, solo, batched, strict=True):
        assert many.text == one.text
        assert many.finish_reason == one.finish_reason
        if schema is not None:
            assert many.parsed is not None and many.parsed == one.parsed
    assert max(r.batch_size for r in batched) == model.slots   # 6 requests, 4 slots
    assert all(r.batch_size == 1 for r in solo)


def test_stop_strings_and_the_length_limit_end_a_sequence(model: LlamaCppModel):
    stopped = asyncio.run(model.generate(PROMPTS[2], settings=Decoding(
        max_new_tokens=30, stop=(",",))))
    assert "," not in stopped.text and stopped.finish_reason == "stop"
    cut = asyncio.run(model.generate(PROMPTS[0], settings=Decoding(max_new_tokens=5)))
    assert cut.tokens_out == 5 and cut.finish_reason == "length"


def test_a_caller_that_gives_up_frees_its_slot(model: LlamaCppModel):
    async def scenario():
        long = [model.generate(PROMPTS[0], settings=Decoding(max_new_tokens=2000))
                for _ in range(model.slots)]
        for call in long:   # every slot taken, then abandoned by its caller
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(call, 0.3)
        return await asyncio.wait_for(model.generate(PROMPTS[2], settings=GREEDY), 30)

    answer = asyncio.run(scenario())
    assert answer.text and answer.batch_size == 1   # alone: the abandoned ones are gone


def test_a_prompt_longer_than_the_context_is_a_clear_error(model: LlamaCppModel):
    huge = [{"role": "user", "content": "word " * 9000}]
    with pytest.raises(ConfigError, match="does not fit the model's context of 8192"):
        asyncio.run(model.generate(huge, settings=GREEDY))
    # and the model still answers
    assert asyncio.run(model.generate(PROMPTS[2], settings=GREEDY)).text


def test_sampling_with_a_seed_is_the_same_alone_and_in_a_batch(model: LlamaCppModel):
    sampled = [Decoding(max_new_tokens=24, temperature=0.8, top_p=0.9, seed=s)
               for s in (1, 2, 3)]

    async def run():
        alone = [await model.generate(PROMPTS[1], settings=d) for d in sampled]
        together = await asyncio.gather(*(model.generate(PROMPTS[1], settings=d)
                                          for d in sampled))
        return alone, together

    alone, together = asyncio.run(run())
    assert [r.text for r in together] == [r.text for r in alone]
    assert len({r.text for r in alone}) > 1   # the seeds differ, so do the samples


def test_a_consensus_systems_members_are_decoded_together(model: LlamaCppModel):
    """A generated system asks its members at once; with the real model their calls
    overlap in time and share decode steps (the log's batch sizes say so)."""
    from datetime import timedelta
    from uuid import uuid4

    from autogenesis.bus import Bus
    from autogenesis.llm.logged import LoggedModel
    from autogenesis.runtime.model_agent import ModelAgent, PromptConfig
    from autogenesis.runtime.topologies import Consensus
    from autogenesis.store.memory import MemoryStore

    store = MemoryStore()
    logged = LoggedModel(model, store)
    short = Decoding(max_new_tokens=24)
    members = [ModelAgent(name, model=logged, settings=short,
                          prompt=PromptConfig(system=f"You are {name}. Answer in one line."))
               for name in ("optimist", "skeptic", "realist", "chair")]
    system = Consensus("panel", members, entry="chair", exit="chair",
                       order=["optimist", "skeptic", "realist"])
    run_id = uuid4()

    async def go() -> None:
        async with Bus(store) as bus:
            await system.attach(bus)
            try:
                await system.ask({"input": "Should the town build a bike lane?"},
                                 run_id=run_id, timeout=120)
            finally:
                await system.detach()

    asyncio.run(go())
    first = {}   # each member's first call: its proposal
    for row in sorted(store.completions(run_id), key=lambda r: r["created_at"]):
        first.setdefault(row["agent"], row)
    proposals = [first[f"panel/{name}"] for name in ("optimist", "skeptic", "realist")]
    spans = [(r["created_at"] - timedelta(milliseconds=r["latency_ms"]), r["created_at"])
             for r in proposals]
    assert max(start for start, _ in spans) < min(end for _, end in spans)   # all overlap
    assert all(r["batch_size"] >= 2 for r in proposals)


def test_fan_out_systems_load_a_slot_per_member_and_others_one():
    from autogenesis.runtime.launch import MAX_SLOTS, slots_for

    members = {name: {} for name in ("a", "b", "c")}
    assert slots_for({"topology": "consensus", "agents": members}) == 3
    assert slots_for({"topology": "hierarchy", "agents": members}) == 3
    assert slots_for({"topology": "pipeline", "agents": members}) == 1
    many = {f"m{i}": {} for i in range(9)}
    assert slots_for({"topology": "contract_net", "agents": many}) == MAX_SLOTS
