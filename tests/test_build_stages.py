"""Stages 5-9 (testing, tuning, documentation, deployment, feedback) and iterations.

The build's agents answer with scripted models; the generated system's
examples run in this process with a scripted model (`InProcessRunner`),
while the package's own tests, the wheel build and the install in a fresh
venv run for real, in the sandbox. Everything is logged to real PostgreSQL.
The real default model runs the whole build in test_build_real.py.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import pytest
from scripted_build import BuildAnswers, InProcessRunner, build_model, system_answers

from autogenesis.artefacts import (
    Blueprint,
    Deployment,
    Docs,
    Feedback,
    Measure,
    Package,
    PromptSet,
    Scenario,
    TestReport,
    TuningReport,
)
from autogenesis.build.agents.documentation import command_problem, docs_checks
from autogenesis.build.agents.tuning import better, candidates, measure, tuning_checks
from autogenesis.build.orchestrator import Build, BuildOptions, BuildResult, Progress, Seams
from autogenesis.build.scenarios import Outcome
from autogenesis.errors import StageFailed
from autogenesis.llm.testing import FunctionModel, asks_for
from autogenesis.runtime.model_agent import ModelJudgement
from autogenesis.runtime.trace import TraceLog, read_trace
from autogenesis.store import Store
from autogenesis.store.memory import MemoryStore
from autogenesis.store.protocol import LogStore
from autogenesis.store.records import Event, Run

from conftest import REPO


def opened(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LogStore]:
    """The store `request.param` names, open for one test."""
    if request.param == "memory":
        yield MemoryStore()
        return
    with Store(request.getfixturevalue(f"{request.param}_url"),
               spool_dir=tmp_path / "spool") as log:
        yield log


@pytest.fixture(params=[pytest.param("memory", marks=pytest.mark.fast), "service",
                        "embedded"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LogStore]:
    """The build's control flow on every log store: in memory (the fast tier, no server)
    and on both PostgreSQL servers."""
    yield from opened(request, tmp_path)


@pytest.fixture(params=["memory", "service", "embedded"])
def every_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LogStore]:
    """A whole build's log on every store, outside the fast tier."""
    yield from opened(request, tmp_path)


@pytest.fixture
def made() -> LogStore:
    """For tests of what the stages make (their checks, docs, tuning), not of the
    control flow: one store is enough, and they stay out of the fast tier."""
    return MemoryStore()


def spec_text(name: str) -> str:
    return (REPO / "examples" / name).read_text()


def full_build(store: Store, spec: str, out: Path, *, model=None, runner=None,
               events: list[Progress] | None = None, **options) -> BuildResult:
    build = Build(store, model or build_model(), options=BuildOptions(out_dir=out, **options),
                  seams=Seams(runner=runner or InProcessRunner()),
                  progress=(events.append if events is not None else lambda _: None))
    return asyncio.run(build.run(spec, spec_path="spec.md"))


