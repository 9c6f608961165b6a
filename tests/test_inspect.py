"""`autogenesis inspect`: a build read back from PostgreSQL, by run id and by package folder,
and the topology diagram drawn for every topology."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from scripted_build import BuildAnswers
from test_build import run_build, spec_text
from test_replay import cli, logged_build

from autogenesis.artefacts import TOPOLOGIES, AgentDesign, Blueprint, Edge
from autogenesis.build.agents.design import Design
from autogenesis.build.agents.design import diagram as mermaid
from autogenesis.errors import StageFailed, UserError
from autogenesis.inspection import diagram
from autogenesis.inspection.report import inspect_run, run_of_folder, summary
from autogenesis.llm.testing import FunctionModel, asks_for
from autogenesis.runtime.model_agent import ModelJudgement
from autogenesis.store import Store

SVG = "{http://www.w3.org/2000/svg}"


def blueprint(topology: str, workers: tuple[str, ...] = ("planner", "writer", "editor"),
              chief: str = "lead") -> Blueprint:
    kind = {"pipeline": "approver", "feedback_loop": "approver", "router": "router",
            "hierarchy": "manager", "contract_net": "manager",
            "consensus": "aggregator"}[topology]
    agents = [AgentDesign(name=w, kind="worker", role="worker", duties=[f"{w} things"])
              for w in workers]
    agents.append(AgentDesign(name=chief, kind=kind, role=kind, duties=["judge the work"]))
    edges = Design._edges(topology, chief, list(workers), final_review=False)
    edges += [Edge(source=chief, target=w, kind="approves") for w in workers]
    entry, exit_ = Design._entry_exit(topology, chief, list(workers))
    return Blueprint(slug="demo_system", title="Demo <system> & co", goal="a goal",
                     topology=topology, agents=agents, edges=edges, entry=entry, exit=exit_,
                     order=list(workers), diagram=mermaid(edges, agents, entry, exit_))


def test_a_pipeline_reads_left_to_right_with_its_approver_underneath():
    plan = diagram.layout(blueprint("pipeline"))
    at = {n.name: (n.column, n.row) for n in plan.nodes}
    assert at == {"input": (0, 0), "planner": (1, 0), "writer": (2, 0), "editor": (3, 0),
                  "answer": (4, 0), "lead": (2, 1)}
    lines = diagram.text(plan)
    assert lines[0].split() == ["input", "─▶", "planner", "(worker)", "─▶", "writer",
                                "(worker)", "─▶", "editor", "(worker)", "─▶", "answer"]
    assert "lead (approver)" in lines[1]
    assert "lead ┄▶ approves planner, writer, editor" in lines


def test_a_hierarchy_fans_out_from_its_manager():
    plan = diagram.layout(blueprint("hierarchy"))
    at = {n.name: (n.column, n.row) for n in plan.nodes}
    assert at["input"] == (0, 0) and at["lead"] == (1, 0)
    assert {at[w] for w in ("planner", "writer", "editor")} == {(2, 0), (2, 1), (2, 2)}
    assert at["answer"] == (3, 0)
    first = diagram.text(plan)[0]
    assert "planner (worker)" in first and first.count("─▶") == 2  # no arrow planner->answer


@pytest.mark.parametrize("topology", TOPOLOGIES)
def test_every_topology_draws_as_valid_svg_with_a_node_per_agent(topology: str):
    bp = blueprint(topology)
    plan = diagram.layout(bp)
    places = [(n.column, n.row) for n in plan.nodes]
    assert len(places) == len(set(places)) == len(bp.agents) + 2
    assert plan.node("input").column == 0
    assert plan.node("answer").column == plan.columns - 1
    root = ET.fromstring(diagram.svg(plan))       # well-formed, names escaped
    assert root.tag == f"{SVG}svg"
    groups = [g for g in root.iter(f"{SVG}g") if "node" in g.get("class", "")]
    assert sorted(g.find(f"{SVG}title").text for g in groups) == sorted(
        ["input", "answer", *(a.name for a in bp.agents)])
    edges = [p for p in root.iter(f"{SVG}path") if "edge" in p.get("class", "")]
    assert len(edges) == len(bp.edges) + 2
    assert "Demo &lt;system&gt; &amp; co" in diagram.svg(plan)


def test_a_prompt_summary_is_its_first_sentence():
    assert summary("You plan trips.  You answer in JSON. Always.") == "You plan trips."
    assert summary("v1.2 is fine. Next.") == "v1.2 is fine."
    long = summary("word " * 60)
    assert len(long) == 120 and long.endswith("…")


# --- a logged build, inspected ------------------------------------------------------


@pytest.fixture(scope="module")
def built(service_url: str, tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("inspect")
    with Store(service_url, spool_dir=tmp / "spool") as store:
        yield store, logged_build(store, tmp / "out")


def test_inspect_a_run_shows_agents_verdicts_results_and_provenance(built):
    store, result = built
    seen = inspect_run(store, result.run_id, result.package_path)
    bp = seen.blueprint
    assert bp is not None and seen.run["status"] == "succeeded"
    assert [a.name for a in seen.agents] == [a.name for a in bp.agents]
    assert all(a.prompt and a.variant and a.score is not None for a in seen.agents)
    stages = ("understanding", "design", "prompt_design", "generator", "testing", "tuning",
              "documentation", "deployment", "feedback")
    assert tuple(seen.verdicts) == stages
    assert sum(len(r) for r in seen.verdicts.values()) == store.count("verdicts", result.run_id)
    assert all(rounds[-1].approved for rounds in seen.verdicts.values())
    assert seen.verdicts["design"][0].kind == "Blueprint"
    assert seen.tests is not None and seen.tests.tests.passed > 0
    assert len(seen.tests.scenarios) == len(bp.examples)
    assert seen.tuning is not None and seen.deployment is not None
    assert seen.deployment.installed

    where = {f.path: f for f in seen.files}
    assert len(where) == store.count("files", result.run_id)
    assert where[f"{bp.slug}/system.py"].stage == "generator"
    assert where[f"{bp.slug}/system.py"].agent == "generator"
    assert where["README.md"].stage == "documentation"
    assert where["README.md"].agent == "documentation"
    assert where[f"dist/{seen.deployment.wheel}"].stage == "deployment"
    assert all(f.message_id and f.on_disk == "same" for f in seen.files)
    assert seen.extra_files == []
    assert seen.as_json()["system"]["mermaid"].startswith("flowchart LR")


def test_inspect_a_folder_finds_its_build_and_what_changed_since(built, tmp_path: Path,
                                                                 env: dict[str, str]):
    store, result = built
    copy = tmp_path / "copy"
    shutil.copytree(result.package_path, copy)
    assert run_of_folder(store, copy) == result.run_id
    (copy / "README.md").write_text("edited by hand\n")
    (copy / "docs" / "agents.md").unlink()
    (copy / "notes.txt").write_text("mine\n")
    assert run_of_folder(store, copy) == result.run_id      # most files still match
    seen = inspect_run(store, result.run_id, copy)
    state = {f.path: f.on_disk for f in seen.files}
    assert state["README.md"] == "changed" and state["docs/agents.md"] == "missing"
    assert sum(s == "same" for s in state.values()) == len(state) - 2
    assert seen.extra_files == ["notes.txt"]

    shown = cli(env, "inspect", str(copy), "--json")
    data = json.loads(shown.stdout)
    assert data["run"]["id"] == str(result.run_id) and data["folder"] == str(copy)
    assert data["extra_files"] == ["notes.txt"]
    svg = Path(data["diagram_svg"])
    assert svg == tmp_path / "copy.svg"
    ET.parse(svg)
    assert len(data["agents"]) == len(seen.agents)

    text = cli(env, "inspect", str(result.run_id)[:8], "--diagram", str(tmp_path / "d.svg"))
    for part in ("Agents", "Verdicts per stage", "flowchart LR", "Tests", "Tuning",
                 "Deployment", "Files and where they came from", "topology diagram written"):
        assert part in text.stdout, part
    assert (tmp_path / "d.svg").is_file()


def test_inspect_errors_are_one_clear_line(built, tmp_path: Path, env: dict[str, str]):
    store, result = built
    for target, says in ((str(tmp_path / "nothing" / "here"), "is not a folder"),
                         (str(tmp_path), "does not look like a generated package"),
                         ("zz", "is not a run id")):
        done = cli(env, "inspect", target, check=False)
        assert done.returncode == 1 and says in done.stderr, done.stderr
        assert "Traceback" not in done.stderr
    system = store.children(result.run_id)[0]["id"]
    with pytest.raises(UserError, match=f"its build is {result.run_id}"):
        inspect_run(store, system)
    unrelated = tmp_path / "pkg"
    (unrelated / "pkg").mkdir(parents=True)
    (unrelated / "pyproject.toml").write_text("[project]\nname = 'pkg'\n")
    with pytest.raises(UserError, match="no logged build wrote"):
        run_of_folder(store, unrelated)


def test_inspect_a_failed_build_shows_its_rejections(built, tmp_path: Path):
    store = built[0]
    answers = BuildAnswers()

    def reply(messages, schema, settings):
        if asks_for(schema, ModelJudgement):
            return {"approved": False, "feedback": "never good enough"}
        return answers(messages, schema, settings)

    with pytest.raises(StageFailed):
        run_build(store, spec_text("lesson_pipeline.md"), tmp_path / "out",
                  model=FunctionModel(reply), model_blocking=True, max_rounds=2)
    store.flush()
    run_id = store.runs(kind="build", limit=1)[0].id
    seen = inspect_run(store, run_id)
    assert seen.run["status"] == "failed" and "still rejected" in seen.run["error"]
    assert seen.blueprint is None and seen.agents == [] and seen.files == []
    rounds = seen.verdicts["understanding"]
    assert [r.approved for r in rounds] == [False, False]
    assert [r.version for r in rounds] == [1, 2]
    assert all(any("never good enough" in f for f in r.failed) for r in rounds)
