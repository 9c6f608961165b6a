"""Acceptance checks: a spec's expected outcomes, its limits and its inputs become checks
(`autogenesis.acceptance`), and each check can fail on a bad answer as well as pass on a
good one. A build runs them on the system's answers and on one plain call of the model."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from scripted_build import BuildAnswers, InProcessRunner, always, build_model, system_answers

from autogenesis.acceptance import checks_for, run_checks
from autogenesis.artefacts import Deployment, PromptSet, TestReport
from autogenesis.build.orchestrator import Build, BuildOptions, BuildResult, Progress, Seams
from autogenesis.build.prompts import Prompts
from autogenesis.cli.build import min_pass_problem, summary
from autogenesis.inspection.report import inspect_run
from autogenesis.llm.testing import FunctionModel, asks_for
from autogenesis.runtime.model_agent import ModelJudgement
from autogenesis.store import Store

from conftest import REPO


def kinds(given: str, expected: str, constraints=(), agents=()) -> dict[str, list[str]]:
    checks, _ = checks_for(given, expected, constraints, agents)
    found: dict[str, list[str]] = {}
    for check in checks:
        found.setdefault(check.kind, []).append(check.text)
    return found


def results(given: str, expected: str, answer: str, constraints=(), agents=(),
            route=None) -> dict[str, bool | None]:
    checks, _ = checks_for(given, expected, constraints, agents)
    return {r.text: r.passed for r in run_checks(checks, answer, route)}


@pytest.mark.parametrize(("given", "expected", "good", "bad"), [
    ("photosynthesis", "a lesson that mentions light, water and carbon dioxide",
     "Plants use light, water and carbon dioxide to make sugar.", "Plants are green."),
    ("Two days in Lisbon", "a plan for the city",
     "Day 1 in Lisbon: the castle.", "I'm so glad you enjoyed Paris."),
    ("a reply", "an apologetic reply with no refund promise",
     "We are sorry for the trouble.", "Sorry: we promise a refund tomorrow."),
    ("a topic", "an article of 10 to 20 words",
     "This answer has exactly twelve words in it to meet the range.", "Too short."),
    ("the water cycle", "a quiz with two questions",
     "What is evaporation? What is rain?", "Evaporation is water turning to vapour."),
    ("an abstract", "a reject decision",
     "Decision: reject. The claim is unsupported.", "Decision: accept, a fine paper."),
    ("12500 EUR to NL", "not suspicious", "This payment is not suspicious.",
     "Suspicious: amount too high."),
    ("fix the door hinge", "the handyman wins and describes the repair",
     "The handyman wins: he oils the hinge.", "The gardener wins."),
    ("a Fibonacci function", "a function whose tests pass",
     "```python\ndef fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n```",
     "```python\ndef fib(n) return n\n```"),
    ("a payment on 2026-05-04", "a call on 2026-05-06", "Call on 2026-05-06.",
     "Call in two days."),
    ("database CPU at 98%", "severity critical", "Severity: critical. The database is busy.",
     "Severity: low."),
    ("My order arrived broken", "labelled complaint", "Label: complaint. Sorry!",
     "Label: praise."),
])
def test_every_kind_of_check_passes_a_good_answer_and_fails_a_bad_one(
        given: str, expected: str, good: str, bad: str):
    assert all(v is not False for v in results(given, expected, good).values()), \
        results(given, expected, good)
    assert any(v is False for v in results(given, expected, bad).values()), \
        results(given, expected, bad)


def test_limits_apply_to_every_example_and_routes_only_to_the_system():
    found = kinds("I was charged twice", "handled by billing, offers a refund check",
                  constraints=["Replies stay under 80 words and are polite."],
                  agents=["billing", "sales"])
    assert found["route"] == ["handled by billing"]
    assert found["words_max"] == ["at most 80 words"]
    assert found["rubric"]       # "offers a refund check": left to a model, marked so
    single = results("I was charged twice", "handled by billing", "We refund you.",
                     agents=["billing"])
    assert single == {"handled by billing": None}   # one plain call has no route
    system = results("I was charged twice", "handled by billing", "We refund you.",
                     agents=["billing"], route=["triage", "sales"])
    assert system == {"handled by billing": False}


def test_an_example_no_rule_can_check_says_why():
    checks, why = checks_for("40 croissants Friday", "", [])
    assert checks == [] and "no expected outcome" in why
    checks, why = checks_for("a job", "a winning warehouse and its bid", [])
    assert [c.by for c in checks] == ["model"] and "nothing a rule can check" in why


def built(store: Store, tmp_path: Path, system=system_answers, *, model=None,
          spec: str = "trip_planner.md", **options) -> tuple[BuildResult, list[Progress]]:
    """A scripted build of `examples/<spec>` (one iteration) whose system answers with
    `system`, and its progress news."""
    news: list[Progress] = []
    build = Build(store, model or build_model(),
                  options=BuildOptions(out_dir=tmp_path / "out", **{"max_iterations": 1,
                                                                   **options}),
                  seams=Seams(runner=InProcessRunner(system)), progress=news.append)
    result = asyncio.run(build.run((REPO / "examples" / spec).read_text(), spec_path=spec))
    return result, news


def test_a_system_that_ignores_its_input_fails_its_checks_and_the_summary_says_so(
        service_store: Store, tmp_path: Path):
    """The Lisbon-for-Paris case: every answer of the system is about Lisbon."""
    lisbon = always("I'm so glad you enjoyed your Lisbon trip: food and old streets.")
    result, news = built(service_store, tmp_path, lisbon, budget_s=3600)
    # Fewer checks than one call: testing sent the work back to prompt design, which ran
    # again with the reasons; after its rounds the build went on with the best version.
    reworks = [p for p in news if p.stage == "testing" and p.status == "rework"]
    assert [p.detail for p in reworks] == ["back to prompt_design"] * 2
    redone = [s for s in [*result.stages, *result.abandoned] if s.stage == "prompt_design"]
    assert len(redone) == 2    # the second rework had nothing new to try: a loop
    assert any(p.stage == "prompt_design" and p.status == "loop" for p in news)
    testing = [s for s in result.stages if s.stage == "testing"]
    assert [s.kept for s in testing] == [True] and not testing[0].approved
    assert testing[0].verdict.shortfall and testing[0].verdict.rework == "prompt_design"
    assert [s.stage for s in result.shortfalls] == ["testing"]
    assert any(p.status == "kept" and "its rework failed" in p.detail for p in news)
    assert result.package_path.is_dir() and result.artefact(Deployment).installed
    seen = inspect_run(service_store, result.run_id)     # what the build went on with
    aside = [s.artefact for s in result.abandoned if s.stage == "testing"]
    assert seen.tests == result.artefact(TestReport) and aside and seen.tests not in aside
    assert result.artefact(PromptSet) == redone[0].artefact
    report = result.artefact(TestReport)
    paris = report.scenarios[1]
    assert paris.input.startswith("One rainy day in Paris")
    assert any(c.text.startswith("mentions Paris") and c.passed is False for c in paris.checks)
    single = next(b for b in report.baselines if b.example == 2)
    assert any(c.text.startswith("mentions Paris") and c.passed for c in single.checks)
    passed, judged = report.passes("system")
    one_call, _ = report.passes("single")
    assert passed < judged and one_call > passed
    advisory = {c.name: c for c in testing[0].verdict.checks}
    assert advisory["matches_one_call"].passed is False
    assert advisory["examples_pass_checks"].passed is False
    lines = summary(result)
    assert lines[-1] == (f"built trip_planner: passes {passed}/{judged} of its spec's checks; "
                         f"one call of the same model passes {one_call}/{judged}")
    assert lines[-2].startswith(f"  checks: {judged - passed} of {judged} fail, so the system "
                                "does not yet do what its spec's examples ask")
    assert min_pass_problem(report, 0.0) is None
    assert f"passes {passed}/{judged}" in (min_pass_problem(report, 0.99) or "")
    unjudged = report.model_copy(update={"scenarios": []})
    assert "no check a rule can run" in (min_pass_problem(unjudged, 0.5) or "")


def test_a_rework_that_makes_up_the_shortfall_is_approved(service_store: Store,
                                                           tmp_path: Path):
    """The editor answers about Paris only with the one call's prompt: prompt design's
    first try (the first example only) cannot tell, its rework (every example) can."""
    lisbon = "Two days in Lisbon: food and old streets, total 150 euros."

    def answer(messages) -> str:
        asked = messages[-1]["content"]
        if "Paris" in asked:
            return "One day in Paris: the Louvre." if "Do all of this yourself" in \
                messages[0]["content"] else "Lisbon again."
        return lisbon

    answers = BuildAnswers()

    def build_reply(messages, schema, settings):
        if schema is None and (messages[-1]["content"].startswith("Task:")   # a trial
                               or "Do all of this yourself" in messages[0]["content"]):
            return answer(messages)
        return answers(messages, schema, settings)

    def system(messages, schema, settings):
        return answer(messages) if schema is None else system_answers(messages, schema,
                                                                      settings)

    result, news = built(service_store, tmp_path, system, model=FunctionModel(build_reply),
                         budget_s=3600)
    assert [p.detail for p in news if p.status == "rework"] == ["back to prompt_design"]
    testing = [s for s in result.stages if s.stage == "testing"]
    assert [s.approved for s in testing] == [False, True] and not result.shortfalls
    prompts = [s.artefact for s in result.stages if s.stage == "prompt_design"]
    assert [p.prompt("editor").variant for p in prompts] == ["template", "one_call"]
    report = result.artefact(TestReport)
    assert report.passes("system")[0] >= report.passes("single")[0]
    assert all(r.passed for r in report.scenarios[1].checks if r.text.startswith("mentions"))


def test_a_shortfall_is_not_reworked_past_the_budget(service_store: Store, tmp_path: Path):
    """Rework after a shortfall is optional work: with no budget left the build goes on
    at once with what it has, and says why."""
    lisbon = always("Lisbon, again.")
    result, news = built(service_store, tmp_path, lisbon, budget_s=0)
    assert not [p for p in news if p.status == "rework"]
    kept = [p.detail for p in news if p.status == "kept"]
    assert len(kept) == 1 and "of the budget are left" in kept[0]
    assert [s.stage for s in result.shortfalls] == ["testing"]
    events = service_store.events(result.run_id)
    assert [e["kind"] for e in events if e["kind"] == "shortfall"] == ["shortfall"]


def blueprint_of(spec: str):
    """The blueprint stages 1 and 2 make of `examples/<spec>` with a scripted model."""
    from autogenesis.build.agents import Design, Understanding, Work

    async def stages():
        model = build_model()
        req = await Understanding(model, Prompts()).produce(
            Work({"spec": (REPO / "examples" / spec).read_text()}))
        return await Design(model, Prompts()).produce(
            Work({"requirements": req.model_dump(mode="json")}))

    return asyncio.run(stages())


def test_the_vote_takes_as_many_samples_as_the_system_made_calls_and_a_majority_decides():
    from autogenesis.build.agents import Testing

    blueprint = blueprint_of("contract_delegation.md")
    example = blueprint.examples[0].model_dump()
    sampled: list[tuple[float, int]] = []

    def mostly_handyman(messages, schema, settings):
        sampled.append((settings.temperature, settings.seed))
        return "The gardener wins." if settings.seed % 3 == 0 else "The handyman wins."

    testing = Testing(FunctionModel(mostly_handyman), Prompts(), store=None,
                      runner_factory=InProcessRunner)
    run = asyncio.run(testing.vote(blueprint, 1, example, 5))
    assert run.arm == "vote" and run.calls == 5 and len(sampled) == 5
    assert {t for t, _ in sampled} == {0.7} and sorted(s for _, s in sampled) == [1, 2, 3, 4, 5]
    assert [(r.text, r.passed, r.detail) for r in run.checks] == [
        ("handyman wins", True, "4 of 5 samples")]
    assert "handyman" in run.answer

    def mostly_gardener(messages, schema, settings):
        return "The handyman wins." if settings.seed == 1 else "The gardener wins."

    testing = Testing(FunctionModel(mostly_gardener), Prompts(), store=None,
                      runner_factory=InProcessRunner)
    run = asyncio.run(testing.vote(blueprint, 1, example, 3))
    assert [(r.passed, r.detail) for r in run.checks] == [(False, "1 of 3 samples")]
    assert "gardener" in run.answer     # the sample shown agrees with the vote


def test_a_build_reports_the_vote_beside_the_system_on_its_decisions(
        service_store: Store, tmp_path: Path):
    result, _ = built(service_store, tmp_path, spec="contract_delegation.md")
    report = result.artefact(TestReport)
    vote = [b for b in report.baselines if b.arm == "vote"]
    assert [b.calls for b in vote] == [report.scenarios[0].calls] and vote[0].calls > 1
    system, voted, decided = report.decisions()
    assert decided == 1
    assert f"on its 1 decision(s) the system passes {system}, a vote of {vote[0].calls} " \
        f"calls {voted}" in summary(result)[-1]
    testing = next(s for s in result.stages if s.stage == "testing")
    assert "matches_vote" in {c.name for c in testing.verdict.checks}


def prompt_set(trial_answer: str):
    from autogenesis.build.agents import Design, PromptDesign, Understanding, Work
    from autogenesis.build.prompts import Prompts
    from autogenesis.llm.testing import FunctionModel

    def reply(messages, schema, settings):
        if schema is not None:
            return ""
        if messages[-1]["content"].startswith("Task:"):
            return trial_answer          # every agent's trial run on example 1
        return "You plan trips: read the wishes and write the part of the plan asked."

    async def stages():
        model = FunctionModel(reply)
        spec = (REPO / "examples" / "trip_planner.md").read_text()
        req = await Understanding(model, Prompts()).produce(Work({"spec": spec}))
        bp = await Design(model, Prompts()).produce(Work({"requirements": req.model_dump(
            mode="json")}))
        return bp, await PromptDesign(model, Prompts()).produce(Work({"blueprint": bp.model_dump(
            mode="json")}))

    return asyncio.run(stages())


def test_a_junk_trial_answer_is_never_kept_as_a_few_shot_example():
    junk = ("I'm going to eat some of the old streets. " * 4).strip()
    _, prompts = prompt_set(junk)
    assert all(p.examples == [] for p in prompts.prompts)


def test_a_trial_answer_that_passes_its_checks_is_kept_for_its_own_input_only():
    good = "Day 1 in Lisbon: a food tour and old streets. Day 2: museums. Total 180 euros."
    blueprint, prompts = prompt_set(good)
    editor = prompts.prompt(blueprint.exit)
    assert editor is not None and [s.output for s in editor.examples] == [good]

    from autogenesis.llm.testing import FunctionModel
    from autogenesis.runtime.model_agent import ModelAgent, PromptConfig

    agent = ModelAgent("editor", model=FunctionModel(lambda *a: "x"), prompt=PromptConfig(
        system="s", examples=((editor.examples[0].input, good),)))
    own = agent.task_messages(editor.examples[0].input)
    other = agent.task_messages("One rainy day in Paris with kids")
    assert [m["content"] for m in own if m["role"] == "assistant"] == [good]
    assert not any(m["role"] == "assistant" for m in other)   # no Lisbon in a Paris run


# --- the model's prose in the docs ---------------------------------------------------

TRIP = ("Trip planner. Plan a short city trip from one sentence of wishes. researcher: "
        "suggests two or three sights for each day that fit the wishes.")
ASKED = ("System: Trip planner\nGoal: Plan a short city trip.\nAgent: researcher (worker)\n"
         "Duties: suggests two or three sights for each day that fit the wishes\n\n"
         "In one sentence of under 30 words, say what researcher does for the system.")


@pytest.mark.parametrize(("text", "problem"), [
    ("The researcher suggests two or three sights for each day that fit the wishes.", None),
    ("It reads the wishes and suggests sights for each day of a short city trip.", None),
    ("The system is a collaborative tool that allows individuals to plan and organize their "
     "daily lives.", "says what the spec does not: collaborative, tool"),
    ("System: Trip planner Duties: suggests two or three sights for each day.",
     "echoes its prompt: \"duties suggests two or three sights\""),
    ("In one sentence of under 30 words, the researcher suggests sights.",
     "echoes its prompt"),
    ("The researcher suggests sights. " * 4, "repeats a phrase"),
])
def test_prose_checks_catch_repetition_echoed_prompts_and_claims_the_spec_does_not_make(
        text: str, problem: str | None):
    from autogenesis.acceptance.prose import prose_problems

    found = prose_problems(text, source=TRIP, prompt=ASKED)
    if problem is None:
        assert found == []
    else:
        assert any(problem in p for p in found), found


def test_docs_fall_back_to_the_spec_s_words_and_the_approver_rejects_bad_prose_kept(
        service_store: Store, tmp_path: Path):
    from autogenesis.artefacts import Blueprint, Docs
    from autogenesis.build.agents.documentation import docs_checks
    answers = BuildAnswers()

    def reply(messages, schema, settings):
        asked = messages[-1]["content"]
        if schema is None and "say what this system does" in asked:
            return ("The system is a collaborative tool that allows individuals to plan and "
                    "organize their daily lives.")
        if schema is None and "say what researcher does" in asked:
            return "System: Trip planner Duties: Suggests two or three sights for each day."
        if schema is None and "say what budgeter does" in asked:   # the researcher's duty
            return "The budgeter suggests two or three sights for each day of the trip."
        if schema is None and "say what planner does" in asked:
            return "The planner reads the traveller's wishes and breaks the trip into days."
        return answers(messages, schema, settings)

    result, _ = built(service_store, tmp_path, model=FunctionModel(reply),
                      max_iterations=2, stop_after="documentation")
    docs, blueprint = result.artefact(Docs), result.artefact(Blueprint)
    pieces = {p.where: p for p in docs.prose}
    assert pieces["overview"].by == "spec" and pieces["overview"].kept == blueprint.goal
    assert "collaborative" in pieces["overview"].written
    assert pieces["agent researcher"].by == "spec"
    assert any("echoes its prompt" in p for p in pieces["agent researcher"].problems)
    assert pieces["agent planner"].by == "model"
    assert pieces["agent budgeter"].problems == ["it gives researcher's duty"]
    readme = next(f.content for f in docs.files if f.path == "README.md")
    assert "collaborative" not in readme and blueprint.goal in readme
    assert "| this system |" in readme and "| one call of the same model |" in readme
    checks = {c.name: c for c in docs_checks(docs, blueprint, result.package)}
    assert checks["prose_checked"].passed

    # docs that kept the bad overview are rejected, and so are docs whose prose is not in them
    bad = pieces["overview"].model_copy(update={"by": "model",
                                                "kept": pieces["overview"].written})
    files = [f.model_copy(update={"content": f.content.replace(blueprint.goal, bad.kept)})
             if f.path == "README.md" else f for f in docs.files]
    kept_bad = docs.model_copy(update={"files": files, "prose": [bad, *docs.prose[1:]]})
    failed = {c.name: c for c in docs_checks(kept_bad, blueprint, result.package)}
    assert not failed["prose_checked"].passed
    assert "overview: it says what the spec does not" in failed["prose_checked"].detail
    lost = docs.model_copy(update={"prose": [pieces["agent planner"].model_copy(
        update={"kept": "The planner plans."})]})
    assert "not in the docs" in {c.name: c for c in docs_checks(
        lost, blueprint, result.package)}["prose_checked"].detail


def test_the_package_s_tests_hold_the_recorded_answers_to_the_spec_s_checks(
        service_store: Store, tmp_path: Path):
    import json
    import subprocess
    import sys

    lisbon = always("Day 1 in Lisbon: food and old streets. Total 150 euros.")
    result, _ = built(service_store, tmp_path, lisbon, budget_s=0)
    package = result.package_path
    recorded = json.loads((package / "tests" / "recorded_answers.json").read_text())
    assert [r["example"] for r in recorded] == [1, 2]
    verdicts = [c["passed"] for r in recorded for c in r["checks"] if c["passed"] is not None]
    assert True in verdicts and False in verdicts      # Lisbon passes, Paris fails

    def pytest_in_package(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rxX", *args],
                              cwd=package, capture_output=True, text=True, timeout=300)

    ran = pytest_in_package("tests/test_acceptance.py")
    assert ran.returncode == 0, ran.stdout[-2000:]
    assert f"{verdicts.count(True)} passed" in ran.stdout
    assert f"{verdicts.count(False)} xfailed" in ran.stdout and "mentions Paris" in ran.stdout
    live = pytest_in_package("-m", "acceptance", "--collect-only", "tests/test_acceptance.py")
    assert live.stdout.count("::test_the_live_system_meets") == 2, live.stdout[-800:]

    # an answer that no longer meets a check it met fails the package's tests
    recorded[0]["answer"] = "Sorry, I cannot help."
    (package / "tests" / "recorded_answers.json").write_text(json.dumps(recorded))
    broken = pytest_in_package("tests/test_acceptance.py")
    assert broken.returncode == 1 and "mentions Lisbon" in broken.stdout


# --- held-out cases (--eval) ---------------------------------------------------------


@pytest.mark.parametrize(("content", "error"), [
    ("", "has no cases"),
    ('{"input": "Rome"}\nnot json\n', "line 2: not JSON"),
    ('["Rome"]', "line 1: a case is a JSON object"),
    ('{"input": "  "}', '"input" must be a non-empty string'),
    ('{"input": "Rome", "expect": "a plan"}', "unknown field(s) expect"),
    ('{"input": "Rome", "checks": [{"mentions": []}]}', "check 1: give a word or a list"),
    ('{"input": "Rome", "checks": [{"smells": "nice"}]}', "unknown check 'smells'"),
    ('{"input": "Rome", "checks": [{"words_max": "short"}]}', "give a whole number"),
])
def test_bad_held_out_cases_are_a_clear_error_naming_the_line(tmp_path: Path, content: str,
                                                               error: str):
    from autogenesis.acceptance.cases import read_cases
    from autogenesis.errors import UserError

    path = tmp_path / "cases.jsonl"
    path.write_text(content)
    with pytest.raises(UserError, match=None) as raised:
        read_cases(path)
    assert error in str(raised.value)


def test_held_out_cases_are_scored_beside_the_examples_and_never_shown_before_testing(
        service_store: Store, tmp_path: Path):
    from autogenesis.acceptance.cases import read_cases

    path = tmp_path / "cases.jsonl"
    path.write_text('{"input": "Three days in Rome, 300 euros", "expected": "a plan that '
                    'mentions Rome", "checks": [{"mentions": ["colosseum"]}]}\n\n'
                    '{"input": "A day in Oslo"}\n')
    cases = tuple(read_cases(path))
    model = build_model()
    result, _ = built(service_store, tmp_path, model=model, budget_s=0, held_out=cases)
    report = result.artefact(TestReport)
    assert [s.input for s in report.held_out] == [c["input"] for c in cases]
    rome = {r.text: r.passed for r in report.held_out[0].checks}
    assert rome["mentions colosseum"] is False and "mentions rome" in rome
    assert [b.held_out for b in report.baselines if b.arm == "single"] == [False] * 2 + [True] * 2
    assert report.passes("system", held_out=True)[1] > 0
    # only testing's one-call baseline ever put a held-out input before the build's model
    saw = [messages for messages, _, _ in model.calls
           if any("Rome" in m["content"] or "Oslo" in m["content"] for m in messages)]
    assert len(saw) == 2 and all("Do all of this yourself" in m[0]["content"] for m in saw)
    lines = summary(result)
    assert any(line.startswith("  held-out cases (--eval, never shown to prompt design or "
                               "tuning): 2; the system passes") for line in lines)
    assert service_store.run(result.run_id)["config"]["held_out"] == list(cases)


def test_testing_s_deadline_grows_with_the_held_out_cases(service_store: Store,
                                                          tmp_path: Path):
    """Each case is one more run of the system: four runs of 1.5 s pass a 5 s stage
    deadline only because the two cases add to it."""
    import time

    class Slow(InProcessRunner):
        def example(self, *args, **kwargs):
            time.sleep(1.5)
            return super().example(*args, **kwargs)

    build = Build(service_store, build_model(),
                  options=BuildOptions(out_dir=tmp_path / "out", max_iterations=1, budget_s=0,
                                       stage_timeout=5, stop_after="testing",
                                       held_out=({"input": "Rome"}, {"input": "Oslo"})),
                  seams=Seams(runner=Slow()))
    result = asyncio.run(build.run((REPO / "examples" / "trip_planner.md").read_text()))
    assert len(result.artefact(TestReport).held_out) == 2


def test_a_later_iteration_that_falls_short_leaves_the_earlier_one_standing(
        service_store: Store, tmp_path: Path):
    """Iteration 1's system passes its checks; the feedback stage asks for another (its
    approvers reject every step), whose system answers nothing useful: after its rework
    it still does worse, so iteration 1 stands."""
    good = "Lisbon and Paris: food, old streets, total 150 euros; indoor museums for kids."
    state = {"bad": False}

    def system(messages, schema, settings):
        if asks_for(schema, ModelJudgement):
            return {"approved": False, "feedback": "too vague"}
        if schema is None:
            return "Nothing to say." if state["bad"] else good
        return system_answers(messages, schema, settings)

    def news(event: Progress) -> None:
        if event.stage == "feedback" and event.status == "approved":
            state["bad"] = True

    build = Build(service_store, build_model(),
                  options=BuildOptions(out_dir=tmp_path / "out", max_iterations=2,
                                       budget_s=3600),
                  seams=Seams(runner=InProcessRunner(system)), progress=news)
    result = asyncio.run(build.run((REPO / "examples" / "trip_planner.md").read_text()))
    assert result.iterations == 1 and not result.shortfalls
    assert any(s.stage == "testing" and s.iteration == 2 for s in result.abandoned)
    report = result.artefact(TestReport)
    assert report.passes("system")[0] >= report.passes("single")[0]
    assert all(s.answer == good for s in report.scenarios)
    errors = service_store.events(result.run_id, "error")
    assert [e["detail"]["kept_iteration"] for e in errors] == [1]
    assert "matches_one_call" in errors[0]["detail"]["failed"]


def test_the_overview_in_the_spec_s_words_says_what_the_workers_do_when_no_goal_is_stated():
    from autogenesis.build.agents.documentation import spec_overview

    stated = blueprint_of("trip_planner.md")
    assert spec_overview(stated) == stated.goal
    untold = stated.model_copy(update={"goal": stated.title})
    assert spec_overview(untold) == (
        "Trip planner: a team that reads the traveller's wishes and breaks the trip into "
        "days, suggests two or three sights for each day that fit the wishes, estimates the "
        "cost of each day and flags anything over budget, writes the final plan as a short, "
        "friendly itinerary.")


def test_a_route_is_read_from_the_senders_without_the_system_s_prefix():
    """Found building a router spec: the sandboxed system's senders are 'help_desk/billing',
    and 'handled by billing' failed although billing answered."""
    from autogenesis.artefacts import Scenario
    from autogenesis.build.agents.testing import checked

    example = {"input": "I was charged twice", "expected": "handled by billing"}
    example["checks"] = [c.model_dump() for c in checks_for(
        example["input"], example["expected"], [], ["billing", "sales"])[0]]
    ran = Scenario(example=1, input=example["input"], reached_exit=True, answer="Refunded.",
                   path=["user", "help_desk/front_desk", "help_desk/billing"])
    assert ran.route == ["billing", "front_desk", "user"]
    assert [r.passed for r in checked(ran, example).checks if r.kind == "route"] == [True]
    elsewhere = ran.model_copy(update={"path": ["user", "help_desk/sales"]})
    assert [r.passed for r in checked(elsewhere, example).checks if r.kind == "route"] == [False]


ROUTER_SPEC = """# Help desk

