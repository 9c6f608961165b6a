"""Stages 1-4 and the approver, with scripted models, against real PostgreSQL.

Stages 5-9 are in test_build_stages.py.

The real default model runs the same pipeline in test_build_real.py.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from scripted_build import BuildAnswers, build_model

from autogenesis.artefacts import Approval, Blueprint, Package, PackageFile, package_sha256
from autogenesis.build.agents.base import PERTURBATION
from autogenesis.build.agents.design import blueprint_checks
from autogenesis.build.agents.generator import package_checks
from autogenesis.build.agents.understanding import AgentName
from autogenesis.build.codegen import MANIFEST, check_identifier, safe_relpath, write_package
from autogenesis.build.orchestrator import Build, BuildOptions, BuildResult
from autogenesis.errors import ConfigError, StageFailed
from autogenesis.llm.testing import FunctionModel, asks_for
from autogenesis.runtime.model_agent import ModelJudgement
from autogenesis.store import Store
from autogenesis.store.protocol import LogStore

from conftest import REPO

SPECS = sorted(p.name for p in (REPO / "examples").glob("*.md") if p.name != "README.md")


def run_build(store: Store, spec: str, out: Path, model=None, **options) -> BuildResult:
    """Stages 1-4 (test_build_stages.py runs the rest)."""
    options.setdefault("stop_after", "generator")
    build = Build(store, model or build_model(), options=BuildOptions(out_dir=out, **options))
    return asyncio.run(build.run(spec, spec_path="spec.md"))


def spec_text(name: str) -> str:
    return (REPO / "examples" / name).read_text()


@pytest.mark.parametrize("name", SPECS)
def test_every_example_builds_a_package_whose_own_tests_pass(name: str, service_store: Store,
                                                             tmp_path: Path):
    result = run_build(service_store, spec_text(name), tmp_path / "out")
    assert [s.stage for s in result.stages] == ["understanding", "design", "prompt_design",
                                                "generator"]
    assert all(s.verdict.approved for s in result.stages)
    blueprint = result.stages[1].artefact
    stated = [a.name for a in result.stages[0].artefact.agents if a.stated]
    assert set(stated) <= {a.name for a in blueprint.agents}
    package = result.package_path
    assert package == tmp_path / "out" / blueprint.slug
    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                           cwd=package, capture_output=True, text=True, timeout=120)
    assert tests.returncode == 0, tests.stdout[-2000:]
    lint = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "."],
                          cwd=package, capture_output=True, text=True, timeout=60)
    assert lint.returncode == 0, lint.stdout[-2000:]


def test_every_topology_has_a_template_and_an_example(service_store: Store, tmp_path: Path):
    topologies = {run_build(service_store, spec_text(name), tmp_path / name).stages[1]
                  .artefact.topology for name in SPECS}
    assert topologies == {"pipeline", "router", "hierarchy", "contract_net", "consensus",
                          "feedback_loop"}


def test_a_build_is_logged(store: Store, tmp_path: Path):
    result = run_build(store, spec_text("trip_planner.md"), tmp_path / "out")
    store.flush()
    run = store.run(result.run_id)
    assert run["status"] == "succeeded" and run["package_path"] == str(result.package_path)
    assert store.count("artefacts", result.run_id) == 4
    assert store.count("verdicts", result.run_id) == 4
    assert store.count("files", result.run_id) == len(result.package.files)
    assert store.count("completions", result.run_id) > 0
    completions = store.completions(result.run_id)
    assert {c["agent"] for c in completions} >= {"prompt_design", "generator", "approver"}
    messages = store.messages(result.run_id)
    assert {m["recipient"] for m in messages} >= {"understanding", "design", "prompt_design",
                                                   "generator", "approver"}


def test_rejection_is_reworked_with_the_reasons(build_store: LogStore, tmp_path: Path):
    """A blocking model judge rejects the first Requirements, then approves."""
    judged = []
    answers = BuildAnswers()

    def reply(messages, schema, settings):
        if asks_for(schema, ModelJudgement):
            judged.append(messages[-1]["content"])
            first = len(judged) == 1
            return {"approved": not first, "feedback": "the goal is vague" if first else "ok"}
        return answers(messages, schema, settings)

    model = FunctionModel(reply)
    result = run_build(build_store, spec_text("lesson_pipeline.md"), tmp_path / "out",
                       model=model, model_blocking=True)
    assert result.stages[0].rounds == 2
    prompts = [m[-1]["content"] for m, schema, _ in model.calls
               if asks_for(schema, AgentName)]
    assert any("model_judgement: the goal is vague" in p for p in prompts)
    build_store.flush()
    assert build_store.count("verdicts", result.run_id) == 5  # 2 for stage 1, then 1 each
    assert build_store.events(result.run_id, "loop") == []


def test_a_worker_repeating_a_rejected_artefact_is_perturbed_then_fails(
        build_store: LogStore, tmp_path: Path):
    answers = BuildAnswers(vary=False)  # the same names every round: the same artefact

    def reply(messages, schema, settings):
        if asks_for(schema, ModelJudgement):
            return {"approved": False, "feedback": "never good enough"}
        return answers(messages, schema, settings)

    model = FunctionModel(reply)
    build = Build(build_store, model, options=BuildOptions(
        out_dir=tmp_path / "out", stop_after="generator", model_blocking=True, max_rounds=3))
    with pytest.raises(StageFailed, match="same artefact again, even with a perturbed prompt"):
        asyncio.run(build.run(spec_text("lesson_pipeline.md"), spec_path="spec.md"))
    perturbed = [m[-1]["content"] for m, schema, _ in model.calls
                 if asks_for(schema, AgentName) and PERTURBATION in
                 m[-1]["content"]]
    assert perturbed, "the retry after the loop carries the perturbation sentence"
    assert not (tmp_path / "out").exists()
    build_store.flush()
    run = build_store.run(build.observer.run_id)
    assert run is not None and run["status"] == "failed"
    loops = build_store.events(run["id"], "loop")
    assert [e["detail"]["perturbed"] for e in loops] == [False, True]


def test_rounds_run_out_when_every_artefact_is_rejected(build_store: LogStore, tmp_path: Path):
    answers = BuildAnswers()  # new names every round: no loop, just rejections

    def reply(messages, schema, settings):
        if asks_for(schema, ModelJudgement):
            return {"approved": False, "feedback": "never good enough"}
        return answers(messages, schema, settings)

    with pytest.raises(StageFailed, match="still rejected after 2 round"):
        run_build(build_store, spec_text("lesson_pipeline.md"), tmp_path / "out",
                  model=FunctionModel(reply), model_blocking=True, max_rounds=2)


def test_a_stage_past_its_deadline_fails_clearly(build_store: LogStore, tmp_path: Path):
    async def slow(messages, schema, settings):
        await asyncio.sleep(5)
        return "late"

    with pytest.raises(StageFailed, match="deadline"):
        run_build(build_store, spec_text("lesson_pipeline.md"), tmp_path / "out",
                  model=FunctionModel(slow), stage_timeout=0.5)


# --- the approver's checks ---------------------------------------------------------


def good_blueprint(service_store: Store, tmp_path: Path) -> tuple:
    result = run_build(service_store, spec_text("trip_planner.md"), tmp_path / "out")
    return result.stages[0].artefact, result.stages[1].artefact, result


def test_blueprint_checks_catch_what_is_broken(service_store: Store, tmp_path: Path):
    req, bp, _ = good_blueprint(service_store, tmp_path)
    assert all(c.passed for c in blueprint_checks(bp, req))

    def failed(blueprint: Blueprint) -> set[str]:
        return {c.name for c in blueprint_checks(blueprint, req) if not c.passed}

    no_budgeter = bp.model_copy(update={
        "agents": [a for a in bp.agents if a.name != "budgeter"],
        "edges": [e for e in bp.edges if "budgeter" not in (e.source, e.target)]})
    assert {"spec_agents_present", "duties_covered", "agents_known"} <= failed(no_budgeter)
    cut = bp.model_copy(update={"edges": [e for e in bp.edges if e.target != "editor"]})
    assert {"graph_connected", "entry_to_exit_path"} <= failed(cut)
    unapproved = bp.model_copy(update={"approvals": bp.approvals[1:]})
    assert failed(unapproved) == {"hierarchy_rule"}
    self_approved = bp.model_copy(update={"approvals": [
        Approval(worker="planner", approver="planner"), *bp.approvals[1:]]})
    assert failed(self_approved) == {"hierarchy_rule"}
    assert "names_safe" in failed(bp.model_copy(update={"slug": "json"}))


def test_package_checks_catch_syntax_placeholders_and_failing_imports(
        service_store: Store, tmp_path: Path):
    _, bp, result = good_blueprint(service_store, tmp_path)
    package = result.package

    def with_file(path: str, content: str) -> Package:
        files = [f for f in package.files if f.path != path]
        data = content.encode()
        files.append(PackageFile(path=path, content=content, size=len(data),
                                 sha256=hashlib.sha256(data).hexdigest()))
        return Package(slug=package.slug, files=files, sha256=package_sha256(files))

    def failed(pkg: Package) -> set[str]:
        return {c.name for c in asyncio.run(package_checks(pkg, bp)) if not c.passed}

    assert failed(package) == set()
    agents = f"{bp.slug}/agents.py"
    original = next(f.content for f in package.files if f.path == agents)
    assert failed(with_file(agents, original + "\ndef broken(:\n")) == {"compiles"}
    assert failed(with_file("README.md", "# {{ title }}\n")) == {"no_placeholder"}
    assert failed(with_file(agents, original + "\nraise RuntimeError('boom')\n")) == {"imports"}
    tampered = package.model_copy(update={"sha256": "0" * 64})
    assert failed(tampered) == {"hashes_match"}


# --- safety ------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["../evil.py", "/etc/passwd", "a/../../b", "a\\b", "",
                                  ".hidden/x", "a//b"])
def test_unsafe_paths_are_refused(path: str):
    with pytest.raises(ConfigError):
        safe_relpath(path)


@pytest.mark.parametrize("name", ["json", "os", "class", "match", "autogenesis", "Bad",
                                  "1x", "a-b", "x" * 70])
def test_unsafe_slugs_are_refused(name: str):
    with pytest.raises(ConfigError):
        check_identifier(name, "system slug")


def test_hostile_spec_text_lands_as_inert_data(service_store: Store, tmp_path: Path):
    spec = ('# Evil """ + __import__("os").system("id") + """\n\n## Agents\n\n'
            "- **writer**: writes '''; import os; os.system('id') ''' and {{ 7 * 7 }}\n"
            "- **checker**: reviews and approves the text\n")
    result = run_build(service_store, spec, tmp_path / "out")
    bp = result.stages[1].artefact
    assert check_identifier(bp.slug, "system slug") == bp.slug
    for file in result.package.files:
        if file.path.endswith(".py"):
            compile(file.content, file.path, "exec")  # still valid Python
    agents = (result.package_path / bp.slug / "agents.py").read_text()
    assert "7 * 7" in agents and "49" not in agents  # text, never evaluated
    assert result.stages[3].verdict.approved  # and the sandboxed import ran nothing harmful


def test_rebuild_replaces_the_package_atomically(service_store: Store, tmp_path: Path):
    out = tmp_path / "out"
    first = run_build(service_store, spec_text("trip_planner.md"), out)
    mine = first.package_path / "notes.txt"        # a file the user added: kept
    mine.write_text("my notes")
    second = run_build(service_store, spec_text("trip_planner.md"), out)
    assert second.package_path == first.package_path
    assert mine.read_text() == "my notes"
    assert sorted(p.name for p in out.iterdir()) == [first.package.slug]  # no temp folders
    written = {str(p.relative_to(second.package_path)) for p in
               second.package_path.rglob("*") if p.is_file()}
    assert written == {f.path for f in second.package.files} | {MANIFEST, "notes.txt"}
    recorded = json.loads((second.package_path / MANIFEST).read_text())["files"]
    assert set(recorded) == {f.path for f in second.package.files}


def test_write_package_refuses_a_file_in_the_way(service_store: Store, tmp_path: Path):
    result = run_build(service_store, spec_text("trip_planner.md"), tmp_path / "out")
    blocked = tmp_path / "blocked"
    blocked.mkdir()
    (blocked / result.package.slug).write_text("not a folder")
    with pytest.raises(ConfigError, match="not a folder"):
        write_package(result.package, blocked)


def test_the_model_fills_in_what_a_spec_leaves_implicit(service_store: Store, tmp_path: Path):
    """No agent named and nothing enumerated: the model lists the agents, and only names
    built from the spec's words are kept; a task-only spec becomes a hierarchy."""
    answers = BuildAnswers()

    def reply(messages, schema, settings):
        fields = (schema or {}).get("properties", {})
        if "agents" in fields:
            return {"agents": [{"name": "article_summariser", "duty": "summarises the article"},
                               {"name": "fact_checker", "duty": "checks the summary"}]}
        return answers(messages, schema, settings)

    spec = "# Digest\n\nTurn long news articles into short digests for busy readers.\n"
    model = FunctionModel(reply)
    result = run_build(service_store, spec, tmp_path / "out", model=model)
    requirements, blueprint = result.stages[0].artefact, result.stages[1].artefact
    assert [(a.name, a.named_by) for a in requirements.agents] == [
        ("article_summariser", "model")]
    assert any("'fact_checker'" in note and "refused" in note for note in requirements.notes)
    assert requirements.topology_hint == "hierarchy" == blueprint.topology
    assert "names no agents" in blueprint.topology_reason
    assert {a.name for a in blueprint.agents} == {"article_summariser", "manager"}


