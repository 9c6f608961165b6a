"""Typed message bodies: handlers chosen by type, bodies byte-stable on the wire, and the
schemas for constrained decoding made from types (as logged runs hold them)."""

from __future__ import annotations

import asyncio
from uuid import uuid4

import pytest

from autogenesis.build.agents.design import TOPOLOGY_SCHEMA
from autogenesis.build.agents.understanding import AGENTS_SCHEMA, NAME_SCHEMA, Team
from autogenesis.build.messages import Judged, Produce
from autogenesis.bus import Bus, Message
from autogenesis.bus.body import Body
from autogenesis.canonical import canonical_json
from autogenesis.errors import ConfigError, RemoteError
from autogenesis.llm.schema import OneOf, decoding_schema, one_of, schema_type
from autogenesis.runtime import Agent, Network, handles
from autogenesis.runtime.model_agent import (
    BID_SCHEMA,
    JUDGEMENT_SCHEMA,
    OFFER_SCHEMA,
    ModelJudgement,
)
from autogenesis.runtime.protocol import Answer, Review, Score, Task

pytestmark = pytest.mark.fast

NAME = {"type": "string", "pattern": "^[a-z]{3,16}(_[a-z]{3,12})?$"}


@pytest.mark.parametrize(("made", "logged"), [
    (JUDGEMENT_SCHEMA, {"type": "object", "properties": {
        "approved": {"type": "boolean"}, "feedback": {"type": "string", "maxLength": 200}},
        "required": ["approved", "feedback"], "additionalProperties": False}),
    (OFFER_SCHEMA, {"type": "object", "properties": {"bid": {"type": "number", "minimum": 0}},
                    "required": ["bid"], "additionalProperties": False}),
    (BID_SCHEMA, {"type": "object", "properties": {
        "score": {"type": "integer", "minimum": 0, "maximum": 10}},
        "required": ["score"], "additionalProperties": False}),
    (NAME_SCHEMA, {"type": "object", "properties": {"name": NAME}, "required": ["name"],
                   "additionalProperties": False}),
    (AGENTS_SCHEMA, {"type": "object", "properties": {"agents": {
        "type": "array", "minItems": 1, "maxItems": 5,
        "items": {"type": "object", "properties": {
            "name": NAME, "duty": {"type": "string", "maxLength": 120}},
            "required": ["name", "duty"], "additionalProperties": False}}},
        "required": ["agents"], "additionalProperties": False}),
    (TOPOLOGY_SCHEMA, {"type": "object", "properties": {"topology": {"enum": [
        "pipeline", "router", "hierarchy", "contract_net", "consensus", "feedback_loop"]}},
        "required": ["topology"], "additionalProperties": False}),
])
def test_schemas_made_from_types_are_the_ones_logged_runs_hold(made, logged):
    """A logged call is matched by the hash of its schema: a type must make it byte for
    byte as the hand-written schema did."""
    assert canonical_json(made) == canonical_json(logged)


def test_a_schema_tells_the_type_it_was_made_from():
    assert schema_type(JUDGEMENT_SCHEMA) is ModelJudgement
    assert schema_type(AGENTS_SCHEMA) is Team
    choice = schema_type(decoding_schema(one_of("choice", ("billing", "technical"))))
    assert choice is not None and issubclass(choice, OneOf)
    assert (choice.field, choice.options) == ("choice", ("billing", "technical"))
    assert schema_type({"type": "object"}) is None and schema_type(None) is None


def test_a_body_on_the_wire_holds_the_fields_given():
    """A field left out is absent; one given as None is null: as the dicts were."""
    assert Task(input="x").dump() == {"input": "x"}
    assert Task(input="x", context=[], feedback=None, round=1).dump() == {
        "input": "x", "context": [], "feedback": None, "round": 1}
    assert Score(score=5).dump() == {"score": 5}          # an int stays an int
    assert canonical_json(Score(score=float("nan")).dump()) == '{"score":NaN}'
    verdict = {"stage": "design", "kind": "Blueprint", "approved": True, "reasons": [],
               "checks": [], "rework": None, "shortfall": False}
    judged = Judged.model_validate({"verdict": verdict, "artefact_sha256": "ab"})
    assert judged.dump() == {"verdict": verdict, "artefact_sha256": "ab"}


class Echo(Agent):
    @handles(Task)
    async def on_task(self, task: Task, message: Message) -> Answer:
        return Answer(answer=task.input.upper())

    @handles(Review)
    async def on_review(self, review: Review, message: Message) -> None:
        return None


class LoudEcho(Echo):
    async def on_task(self, task: Task, message: Message) -> Answer:   # overrides by name
        return Answer(answer=task.input.upper() + "!")


def ask(agent: Agent, kind: str, body: dict) -> Message | Exception:
    async def go() -> Message | Exception:
        async with Bus() as bus:
            network = Network("net", [agent], entry=agent.name)
            await network.attach(bus)
            message = Message.new(run_id=uuid4(), sender="user", recipient=agent.address,
                                  kind=kind, body=body, expects_reply=True)
            try:
                return await bus.request(message, timeout=5)
            except RemoteError as exc:
                return exc
    return asyncio.run(go())


def test_a_handler_is_chosen_by_the_kind_of_its_request_type():
    assert Echo.handlers == {"task": (Task, "on_task"), "review": (Review, "on_review")}
    reply = ask(Echo("echo"), "task", {"input": "hi"})
    assert isinstance(reply, Message) and Answer.of(reply).answer == "HI"
    reply = ask(LoudEcho("echo"), "task", {"input": "hi"})
    assert isinstance(reply, Message) and reply.body == {"answer": "HI!"}


def test_a_body_that_does_not_fit_its_type_is_refused_with_what_is_wrong():
    refused = ask(Echo("echo"), "task", {"inputs": "hi"})
    assert isinstance(refused, RemoteError) and refused.error_type == "ConfigError"
    assert "from user is not a Task" in refused.detail and "input" in refused.detail
    refused = ask(Echo("echo"), "bid", {"input": "hi"})
    assert isinstance(refused, RemoteError)
    assert "cannot handle 'bid' messages (it handles: review, task)" in refused.detail


def test_only_a_request_type_can_be_handled():
    with pytest.raises(ConfigError, match="Answer has no kind"):
        handles(Answer)
    assert Produce.kind == "produce" and Body.kind == ""
