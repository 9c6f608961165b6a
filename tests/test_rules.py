"""Rules a spec states, from its words to code that applies them in a generated system:
reading (spec.rules), wiring (agents.wiring, the approver's rules_wired), the package's
skills.py and its tests, the runtime (facts, typed fields, topologies that leave late
members out) and a rebuild that will not overwrite what the user changed."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from uuid import uuid4

import pytest
from test_understanding import read

from autogenesis.acceptance.by_rules import depends_on_rules
from autogenesis.artefacts import AcceptanceCheck, AgentPrompt, PromptSet
from autogenesis.build.agents.design import blueprint_checks
from autogenesis.build.agents.documentation import docs_checks
from autogenesis.build.codegen import PLACEHOLDER, render_package, write_package
from autogenesis.bus import Bus
from autogenesis.errors import ConfigError, RuntimeFailure
from autogenesis.llm.schema import OneOf, schema_type
from autogenesis.llm.testing import FunctionModel, asks_for
from autogenesis.runtime.launch import save_code
from autogenesis.runtime.model_agent import (
    ModelAgent,
    ModelJudgement,
    ModelOffer,
    ModelScore,
    PromptConfig,
    render_facts,
)
from autogenesis.runtime.topologies import (
    Approval,
    Consensus,
    ContractNet,
    Pipeline,
    Router,
    TestRun,
)
from autogenesis.spec.rules import find_rules, rules_in_line

from conftest import REPO

EXAMPLES = REPO / "examples"


@pytest.mark.parametrize(("sentence", "kind", "params"), [
    ("tags the order as rush when it mentions tomorrow, asap or today",
     "flag", {"label": "rush", "join": "any", "clauses": [
         {"op": "mentions", "what": "", "terms": ["tomorrow", "asap", "today"]}]}),
    ("marks a loan as risky if the income is under 2000 and the region is not one of: "
     "north, west", "flag", {"label": "risky", "join": "all", "clauses": [
         {"op": "under", "what": "income", "n": 2000.0},
         {"op": "not_in", "what": "region", "terms": ["north", "west"]}]}),
    ("grades each essay as pass, merit or distinction", "one_of",
     {"what": "grade", "options": ["pass", "merit", "distinction"]}),
    ("files the note under a folder, one of: home, work, travel", "one_of",
     {"what": "folder", "options": ["home", "work", "travel"]}),
    ("books a check-up three weeks later", "dates", {"offsets": {"check_up": 21}}),
    ("suggests follow-up dates two days and two weeks later", "dates",
     {"offsets": {"follow_up_2_days": 2, "follow_up_14_days": 14}}),
    ("verifies that the parts sum to the total", "total", {"total_word": "total"}),
    ("rejects a receipt dated in the future; the date must not be in the future",
     "not_future", {}),
    ("a courier that does not reply within 2 minutes is skipped", "deadline",
     {"seconds": 120.0}),
    ("a bidder that has not bid after 5 seconds is skipped", "deadline", {"seconds": 5.0}),
    ("looks up the rate of each room in the tariff table", "lookup",
     {"value": "rate", "key": "room", "table": "tariff_table"}),
    ("gives a risk score from 0 to 5", "range", {"what": "risk_score", "low": 0, "high": 5}),
    ("scores each pitch for novelty from 1 to 5", "range",
     {"what": "novelty", "low": 1, "high": 5}),
    ("rates the mood from -3 to 3", "range", {"what": "mood", "low": -3, "high": 3}),
    ("judges each draft from 1 to 10", "none", {}),
    ("rates each loan low, medium or high risk", "one_of",
     {"what": "risk", "options": ["low", "medium", "high"]}),
    ("lists four ideas for the launch", "count", {"n": 4, "each": False, "noun": "ideas"}),
    ("suggests 3-5 angles for the story", "count",
     {"n": 3, "each": False, "noun": "angles", "low": 3, "high": 5}),
    ("gives at least three reasons", "count",
     {"n": 3, "each": False, "noun": "reasons", "low": 3, "high": None}),
    ("the broker awards the load to the cheapest bid", "award", {"by": "lowest"}),
    ("extracts the sender, the amount and the due date from the email", "extract",
     {"fields": ["sender", "amount", "due_date"]}),
    ("the highest offer always wins", "award", {"by": "highest"}),
    ("the broker awards the task to the best bid", "none", {}),   # best fit: the default
])
def test_a_stated_rule_is_read_with_its_parameters(sentence, kind, params):
    rules = [r for r in rules_in_line(sentence, 7) if r.kind == kind]
    if kind == "none":      # a verb we do not read as one: nothing, rather than a guess
        assert rules_in_line(sentence, 7) == []
        return
    assert len(rules) == 1, rules_in_line(sentence, 7)
    assert rules[0].params == params and rules[0].line == 7


def test_prose_without_rules_gives_none_and_examples_are_not_rules():
    assert rules_in_line("The writer drafts a friendly reply for the customer.", 1) == []
    spec = ("# Shop\n\n- **tagger**: tags the order as rush when it mentions asap\n\n"
            "Example: \"ship it asap\" -> tagged as rush, a reply 2 days later\n")
    assert [(r.kind, r.line) for r in find_rules(spec)] == [("flag", 3)]


def test_design_wires_each_rule_to_the_agent_that_states_it():
    req, bp = read((EXAMPLES / "expense_claims_check.md").read_text())
    assert [r.kind for r in req.rules] == ["total", "not_future", "flag", "dates"]
    assert {r.kind: r.agent for r in bp.rules} == {
        "total": "auditor", "not_future": "auditor", "flag": "policy", "dates": "payer"}
    assert set(bp.rule_only) == {"auditor", "policy", "payer"}
    wired = next(c for c in blueprint_checks(bp, req) if c.name == "rules_wired")
    assert wired.passed and "4 of 4" in wired.detail


def test_the_approver_rejects_a_blueprint_that_drops_or_hides_a_rule():
    req, bp = read((EXAMPLES / "ticket_triage.md").read_text())
    dropped = bp.model_copy(update={"rules": bp.rules[1:]})
    check = next(c for c in blueprint_checks(dropped, req) if c.name == "rules_wired")
    assert not check.passed and "was dropped" in check.detail
    silent = bp.model_copy(update={"rules": [bp.rules[0].model_copy(
        update={"agent": None, "why": ""}), *bp.rules[1:]]})
    check = next(c for c in blueprint_checks(silent, req) if c.name == "rules_wired")
    assert not check.passed and "no reason" in check.detail


def test_rules_nothing_can_apply_stay_unwired_with_why():
    spec = ("# Coding desk\n\n- **coder**: writes the function in Python.\n"
            "- **explainer**: explains the code; the tests are run against the function.\n"
            "- **lead**: approves the code. A coder that does not answer within 30 "
            "seconds is left out.\n\n## Flow\n\ncoder -> explainer -> lead\n")
    _, bp = read(spec)
    unwired = {r.kind: r.why for r in bp.rules if not r.wired}
    assert "a later one its tests" in unwired["run_tests"]     # nobody writes the tests
    assert "one agent at a time" in unwired["deadline"]


def prompts_for(bp) -> PromptSet:
    return PromptSet(score_rule="none", prompts=[
        AgentPrompt(agent=a.name, system=f"You are {a.name}.", output_format="text",
                    variant="template", score=1.0) for a in bp.agents])


def generated(spec: str, tmp_path: Path) -> Path:
    _, bp = read((EXAMPLES / spec).read_text())
    return write_package(render_package(bp, prompts_for(bp), "a test"), tmp_path / "out")


def test_a_generated_package_ships_its_rules_as_code_and_tests_them_without_a_model(
        tmp_path: Path):
    folder = generated("expense_claims_check.md", tmp_path)
    skills_py = (folder / "expense_check" / "skills.py").read_text()
    assert "skills.dates_after(text, {'payment': 5, 'reminder': 14})" in skills_py
    assert "skills.over(text, 500.0)" in skills_py
    agents_py = (folder / "expense_check" / "agents.py").read_text()
    assert "rules = (skills.policy_flag,)" in agents_py and "prose = False" in agents_py
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "tests/test_skills.py", "tests/test_expense_check.py"],
                         cwd=folder, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-2000:]
    assert "passed" in run.stdout and "failed" not in run.stdout
    # a rule edited to compute the wrong date fails the package's own tests
    broken = skills_py.replace("'payment': 5", "'payment': 6")
    (folder / "expense_check" / "skills.py").write_text(broken)
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "tests/test_skills.py"], cwd=folder, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 1 and "2026-10-07" in run.stdout


def test_a_stated_count_limits_the_answer_and_extracted_fields_are_typed(tmp_path: Path):
    folder = generated("ticket_triage.md", tmp_path)
    agents_py = (folder / "ticket_triage" / "agents.py").read_text()
    assert "after = (skills.responder_steps,)" in agents_py
    assert "skills.keep_items(answer, 3)" in (folder / "ticket_triage" / "skills.py").read_text()
    assert "'queue': {'enum': ['billing', 'technical', 'account']}" in agents_py
    assert not PLACEHOLDER.search(agents_py)     # a nested schema is no template leftover
    run = subprocess.run([sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider",
                          "tests/test_skills.py"], cwd=folder, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-2000:]
    assert "test_a_count_keeps_at_most_its_items[responder_steps] PASSED" in run.stdout
    spec = ("# Mail desk\n\n- **reader**: extracts the sender, the amount and the due date "
            "from the email\n- **writer**: drafts a reply\n\n## Flow\n\nreader -> writer\n")
    _, bp = read(spec)
    folder = write_package(render_package(bp, prompts_for(bp), "a test"), tmp_path / "mail")
    agents_py = (folder / bp.slug / "agents.py").read_text()
    assert "'due_date': {'type': 'string'}" in agents_py and "reader" in bp.rule_only
    assert render_facts({"queue": "billing", "steps": ["Log out.", "Log in."]}) == (
        "Queue: billing\nSteps:\n1. Log out.\n2. Log in.")


def test_a_rebuild_refuses_to_overwrite_a_file_the_user_changed(tmp_path: Path):
    _, bp = read((EXAMPLES / "ticket_triage.md").read_text())
    package = render_package(bp, prompts_for(bp), "a test")
    folder = write_package(package, tmp_path / "out")
    write_package(package, tmp_path / "out")          # untouched: rebuilt freely
    skills_py = folder / "ticket_triage" / "skills.py"
    skills_py.write_text(skills_py.read_text() + "\n# mine\n")
    (folder / "ticket_triage" / "my_rules.py").write_text("X = 1\n")
    with pytest.raises(ConfigError, match=r"ticket_triage/skills\.py.*--force"):
        write_package(package, tmp_path / "out")
    assert "# mine" in skills_py.read_text()
    write_package(package, tmp_path / "out", force=True)
    assert "# mine" not in skills_py.read_text()
    assert (folder / "ticket_triage" / "my_rules.py").read_text() == "X = 1\n"  # kept


def test_a_filled_in_data_table_survives_a_rebuild_and_the_lookup_reads_it(
        tmp_path: Path):
    _, bp = read((EXAMPLES / "quote_desk.md").read_text())
    package = render_package(bp, prompts_for(bp), "a test")
    folder = write_package(package, tmp_path / "out")
    table = folder / "quote_desk" / "data" / "price_list.csv"
    assert table.read_text() == "item,price\n"
    table.write_text("item,price\ndesk,300\nlamp,40\n")
    write_package(package, tmp_path / "out")             # no refusal, nothing lost
    assert table.read_text() == "item,price\ndesk,300\nlamp,40\n"
    probe = ("from quote_desk import skills\n"
             "print(skills.pricer_price('two desks for Leeds'))\n")
    run = subprocess.run([sys.executable, "-c", probe], cwd=folder, capture_output=True,
                         text=True, timeout=60)
    assert run.stdout.strip() == "{'price': '300'}", run.stderr


def test_depends_on_rules_names_the_checks_only_a_rule_decides():
    rules = [{"kind": "flag", "agent": "a", "params": {"label": "urgent"}},
             {"kind": "dates", "agent": "b", "params": {"offsets": {"call": 2}}}]
    decision = AcceptanceCheck(kind="decision", text="", params={"choice": "not urgent"})
    dated = AcceptanceCheck(kind="mentions", text="", params={"terms": ["2026-05-06"]})
    prose = AcceptanceCheck(kind="mentions", text="", params={"terms": ["Lisbon"]})
    assert depends_on_rules(decision, rules) and depends_on_rules(dated, rules)
    assert not depends_on_rules(prose, rules)
    assert not depends_on_rules(dated, rules[:1])
    listed = [{"kind": "count", "agent": "c", "params": {"noun": "steps", "n": 3}}]
    steps = AcceptanceCheck(kind="count", text="", params={"noun": "step", "n": 3})
    assert not depends_on_rules(steps, listed)      # a skill cuts; only the model writes


# --- the runtime ------------------------------------------------------------------


def slow_model(delays: dict[str, float]) -> FunctionModel:
    """Answers after the delay named by the first word of the system prompt."""

    async def reply(messages, schema, settings):
        who = messages[0]["content"].split()[0]
        await asyncio.sleep(delays.get(who, 0.0))
        if schema is None:
            return f"{who} says fine"
        asked = schema_type(schema)
        if asked is ModelJudgement:
            return {"approved": True, "feedback": "ok"}
        if asked is not None and issubclass(asked, OneOf):
            return {asked.field: asked.options[0]}
        if asked is ModelScore:
            return {"score": {"north": 3, "south": 8, "east": 6}.get(who, 1)}
        if asked is ModelOffer:     # a bid as a quantity: south asks least
            return {"bid": {"north": 7, "south": 3, "east": 5}.get(who, 9)}
        fields = schema["properties"]     # the typed fields a spec states: data, not a type
        return {n: f["enum"][-1] if "enum" in f else f["minimum"] for n, f in fields.items()}

    return FunctionModel(reply)


def agent(name: str, model, cls=ModelAgent) -> ModelAgent:
    return cls(name, model=model, prompt=PromptConfig(system=f"{name} agent"))


def ask(system, text: str) -> dict:
    async def go() -> dict:
        async with Bus(None) as bus:
            await system.attach(bus)
            try:
                reply = await system.ask({"input": text}, run_id=uuid4(), timeout=30)
            finally:
                await system.detach()
        return reply.body

    return asyncio.run(go())


def test_a_consensus_member_that_times_out_is_named_and_the_rest_decide():
    model = slow_model({"slow": 3.0})
    members = [agent(n, model) for n in ("quick", "slow", "steady", "chair")]
    system = Consensus("panel", members, entry="chair", exit="chair",
                       order=["quick", "slow", "steady"], member_timeout=0.5)
    body = ask(system, "Should we fund it?")
    assert body["skipped"] == {"slow": "did not answer within 0.5 s"}
    assert "Left out: slow did not answer within 0.5 s" in body["answer"]
    assert body["answer"].startswith("chair says fine")


def test_a_member_deadline_bounds_its_answer_not_its_approvers_review():
    model = slow_model({"chair": 0.8})             # a slow reviewer, quick members
    members = [agent(n, model) for n in ("quick", "steady", "chair")]
    system = Consensus("panel", members, entry="chair", exit="chair",
                       order=["quick", "steady"], member_timeout=0.5,
                       approvals={"quick": Approval("chair", 2)})
    body = ask(system, "Should we fund it?")
    assert "skipped" not in body and body["approved"] is True


def test_a_fact_every_member_gives_is_kept_once_per_member():
    class Judge(ModelAgent):
        fields = {"score": {"type": "integer", "minimum": 1, "maximum": 10}}  # noqa: RUF012

    model = slow_model({})
    members = [agent(n, model, Judge) for n in ("optimist", "skeptic")]
    system = Consensus("panel", [*members, agent("chair", model)], entry="chair",
                       exit="chair", order=["optimist", "skeptic"])
    body = ask(system, "A solar fridge")
    assert body["facts"] == {"optimist_score": 1, "skeptic_score": 1}
    assert body["answer"].startswith("Optimist score: 1\nSkeptic score: 1\n\nchair says")


def test_a_contract_net_leaves_a_silent_bidder_out_and_says_who_won_with_the_bids():
    model = slow_model({"north": 3.0})
    members = [agent(n, model) for n in ("north", "south", "east", "manager")]
    system = ContractNet("jobs", members, entry="manager", exit="manager",
                         order=["north", "south", "east"], member_timeout=0.5)
    body = ask(system, "200 parcels to the centre")
    assert body["answer"].startswith("Awarded to south (bids: south 8, east 6).")
    assert "Left out: north did not answer within 0.5 s" in body["answer"]
    everyone_late = ContractNet("jobs", [agent(n, slow_model({"north": 3.0}))
                                         for n in ("north", "manager")],
                                entry="manager", exit="manager", order=["north"],
                                member_timeout=0.3)
    with pytest.raises(RuntimeFailure, match="no member could bid: north did not answer"):
        ask(everyone_late, "200 parcels")


def test_a_stated_award_asks_for_the_bid_the_spec_describes_and_the_lowest_wins(
        tmp_path: Path):
    spec = ("# Haulage\n\nA broker agent announces each load to three carrier agents "
            "(north, south and east). Each carrier bids the price it asks in euros. The "
            "broker awards the load to the lowest bid; a carrier that does not bid within "
            "10 seconds is left out.\n\nExample: \"20 pallets to Lyon\" -> a carrier and "
            "its price.\n")
    _, bp = read(spec)
    stated = next(r for r in bp.rules if r.kind == "award")
    assert stated.agent == "" and stated.params == {
        "by": "lowest", "quantity": "the price it asks in euros"}
    folder = write_package(render_package(bp, prompts_for(bp), "a test"), tmp_path / "out")
    assert "each bids the price it asks in euros" in (folder / bp.slug / "system.py").read_text()
    model = slow_model({})
    system = ContractNet("jobs", [agent(n, model) for n in ("north", "south", "east", "broker")],
                         entry="broker", exit="broker", order=["north", "south", "east"],
                         award="lowest", quantity="the price it asks in euros")
    body = ask(system, "20 pallets to Lyon")
    assert body["answer"].startswith("Awarded to south (bids: north 7, south 3, east 5).")
    asked = [m[-1]["content"] for m, s, _ in model.calls if asks_for(s, ModelOffer)]
    assert len(asked) == 3 and "Your bid: the price it asks in euros" in asked[0]


def test_a_router_says_where_it_routed():
    model = slow_model({})
    system = Router("desk", [agent(n, model) for n in ("router", "billing", "tech")],
                    entry="router", exit="router", order=["billing", "tech"])
    body = ask(system, "my invoice is wrong")
    assert body["answer"] == "Routed to billing.\n\nbilling says fine"


def test_rule_agents_lead_the_answer_with_their_facts_and_fill_typed_fields():
    from autogenesis.runtime import skills

    def urgency(text: str) -> dict:
        return {"flag": skills.flag(bool(skills.mentioned(text, ["outage"])), "urgent")}

    def queue(text: str) -> dict:
        return {"queue": skills.choose(text, ["billing", "technical"])}

    class Triager(ModelAgent):
        rules = (urgency,)
        prose = False

    class Sorter(ModelAgent):
        rules = (queue,)
        fields = {"queue": {"enum": ["billing", "technical"]}}  # noqa: RUF012
        prose = False

    class Responder(ModelAgent):
        after = (lambda answer: skills.keep_items(answer, 1),)

    model = slow_model({})
    system = Pipeline("desk", [agent("triager", model, Triager), agent("sorter", model, Sorter),
                               agent("responder", model, Responder)],
                      entry="triager", exit="responder", order=["triager", "sorter",
                                                                "responder"])
    body = ask(system, "an outage on the billing page")
    assert body["facts"] == {"flag": "urgent", "queue": "billing"}
    assert body["answer"] == "Flag: urgent\nQueue: billing\n\nresponder says fine"
    assert [s.get("by") for s in body["steps"]] == ["rule", "rule", None]
    body = ask(system, "the site is slow")        # no queue named: the model picks one
    assert body["facts"] == {"flag": "not urgent", "queue": "technical"}
    calls = [schema for _, schema, _ in model.calls if schema and "queue" in
             schema["properties"]]
    assert calls and calls[-1]["properties"]["queue"] == {"enum": ["billing", "technical"]}


def test_prose_that_restates_a_fact_or_echoes_the_prompt_is_left_out_of_the_answer():
    from autogenesis.runtime import skills

    class Triager(ModelAgent):
        rules = (lambda text: {"flag": skills.flag("outage" in text, "urgent")},)
        prose = False

    def reply(messages, schema, settings):
        return ("Flag: urgent\nTask: a refund please\n\nFrom triager:\n"
                "Check the statement first.\n    flag: kept = True")

    system = Pipeline("desk", [agent("triager", FunctionModel(reply), Triager),
                               agent("responder", FunctionModel(reply))],
                      entry="triager", exit="responder", order=["triager", "responder"])
    body = ask(system, "a refund please")
    assert body["answer"] == ("Flag: not urgent\n\nCheck the statement first.\n"
                              "    flag: kept = True")


# --- agents that write code, and tests that really run ------------------------------

WRONG = "```python\ndef add(a, b):\n    return a - b\n```"
RIGHT = "Here it is:\n```python\ndef add(a, b):\n    return a + b\n```"
TESTS = "```python\nfrom solution import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n```"


def coding_model(first: str) -> FunctionModel:
    """The coder answers `first`, then right once told what failed; the tester writes one
    test; the reviewer approves."""

    def reply(messages, schema, settings):
        who, prompt = messages[0]["content"].split()[0], messages[-1]["content"]
        if schema is not None:
            return {"approved": True, "feedback": "ok"}
        if who == "tester":
            return TESTS
        return RIGHT if "rejected" in prompt else first

    return FunctionModel(reply)


def coding_pair(model: FunctionModel, rounds: int = 3) -> Pipeline:
    class Coder(ModelAgent):
        writes_code = True

    class Tester(ModelAgent):
        writes_code = True

    return Pipeline("smith", [agent("coder", model, Coder), agent("tester", model, Tester),
                              agent("reviewer", model)],
                    entry="coder", exit="reviewer", order=["coder", "tester"],
                    approvals={"coder": Approval("reviewer", 2)},
                    test_runs=[TestRun("coder", "tester", rounds)])


def test_failing_code_goes_back_to_its_author_with_the_pytest_output_until_it_passes(
        tmp_path: Path):
    model = coding_model(WRONG)
    body = ask(coding_pair(model), "a function add(a, b) that returns the sum")
    report = body["code"]["tests"]
    assert (report["passed"], report["failed"], report["runs"]) == (1, 0, 2)
    assert body["code"]["solution.py"] == "def add(a, b):\n    return a + b\n"
    assert body["facts"]["tests"] == "1 passed, 0 failed, 0 error(s) after 2 run(s)"
    told = [m[-1]["content"] for m, schema, _ in model.calls
            if schema is None and m[0]["content"].startswith("coder")]
    assert len(told) == 2 and "The tests failed (0 passed, 1 failed" in told[1]
    assert "assert -1 == 5" in told[1]          # pytest's own words reach the author
    assert "def add(a, b):\n    return a + b" in body["answer"]
    save_code(body, Path(tmp_path) / "code")       # `python -m <system> --code-out DIR`
    assert (tmp_path / "code" / "solution.py").read_text() == body["code"]["solution.py"]
    assert "def test_add" in (tmp_path / "code" / "test_solution.py").read_text()


def test_code_that_never_passes_stops_at_the_stated_limit_and_says_so():
    wrong = iter(["def add(a, b):\n    return a - b\n", "def add(a, b):\n    return a * b\n",
                  "def add(a, b):\n    return b - a\n"])

    def reply(messages, schema, settings):
        who = messages[0]["content"].split()[0]
        if schema is not None:
            return {"approved": True, "feedback": "ok"}
        return TESTS if who == "tester" else next(wrong)

    body = ask(coding_pair(FunctionModel(reply), rounds=2), "add two numbers")
    assert body["code"]["tests"]["runs"] == 2 and body["code"]["tests"]["failed"] == 1
    assert body["code"]["solution.py"].endswith("return a * b\n")
    assert body["facts"]["tests"].endswith("coder's code still fails its tests")

    def same(messages, schema, settings):    # the same wrong code again: no point running
        who = messages[0]["content"].split()[0]
        if schema is not None:
            return {"approved": True, "feedback": "ok"}
        return TESTS if who == "tester" else WRONG

    body = ask(coding_pair(FunctionModel(same), rounds=3), "add two numbers")
    assert body["code"]["tests"]["runs"] == 1
    assert body["facts"]["tests"].endswith("still fails its tests; coder gave the same "
                                           "answer again")


def test_a_tests_file_without_tests_goes_back_to_the_tester_not_the_author():
    tests = iter(["def add(a, b): return a + b", TESTS])   # the code again, then tests

    def reply(messages, schema, settings):
        who = messages[0]["content"].split()[0]
        if schema is not None:
            return {"approved": True, "feedback": "ok"}
        return next(tests) if who == "tester" else RIGHT

    model = FunctionModel(reply)
    body = ask(coding_pair(model), "add two numbers")
    assert body["code"]["tests"]["runs"] == 2 and body["code"]["tests"]["passed"] == 1
    told = [m[-1]["content"] for m, s, _ in model.calls
            if s is None and m[0]["content"].startswith("tester")]
    assert "no tests: the tests file has no test function" in told[1]
    assert sum(m[0]["content"].startswith("coder") for m, s, _ in model.calls
               if s is None) == 1                    # the author was not blamed


def test_code_that_does_not_parse_is_asked_for_again_with_the_parser_complaint():
    model = coding_model("def add(a, b) return a + b")
    answers = iter(["def add(a, b) return a + b", RIGHT])

    def reply(messages, schema, settings):
        if messages[0]["content"].startswith("coder") and schema is None:
            return next(answers)
        return model.fn(messages, schema, settings)

    scripted = FunctionModel(reply)
    body = ask(coding_pair(scripted), "add two numbers")
    assert body["code"]["tests"]["runs"] == 1 and body["code"]["tests"]["passed"] == 1
    repair = [m[-1]["content"] for m, s, _ in scripted.calls
              if s is None and m[0]["content"].startswith("coder")][1]
    assert "Your code does not parse (line 1" in repair


def test_a_code_spec_generates_agents_that_write_code_and_a_system_that_runs_tests(
        tmp_path: Path):
    _, bp = read((EXAMPLES / "function_smith.md").read_text())
    wired = next(r for r in bp.rules if r.kind == "run_tests")
    assert (wired.params["author"], wired.params["tester"], wired.agent) == (
        "coder", "tester", "tester")
    folder = generated("function_smith.md", tmp_path)
    agents_py = (folder / "function_smith" / "agents.py").read_text()
    assert agents_py.count("writes_code = True") == 2
    config = (folder / "function_smith" / "config.json").read_text()
    assert '"author": "coder"' in config and '"tester": "tester"' in config


def test_the_approver_rejects_docs_that_do_not_say_how_a_rule_is_applied():
    from autogenesis.artefacts import Docs
    from autogenesis.build.codegen import make_file

    _, bp = read((EXAMPLES / "ticket_triage.md").read_text())
    package = render_package(bp, prompts_for(bp), "a test")

    def verdict(readme: str):
        docs = Docs(files=[make_file("README.md", readme)], agents=[], commands=[])
        return next(c for c in docs_checks(docs, bp, package)
                    if c.name == "rules_documented")

    assert not verdict("# Ticket triage\n").passed
    listed = "\n".join(f"| {' '.join(r.text.split())} | x |" for r in bp.rules)
    assert verdict(f"# Ticket triage\n{listed}\n").passed