def test_an_implied_name_that_does_not_fit_its_duty_is_made_by_rule(
        service_store: Store, tmp_path: Path):
    def reply(messages, schema, settings):
        if asks_for(schema, AgentName):
            return {"name": "system_idle"}  # what the small model once answered
        return BuildAnswers()(messages, schema, settings)

    result = run_build(service_store, spec_text("lesson_pipeline.md"), tmp_path / "out",
                       model=FunctionModel(reply))
    implied = [(a.name, a.named_by) for a in result.stages[0].artefact.agents if not a.stated]
    assert implied == [("topic_breaker", "rule"), ("idea_explainer", "rule"),
                       ("quiz_writer", "rule")]


@pytest.mark.parametrize("name", ["nightly_check.md", "clinic_desk.md", "essay_jury.md"])
def test_stated_monitors_and_supervisors_build_a_system_that_runs(
        name: str, service_store: Store, tmp_path: Path):
    """A monitor, a router with a separate approver, an aggregator with stated loops: the
    blueprint keeps them and the generated package's own tests pass."""
    result = run_build(service_store, (REPO / "tests" / "specs" / name).read_text(),
                       tmp_path / "out")
    assert all(s.verdict.approved for s in result.stages)
    requirements, blueprint = result.stages[0].artefact, result.stages[1].artefact
    kinds = {a.name: a.kind for a in blueprint.agents}
    for agent in requirements.agents:
        if agent.role in ("approver", "monitor"):
            assert kinds[agent.name] == agent.role
    for loop in requirements.loops:
        approval = next(a for a in blueprint.approvals if a.worker == loop.worker)
        assert approval.approver == loop.approver
        assert loop.attempts in (None, approval.max_rounds)
    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                           cwd=result.package_path, capture_output=True, text=True,
                           timeout=120)
    assert tests.returncode == 0, tests.stdout[-2000:]


