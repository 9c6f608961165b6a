"""The timeline of a logged run: everything it logged, in order, one item per row.

Messages, model calls (completions), artefacts, verdicts, events (loops,
deadlines, retries, errors, the spool) and the sandbox's results
(observations; clock readings left out) are merged by time, the server's
arrival order breaking ties. Each item names its stage (for a build: the
stage whose conversation it belongs to) and agent, so it can be filtered.
Works for any run: a build, a generated system's run, a demo.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

KINDS = ("message", "completion", "artefact", "verdict", "event", "observation")

@dataclass(frozen=True)
class Item:
    at: datetime
    kind: str             # one of KINDS
    stage: str | None
    agent: str | None
    summary: str
    id: str
    detail: dict[str, Any] = field(default_factory=dict)
    subkind: str = ""     # the message's, event's or observation's own kind

    def as_json(self, started: datetime | None = None) -> dict[str, Any]:
        out = asdict(self)
        out["at"] = self.at.isoformat()
        if started is not None:
            out["offset_s"] = round((self.at - started).total_seconds(), 3)
        return out

    def matches(self, *, stage: str | None = None, agent: str | None = None,
                kind: str | None = None) -> bool:
        return ((stage is None or self.stage == stage)
                and (agent is None or self.agent == agent)
                and (kind is None or kind in (self.kind, self.subkind)))

def timeline(store: Any, run_id: UUID) -> list[Item]:
    """Every logged row of `run_id` as timeline items, in order."""
    # imported here: `replay --help` lists KINDS, and must not import the build to do so
    from autogenesis.build.messages import opened_stage

    messages = store.messages(run_id)
    stage_of: dict[Any, str] = {}
    for m in messages:
        if (stage := opened_stage(m)) is not None:
            stage_of[m["conversation_id"]] = stage
    message_stage = {m["id"]: stage_of.get(m["conversation_id"]) for m in messages}
    ranked: list[tuple[datetime, int, Item]] = []

    def add(rows: Iterable[Mapping[str, Any]], order: int, make: Any) -> None:
        for n, row in enumerate(rows):
            ranked.append((row["created_at"], order * 1_000_000 + n, make(row)))

    add(messages, 0, lambda m: _message(m, message_stage.get(m["id"])))
    add(sorted(store.completions(run_id), key=lambda c: c["created_at"]), 1,
        lambda c: _completion(c, message_stage.get(c["message_id"])))
    add(store.artefacts(run_id), 2, _artefact)
    add(store.verdicts(run_id), 3, _verdict)
    add(store.events(run_id), 4, lambda e: _event(e, message_stage.get(e["message_id"])))
    add([o for o in store.observations(run_id) if o["kind"] != "clock"], 5,
        lambda o: _observation(o, message_stage.get(o["message_id"])))
    ranked.sort(key=lambda r: (r[0], r[1]))
    return [item for _, _, item in ranked]

def _message(m: Mapping[str, Any], stage: str | None) -> Item:
    from autogenesis.build.messages import Judge, Produce

    to = m["recipient"] or f"#{m['topic']}"
    body = m["body"]
    note = ""
    if m["kind"] == Produce.kind:
        note = f" round {body.get('round', 1)}"
        if body.get("feedback"):
            note += f", {len(body['feedback'])} reason(s) to address"
    elif m["kind"] == Judge.kind:
        note = f" {body.get('stage', '')}"
    elif "error" in body:
        note = f" {body['error']}: {str(body.get('detail', ''))[:120]}"
    elif "artefact" in body:
        note = " artefact"
    elif "verdict" in body:
        note = " verdict " + ("approved" if body["verdict"].get("approved") else "rejected")
    elif "answer" in body:
        note = f" {str(body['answer'])[:100]!r}"
    return Item(m["created_at"], "message", stage, m["sender"],
                f"{m['sender']} -> {to} {m['kind']}{note}", str(m["id"]),
                {"recipient": m["recipient"], "topic": m["topic"], "hop": m["hop"],
                 "reply_to": str(m["reply_to"]) if m["reply_to"] else None,
                 "conversation_id": str(m["conversation_id"]), "body": body},
                subkind=m["kind"])

def _completion(c: Mapping[str, Any], stage: str | None) -> Item:
    output = " ".join(str(c["output"]).split())
    return Item(c["created_at"], "completion", stage, c["agent"],
                f"{c['agent']} call {c['call_index']}: {c['tokens_in']} tokens in, "
                f"{c['tokens_out']} out, {c['latency_ms'] / 1000:.2f}s: {output[:100]!r}",
                str(c["id"]), {"call_index": c["call_index"], "model_id": c["model_id"],
                               "settings": c["settings"], "tokens_in": c["tokens_in"],
                               "tokens_out": c["tokens_out"], "latency_ms": c["latency_ms"],
                               "output": c["output"], "finish_reason": c["finish_reason"]})

def _artefact(a: Mapping[str, Any]) -> Item:
    return Item(a["created_at"], "artefact", a["stage"], a["stage"],
                f"{a['kind']} v{a['version']} (sha256 {a['sha256'][:12]})", str(a["id"]),
                {"kind": a["kind"], "version": a["version"], "sha256": a["sha256"]},
                subkind=a["kind"])

def _verdict(v: Mapping[str, Any]) -> Item:
    what = "approved" if v["approved"] else "rejected: " + "; ".join(v["reasons"])[:200]
    failed = [c["name"] for c in v["checks"] if not c.get("passed", True)]
    return Item(v["created_at"], "verdict", v["stage"], "approver",
                f"{v['stage']} {what}" + (f" (failed checks: {', '.join(failed)})"
                                          if failed and v["approved"] else ""),
                str(v["id"]), {"approved": v["approved"], "reasons": v["reasons"],
                               "artefact_id": str(v["artefact_id"])},
                subkind="approved" if v["approved"] else "rejected")

def _event(e: Mapping[str, Any], stage: str | None) -> Item:
    detail = ", ".join(f"{k}={v}" for k, v in e["detail"].items())
    return Item(e["created_at"], "event", stage or e["agent"], e["agent"],
                f"{e['kind']}: {detail[:200]}", str(e["id"]), dict(e["detail"]),
                subkind=e["kind"])

def _observation(o: Mapping[str, Any], stage: str | None) -> Item:
    result, request = o["result"], o["request"]
    if o["kind"] == "pytest":
        text = (f"pytest: {result.get('passed', 0)} passed, {result.get('failed', 0)} "
                f"failed, {result.get('errors', 0)} error(s)")
    elif o["kind"] == "example":
        reply = result.get("reply") or {}
        text = (f"system run on {request.get('which')!r}: "
                + (f"answer by {reply.get('exit')}" if reply else
                   f"no answer ({result.get('error', '')[:80]})")
                + f", {result.get('seconds', 0):.1f}s")
    elif o["kind"] == "install":
        wheel = (result.get("wheel") or {}).get("name", "no wheel")
        text = f"wheel {wheel}, " + ("installed" if result.get("installed") else "not installed")
    else:
        text = o["kind"]
    return Item(o["created_at"], "observation", stage or o["agent"], o["agent"], text,
                str(o["id"]), {"request": request}, subkind=o["kind"])
