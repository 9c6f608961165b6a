"""The approver's rule checks, one function per stage; each returns a list of `Check`s.

Rules come first and decide: a failed blocking check rejects the artefact
and its detail becomes a reason the worker gets back. The checks compare an
artefact with its inputs (the spec for Requirements, the Requirements for a
Blueprint, ...), so a worker cannot approve its own mistakes.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import json
import re
import shlex
import subprocess
import sys
import tempfile
from collections import deque
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from autogenesis.acceptance.prose import prose_checks
from autogenesis.agents.prompt_design import coverage
from autogenesis.artefacts import (
    SUPERVISOR_KINDS,
    Blueprint,
    Check,
    Deployment,
    Docs,
    Feedback,
    Package,
    PromptSet,
    Requirements,
    TestReport,
    TuningReport,
    package_sha256,
)
from autogenesis.codegen import PLACEHOLDER, check_identifier, materialise, safe_relpath
from autogenesis.errors import ConfigError
from autogenesis.sandbox import run_sandboxed
from autogenesis.spec import parse_spec
from autogenesis.spec.mentions import mentions, placed
from autogenesis.spec.team import name_from_spec

MIN_PROMPT_COVERAGE = 0.5
IMPORT_TIMEOUT_S = 60.0


def check(name: str, problems: Iterable[str], ok_detail: str = "") -> Check:
    found = list(problems)
    return Check(name=name, passed=not found, detail="; ".join(found) if found else ok_detail)


def _safe_names(names: Iterable[str], what: str) -> list[str]:
    problems = []
    for name in names:
        try:
            check_identifier(name, what)
        except ConfigError as exc:
            problems.append(str(exc))
    return problems


# --- understanding --------------------------------------------------------------------


def requirements_checks(req: Requirements, spec: str) -> list[Check]:
    parsed = parse_spec(spec)
    found = mentions(spec)      # the second, independent reading
    names = {a.name for a in req.agents}
    implied = [a for a in req.agents if not a.stated]
    examples = {(e.input, e.expected) for e in req.examples}
    return [
        check("spec_agents_present",
              (f"agent {a.name!r} named in the spec (line {a.line}) is missing"
               for a in parsed.agents if a.name not in names),
              f"{len(parsed.agents)} named agent(s) present"),
        check("implied_agents_named",
              [f"the spec gives {len(parsed.implied)} duty(ies) to unnamed agents but "
               f"{len(implied)} implied agent(s) were named"]
              if len(implied) < len(parsed.implied) else [],
              f"{len(implied)} implied agent(s)"),
        check("examples_parsed",
              (f"example {i!r} is missing" for i, e in parsed.examples
               if (i, e) not in examples), f"{len(req.examples)} example(s)"),
        check("flow_agents_known",
              (f"flow {link.source} -> {link.target} names an unknown agent"
               for link in req.flow if {link.source, link.target} - names)),
        check("nothing_empty",
              [*(["the title is empty"] if not req.title.strip() else []),
               *(["the goal is empty"] if not req.goal.strip() else []),
               *(f"agent {a.name!r} has no duties" for a in req.agents
                 if not any(d.strip() for d in a.duties))]),
        check("names_safe", _safe_names(names, "agent name")),
        check("names_unique", [f"agent names repeat: {sorted(names)}"]
              if len(names) != len(req.agents) else []),
        check("spec_mentions_placed",
              (f"the spec mentions {m.phrase!r} (line {m.line}), which is no agent of the "
               "requirements" for m in found if not placed(m, names)),
              f"{len(found)} agent mention(s) found by a second reading, all placed"),
        check("names_from_spec",
              (f"agent {a.name!r} was named by the model with words that are not the spec's"
               for a in req.agents if a.named_by == "model"
               and not name_from_spec(a.name, spec))),
        check("loops_known",
              (f"the loop {lp.worker} -> {lp.approver} names an unknown agent"
               for lp in req.loops if {lp.worker, lp.approver} - names)),
        check("examples_checked",
              (f"example {n} ({e.input[:40]!r}) has no check a rule can run and no reason "
               "why" for n, e in enumerate(req.examples, 1)
               if not any(c.by == "rule" for c in e.checks) and not e.unchecked),
              f"{sum(len(e.checks) for e in req.examples)} check(s) over "
              f"{len(req.examples)} example(s)"),
    ]


# --- design ---------------------------------------------------------------------------


def _reachable(start: str, edges: Iterable[tuple[str, str]]) -> set[str]:
    neighbours: dict[str, set[str]] = {}
    for a, b in edges:
        neighbours.setdefault(a, set()).add(b)
    seen, queue = {start}, deque([start])
    while queue:
        for nxt in neighbours.get(queue.popleft(), ()):
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return seen


def blueprint_checks(bp: Blueprint, req: Requirements) -> list[Check]:
    names = [a.name for a in bp.agents]
    known = set(names)
    undirected = [(e.source, e.target) for e in bp.edges] + \
                 [(e.target, e.source) for e in bp.edges]
    directed = [(e.source, e.target) for e in bp.edges if e.kind != "approves"]
    duties = {d for a in bp.agents for d in a.duties}
    approver_of = {a.worker: a for a in bp.approvals}
    kinds = {a.name: a.kind for a in bp.agents}
    hierarchy = []
    for agent in bp.agents:
        if agent.kind != "worker":
            continue
        pair = approver_of.get(agent.name)
        reviewer = approver_of.get(pair.approver) if pair else None
        if pair is None:
            hierarchy.append(f"worker {agent.name!r} has no approver")
        elif pair.approver == agent.name:
            hierarchy.append(f"worker {agent.name!r} approves itself")
        elif kinds.get(pair.approver) not in SUPERVISOR_KINDS and not (
                kinds.get(pair.approver) == "worker" and reviewer is not None
                and kinds.get(reviewer.approver) in SUPERVISOR_KINDS):
            hierarchy.append(f"{agent.name!r} is approved by {pair.approver!r}, which is not "
                             "a supervising agent, nor a worker the spec says reviews it "
                             "under one")
    stated_loops: dict[str, list[Any]] = {}
    for lp in req.loops:
        if kinds.get(lp.worker) == "worker":
            stated_loops.setdefault(lp.worker, []).append(lp)
    loops_lost = [
        f"the spec's loop {worker} -> {' or '.join(lp.approver for lp in loops)} is not "
        f"{worker}'s approval ({pair.approver if pair else 'none'}"
        f"{f', {pair.max_rounds} rounds' if pair else ''})"
        for worker, loops in stated_loops.items()
        if (pair := approver_of.get(worker)) is None or not any(
            pair.approver == lp.approver and lp.attempts in (None, pair.max_rounds)
            for lp in loops)]
    return [
        check("spec_agents_present",
              (f"agent {a.name!r} of the requirements is missing" for a in req.agents
               if a.name not in known), f"{len(req.agents)} agent(s) present"),
        check("names_safe", [*_safe_names([bp.slug], "system slug"),
                             *_safe_names(names, "agent name"),
                             *([f"agent names repeat: {names}"] if len(known) < len(names)
                               else [])]),
        check("agents_known",
              (f"{what} {name!r} is not an agent" for what, name in
               [("entry", bp.entry), ("exit", bp.exit), *(("order", n) for n in bp.order),
                *(("edge end", n) for e in bp.edges for n in (e.source, e.target)),
                *(("approval", n) for a in bp.approvals for n in (a.worker, a.approver))]
               if name not in known)),
        check("graph_connected",
              (f"{name!r} is not connected to {bp.entry!r}" for name in names
               if name not in _reachable(bp.entry, undirected))),
        check("entry_to_exit_path",
              [] if bp.exit in _reachable(bp.entry, directed)
              else [f"no path of messages from {bp.entry!r} to {bp.exit!r}"]),
        check("duties_covered",
              (f"duty {d!r} of {a.name!r} is covered by no agent" for a in req.agents
               for d in a.duties if d not in duties)),
        check("hierarchy_rule", hierarchy,
              f"{len(bp.approvals)} worker -> approver pair(s)"),
        check("loops_kept", loops_lost, f"{len(req.loops)} stated loop(s) kept"),
        check("roles_kept",
              (f"{a.name!r} is a {a.role} in the requirements but a {kinds.get(a.name)} in "
               "the blueprint" for a in req.agents
               if a.role in ("approver", "monitor") and kinds.get(a.name) != a.role)),
        check("workers_ordered",
              (f"worker {a.name!r} is missing from the order" for a in bp.agents
               if a.kind == "worker" and a.name not in bp.order)),
        check("diagram_complete",
              (f"the diagram does not show {name!r}" for name in names
               if name not in bp.diagram)),
        rules_wired(bp, req, known),
    ]


def rules_wired(bp: Blueprint, req: Requirements, known: set[str]) -> Check:
    """Every rule the spec states is applied by an agent of the system (or by the system
    itself), or the blueprint says why not."""
    designed = {(r.kind, r.text, r.line): r for r in bp.rules}
    problems = []
    for rule in req.rules:
        wired = designed.get((rule.kind, rule.text, rule.line))
        if wired is None:
            problems.append(f"the {rule.kind} rule {rule.text!r} was dropped")
        elif wired.agent is None and not wired.why.strip():
            problems.append(f"the {rule.kind} rule {rule.text!r} is not wired and no reason "
                            "is given")
        elif wired.agent and wired.agent not in known:
            problems.append(f"the {rule.kind} rule {rule.text!r} is wired to "
                            f"{wired.agent!r}, which is not an agent")
    count = sum(r.wired for r in bp.rules)
    unwired = "; ".join(f"{r.text} ({r.why})" for r in bp.rules if not r.wired)
    return check("rules_wired", problems,
                 f"{count} of {len(req.rules)} stated rule(s) applied by code"
                 + (f"; not wired: {unwired}" if unwired else ""))


# --- prompt design --------------------------------------------------------------------


def prompt_checks(ps: PromptSet, bp: Blueprint) -> list[Check]:
    prompted = {p.agent: p for p in ps.prompts}
    variants: dict[str, set[str]] = {}
    for score in ps.scored:
        variants.setdefault(score.agent, set()).add(score.variant)
    return [
        check("every_agent_prompted",
              (f"agent {a.name!r} has no prompt" for a in bp.agents if a.name not in prompted)),
        check("duties_in_prompt",
              (f"the prompt of {a.name!r} covers {cov:.0%} of its duties (< "
               f"{MIN_PROMPT_COVERAGE:.0%})" for a in bp.agents if a.name in prompted
               and (cov := coverage(prompted[a.name].system, a.duties)) < MIN_PROMPT_COVERAGE)),
        check("output_format_given",
              (f"the prompt of {p.agent!r} has no output format" for p in ps.prompts
               if not p.output_format.strip())),
        check("no_placeholder",
              (f"the prompt of {p.agent!r} has an unfilled placeholder" for p in ps.prompts
               if PLACEHOLDER.search(p.system + p.output_format))),
        check("variants_scored",
              (f"agent {a.name!r} has {len(variants.get(a.name, ()))} scored variant(s), "
               "needs 2" for a in bp.agents if len(variants.get(a.name, ())) < 2)),
    ]


# --- generator ------------------------------------------------------------------------


def _import_probe(slug: str) -> str:
    return (f"import json, {slug}, {slug}.system, {slug}.agents, {slug}.__main__\n"
            f"config = json.load(open({slug}.CONFIG_PATH))\n"
            f"assert set({slug}.agents.AGENTS) == set(config['agents'])\n"
            f"assert callable({slug}.system.build)\n")


async def package_checks(pkg: Package, bp: Blueprint) -> list[Check]:
    paths = [f.path for f in pkg.files]
    unsafe = _unsafe_paths(paths)
    expected = ["pyproject.toml", "README.md", "Dockerfile", "docker-compose.yml",
                f"{bp.slug}/__init__.py",
                f"{bp.slug}/__main__.py", f"{bp.slug}/agents.py", f"{bp.slug}/system.py",
                f"{bp.slug}/config.json", f"tests/test_{bp.slug}.py"]
    hashes = [f"{f.path}: sha256 does not match its content" for f in pkg.files
              if hashlib.sha256(f.content.encode()).hexdigest() != f.sha256]
    if package_sha256(list(pkg.files)) != pkg.sha256:
        hashes.append("the package sha256 does not match its files")
    syntax = []
    for f in pkg.files:
        if f.path.endswith(".py"):
            try:
                compile(f.content, f.path, "exec", dont_inherit=True)
            except SyntaxError as exc:
                syntax.append(f"{f.path} line {exc.lineno}: {exc.msg}")
    config_problems = []
    config_file = next((f for f in pkg.files if f.path == f"{bp.slug}/config.json"), None)
    if config_file is not None:
        config = json.loads(config_file.content)
        missing = {a.name for a in bp.agents} ^ set(config.get("agents", {}))
        if missing:
            config_problems.append(f"config.json and the blueprint disagree on {sorted(missing)}")
    checks = [
        check("slug_matches", [] if pkg.slug == bp.slug else
              [f"package {pkg.slug!r} is not the blueprint's {bp.slug!r}"]),
        check("paths_safe", unsafe),
        check("files_present", (f"{p} is missing" for p in expected if p not in paths),
              f"{len(paths)} file(s)"),
        check("hashes_match", hashes),
        check("no_placeholder", (f"{f.path} has an unfilled placeholder" for f in pkg.files
                                 if PLACEHOLDER.search(f.content))),
        check("compiles", syntax),
        check("agents_wired", config_problems),
    ]
    if all(c.passed for c in checks):  # only a sound package is worth importing
        checks.append(await asyncio.to_thread(_imports, pkg))
    return checks


def _imports(pkg: Package) -> Check:
    """Import the package in the sandbox: generated code is untrusted."""
    with tempfile.TemporaryDirectory(prefix="autogenesis-check-") as tmp:
        folder = materialise(pkg, Path(tmp) / pkg.slug)
        result = run_sandboxed([sys.executable, "-c", _import_probe(pkg.slug)], cwd=folder,
                               timeout=IMPORT_TIMEOUT_S, memory_mb=2048)
    if result.ok:  # no timing here: a verdict must come out the same when replayed
        return Check(name="imports", passed=True,
                     detail=f"imported in the sandbox (network: {result.network})")
    why = "timed out" if result.timed_out else f"exit code {result.returncode}"
    return Check(name="imports", passed=False, detail=f"import {why}: {result.tail(600)}")


# --- testing --------------------------------------------------------------------------


def testing_checks(report: TestReport, pkg: Package, bp: Blueprint) -> list[Check]:
    tests = report.tests
    expected = max(1, len(bp.examples))
    return [
        check("report_matches_package", [] if report.package_sha256 == pkg.sha256 else
              ["the report is about another package"]),
        check("tests_pass",
              [f"the package's tests: {tests.passed} passed, {tests.failed} failed, "
               f"{tests.errors} error(s){', timed out' if tests.timed_out else ''}: "
               f"{tests.output[-400:]}"] if tests.failed or tests.errors or tests.returncode
              else [], f"{tests.passed} passed in {tests.seconds:.1f}s"),
        check("every_example_run", [] if len(report.scenarios) == expected else
              [f"{len(report.scenarios)} scenario(s) for {expected} example(s)"]),
        check("examples_reach_exit",
              (f"example {s.example} never reached the exit agent {bp.exit!r}: "
               f"{s.error or 'its answer was empty or came from ' + repr(s.exit_agent)}"
               for s in report.scenarios if not s.reached_exit),
              f"{report.reached}/{len(report.scenarios)} reached {bp.exit!r}"),
        Check(name="examples_pass_checks", blocking=False,
              passed=(passes := report.passes("system"))[0] == passes[1],
              detail=f"{passes[0]}/{passes[1]} of the examples' checks pass: "
              + "; ".join(f"example {s.example}: {r.text} ({r.detail})"
                          for s in report.scenarios for r in s.checks if r.passed is False)[:600]),
        Check(name="matches_one_call",
              passed=passes[0] >= (single := report.passes("single"))[0],
              detail=f"the system passes {passes[0]}/{passes[1]}, one call of the same model "
                     f"{single[0]}/{single[1]}"),
        *([Check(name="matches_vote", blocking=False, passed=decided[0] >= decided[1],
                 detail=f"on the decisions a vote of as many calls settles, the system "
                        f"passes {decided[0]}/{decided[2]}, the vote {decided[1]}/{decided[2]}")]
          if (decided := report.decisions())[2] else []),
        Check(name="network_isolated", passed=report.network == "none", blocking=False,
              detail="own empty network namespace" if report.network == "none" else
              "no network namespace could be made here: the runs had the host's network"),
    ]


# --- tuning ---------------------------------------------------------------------------


def tuning_checks(report: TuningReport, bp: Blueprint) -> list[Check]:
    config = report.config
    agents = config.get("agents", {})
    problems = [f"config.json and the blueprint disagree on {sorted(missing)}"
                for missing in [{a.name for a in bp.agents} ^ set(agents)] if missing]
    for name, agent in agents.items():
        if not 8 <= agent.get("max_new_tokens", 0) <= 2048:
            problems.append(f"{name}: max_new_tokens {agent.get('max_new_tokens')} out of range")
        if not 0 <= agent.get("temperature", -1) <= 2:
            problems.append(f"{name}: temperature {agent.get('temperature')} out of range")
    if not config.get("deadline_s", 0) > 0:
        problems.append("deadline_s must be positive")
    unmeasured = [t.change for t in report.trials if t.kept and t.measure is None]
    return [
        check("no_regression", [] if report.after.metric >= report.before.metric else
              [f"the metric fell from {report.before.metric} to {report.after.metric}"],
              f"metric {report.before.metric} -> {report.after.metric}"),
        check("kept_changes_measured", (f"{c!r} was kept without a measurement"
                                        for c in unmeasured)),
        check("config_valid", problems),
        Check(name="within_budget", passed=report.spent_s <= report.budget_s * 1.5,
              blocking=False, detail=f"{report.spent_s:.0f}s of {report.budget_s:.0f}s"),
    ]


# --- documentation --------------------------------------------------------------------


def _autogenesis_command_problems(commands: list[list[str]]) -> list[str | None]:
    """Why each `autogenesis ARGS` would not parse (None: it does), asked of the real
    command line in one subprocess (`autogenesis.cli.usage`): the build's agents do not
    import the command line that runs them."""
    if not commands:
        return []
    done = subprocess.run([sys.executable, "-m", "autogenesis.cli.usage"],
                          input=json.dumps(commands), capture_output=True, text=True,
                          timeout=60, check=False)
    if done.returncode != 0:
        why = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return [f"could not be checked: {why}"] * len(commands)
    problems: list[str | None] = json.loads(done.stdout)
    return problems


def _system_command_problem(args: list[str], config: dict[str, object]) -> str | None:
    from autogenesis.runtime.launch import make_parser

    parser = make_parser(config)
    try:
        with contextlib.redirect_stderr(io.StringIO()) as err:
            parser.parse_args(args)
    except SystemExit:
        return err.getvalue().strip().splitlines()[-1] if err.getvalue().strip() else "bad"
    return None


def command_problems(lines: list[str], slug: str, config: dict[str, object],
                     services: set[str]) -> list[str | None]:
    """Why each command shown in the docs would not work as shown (None: it is real)."""
    problems: list[str | None] = []
    ours: list[tuple[int, list[str]]] = []   # `autogenesis ...` lines, asked in one go
    for line in lines:
        words_or_why = _words(line)
        if isinstance(words_or_why, str):
            problems.append(words_or_why)
            continue
        words = words_or_why
        if words[:1] == ["autogenesis"]:
            ours.append((len(problems), words[1:]))
            problems.append(None)
            continue
        problems.append(_command_problem(words, slug, config, services))
    for (at, _), why in zip(ours, _autogenesis_command_problems([w for _, w in ours]),
                            strict=True):
        problems[at] = why
    return problems


def command_problem(line: str, slug: str, config: dict[str, object],
                    services: set[str]) -> str | None:
    """`command_problems` of one line."""
    return command_problems([line], slug, config, services)[0]


def _words(line: str) -> list[str] | str:
    try:
        return shlex.split(line)
    except ValueError as exc:
        return f"cannot be parsed: {exc}"


def _command_problem(words: list[str], slug: str, config: dict[str, object],
                     services: set[str]) -> str | None:
    dist = slug.replace("_", "-")
    if words[:3] == ["python", "-m", slug]:
        return _system_command_problem(words[3:], config)
    if words[:1] == [dist]:
        return _system_command_problem(words[1:], config)
    if words[:3] == ["python", "-m", "pytest"]:
        return None
    if words[:2] == ["pip", "install"] and words[2:] and all(
            w.startswith("dist/") and w.endswith(".whl") for w in words[2:]):
        return None
    if words[:2] == ["docker", "compose"] and len(words) > 2:
        named = {w for w in words[3:] if not w.startswith("-")} & services if \
            words[2] == "up" else {next((w for w in words[3:] if not w.startswith("-")), "")}
        if words[2] in ("up", "run", "down", "build", "config", "logs") and \
                named <= services | ({""} if words[2] != "run" else set()):
            return None
        return f"names a service docker-compose.yml does not have ({sorted(services)})"
    return "not a command of this package, autogenesis, pip or docker compose"


def docs_checks(docs: Docs, bp: Blueprint, pkg: Package) -> list[Check]:
    from autogenesis.agents.documentation import DOC_FILES

    by_path = {f.path: f.content for f in docs.files}
    config = pkg.config() or {"name": bp.slug}
    compose = next((f.content for f in pkg.files if f.path == "docker-compose.yml"), "")
    services = set(re.findall(r"^  ([a-z][a-z0-9_-]*):\s*$", compose, re.M))
    agents_md, architecture = by_path.get("docs/agents.md", ""), by_path.get("ARCHITECTURE.md", "")
    return [
        check("files_present", (f"{p} is missing" for p in DOC_FILES if p not in by_path)),
        check("every_agent_documented",
              [*(f"docs/agents.md has no section for {a.name!r}" for a in bp.agents
                 if f"\n## {a.name}\n" not in agents_md),
               *(f"ARCHITECTURE.md does not show {a.name!r}" for a in bp.agents
                 if a.name not in architecture)], f"{len(bp.agents)} agent(s)"),
        check("diagram_present", [] if "```mermaid" in architecture else
              ["ARCHITECTURE.md has no Mermaid diagram"]),
        check("commands_real",
              (f"`{line}`: {why}" for line, why in zip(
                  docs.commands, command_problems(list(docs.commands), bp.slug, config,
                                                  services), strict=True) if why),
              f"{len(docs.commands)} command(s) checked"),
        check("no_placeholder", (f"{f.path} has an unfilled placeholder" for f in docs.files
                                 if PLACEHOLDER.search(f.content))),
        check("prose_checked", _prose_problems(docs, bp),
              f"{sum(p.by == 'model' for p in docs.prose)} of {len(docs.prose)} piece(s) "
              "in the model's words, the rest in the spec's"),
        check("paths_safe", _unsafe_paths(by_path)),
        check("rules_documented",
              (f"README.md does not say how the rule {r.text!r} is applied" for r in bp.rules
               if " ".join(r.text.split()).replace("|", "/")[:60]
               not in by_path.get("README.md", "")),
              f"{len(bp.rules)} rule(s) in the README"),
    ]


def _prose_problems(docs: Docs, bp: Blueprint) -> list[str]:
    """The model's prose the docs keep must pass the prose checks, and be in the docs."""
    problems = []
    for piece in docs.prose:
        if piece.by == "model":
            problems += [f"{piece.where}: {why}"
                         for why in prose_checks(piece.kept, bp, piece.agent, piece.prompt)]
        if not any(piece.kept in f.content for f in docs.files):
            problems.append(f"{piece.where}: the kept text is not in the docs")
    return problems