def test_a_full_build_tests_tunes_documents_deploys_and_logs(every_store: LogStore, tmp_path: Path):
    runner = InProcessRunner()
    result = full_build(every_store, spec_text("trip_planner.md"), tmp_path / "out", runner=runner)
    assert [s.stage for s in result.stages] == [
        "understanding", "design", "prompt_design", "generator", "testing", "tuning",
        "documentation", "deployment", "feedback"]
    assert all(s.approved for s in result.stages)
    blueprint, report = result.artefact(Blueprint), result.artefact(TestReport)

    # testing: the package's own tests ran in the sandbox, every example reached the exit
    assert report.tests.passed >= 3 and report.tests.failed == 0
    assert report.network == "none"
    assert len(report.scenarios) == len(blueprint.examples) == 2
    assert all(s.reached_exit and s.exit_agent == blueprint.exit for s in report.scenarios)
    assert all(s.tokens_out > 0 and s.path[0] == "user" for s in report.scenarios)

    # every system run is a logged run of its own, its trace ingested into the log
    every_store.flush()
    child = every_store.run(report.scenarios[0].run_id)
    assert child["kind"] == "system" and child["status"] == "succeeded"
    assert child["config"]["parent_run"] == str(result.run_id)
    assert every_store.count("messages", child["id"]) == len(report.scenarios[0].path)
    assert every_store.count("completions", child["id"]) > 0

    # tuning's chosen config is what the package holds
    tuning = result.artefact(TuningReport)
    written = json.loads((result.package_path / blueprint.slug / "config.json").read_text())
    assert written == tuning.config

    # docs: README, ARCHITECTURE and the reference, each agent documented
    docs = result.artefact(Docs)
    for path in ("README.md", "ARCHITECTURE.md", "docs/agents.md", "docs/operations.md"):
        assert (result.package_path / path).read_text() == \
            next(f.content for f in docs.files if f.path == path)
    agents_md = (result.package_path / "docs/agents.md").read_text()
    assert all(f"## {a.name}" in agents_md for a in blueprint.agents)
    assert "```mermaid" in (result.package_path / "ARCHITECTURE.md").read_text()

    # deployment: the wheel was built, installed in a fresh venv and its entry point run
    deployment = result.artefact(Deployment)
    wheel = result.package_path / "dist" / deployment.wheel
    assert wheel.is_file() and deployment.installed and deployment.returncode == 0
    assert deployment.package_sha256 == result.package.sha256
    assert runner.commands[-1] is not None and runner.commands[-1][0].endswith(
        "venv/bin/trip-planner")

    # provenance: each file's row names the artefact that produced its content
    files = {f["path"]: f for f in every_store.files(result.run_id)}
    assert set(files) == {f"trip_planner/{f.path}" for f in result.package.files} | {
        f"trip_planner/dist/{deployment.wheel}"}
    tuned = [a for a in every_store.artefacts(result.run_id)
             if a["stage"] == "tuning" and a["kind"] == "Package"]
    if tuned:  # tuning changed config.json
        assert files["trip_planner/trip_planner/config.json"]["artefact_id"] == tuned[0]["id"]
    assert result.artefact(Feedback).iteration == 1


def test_examples_that_never_reach_the_exit_go_back_to_prompt_design(
        store: Store, tmp_path: Path):
    """The first two runs crash; the testing stage's rejection sends work to prompt
    design with the failure attached, and the build goes on from there."""
    runner = InProcessRunner()
    crashes = [2]
    real_example = runner.example

    def flaky(*args, **kwargs):
        if crashes[0] > 0:
            crashes[0] -= 1
            return Outcome(None, [], 0.1, False, "exit code 1: scripted crash")
        return real_example(*args, **kwargs)

    runner.example = flaky
    answers = BuildAnswers()

    def reply(messages, schema, settings):
        if schema is None and "scripted crash" in messages[-1]["content"]:
            return "You are a careful agent. Answer every task in one short paragraph."
        return answers(messages, schema, settings)

    model = FunctionModel(reply)
    events: list[Progress] = []
    result = full_build(store, spec_text("trip_planner.md"), tmp_path / "out", model=model,
                        runner=runner, events=events)
    stages = [s.stage for s in result.stages]
    assert stages[:7] == ["understanding", "design", "prompt_design", "generator", "testing",
                          "prompt_design", "generator"]
    assert not result.stages[4].approved
    assert result.stages[4].verdict.rework == "prompt_design"
    assert any(e.status == "rework" and e.detail == "back to prompt_design" for e in events)
    reworked = [m[-1]["content"] for m, _, _ in model.calls
                if "scripted crash" in m[-1]["content"]]
    assert reworked, "prompt design saw the failure"
    assert result.artefact(TestReport).reached == 2


def test_examples_that_always_fail_end_the_build_with_the_reason(store: Store,
                                                                 tmp_path: Path):
    build = Build(store, build_model(), options=BuildOptions(out_dir=tmp_path / "out",
                                                             max_rounds=2),
                  seams=Seams(runner=InProcessRunner(fail=True)))
    with pytest.raises(StageFailed) as failed:
        asyncio.run(build.run(spec_text("trip_planner.md"), spec_path="spec.md"))
    assert "never reached the exit agent" in str(failed.value)
    assert not (tmp_path / "out" / "trip_planner").exists()
    store.flush()
    run = store.run(build.observer.run_id)
    assert run is not None and run["status"] == "failed"
    assert "never reached the exit agent" in run["error"]


