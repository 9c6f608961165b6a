"""A small network of rule-based agents that shows the bus at work.

`autogenesis demo` runs it: an editor asks a researcher for notes and a
writer for a draft (request/response), announces the result on a topic
that a monitor follows, and finally two agents that bounce the same content
trip the loop detector. No model is involved; every message, the loop and
the run itself are logged to PostgreSQL and read back from there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from autogenesis.bus import Bus, Message
from autogenesis.errors import LoopDetected, RemoteError
from autogenesis.runtime import Agent, Network
from autogenesis.store import Run, Store


class Editor(Agent):
    async def handle(self, message: Message) -> Mapping[str, Any]:
        subject = str(message.body.get("subject", "")).strip() or "nothing in particular"
        notes = await self.request("researcher", "research", {"subject": subject}, within=message)
        draft = await self.request("writer", "write", notes.body, within=message)
        await self.publish("demo/articles/done", "article.done",
                           {"subject": subject, "words": len(draft.body["text"].split())},
                           within=message)
        return {"subject": subject, "article": draft.body["text"]}


class Researcher(Agent):
    async def handle(self, message: Message) -> Mapping[str, Any]:
        subject = message.body["subject"]
        words = [w for w in subject.replace(",", " ").split() if len(w) > 2]
        return {"subject": subject, "notes": [f"{w} matters" for w in words] or [subject]}


class Writer(Agent):
    async def handle(self, message: Message) -> Mapping[str, Any]:
        notes = message.body["notes"]
        text = f"On {message.body['subject']}: " + "; ".join(notes) + "."
        return {"text": text}


class Monitor(Agent):
    subscriptions = ("demo/#",)

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.seen: list[str] = []

    async def handle(self, message: Message) -> None:
        self.seen.append(f"{message.topic}: {message.body_json}")


class Bouncer(Agent):
    """Passes what it gets to its partner unchanged: the ping-pong the bus must stop."""

    def __init__(self, name: str, partner: str) -> None:
        super().__init__(name)
        self.partner = partner

    async def handle(self, message: Message) -> Mapping[str, Any]:
        answer = await self.request(self.partner, message.kind, message.body, within=message)
        return answer.body


@dataclass
class DemoResult:
    run_id: UUID
    answer: dict[str, Any]
    topic_messages: list[str]
    loop: str


async def run_demo(store: Store, subject: str) -> DemoResult:
    run = store.start_run(Run(kind="demo", name="bus-demo", config={"subject": subject}))
    newsroom = Network("newsroom", [Editor("editor"), Researcher("researcher"), Writer("writer"),
                                    Monitor("monitor")], entry="editor")
    bouncers = Network("bouncers", [Bouncer("ping", "pong"), Bouncer("pong", "ping")],
                       entry="ping")
    try:
        async with Bus(store) as bus:
            await newsroom.attach(bus)
            await bouncers.attach(bus)
            answer = await newsroom.ask({"subject": subject}, run_id=run.id, timeout=10)
            loop = "not detected"
            try:
                await bouncers.ask({"ball": 1}, run_id=run.id, kind="serve", timeout=2)
            except (LoopDetected, RemoteError) as exc:
                loop = str(exc)
            monitor = newsroom.agents["monitor"]
            assert isinstance(monitor, Monitor)
            store.flush()
            events = store.events(run.id, "loop")
            if events:
                detail = events[0]["detail"]
                loop = f"{detail['kind']}: {' -> '.join(detail['path'])}"
        store.finish_run(run, "succeeded")
    except BaseException as exc:
        store.finish_run(run, "failed", error=str(exc) or type(exc).__name__)
        raise
    finally:
        store.flush()
    return DemoResult(run.id, answer.body, monitor.seen, loop)
