"""How well autogenesis reads specs: its plan (stages 1-2) beside a gold annotation.

    .venv/bin/python bench/understanding.py [--corpus DIR ...] [--rules-only]
                                            [--model M] [--backend B] [--json]

Each corpus folder holds specs (`*.md`) and a `gold.json` saying what each states
(the format of `../shared/specs/gold.json`; `tests/specs/` by default). For every
spec the understanding and design agents run as in a build (the default model
unless `--rules-only`, which gives them a model that never answers, so only
rules act), and the plan is scored against the gold:

- agents: recall and precision of agent names (a gold name may list acceptable
  alternatives `a|b|c`; names are compared folded to ASCII identifiers). Agents
  design adds on its own (a supervisor the spec lacks) are listed, not counted;
- groups: share of gold groups whose members all became agents;
- roles: share of found agents with the gold role (worker, approver, manager,
  router, aggregator, monitor);
- flow: F1 of the hand-off edges (a pipeline's or feedback loop's chain; the
  stated arrows otherwise);
- topology: share of specs whose topology is one the gold accepts (`a|b`), over the
  specs whose gold names one;
- loops: share of gold approval loops (worker -> approver) among the blueprint's
  approvals, with the round limit as the spec states it;
- examples: examples found / examples stated.

Every miss is listed per spec. The scoring (`tests/spec_gold.py`, shared with the
tests) is written independently of the reader it measures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from autogenesis.artefacts import Blueprint, Requirements
from autogenesis.build.agents import Design, Understanding, Work
from autogenesis.build.prompts import Prompts
from autogenesis.errors import AutogenesisError
from autogenesis.llm.base import Model
from autogenesis.llm.testing import FunctionModel

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from spec_gold import Score, score  # noqa: E402  (the tests' scoring, shared)


async def plan(text: str, model: Model, prompts: Prompts) -> tuple[Requirements, Blueprint]:
    """Stages 1 and 2 as a build runs them, without the bus or the log."""
    req = await Understanding(model, prompts).produce(Work({"spec": text}))
    bp = await Design(model, prompts).produce(Work({"requirements": req.model_dump(
        mode="json")}))
    assert isinstance(req, Requirements) and isinstance(bp, Blueprint)
    return req, bp


def ratio(a: float, b: float) -> float | None:
    return round(a / b, 3) if b else None


def totals(scores: Sequence[Score]) -> dict[str, Any]:
    found = sum(s.found for s in scores)
    hits = sum(s.flow_hits for s in scores)
    precision, recall = (ratio(hits, sum(s.flow_predicted for s in scores)),
                         ratio(hits, sum(s.flow_gold for s in scores)))
    return {
        "specs": len(scores),
        "agent_recall": ratio(found, sum(s.gold_agents for s in scores)),
        "agent_precision": ratio(found, sum(s.predicted for s in scores)),
        "group_accuracy": ratio(sum(s.groups_right for s in scores),
                                sum(s.groups for s in scores)),
        "role_accuracy": ratio(sum(s.roles_right for s in scores), found),
        "flow_f1": (round(2 * precision * recall / (precision + recall), 3)
                    if precision and recall else 0.0),
        "topology_accuracy": ratio(sum(s.topology_right for s in scores),
                                   sum(s.topology_stated for s in scores)),
        "loop_recall": ratio(sum(s.loops_found for s in scores), sum(s.loops for s in scores)),
        "example_recall": ratio(sum(min(s.examples_found, s.examples) for s in scores),
                                sum(s.examples for s in scores)),
        "seconds": round(sum(s.seconds for s in scores), 1),
    }


def silent_model() -> Model:
    """A model that never gives a usable answer: only the rules act."""
    return FunctionModel(lambda messages, schema, settings: "", name="rules-only")


def run(corpus: Path, model: Model, prompts: Prompts) -> list[Score]:
    gold = json.loads((corpus / "gold.json").read_text())
    scores = []
    for name in sorted(k for k in gold if not k.startswith("_")):
        text = (corpus / name).read_text()
        started = time.perf_counter()
        try:
            req, bp = asyncio.run(plan(text, model, prompts))
        except AutogenesisError as exc:
            s = Score(name, gold_agents=len(gold[name]["agents"]),
                      misses=[f"no plan: {exc}"], topology_stated=bool(gold[name]["topology"]))
        else:
            s = score(name, gold[name], req, bp)
        s.seconds = time.perf_counter() - started
        scores.append(s)
    return scores


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, action="append",
                        help="a folder of specs with a gold.json (repeatable; default "
                        "tests/specs)")
    parser.add_argument("--rules-only", action="store_true",
                        help="give the agents a model that never answers")
    parser.add_argument("--model", help="the model (default: the offline default)")
    parser.add_argument("--backend", help="auto, llamacpp or transformers")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    corpora = args.corpus or [REPO / "tests" / "specs"]
    if args.rules_only:
        model = silent_model()
    else:
        from autogenesis.llm.loader import load_model

        model = load_model(args.model, backend=args.backend)
    prompts = Prompts()
    report: dict[str, Any] = {"model": model.identity.model_id, "corpora": {}}
    for corpus in corpora:
        if not (corpus / "gold.json").is_file():
            print(f"understanding.py: {corpus} has no gold.json", file=sys.stderr)
            return 1
        scores = run(corpus, model, prompts)
        report["corpora"][str(corpus)] = {
            "totals": totals(scores),
            "specs": {s.spec: {"misses": s.misses, "added": s.added} for s in scores}}
        if args.json:
            continue
        print(f"\n{corpus} ({len(scores)} specs, model {Path(model.identity.model_id).name})")
        for s in scores:
            extra = f"  (added by design: {', '.join(s.added)})" if s.added else ""
            topology = ("ok" if s.topology_right else "WRONG") if s.topology_stated else "-"
            print(f"  {s.spec:<28} agents {s.found}/{s.gold_agents} of {s.predicted}, "
                  f"topology {topology}{extra}")
            for miss in s.misses:
                print(f"      - {miss}")
        for key, value in totals(scores).items():
            print(f"  {key:<18} {value}")
    if args.json:
        print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