def test_a_spent_budget_skips_the_optional_work_not_the_build(store: Store, tmp_path: Path):
    """With no budget left, tuning tries nothing and no second iteration starts; the
    required stages still run and the package is written."""
    answers = BuildAnswers()

    async def slow(messages, schema, settings):
        await asyncio.sleep(0.05)
        return answers(messages, schema, settings)

    events: list[Progress] = []
    result = full_build(store, spec_text("trip_planner.md"), tmp_path / "out",
                        model=FunctionModel(slow), runner=InProcessRunner(rejecting),
                        events=events, budget_s=0.5, max_iterations=3)
    tuning = result.artefact(TuningReport)
    assert tuning.trials and all(t.measure is None and "budget" in t.reason
                                 for t in tuning.trials)
    assert result.artefact(Feedback).next_stage == "prompt_design"
    assert result.iterations == 1
    assert any(e.status == "done" and "of the budget are left" in e.detail for e in events)
    assert (result.package_path / "dist").is_dir()


def rejecting(messages, schema, settings):
    """A generated system whose approvers reject every step."""
    if asks_for(schema, ModelJudgement):
        return {"approved": False, "feedback": "too vague"}
    return system_answers(messages, schema, settings)


def test_unapproved_steps_start_a_second_iteration_at_prompt_design(store: Store,
                                                                     tmp_path: Path):
    answers = BuildAnswers()

    def reply(messages, schema, settings):  # prompt design heeds the change request
        if schema is None and "shorter, more direct" in messages[-1]["content"]:
            return "You are a brief agent. Answer the task directly in two sentences."
        return answers(messages, schema, settings)

    events: list[Progress] = []
    result = full_build(store, spec_text("trip_planner.md"), tmp_path / "out",
                        model=FunctionModel(reply), runner=InProcessRunner(rejecting),
                        events=events, max_iterations=2)
    assert result.iterations == 2 and result.abandoned == []
    feedback = [s.artefact for s in result.stages if s.stage == "feedback"]
    assert len(feedback) == 2
    first = feedback[0]
    assert first.next_stage == "prompt_design"
    assert any(f.kind == "unapproved_steps" for f in first.findings)
    assert [s.stage for s in result.stages].count("prompt_design") == 2
    assert any(e.status == "iteration" for e in events)
    # the limit holds: the second feedback asks again, but two iterations are all
    assert feedback[1].next_stage == "prompt_design"
    prompts = result.artefact(PromptSet)
    assert any("brief agent" in p.system for p in prompts.prompts) or any(
        "brief agent" in v.system for v in prompts.scored)

    once = full_build(store, spec_text("trip_planner.md"), tmp_path / "once",
                      runner=InProcessRunner(rejecting), max_iterations=1)
    assert once.iterations == 1


def test_a_later_iteration_that_fails_leaves_the_earlier_one_standing(store: Store,
                                                                      tmp_path: Path):
    """Prompt design answers the change request with the same prompts (a loop; with one
    example it has no more to try it on): the second iteration fails, and the package of
    the first is written, with the failure logged."""
    events: list[Progress] = []
    spec = spec_text("trip_planner.md").split('- Input: "One rainy day')[0]
    result = full_build(store, spec, tmp_path / "out",
                        runner=InProcessRunner(rejecting), events=events, max_iterations=2)
    assert result.iterations == 1
    assert [e.stage for e in events if e.status == "abandoned"] == ["prompt_design"]
    assert (result.package_path / "dist" / result.artefact(Deployment).wheel).is_file()
    store.flush()
    errors = store.events(result.run_id, "error")
    assert len(errors) == 1 and errors[0]["detail"]["kept_iteration"] == 1
    assert store.run(result.run_id)["status"] == "succeeded"


def test_a_stage_rejected_twice_gets_a_better_prompt_proposed_not_applied(
        made: LogStore, tmp_path: Path):
    judged: list[str] = []
    written = iter(range(100))
    answers = BuildAnswers()

    def reply(messages, schema, settings):
        content = messages[-1]["content"]
        if asks_for(schema, ModelJudgement):
            if "Stage: prompt_design" in content:
                judged.append("x")
                return {"approved": len(judged) > 2, "feedback": "the prompts are vague"}
            return {"approved": True, "feedback": "fine"}
        if schema is None and "improve" in messages[0]["content"]:
            return "You are the prompt designer. Name every duty of the agent in its prompt."
        if schema is None:  # a different prompt each round: rework, not a loop
            return f"You are a careful agent, version {next(written)}. Do your duty."
        return answers(messages, schema, settings)

    before = (REPO / "prompts" / "prompt_design.j2").read_text()
    result = full_build(made, spec_text("trip_planner.md"), tmp_path / "out",
                        model=FunctionModel(reply), model_blocking=True, max_iterations=1)
    feedback = result.artefact(Feedback)
    assert [p.stage for p in feedback.proposals] == ["prompt_design"]
    assert feedback.proposals[0].rejections == 2
    assert "Name every duty" in feedback.proposals[0].proposal
    assert (REPO / "prompts" / "prompt_design.j2").read_text() == before
    made.flush()
    asked = [m for m in made.messages(result.run_id) if m["kind"] == "improve_prompt"]
    assert len(asked) == 1 and asked[0]["recipient"] == "prompt_design"


