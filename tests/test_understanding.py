"""Reading specs nobody here wrote: the corpus in tests/specs/ against its gold, the
approver's independent cross-check, task-only challenges, names, titles and `plan`.

Every spec of the corpus is read as a build reads it (stages 1 and 2) with a model
that never answers, so only the rules act: what those rules find is the deterministic
part of the gold. Names the model would give are written in the gold as
alternatives (`a|b`), so a rule-made name must still be one a reader accepts.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from spec_gold import score

from autogenesis.artefacts import AgentDuty, Blueprint, Requirements
from autogenesis.build.agents import Design, Understanding, Work
from autogenesis.build.agents.design import blueprint_checks
from autogenesis.build.agents.understanding import Team, requirements_checks
from autogenesis.build.prompts import Prompts
from autogenesis.llm.testing import FunctionModel, asks_for
from autogenesis.spec import parse_spec
from autogenesis.spec.mentions import mentions
from autogenesis.spec.team import name_from_spec

from conftest import REPO

CORPUS = REPO / "tests" / "specs"
GOLD = {k: v for k, v in json.loads((CORPUS / "gold.json").read_text()).items()
        if not k.startswith("_")}
TASK_ONLY = sorted(k for k, v in GOLD.items() if v.get("task_only"))


def silent(messages, schema, settings) -> str:
    return ""   # never a usable answer: only the rules act


def read(text: str, model=None) -> tuple[Requirements, Blueprint]:
    model = model or FunctionModel(silent)

    async def stages() -> tuple[Requirements, Blueprint]:
        req = await Understanding(model, Prompts()).produce(Work({"spec": text}))
        bp = await Design(model, Prompts()).produce(
            Work({"requirements": req.model_dump(mode="json")}))
        assert isinstance(req, Requirements) and isinstance(bp, Blueprint)
        return req, bp

    return asyncio.run(stages())


def failed(checks) -> list[str]:
    return [f"{c.name}: {c.detail}" for c in checks if not c.passed and c.blocking]


@pytest.mark.parametrize("name", sorted(GOLD))
def test_every_corpus_spec_reads_as_its_gold_states(name: str):
    req, bp = read((CORPUS / name).read_text())
    result = score(name, GOLD[name], req, bp)
    assert result.misses == [], f"{name}: {result.misses}"
    assert result.found == len(GOLD[name]["agents"]) == result.predicted


def test_the_corpus_covers_the_styles_it_claims():
    assert len(GOLD) >= 30 + 8 and len(TASK_ONLY) >= 8
    texts = {name: (CORPUS / name).read_text() for name in GOLD}
    styles = {
        "front matter": lambda t: t.startswith("---"),
        "table": lambda t: "|---" in t.replace(" ", ""),
        "numbered list": lambda t: "\n1. " in t,
        "name agent: duty": lambda t: " agent: " in t,
        "(role) marker": lambda t: "(approver)" in t or "(monitor)" in t,
        "no heading": lambda t: not t.lstrip("-\n").startswith("#"),
        "heading per agent": lambda t: t.count("\n## ") >= 4,
        "non-ASCII name": lambda t: any(ord(c) > 0x24F for c in t) or "é" in t,
    }
    for style, present in styles.items():
        assert any(present(t) for t in texts.values()), style


@pytest.mark.parametrize("name", sorted(GOLD))
def test_the_approver_places_every_mention_of_a_correct_reading(name: str):
    text = (CORPUS / name).read_text()
    req, bp = read(text)
    assert failed(requirements_checks(req, text)) == []
    assert failed(blueprint_checks(bp, req)) == []


MISSING = [   # (spec, agent to drop, the phrase the approver must quote) in different styles
    ("citation_checker.md", "formatter", "formatter"),          # bullets without bold
    ("grant_proposal.md", "impact", "impact"),                  # `name agent: duty`
    ("recipe_scaler.md", "converter", "converter"),             # a table of agents
    ("meeting_minutes.md", "action_tracker", "action_tracker"),  # YAML front matter
    ("cover_letter.md", "profile", "profile"),                  # prose: "A profile agent reads"
    ("school_paper.md", "reporter", "reporter"),                # prose: a role noun, no "agent"
    ("freelance_matcher.md", "copywriter", "copywriter"),       # a group after a colon
    ("headline_tester.md", "scorer", "scorer"),                 # a flow of arrows
]


@pytest.mark.parametrize(("name", "drop", "phrase"), MISSING)
def test_an_agent_the_reading_lacks_is_rejected_with_its_phrase(name: str, drop: str,
                                                                phrase: str):
    text = (CORPUS / name).read_text()
    req, _ = read(text)
    lacking = req.model_copy(update={
        "agents": [a for a in req.agents if a.name != drop],
        "loops": [lp for lp in req.loops if drop not in (lp.worker, lp.approver)],
        "flow": [f for f in req.flow if drop not in (f.source, f.target)]})
    problems = [c for c in requirements_checks(lacking, text)
                if c.name == "spec_mentions_placed" and not c.passed]
    assert problems, f"{name}: dropping {drop} was not noticed"
    assert f"mentions {phrase!r} (line " in problems[0].detail


@pytest.mark.parametrize("name", TASK_ONLY)
def test_task_only_challenges_get_a_team_named_from_their_words(name: str):
    text = (CORPUS / name).read_text()
    req, bp = read(text)
    assert len(req.agents) >= 3
    for agent in req.agents:
        assert name_from_spec(agent.name, text), agent.name
        assert agent.named_by == "rule" and not agent.stated
    assert bp.topology == "hierarchy" and bp.agent("manager") is not None


INVENTED = ("aeropanet", "duty_aeranzadeh", "smsc", "agentcs")


def inventing(messages, schema, settings):
    """What the small model once answered: strings of its own."""
    fields = (schema or {}).get("properties", {})
    if "name" in fields:
        return {"name": "aeropanet"}
    if "agents" in fields:
        return {"agents": [{"name": n, "duty": "handles the work"} for n in INVENTED]
                + [{"name": "digest_writer", "duty": "writes the digest"}]}
    return ""


def test_names_the_model_invents_are_refused():
    lesson = (REPO / "examples" / "lesson_pipeline.md").read_text()
    req, _ = read(lesson, FunctionModel(inventing))
    assert [a.name for a in req.agents if not a.stated] == [
        "topic_breaker", "idea_explainer", "quiz_writer"]
    assert sum("'aeropanet'" in note and "refused" in note for note in req.notes) == 3

    task = "# Digest\n\nTurn long news articles into short digests for busy readers.\n"
    req, _ = read(task, FunctionModel(inventing))
    assert [(a.name, a.named_by) for a in req.agents] == [("digest_writer", "model")]
    for name in INVENTED:
        assert any(repr(name) in note and "refused" in note for note in req.notes), name


def test_the_approver_rejects_a_name_that_is_not_the_specs():
    task = "# Digest\n\nTurn long news articles into short digests for busy readers.\n"
    req = Requirements(title="Digest", goal="digests", agents=[
        AgentDuty(name="smsc_agentcs", duties=["digests"], stated=False, named_by="model")])
    problems = failed(requirements_checks(req, task))
    assert any("names_from_spec" in p and "smsc_agentcs" in p for p in problems)


def test_names_are_transliterated_and_never_dropped_silently():
    spec = parse_spec("# Équipe\n\n## Agents\n\n- **réceptionniste**: lit la demande\n"
                      "- **оператор**: reads the message\n- **Übersetzer**: translates it\n"
                      "- **🙂🙂**: waves at people\n")
    assert [a.name for a in spec.agents] == ["receptionniste", "operator", "ubersetzer"]
    assert any("🙂🙂" in note for note in spec.notes)


def test_a_group_with_a_count_becomes_that_many_agents_named_by_speciality():
    spec = parse_spec("# Estimates\n\nThe lead splits the job and adds up the quotes.\n"
                      "Specialists: three, one per trade (plumbing, electrics, painting). "
                      "Each gives a price.\n\nThree reviewers (north, south) check it.\n")
    group = spec.group("specialist")
    assert group is not None and group.count == 3
    assert group.members == ["plumbing", "electrics", "painting"]
    assert all(spec.agent(m).duties == ["gives a price"] for m in group.members)


def test_a_stated_count_that_does_not_match_the_list_is_noted():
    spec = parse_spec("# Panel\n\nFour translator agents (French, German and Italian) each "
                      "translate the text, and a reviewer agent votes for the best.\n")
    assert [a.name for a in spec.agents][:3] == ["french_translator", "german_translator",
                                                 "italian_translator"]
    assert any("4 translator(s) stated, 3 listed" in note for note in spec.notes)


@pytest.mark.parametrize(("text", "title"), [
    ("### Night shift planner\n\n- **planner**: plans the shifts\n", "Night shift planner"),
    ("---\ntitle: Shift desk\n---\n\n- **planner**: plans the shifts\n", "Shift desk"),
    ("I run a small dental practice and want helpers. A scheduler agent books patients and "
     "a reminder agent texts them the day before.\n", "Small dental practice"),
    ("Small coding team. A coder agent writes the code and a tester agent tests it.\n",
     "Small coding team"),
])
def test_titles_come_from_any_heading_else_the_title_phrase(text: str, title: str):
    req, bp = read(text)
    assert req.title == title
    assert bp.slug == "_".join(title.lower().split())


def test_bad_front_matter_is_a_clear_error():
    from autogenesis.errors import SpecError

    with pytest.raises(SpecError, match="front matter is not valid YAML"):
        parse_spec("---\nagents: [a, b\n---\n\n# X\n\nSome words about a system here.\n")


EXAMPLES_BEFORE = {   # what the seven examples gave before this reader (same agents, roles)
    "blog_writer.md": ("feedback_loop", [("outliner", "worker"), ("writer", "worker"),
                                          ("editor", "approver")]),
    "contract_delegation.md": ("contract_net", [("broker", "manager"), ("cleaner", "worker"),
                                                ("gardener", "worker"),
                                                ("handyman", "worker")]),
    "lesson_pipeline.md": ("feedback_loop", [("topic_breaker", "worker"),
                                             ("idea_explainer", "worker"),
                                             ("quiz_writer", "worker"),
                                             ("reviewer", "approver")]),
    "research_team.md": ("hierarchy", [("manager", "manager"), ("historian", "worker"),
                                       ("economist", "worker")]),
    "review_panel.md": ("consensus", [("chair", "aggregator"), ("methods_reviewer", "worker"),
                                      ("novelty_reviewer", "worker"),
                                      ("clarity_reviewer", "worker")]),
    "support_router.md": ("router", [("triage", "router"), ("billing", "worker"),
                                     ("shipping", "worker"), ("catalogue", "worker")]),
    "trip_planner.md": ("pipeline", [("planner", "worker"), ("researcher", "worker"),
                                     ("budgeter", "worker"), ("editor", "worker"),
                                     ("supervisor", "approver")]),
}


@pytest.mark.parametrize("name", sorted(EXAMPLES_BEFORE))
def test_the_examples_keep_their_agents(name: str):
    text = (REPO / "examples" / name).read_text()
    req, bp = read(text)
    topology, agents = EXAMPLES_BEFORE[name]
    assert (bp.topology, [(a.name, a.kind) for a in bp.agents]) == (topology, agents)
    assert mentions(text) and failed(requirements_checks(req, text)) == []


@pytest.mark.parametrize(("text", "agents"), [
    ("# Crew\n\n- **ResearchAgent** — finds papers\n- **WriterAgent** — writes the brief\n",
     ["research", "writer"]),
    ("# Notes\n\n### Agent: Collector\nResponsibilities:\n- pulls the merged PRs\n\n"
     "### Agent: Writer\nResponsibilities:\n- writes one sentence per PR\n",
     ["collector", "writer"]),
    ("Clip finder\n\nScout - finds three quotable moments\nClipper - writes a caption for "
     "each\nHost - approves the clips\n", ["scout", "clipper", "host"]),
    ("# Cleaning\n\n```yaml\nagents:\n  - name: profiler\n    job: describes columns\n"
     "  - name: cleaner\n    job: fixes dates\n```\n", ["profiler", "cleaner"]),
    ("## Mail\n\nStep 1: The classifier agent labels the email.\nStep 2: The drafter agent "
     "writes a reply.\n", ["classifier", "drafter"]),
    ("# Thesis\n\n**Role: Structure reviewer.** Reads the outline.\n\n**Role: Supervisor.** "
     "Reads the review and approves it.\n", ["structure_reviewer", "supervisor"]),
    ("The system has a coordinator and two workers: a summarizer and a translator. The "
     "coordinator gives each document to the summarizer.\n",
     ["coordinator", "summarizer", "translator"]),
])
def test_more_styles_people_write(text: str, agents: list[str]):
    assert sorted(a.name for a in parse_spec(text).agents) == sorted(agents)


def test_a_reading_that_lost_the_named_agents_is_rejected():
    """What the issue saw: one `assistant_agent` for a spec that names five."""
    text = (CORPUS / "grant_proposal.md").read_text()
    req, _ = read(text)
    lone = req.model_copy(update={"loops": [], "flow": [], "every_step": [], "agents": [
        AgentDuty(name="assistant_agent", duties=["does it"], stated=False, named_by="rule")]})
    reasons = " ".join(failed(requirements_checks(lone, text)))
    for name in ("outline", "budget", "impact", "style", "panel"):
        assert f"mentions {name!r}" in reasons


def test_a_larger_models_own_reading_is_a_third_opinion_merged_only_where_confirmed():
    """The rules miss `oncall` here ("go to Oncall agent" has no article); the approver's
    second reading sees it, and so does the model's list, with an invented name too."""
    text = ("# Archive\n\n- **cleaner**: strips ads\n- **summarizer**: writes a summary\n\n"
            "Escalations go to Oncall agent.\n")

    def listing(messages, schema, settings):
        if asks_for(schema, Team):
            return {"agents": [{"name": "oncall", "duty": "takes the escalations"},
                               {"name": "cleaner", "duty": "strips ads"},
                               {"name": "aeropanet", "duty": "does things"}]}
        return ""

    async def understand(extract: bool) -> Requirements:
        agent = Understanding(FunctionModel(listing), Prompts(), extract=extract)
        req = await agent.produce(Work({"spec": text}))
        assert isinstance(req, Requirements)
        return req

    alone = asyncio.run(understand(False))
    merged = asyncio.run(understand(True))
    assert "oncall" not in {a.name for a in alone.agents}
    assert any("'to Oncall'" in p for p in failed(requirements_checks(alone, text)))
    assert [(a.name, a.named_by) for a in merged.agents if a.name == "oncall"] == [
        ("oncall", "model")]
    assert "aeropanet" not in {a.name for a in merged.agents}
    note = next(n for n in merged.notes if n.startswith("the model's own reading"))
    assert "1 agree" in note and "added oncall" in note and "aeropanet" in note
    assert failed(requirements_checks(merged, text)) == []


@pytest.mark.parametrize(("spec", "goal"), [
    # no sentence says what the system is for: the title stands in, never an agent's duty,
    # a label line, a flow or an example
    ("# Alert desk\n\n### Watcher\nReads an alert and rates it.\n\n### Writer\nWrites the "
     "customer message.\n\nTopology: pipeline\n\nExample: \"CPU at 98%\" -> severity high.",
     "Alert desk"),
    ("# Card checks\n\n## Agents\n- **screener**: flags odd payments\n- **officer**: approves "
     "the case\n\n## Flow\nscreener -> officer\n", "Card checks"),
    ("# Help desk\n\nSteps:\n\n1. The sorter agent labels the ticket.\n2. The fixer agent "
     "answers it.\n\nEvery answer must be under 80 words.\n", "Help desk"),
    # a sentence that does, wherever it stands
    ("# Trips\n\nTopology: pipeline\n\nPlan a short city trip from one sentence of wishes.\n\n"
     "- **planner**: splits the trip into days\n- **editor**: writes the plan\n",
     "Plan a short city trip from one sentence of wishes."),
])
def test_the_goal_is_what_the_spec_says_the_system_is_for_else_its_title(spec: str, goal: str):
    assert parse_spec(spec).goal == goal
