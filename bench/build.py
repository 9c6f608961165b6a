"""Stages 1-4 on every example spec: rounds, time per stage, agents kept.

    .venv/bin/python bench/build.py [--backend auto|llamacpp|transformers] [specs ...]

For each spec, one build with the real default model and, as the baseline in
the same process, one with a scripted model (no inference: what the bus, the
log, the rules and the sandboxed import cost). Prints per stage the rounds
to approval and seconds, the total beside the scripted baseline, how many
agents the spec names and how many of them the blueprint kept, and how many
agents it implies without naming them (named by the model / by rule). Logs to the configured
database (the embedded one by default) and writes packages to a temporary
folder.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from autogenesis.errors import AutogenesisError
from autogenesis.llm.base import Model
from autogenesis.llm.loader import load_model
from autogenesis.pipeline import Build, BuildOptions, BuildResult
from autogenesis.spec import parse_spec
from autogenesis.store import Store

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from scripted_build import build_model  # noqa: E402  (the tests' scripted model)


def build(store: Store, model: Model, spec: Path, out: Path) -> tuple[BuildResult | None, str]:
    pipeline = Build(store, model, options=BuildOptions(out_dir=out))
    try:
        return asyncio.run(pipeline.run(spec.read_text(), spec_path=str(spec))), ""
    except AutogenesisError as exc:
        return None, str(exc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("specs", nargs="*", type=Path)
    parser.add_argument("--backend", default=None)
    args = parser.parse_args()
    specs = args.specs or sorted(p for p in (REPO / "examples").glob("*.md")
                                 if p.name != "README.md")
    model = load_model(backend=args.backend)
    print(f"model: {model.identity.backend} {Path(model.identity.model_id).name}")
    header = (f"{'spec':<24}{'result':<10}{'understand':>11}{'design':>9}{'prompts':>9}"
              f"{'generate':>10}{'total s':>9}{'scripted s':>11}{'agents kept':>12}"
              f"{'implied (model/rule)':>22}")
    print(header)
    with Store.open() as store, tempfile.TemporaryDirectory() as tmp:
        for spec in specs:
            started = time.perf_counter()
            result, error = build(store, model, spec, Path(tmp) / "real")
            total = time.perf_counter() - started
            started = time.perf_counter()
            build(store, build_model(), spec, Path(tmp) / "scripted")
            scripted = time.perf_counter() - started
            named = [a.name for a in parse_spec(spec.read_text()).agents]
            if result is None:
                print(f"{spec.name:<24}{'FAILED':<10}{total:>50.1f}{scripted:>11.1f}  {error}")
                continue
            kept = {a.name for a in result.stages[1].artefact.agents}
            cells = "".join(f"{f'r{s.rounds} {s.seconds:.1f}s':>{w}}"
                            for s, w in zip(result.stages, (11, 9, 9, 10), strict=True))
            implied = [a for a in result.stages[0].artefact.agents if not a.stated]
            by_model = sum(a.named_by == "model" for a in implied)
            print(f"{spec.name:<24}{'approved':<10}{cells}{total:>9.1f}{scripted:>11.1f}"
                  f"{f'{len(kept & set(named))}/{len(named)}':>12}"
                  f"{f'{len(implied)} ({by_model}/{len(implied) - by_model})':>22}")


if __name__ == "__main__":
    main()
