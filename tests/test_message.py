from dataclasses import FrozenInstanceError
from uuid import uuid4

import pytest

from autogenesis.bus import Message, topic_matches
from autogenesis.bus.message import check_address, check_topic
from autogenesis.errors import ConfigError


def make(**kw) -> Message:
    defaults = dict(run_id=uuid4(), sender="a", recipient="b", kind="ask", body={"x": 1})
    return Message.new(**{**defaults, **kw})


def test_reply_goes_back_in_the_same_conversation() -> None:
    request = make(timeout=5)
    reply = request.reply({"y": 2})
    assert (reply.sender, reply.recipient) == ("b", "a")
    assert reply.reply_to == request.id
    assert reply.conversation_id == request.conversation_id == request.id
    assert reply.run_id == request.run_id
    assert reply.hop == request.hop + 1
    assert reply.deadline == request.deadline
    assert reply.kind == "ask.reply"
    assert reply.body == {"y": 2}


def test_messages_are_immutable_and_bodies_are_copies() -> None:
    message = make(body={"items": [1, 2]})
    with pytest.raises(FrozenInstanceError):
        message.kind = "other"  # type: ignore[misc]
    message.body["items"].append(3)
    assert message.body == {"items": [1, 2]}


def test_body_json_is_canonical() -> None:
    a = make(body={"b": 1, "a": "é"})
    b = make(body={"a": "é", "b": 1})
    assert a.body_json == b.body_json == '{"a":"é","b":1}'
    assert a.content_hash() == b.content_hash()
    assert make(kind="other", body={"a": "é", "b": 1}).content_hash() != a.content_hash()


def test_a_message_has_exactly_one_of_recipient_and_topic() -> None:
    with pytest.raises(ConfigError):
        make(recipient=None)
    with pytest.raises(ConfigError):
        make(topic="t")


@pytest.mark.parametrize("address", ["a", "net/agent_1", "a/b/c"])
def test_valid_addresses(address: str) -> None:
    assert check_address(address) == address


@pytest.mark.parametrize("address", ["", "A", "1a", "a//b", "a/", "../etc", "a b", "a-b"])
def test_invalid_addresses_are_refused(address: str) -> None:
    with pytest.raises(ConfigError):
        check_address(address)


@pytest.mark.parametrize(
    ("pattern", "topic", "expected"),
    [
        ("a/b", "a/b", True),
        ("a/+", "a/b", True),
        ("a/+", "a/b/c", False),
        ("a/#", "a/b/c", True),
        ("a/#", "a", True),
        ("#", "x/y", True),
        ("a/+/c", "a/b/c", True),
        ("a/+/c", "a/b/d", False),
        ("a/b", "a/b/c", False),
        ("a/b/c", "a/b", False),
    ],
)
def test_topic_matching_follows_mqtt(pattern: str, topic: str, expected: bool) -> None:
    assert topic_matches(pattern, topic) is expected


def test_wildcards_only_in_patterns() -> None:
    assert check_topic("a/+/#", pattern=True)
    with pytest.raises(ConfigError):
        check_topic("a/+")
    with pytest.raises(ConfigError):
        check_topic("a/#/b", pattern=True)
