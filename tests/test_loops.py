from uuid import uuid4

import pytest

from autogenesis.bus import LoopDetector, Message
from autogenesis.errors import LoopDetected


def first(**kw) -> Message:
    defaults = dict(run_id=uuid4(), sender="worker", recipient="approver", kind="artefact",
                    body={"v": 1})
    return Message.new(**{**defaults, **kw})


def test_repeat_of_the_same_artefact_is_a_loop() -> None:
    detector = LoopDetector()
    submit = first()
    detector.check(submit)
    reject = submit.reply({"approved": False}, kind="verdict")
    detector.check(reject)
    again = reject.follow_up("approver", {"v": 1}, kind="artefact", sender="worker")
    with pytest.raises(LoopDetected) as info:
        detector.check(again)
    assert info.value.kind == "repeat"
    assert info.value.path == ["worker", "approver", "worker", "approver"]


def test_a_changed_artefact_is_not_a_loop() -> None:
    detector = LoopDetector()
    submit = first()
    detector.check(submit)
    reject = submit.reply({"approved": False}, kind="verdict")
    detector.check(reject)
    detector.check(reject.follow_up("approver", {"v": 2}, kind="artefact", sender="worker"))


def test_content_bounced_back_unchanged_is_ping_pong() -> None:
    detector = LoopDetector()
    ball = first(sender="ping", recipient="pong", kind="serve", body={"ball": 1})
    detector.check(ball)
    back = ball.follow_up("ping", {"ball": 1}, kind="serve", sender="pong")
    with pytest.raises(LoopDetected) as info:
        detector.check(back)
    assert info.value.kind == "ping_pong"


def test_a_reply_echoing_its_request_body_is_not_ping_pong() -> None:
    detector = LoopDetector()
    ask = first(kind="ask", body={})
    detector.check(ask)
    detector.check(ask.reply({}))


def test_hop_limit() -> None:
    detector = LoopDetector(max_hops=3)
    message = first()
    detector.check(message)
    for i in range(3):
        message = message.follow_up("next", {"i": i}, kind="step", sender=f"agent{i}")
        detector.check(message)
    with pytest.raises(LoopDetected) as info:
        detector.check(message.follow_up("next", {"i": 99}, kind="step", sender="agent9"))
    assert info.value.kind == "hop_limit"


def test_conversations_are_independent_and_bounded() -> None:
    detector = LoopDetector(max_conversations=10)
    run = uuid4()
    for _ in range(100):
        detector.check(Message.new(run_id=run, sender="a", recipient="b", kind="k", body={}))
    assert len(detector._conversations) == 10