def test_a_monitor_is_shown_every_step_and_its_note_is_returned(service_store: Store,
                                                                 tmp_path: Path):
    result = run_build(service_store, (REPO / "tests" / "specs" / "nightly_check.md")
                       .read_text(), tmp_path / "out")
    slug = result.package.slug
    probe = (
        "import asyncio, json, sys\n"
        f"sys.path.insert(0, {str(result.package_path)!r})\n"
        "from autogenesis.llm.testing import FunctionModel\n"
        "from autogenesis.runtime.launch import ask, load_config\n"
        f"from {slug} import CONFIG_PATH\n"
        f"from {slug}.system import build\n"
        "seen = []\n"
        "def reply(messages, schema, settings):\n"
        "    if schema is None:\n"
        "        seen.append(messages[-1]['content'])\n"
        "        return 'note: ' + messages[-1]['content'][-40:]\n"
        "    return {'approved': True, 'feedback': 'fine'}\n"
        "body = asyncio.run(ask(build(FunctionModel(reply), load_config(CONFIG_PATH)), "
        "'a CSV', timeout=60))\n"
        "print(json.dumps({'monitors': body.get('monitors'), 'seen': seen}))\n")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads(out.stdout.splitlines()[-1])
    assert list(report["monitors"]) == ["watchdog"]
    shown = report["seen"][-1]
    for worker in ("loader", "validator", "reporter"):
        assert f"{worker}: approved after 1 round(s)" in shown