# --- tuning -------------------------------------------------------------------------


def scenario(n: int, *, reached: bool = True, steps: int = 4, approved: int = 4,
             tokens: int = 100, latency: float = 2.0) -> Scenario:
    return Scenario(example=n, input="x", reached_exit=reached, steps=steps,
                    steps_approved=approved, tokens_out=tokens, latency_s=latency,
                    answer="a" if reached else "")


def test_the_tuning_rule_keeps_only_measured_improvements():
    base = measure([scenario(1, approved=2), scenario(2, approved=2)])
    assert base.metric == 0.75
    assert better(measure([scenario(1), scenario(2)]), base)[0]                # higher
    assert better(measure([scenario(1, approved=2, tokens=50),
                           scenario(2, approved=2, tokens=50)]), base)[0]       # cheaper
    assert not better(measure([scenario(1, approved=2, tokens=150),
                               scenario(2, approved=2, tokens=150)]), base)[0]  # dearer
    assert not better(measure([scenario(1, reached=False), scenario(2)]), base)[0]


def test_tuning_keeps_shorter_answers_when_they_pass_review(made: LogStore, tmp_path: Path):
    """Answers as long as the token budget allows: the shorter budget gives the same
    metric for fewer tokens, so tuning keeps it and the package gets it."""
    def by_budget(messages, schema, settings):
        if schema is None:
            return " ".join(["word"] * (settings.max_new_tokens + 20))
        return system_answers(messages, schema, settings)

    result = full_build(made, spec_text("review_panel.md"), tmp_path / "out",
                        runner=InProcessRunner(by_budget), max_iterations=1)
    tuning = result.artefact(TuningReport)
    shorter = next(t for t in tuning.trials if t.setting == "max_new_tokens")
    assert shorter.kept and shorter.measure is not None
    assert tuning.after.metric >= tuning.before.metric
    assert tuning.after.tokens_out < tuning.before.tokens_out
    assert all(a["max_new_tokens"] == shorter.value for a in tuning.config["agents"].values())
    assert all(c.passed for c in tuning_checks(tuning, result.artefact(Blueprint)))


def test_tuning_stops_at_its_budget(store: Store, tmp_path: Path):
    built = full_build(store, spec_text("trip_planner.md"), tmp_path / "out",
                       stop_after="testing")
    report = built.artefact(TestReport)
    slow = report.model_copy(update={"scenarios": [
        s.model_copy(update={"latency_s": 500.0}) for s in report.scenarios]})
    config = json.loads(next(f.content for f in built.package.files
                             if f.path.endswith("config.json")))
    changes = candidates(config, built.artefact(Blueprint), built.artefact(PromptSet), slow)
    assert changes, "a spec with a word limit always has a shorter-answers candidate"
    from autogenesis.build.agents.base import Work
    from autogenesis.build.agents.tuning import Tuning
    from autogenesis.build.prompts import Prompts

    tuner = Tuning(build_model(), Prompts(), store=store, runner_factory=InProcessRunner)
    result = tuner.run_stage(Work({"blueprint": built.artefact(Blueprint).model_dump(mode="json"),
                               "prompt_set": built.artefact(PromptSet).model_dump(mode="json"),
                               "package": built.package.model_dump(mode="json"),
                               "test_report": slow.model_dump(mode="json"), "budget_s": 30},
                              run_id=built.run_id))
    assert result.trials and all(t.measure is None and not t.kept for t in result.trials)
    assert all("budget" in t.reason for t in result.trials)
    assert result.after == result.before


# --- documentation and feedback checks -----------------------------------------------