Route each customer message to one specialist.

Route to:
- billing: refunds, invoices, payment failures
- sales: prices, plans, upgrades

The front desk agent picks the specialist; the specialist answers.

Examples:
- Input: "I was charged twice this month" -> Expected: handled by billing
- Input: "How much is the team plan?" -> Expected: handled by sales
"""


def test_a_wrong_route_is_in_the_verdict_even_with_no_other_check(service_store: Store,
                                                                  tmp_path: Path):
    """Found trying ../shared/specs/support.md: a system that sent an example to the wrong
    specialist ended on "its spec's examples give no check a rule can run". The scripted
    system always picks the first specialist, so one of the two examples goes astray."""
    build = Build(service_store, build_model(),
                  options=BuildOptions(out_dir=tmp_path / "out", max_iterations=1),
                  seams=Seams(runner=InProcessRunner(system_answers)))
    result = asyncio.run(build.run(ROUTER_SPEC, spec_path="spec.md"))
    report = result.artefact(TestReport)
    assert report.routes() == (1, 2) and report.passes("system")[1] == 0
    lines = summary(result)
    assert lines[-1] == ("built help_desk: routes 1/2 of its examples to the agent its spec "
                         "names; no other check a rule can run")
    assert any(line.startswith("  routes: 1 of 2 example(s) went to another agent")
               for line in lines)
