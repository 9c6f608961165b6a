"""`autogenesis build` on every example spec: result, tests, examples, time per stage.

    .venv/bin/python bench/build.py [--backend auto|llamacpp|transformers] [--model M]
                                    [--concurrency 1,4] [--max-iterations N] [--json]
                                    [specs ...]

For each spec, one build with the real default model (all nine stages, the
generated system running in the sandbox) and, as the baseline in the same
process, one with scripted models (the build's agents scripted, the
system's examples run in-process with a scripted model; the package's tests,
wheel build and venv install still real). Prints per spec the result (or
the stage that failed), agents in the blueprint, the package's tests,
examples reaching the exit agent, reworks and iterations, seconds per stage
(in run order, iterations summed), and the total beside the scripted
baseline; then per spec the acceptance checks the system's answers pass beside those
one plain call of the same model passes and, on the decision checks, those an
equal-budget vote passes, with calls, tokens out and seconds of each, on the checks
the spec's wired rules decide the system's and one call's passes, and whether the
build kept a system that falls short of one call.
Builds lend their model to the sandboxed runs of the system, as `autogenesis
build` does. With `--concurrency 1,4` each spec is built once per setting (model
calls an agent may have in flight at once, and runs of the system at once), the
last build of each spec is re-executed from the log, and the wall times are
printed side by side; `--json` prints one JSON object instead (keys in
bench/README.md).
Logs to the configured database (the embedded one by default) and
writes packages to a temporary folder.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

from autogenesis.acceptance.by_rules import rules_decided
from autogenesis.artefacts import Blueprint, TestReport
from autogenesis.build.orchestrator import Build, BuildOptions, BuildResult, Seams
from autogenesis.build.scenarios import Runner
from autogenesis.build.stages import STAGE_ORDER
from autogenesis.errors import AutogenesisError
from autogenesis.llm.base import Model
from autogenesis.llm.loader import load_model
from autogenesis.replay import reexecute
from autogenesis.store import Store

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from scripted_build import InProcessRunner, build_model  # noqa: E402  (the tests' doubles)

SHORT = {"understanding": "und", "design": "des", "prompt_design": "prm", "generator": "gen",
         "testing": "tst", "tuning": "tun", "documentation": "doc", "deployment": "dep",
         "feedback": "fbk"}


def build(store: Store, model: Model, spec: Path, out: Path,
          runner: Runner | None = None, **options: int) -> tuple[BuildResult | None, str]:
    pipeline = Build(store, model, options=BuildOptions(out_dir=out, serve_model=runner is None,
                                                        **options),
                     seams=Seams(runner=runner))
    try:
        return asyncio.run(pipeline.run(spec.read_text(), spec_path=str(spec))), ""
    except AutogenesisError as exc:
        return None, str(exc)


def _scripted_seconds(store: Store, spec: Path, tmp: Path) -> float:
    """The same build with scripted models: the cost of everything but inference."""
    started = time.perf_counter()
    build(store, build_model(), spec, tmp / "scripted", InProcessRunner())
    return time.perf_counter() - started


def _row(spec: Path, concurrency: int, result: BuildResult, total: float, scripted: float,
         order: list[str]) -> str:
    report: TestReport = result.artefact(TestReport)
    agents = len(result.artefact(Blueprint).agents)
    reworks = sum(not s.approved for s in [*result.stages, *result.abandoned]) + sum(
        s.rounds - 1 for s in result.stages)
    split = result.seconds_by_stage()
    return (f"{spec.name:<24}{concurrency:>5}{'approved':>9}{agents:>7}"
            f"{f'{report.tests.passed}/{report.tests.passed + report.tests.failed}':>7}"
            f"{f'{report.reached}/{len(report.scenarios)}':>6}{reworks:>7}"
            f"{result.iterations:>5}" + "".join(f"{split.get(s, 0):>6.0f}" for s in order)
            + f"{total:>9.1f}{scripted:>11.1f}")


def _checks(store: Store, spec: Path, result: BuildResult
            ) -> tuple[str, TestReport, Blueprint, float, float, bool]:
    """What the acceptance table needs of one build."""
    # testing's own calls are the baselines': greedy for one call, sampled for the vote
    calls = [c for c in store.completions(result.run_id) if c["agent"] == "testing"]
    sampled = [bool(c["settings"].get("temperature")) for c in calls]
    single_s = sum(c["latency_ms"] for c, s in zip(calls, sampled, strict=True)
                   if not s) / 1000
    vote_s = sum(c["latency_ms"] for c, s in zip(calls, sampled, strict=True) if s) / 1000
    return (spec.name, result.artefact(TestReport), result.artefact(Blueprint), single_s,
            vote_s, bool(result.shortfalls))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("specs", nargs="*", type=Path)
    parser.add_argument("--backend", default=None)
    parser.add_argument("--model", default=None,
                        help="a model file, or a server's model URL (openai://host:port/v1/M)")
    parser.add_argument("--concurrency", default="1",
                        help="comma-separated settings to build each spec with, e.g. 1,4")
    parser.add_argument("--max-iterations", type=int, default=2)
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object (keys in bench/README.md)")
    args = parser.parse_args()
    settings = [int(c) for c in args.concurrency.split(",")]
    specs = args.specs or sorted(p for p in (REPO / "examples").glob("*.md")
                                 if p.name != "README.md")
    model = load_model(args.model, backend=args.backend)
    say = (lambda *_: None) if args.json else print
    say(f"model: {model.identity.backend} {Path(model.identity.model_id).name}")
    order = list(STAGE_ORDER)
    say(f"{'spec':<24}{'conc':>5}{'result':>9}{'agents':>7}{'tests':>7}{'exit':>6}"
        f"{'rework':>7}{'iter':>5}" + "".join(f"{SHORT[s]:>6}" for s in order)
        + f"{'total s':>9}{'scripted s':>11}")
    checks: list[tuple[str, TestReport, Blueprint, float, float, bool]] = []
    figures: dict[str, dict[str, object]] = {}
    with Store.open() as store, tempfile.TemporaryDirectory() as tmp:
        for spec in specs:
            walls: dict[str, float] = {}
            stages: dict[str, dict[str, float]] = {}
            result = None
            for concurrency in settings:
                started = time.perf_counter()
                result, error = build(store, model, spec, Path(tmp) / f"real{concurrency}",
                                      runner=None, concurrency=concurrency,
                                      max_iterations=args.max_iterations)
                total = walls[str(concurrency)] = round(time.perf_counter() - started, 1)
                scripted = _scripted_seconds(store, spec, Path(tmp))
                if result is None:
                    say(f"{spec.name:<24}{concurrency:>5}{'FAILED':>9}{total:>107.1f}"
                        f"{scripted:>11.1f}  {error}")
                    continue
                say(_row(spec, concurrency, result, total, scripted, order))
                stages[str(concurrency)] = {s: round(t, 1) for s, t in
                                            result.seconds_by_stage().items()}
            row: dict[str, object] = {"wall_s": walls, "stages_s": stages}
            if len(settings) > 1 and str(settings[0]) in walls and str(settings[-1]) in walls:
                row["ratio"] = round(walls[str(settings[-1])] / walls[str(settings[0])], 3)
            if result is not None:
                again = asyncio.run(reexecute(store, result.run_id))
                row["reexecuted_identically"] = again.identical and \
                    again.package_sha256 == result.package.sha256
                row["iterations"] = result.iterations
                checks.append(_checks(store, spec, result))
            figures[spec.name] = row
    if args.json:
        print(json.dumps({"model": Path(model.identity.model_id).name,
                          "backend": model.identity.backend, "concurrency": settings,
                          "max_iterations": args.max_iterations, "specs": figures}))
        return
    if len(settings) > 1:
        print(f"\nwall seconds per concurrency ({', '.join(map(str, settings))}), "
              "the last build re-executed from the log")
        for name, row in figures.items():
            print(f"  {name:<24}{row['wall_s']}  ratio {row.get('ratio', '-')}  "
                  f"re-executed identically: {row.get('reexecuted_identically', '-')}")
    print("\nacceptance checks per spec: the system beside one call of the same model and, "
          "on the decision checks, a vote of as many sampled calls as the system made")
    print(f"{'spec':<24}{'system':>8}{'calls':>7}{'tokens':>8}{'seconds':>9}"
          f"{'one call':>10}{'calls':>7}{'tokens':>8}{'seconds':>9}"
          f"{'decisions sys/vote':>20}{'calls':>7}{'tokens':>8}{'seconds':>9}"
          f"{'rules sys/one':>15}  kept short")
    for name, report, blueprint, single_s, vote_s, short in checks:
        passed, judged = report.passes("system")
        single, single_judged = report.passes("single")
        arm = [b for b in report.baselines if b.arm == "single"]
        votes = [b for b in report.baselines if b.arm == "vote"]
        system_d, vote_d, decided = report.decisions()
        ruled = rules_decided(report, blueprint)
        rules = "-" if ruled is None else f"{ruled[0][0]}/{ruled[0][1]} {ruled[1][0]}/{ruled[1][1]}"
        print(f"{name:<24}{f'{passed}/{judged}':>8}"
              f"{sum(s.calls for s in report.scenarios):>7}"
              f"{sum(s.tokens_out for s in report.scenarios):>8}"
              f"{sum(s.latency_s for s in report.scenarios):>9.1f}"
              f"{f'{single}/{single_judged}':>10}{sum(b.calls for b in arm):>7}"
              f"{sum(b.tokens_out for b in arm):>8}{single_s:>9.1f}"
              f"{f'{system_d}/{decided} {vote_d}/{decided}' if decided else '-':>20}"
              f"{sum(b.calls for b in votes):>7}{sum(b.tokens_out for b in votes):>8}"
              f"{vote_s:>9.1f}{rules:>15}  {'yes' if short else 'no'}")


if __name__ == "__main__":
    main()