def test_docs_checks_catch_missing_agents_and_commands_that_do_not_exist(
        made: LogStore, tmp_path: Path):
    result = full_build(made, spec_text("support_router.md"), tmp_path / "out",
                        stop_after="documentation")
    docs, blueprint = result.artefact(Docs), result.artefact(Blueprint)
    package = result.package
    assert all(c.passed for c in docs_checks(docs, blueprint, package))

    def failed(d: Docs) -> set[str]:
        return {c.name for c in docs_checks(d, blueprint, package) if not c.passed}

    agents_md = next(f for f in docs.files if f.path == "docs/agents.md")
    first = blueprint.agents[0].name
    cut = agents_md.model_copy(update={"content": agents_md.content.replace(
        f"## {first}\n", "")})
    assert failed(docs.model_copy(update={"files": [
        cut if f.path == cut.path else f for f in docs.files]})) == {"every_agent_documented"}
    for bad in ("python -m support_router --fast", "autogenesis teleport 1",
                "curl http://x | sh", "docker compose run --rm web"):
        assert failed(docs.model_copy(update={"commands": [*docs.commands, bad]})) == {
            "commands_real"}, bad
    slug = blueprint.slug
    config = json.loads(next(f.content for f in package.files if f.path.endswith(
        "config.json")))
    assert command_problem(f"python -m {slug} --example 1 --json", slug, config, set()) is None
    assert command_problem("autogenesis runs --limit 10", slug, config, set()) is None
    assert command_problem("autogenesis db status", slug, config, set()) is None
    assert command_problem("autogenesis runs --bogus", slug, config, set())


# --- the sandbox's log --------------------------------------------------------------


def test_a_trace_keeps_only_its_runs_rows_and_ingests_into_the_log(store: Store,
                                                                  tmp_path: Path):
    run = store.start_run(Run(kind="system", name="traced"))
    other = uuid4()
    path = tmp_path / "trace.jsonl"
    with TraceLog(path) as trace:
        trace.log(Event("loop", run.id, agent="a", detail={"n": 1}))
        trace.log(Event("deadline", other, agent="b"))
    with path.open("a") as f:
        f.write('{"t": "runs", "r": ["x"]}\n{"t": "events", "r": [1, 2]}\n{torn')
    rows = read_trace(path, run.id)
    assert [table for table, _ in rows] == ["events"]
    assert store.ingest(rows) == 1
    store.flush()
    assert [e["kind"] for e in store.events(run.id)] == ["loop"]
    assert store.events(other) == []


def test_checks_reject_a_regressing_tuning_report(made: LogStore, tmp_path: Path):
    result = full_build(made, spec_text("trip_planner.md"), tmp_path / "out",
                        stop_after="tuning")
    tuning = result.artefact(TuningReport)
    worse = tuning.model_copy(update={"after": Measure(
        metric=tuning.before.metric - 0.1, reached=0, examples=2, steps_approved=0,
        tokens_out=1, seconds=1)})
    blueprint = result.artefact(Blueprint)
    assert {c.name for c in tuning_checks(worse, blueprint) if not c.passed} == {
        "no_regression"}
    assert isinstance(result.package, Package)


def test_calls_at_once_make_the_same_artefacts_as_one_at_a_time(made: LogStore,
                                                                tmp_path: Path):
    """Concurrency changes when calls are made, not what a stage makes of their answers:
    with a model whose answer depends only on its prompt, prompt design, the baselines
    (one call and the vote's samples) and the docs' prose come out the same."""
    from autogenesis.artefacts import Docs, PromptSet, TestReport

    one = full_build(made, spec_text("review_panel.md"), tmp_path / "one")
    four = full_build(made, spec_text("review_panel.md"), tmp_path / "four", concurrency=4)
    assert four.artefact(PromptSet) == one.artefact(PromptSet)
    assert four.artefact(TestReport).baselines == one.artefact(TestReport).baselines
    assert four.artefact(Docs).prose == one.artefact(Docs).prose
    asked = made.completions(four.run_id)
    assert any(c["agent"] == "prompt_design" for c in asked)
    produce = [m for m in made.messages(four.run_id) if m["kind"] == "produce"]
    assert produce and all(m["body"]["concurrency"] == 4 for m in produce)
    assert all("concurrency" not in m["body"] for m in made.messages(one.run_id)
               if m["kind"] == "produce")   # a one-at-a-time build's requests read as before