def _unsafe_paths(paths: Iterable[str]) -> list[str]:
    problems = []
    for path in paths:
        try:
            safe_relpath(path)
        except ConfigError as exc:
            problems.append(str(exc))
    return problems


# --- deployment -----------------------------------------------------------------------


def deployment_checks(dep: Deployment, pkg: Package) -> list[Check]:
    files = {f.path: f for f in pkg.files}
    container = []
    if "Dockerfile" not in files or files["Dockerfile"].sha256 != dep.dockerfile_sha256:
        container.append("the Dockerfile is not the package's")
    if "docker-compose.yml" not in files or \
            files["docker-compose.yml"].sha256 != dep.compose_sha256:
        container.append("docker-compose.yml is not the package's")
    return [
        check("wheel_built",
              [] if dep.wheel.endswith(".whl") and re.fullmatch(r"[0-9a-f]{64}", dep.wheel_sha256)
              else [f"no wheel was built: {dep.install_output[-400:]}"],
              f"{dep.wheel} ({dep.wheel_size} bytes)"),
        check("built_from_package", [] if dep.package_sha256 == pkg.sha256 else
              ["the wheel was built from another version of the package"]),
        check("installed_in_fresh_venv", [] if dep.installed else
              [f"the wheel did not install in a fresh venv: {dep.install_output[-400:]}"]),
        check("entry_point_runs", [] if dep.returncode == 0 and dep.answer.strip() else
              [f"`{' '.join(dep.command)}` gave no answer (exit code {dep.returncode})"]),
        check("container_files", container),
    ]


# --- feedback -------------------------------------------------------------------------


def feedback_checks(fb: Feedback, stages: Iterable[str]) -> list[Check]:
    known = set(stages)
    return [
        check("requests_target_stages",
              (f"request to unknown stage {r.stage!r}" for r in fb.requests
               if r.stage not in known)),
        check("requests_answer_findings",
              (f"request {i} cites finding {r.finding}, which does not exist"
               for i, r in enumerate(fb.requests) if r.finding >= len(fb.findings))),
        check("next_stage_requested",
              [] if fb.next_stage is None or fb.next_stage in {r.stage for r in fb.requests}
              else [f"next stage {fb.next_stage!r} was not requested"]),
    ]
