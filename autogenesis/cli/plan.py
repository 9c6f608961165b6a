"""`autogenesis plan SPEC`: how a spec is read, in seconds, before a build.

Runs stages 1 and 2 (understanding and design), each judged once by the
approver, logs them as a run of kind "plan", and prints the reading: title,
slug, topology and why, agents with role, duties and the line each came from,
groups, hand-offs, approval loops, examples, rules, and what the reading or
the approver's second reading could not place. `--json` prints one object
whose keys are documented in the README (section "Checking how a spec is
read"). Exit code 1 when the approver rejects either stage.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console

from autogenesis.cli.options import BACKEND_HELP, MODEL_HELP, MODEL_READS_HELP, model_reads

if TYPE_CHECKING:
    from autogenesis.build.orchestrator import PlanResult


def plan(
    spec: Path = typer.Argument(..., help="The markdown spec to read."),
    model: str | None = typer.Option(None, "--model", "-m", help=MODEL_HELP),
    backend: str | None = typer.Option(None, "--backend", "-b", help=BACKEND_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object (keys in the "
                                 "README) instead of text."),
    reads: bool | None = typer.Option(None, "--model-reads/--no-model-reads",
                                      help=MODEL_READS_HELP),
) -> None:
    """Show how SPEC is read, without building: title, slug, topology and why, agents
    (role, duties, the line each came from), groups, hand-offs, approval loops, examples,
    rules, and anything the approver's independent second reading could not place.
    Runs only the understanding and design stages (seconds) and logs them as a run of
    kind "plan". Exits 1 when the approver rejects the reading."""
    import asyncio

    from autogenesis.build.orchestrator import Build, BuildOptions
    from autogenesis.llm.loader import load_model
    from autogenesis.spec import read_spec
    from autogenesis.store import Store

    text = read_spec(spec)
    err = Console(stderr=True, soft_wrap=True)
    with err.status("loading the model..."):
        loaded = load_model(model, backend=backend)
    with Store.open() as store, err.status("reading the spec..."):
        options = BuildOptions(model_reads=model_reads(reads, model))
        result = asyncio.run(Build(store, loaded, options=options).plan(
            text, spec_path=str(spec), name=spec.stem))
    report = plan_report(result)
    if as_json:
        typer.echo(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        for line in plan_lines(report):
            typer.echo(line)
    if not result.approved:
        raise typer.Exit(1)


def plan_report(result: PlanResult) -> dict[str, Any]:
    """The reading as plain data: what `--json` prints."""
    from autogenesis.artefacts import Blueprint, Requirements

    req = result.understanding.artefact
    bp = result.design.artefact
    assert isinstance(req, Requirements) and isinstance(bp, Blueprint)
    approver = {a.worker: a for a in bp.approvals}
    read = {a.name: a for a in req.agents}
    agents = []
    for agent in bp.agents:
        source = read.get(agent.name)
        approval = approver.get(agent.name)
        agents.append({
            "name": agent.name, "role": agent.kind, "duties": list(agent.duties),
            "line": source.line if source else None,
            "stated": agent.stated,
            "named_by": source.named_by if source else "design",
            "approver": approval.approver if approval else None,
            "max_rounds": approval.max_rounds if approval else None,
        })
    sequential = bp.topology in ("pipeline", "feedback_loop")
    flow = ([[e.source, e.target] for e in bp.edges if e.kind == "sends"] if sequential
            else [[link.source, link.target] for link in req.flow])
    verdicts = {stage.stage: {"approved": stage.approved, "reasons": stage.verdict.reasons}
                for stage in (result.understanding, result.design)}
    unplaced = list(req.notes) + [
        reason for stage in (result.understanding, result.design)
        for reason in stage.verdict.reasons]
    return {
        "run_id": str(result.run_id),
        "title": req.title, "slug": bp.slug, "goal": req.goal,
        "topology": bp.topology, "topology_reason": bp.topology_reason,
        "agents": agents,
        "groups": [{"word": g.word, "count": g.count, "members": g.members, "line": g.line}
                   for g in req.groups],
        "flow": flow,
        "loops": [{"worker": lp.worker, "approver": lp.approver, "max_rounds": lp.max_rounds,
                   "line": lp.line} for lp in req.loops],
        "examples": [{"input": e.input, "expected": e.expected} for e in req.examples],
        "constraints": list(req.constraints),
        "rules": [{"kind": r.kind, "text": r.text, "line": r.line, "params": r.params,
                   "agent": r.agent, "why": r.why} for r in bp.rules],
        "rule_only": list(bp.rule_only),
        "unplaced": unplaced,
        "verdicts": verdicts,
    }


def plan_lines(report: dict[str, Any]) -> list[str]:
    """The reading as text for a person."""
    lines = [f"{report['title']}  (package {report['slug']})",
             f"topology: {report['topology']}: {report['topology_reason']}", "", "agents:"]
    width = max(len(a["name"]) for a in report["agents"])
    for agent in report["agents"]:
        notes = [f"line {agent['line']}" if agent["line"] else
                 "added by design" if agent["named_by"] == "design" else "",
                 "" if agent["named_by"] in ("spec", "design") else
                 f"named by {agent['named_by']}",
                 f"approved by {agent['approver']} (at most {agent['max_rounds']} rounds)"
                 if agent["approver"] else ""]
        lines.append(f"  {agent['name']:<{width}}  {agent['role']:<10} "
                     + "; ".join(n for n in notes if n))
        for duty in agent["duties"]:
            lines.append(f"  {'':<{width}}  - {duty}")
    for group in report["groups"]:
        count = f"{group['count']} " if group["count"] else ""
        lines.append(f"group: {count}{group['word']}(s): {', '.join(group['members'])}")
    if report["flow"]:
        lines.append("flow: " + ", ".join(f"{a} -> {b}" for a, b in report["flow"]))
    for loop in report["loops"]:
        limit = f"at most {loop['max_rounds']} rounds" if loop["max_rounds"] else "no limit stated"
        lines.append(f"loop: {loop['approver']} sends {loop['worker']}'s work back ({limit})")
    lines.append(f"examples: {len(report['examples'])}")
    for i, example in enumerate(report["examples"], 1):
        expected = f" -> {example['expected']}" if example["expected"] else ""
        lines.append(f"  {i}. {example['input']}{expected}")
    if report["constraints"]:
        lines.append("constraints:")
        lines += [f"  - {rule}" for rule in report["constraints"]]
    if report["rules"]:
        lines.append("rules (applied by code):")
        for rule in report["rules"]:
            where = (("the system" if rule["agent"] == "" else rule["agent"])
                     if rule["agent"] is not None else f"NOT WIRED: {rule['why']}")
            line = f"line {rule['line']}, " if rule["line"] else ""
            lines.append(f"  - {rule['kind']}: {rule['text']}  ({line}{where})")
        if report["rule_only"]:
            lines.append(f"  agents that only apply rules (no prose): "
                         f"{', '.join(report['rule_only'])}")
    if report["unplaced"]:
        lines.append("not placed:")
        lines += [f"  ! {item}" for item in report["unplaced"]]
    for stage, verdict in report["verdicts"].items():
        state = "approved" if verdict["approved"] else "REJECTED"
        lines.append(f"{stage}: {state}")
    lines.append(f"run {report['run_id']} (kind plan; `autogenesis replay` shows its log)")
    return lines
