"""How many of the rules a spec states autogenesis reads and wires to code.

    .venv/bin/python bench/rules.py [--corpus DIR ...] [--json]

Each corpus folder holds specs (`*.md`) and a `gold.json` whose entries may list
`rules`: "statements a program could apply exactly", in the annotator's words
(`../shared/specs/gold.json`). Stages 1 and 2 run as in a build with a model that
never answers (rules are read by rules), and each gold rule is matched to a read rule
when they share at least half of the gold's content words (numbers included) and
stand on the same line or sentence. Reported per spec and in total:

- found: gold rules matched by a read rule;
- wired: of those, the ones design wired to an agent or the system;
- extra: read rules that match no gold rule (a reading the annotator did not list);
- unwired: read rules left unwired, with design's reason.

The gold rules are the annotator's; a rule the reader does not find is listed, so the
figure says what is left for the model, not what is handled.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from pathlib import Path
from typing import Any

from autogenesis.artefacts import Blueprint, Requirements
from autogenesis.build.agents import Design, Understanding, Work
from autogenesis.build.prompts import Prompts
from autogenesis.llm.testing import FunctionModel

REPO = Path(__file__).resolve().parents[1]
_STOP = frozenset([
    "a", "an", "the", "and", "or", "of", "to", "in", "on", "at", "by", "is", "are", "be",
    "it", "its", "not", "no", "when", "if", "from", "each", "every", "with", "for",
    "than", "that", "this"
])
NUMBERS = {"one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
           "seven": "7", "eight": "8", "nine": "9", "ten": "10", "fourteen": "14"}


def words(text: str) -> set[str]:
    found = re.findall(r"[a-z0-9]+", text.lower())
    return {NUMBERS.get(w, w) for w in found if w not in _STOP}


async def plan(text: str) -> tuple[Requirements, Blueprint]:
    model = FunctionModel(lambda messages, schema, settings: "")
    req = await Understanding(model, Prompts()).produce(Work({"spec": text}))
    bp = await Design(model, Prompts()).produce(Work({"requirements": req.model_dump(
        mode="json")}))
    assert isinstance(req, Requirements) and isinstance(bp, Blueprint)
    return req, bp


def overlap(gold: str, rule: Any) -> int:
    """How well a read rule matches a gold rule: shared content words (its words and
    parameters), and twice over for the words of its kind ("not_future": "future");
    0 when they share less than half of the gold's words."""
    wanted = words(gold)
    have = words(rule.text) | words(json.dumps(rule.params))
    shared = len(wanted & have)
    if not wanted or shared * 2 < len(wanted):
        return 0
    return shared + 2 * len(wanted & words(rule.kind.replace("_", " ")))


def measure(folder: Path) -> dict[str, Any]:
    gold = json.loads((folder / "gold.json").read_text(encoding="utf-8"))
    specs = {}
    for name, entry in sorted(gold.items()):
        if name.startswith("_") or not (folder / name).is_file():
            continue
        _, bp = asyncio.run(plan((folder / name).read_text(encoding="utf-8")))
        stated = list(entry.get("rules", ()))
        found, wired, missed = 0, 0, []
        used = set()
        for rule in stated:
            scores = [(overlap(rule, r), -i) for i, r in enumerate(bp.rules)]
            best = max(scores, default=(0, 0))
            hit = -best[1] if best[0] else None    # one read rule may cover several
            if hit is None:
                missed.append(rule)
                continue
            used.add(hit)
            found += 1
            wired += bp.rules[hit].wired
        specs[name] = {
            "gold": len(stated), "found": found, "wired": wired, "missed": missed,
            "extra": [r.text for i, r in enumerate(bp.rules) if i not in used],
            "unwired": [f"{r.kind}: {r.why}" for r in bp.rules if not r.wired],
        }
    total = {k: sum(s[k] for s in specs.values()) for k in ("gold", "found", "wired")}
    return {"corpus": str(folder), "specs": specs, **total,
            "recall": round(total["found"] / total["gold"], 3) if total["gold"] else None,
            "wired_share": round(total["wired"] / total["gold"], 3) if total["gold"] else None}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", action="append", type=Path,
                        help="a folder of specs with a gold.json (repeatable) "
                        "[default: ../shared/specs]")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    folders = args.corpus or [REPO.parent / "shared" / "specs"]
    missing = [str(f) for f in folders if not (f / "gold.json").is_file()]
    if missing:
        print(f"bench/rules.py: no gold.json in {', '.join(missing)}", file=sys.stderr)
        return 2
    results = [measure(folder) for folder in folders]
    if args.json:
        print(json.dumps(results if len(results) > 1 else results[0], indent=2))
        return 0
    for result in results:
        print(f"{result['corpus']}: {result['found']}/{result['gold']} stated rules read "
              f"(recall {result['recall']}), {result['wired']} wired to code")
        for name, spec in result["specs"].items():
            if not (spec["gold"] or spec["extra"]):
                continue
            print(f"  {name}: {spec['found']}/{spec['gold']} read, {spec['wired']} wired")
            for rule in spec["missed"]:
                print(f"    missed: {rule}")
            for rule in spec["extra"]:
                print(f"    extra:  {rule}")
            for why in spec["unwired"]:
                print(f"    unwired {why}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
