"""Re-execution from the log beside the build it reproduces.

    .venv/bin/python bench/replay.py [spec]   (default: examples/research_team.md)

Builds the spec once with the real default model (the baseline), then re-executes
the logged run with every model call, sandbox result and clock reading answered
from the log, in the same process, and prints both wall times, the ratio (the goal
is at least 20x) and whether everything came out identical. Logs to the configured
database (the embedded one by default); packages go to a temporary folder.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

from autogenesis.build.orchestrator import Build, BuildOptions
from autogenesis.llm.loader import load_model
from autogenesis.replay import reexecute
from autogenesis.spec import read_spec
from autogenesis.store import Store


def main() -> None:
    spec = Path(sys.argv[1] if len(sys.argv) > 1 else "examples/research_team.md")
    model = load_model(None)
    print(f"model: {model.identity.backend} {Path(model.identity.model_id).name}")
    with Store.open() as store, tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        build = Build(store, model, options=BuildOptions(out_dir=Path(tmp) / "build"))
        result = asyncio.run(build.run(read_spec(spec), spec_path=str(spec), name=spec.stem))
        built_s = time.perf_counter() - started
        store.flush()
        started = time.perf_counter()
        again = asyncio.run(reexecute(store, result.run_id, out_dir=Path(tmp) / "again"))
        replay_s = time.perf_counter() - started
    same = sum(1 for _, logged, written in again.files if logged == written)
    print(f"{'spec':<24}{'build s':>9}{'re-execution s':>16}{'ratio':>8}  result")
    print(f"{spec.name:<24}{built_s:>9.1f}{replay_s:>16.2f}{built_s / replay_s:>7.0f}x  "
          + ("identical" if again.identical else f"diverged: {again.diverged}")
          + f" ({again.matched} records, {same}/{len(again.files)} files)")


if __name__ == "__main__":
    main()
