"""Stage 7, documentation & training: the package's README, ARCHITECTURE and reference.

Structure and facts come from the artefacts (blueprint, prompt set, tuned
config, test and tuning reports) through the templates in
`autogenesis/templates/docs/`; the model writes the prose: a two-sentence
overview and one sentence per agent. Prose reaches the templates cleaned
to one line without markup, and falls back to the spec's words (goal,
duties) when the model's text is too short to be worth keeping or fails the
prose checks (`autogenesis.acceptance.prose`: it repeats itself, echoes its
prompt, or says what the spec does not). Each piece is recorded in
`Docs.prose`, written and kept, so the approver can check what was kept.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import shlex
import subprocess
import sys
from typing import Any

from autogenesis.acceptance.prose import prose_checks
from autogenesis.artefacts import (
    Blueprint,
    Check,
    Docs,
    Package,
    PackageFile,
    PromptSet,
    Prose,
    TestReport,
    TuningReport,
)
from autogenesis.build.agents.base import StageAgent, Work
from autogenesis.build.agents.checks import check, unsafe_paths
from autogenesis.build.codegen import PLACEHOLDER, SYSTEM_CLASSES, make_file, render_template
from autogenesis.llm.concurrent import at_once
from autogenesis.runtime import topologies

DOC_FILES = ("README.md", "ARCHITECTURE.md", "docs/agents.md", "docs/operations.md")
EDGE_VERBS = {"sends": "sends its work to", "approves": "is approved by",
              "broadcasts": "broadcasts to"}
_FENCE = re.compile(r"```(?:bash|sh|console)?\n(.*?)```", re.S)


RULE_HOW = {
    "flag": "skills.py: a label when its conditions hold",
    "one_of": "skills.py picks the option the input names; else the model, allowed only "
              "the options",
    "range": "the model, allowed only numbers within the bounds",
    "dates": "skills.py: dates after the input's date",
    "total": "skills.py: adds the amounts up and names any difference",
    "not_future": "skills.py: compares the input's date with today",
    "lookup": "skills.py: looks the value up in its data file (fill it in)",
    "count": "skills.py keeps at most that many items of the answer",
    "extract": "the model, as typed fields",
    "deadline": "members that do not answer in time are left out by name",
    "run_tests": "the tests are run against the code in a sandbox; failures go back",
    "award": "each contractor bids a number; the stated bid wins",
}
"""How each kind of wired rule is applied, for the package's README."""


def topology_summary(topology: str) -> str:
    """The runtime's own one-line description of a topology (its module docstring)."""
    name = SYSTEM_CLASSES[topology]
    for line in (topologies.__doc__ or "").splitlines():
        if line.startswith(f"- `{name}`:"):
            return line.split(":", 1)[1].strip()
    return ""


def clean_prose(text: str, *, max_chars: int = 400) -> str:
    line = " ".join(text.split())
    line = PLACEHOLDER.sub("", line)
    line = re.sub(r"[`#|*<>{}\[\]]", "", line).strip("\"' ")
    if len(line) > max_chars:
        cut = line[:max_chars]
        line = cut[: cut.rfind(".") + 1] if "." in cut else cut
    return line


def checked_prose(where: str, written: str, fallback: str, blueprint: Blueprint, *,
                  prompt: str, agent: str | None = None, min_words: int = 5) -> Prose:
    """The model's text for `where` (about `agent`, or the system), kept when it passes
    the prose checks, else `fallback` (the spec's words)."""
    text = clean_prose(written)
    problems = [f"{len(text.split())} word(s), under {min_words}"] \
        if len(text.split()) < min_words else prose_checks(text, blueprint, agent, prompt)
    return Prose(where=where, agent=agent, written=written.strip()[:600], prompt=prompt,
                 kept=fallback if problems else text, by="spec" if problems else "model",
                 problems=problems)


def commands(files: list[PackageFile]) -> list[str]:
    """Every command line shown in a shell block of the docs."""
    found = []
    for file in files:
        for block in _FENCE.findall(file.content):
            for line in block.splitlines():
                line = line.split("  #")[0].strip()
                if line and not line.startswith("#"):
                    found.append(line)
    return found


def spec_overview(blueprint: Blueprint) -> str:
    """The overview in the spec's words: its goal, or, when the spec states none (the goal
    is its title), what its workers do."""
    if blueprint.goal.strip().rstrip(".") != blueprint.title.strip():
        return blueprint.goal
    duties = [a.duties[0].rstrip(".") for a in blueprint.agents if a.kind == "worker"
              and a.duties]
    if not duties:
        return blueprint.goal
    listed = ", ".join(d[0].lower() + d[1:] for d in duties)
    return f"{blueprint.title}: a team that {listed}."


def checks_table(report: TestReport) -> list[dict[str, Any]]:
    """The README's rows: the system and each baseline, with the checks each passed."""
    passed, judged = report.passes("system")
    if not judged:
        return []

    def row(name: str, arm: str, passes: str) -> dict[str, Any]:
        calls, tokens = report.cost(arm)
        return {"name": name, "passed": passes, "calls": calls, "tokens": tokens}

    rows = [row("this system", "system", f"{passed}/{judged}"),
            row("one call of the same model", "single", "{}/{}".format(*report.passes("single")))]
    system, vote, decided = report.decisions()
    if decided:
        rows += [{"name": "this system, on the decisions below", "passed": f"{system}/{decided}",
                  "calls": "", "tokens": ""},
                 row("a majority vote of as many sampled calls, on its decisions", "vote",
                     f"{vote}/{decided}")]
    return rows


class Documentation(StageAgent):
    stage = "documentation"
    produces = Docs

    async def produce(self, work: Work) -> Docs:
        blueprint = Blueprint.model_validate(work.inputs["blueprint"])
        prompt_set = PromptSet.model_validate(work.inputs["prompt_set"])
        report = TestReport.model_validate(work.inputs["test_report"])
        tuning = TuningReport.model_validate(work.inputs["tuning_report"])
        config = tuning.config
        common = {"title": blueprint.title, "goal": blueprint.goal}
        asked: dict[str, Any] = {"agent": None, "kind": None, "duties": [],
                 "agents": [a.name for a in blueprint.agents],
                 "topology": topology_summary(blueprint.topology), **common}
        per_agent: list[dict[str, Any]] = [
            {"agent": agent.name, "kind": agent.kind, "duties": agent.duties, "agents": [],
             "topology": "", **common} for agent in blueprint.agents]
        overview, *summaries = await at_once(   # independent calls: all at once
            [self.ask("documentation", work, max_new_tokens=72, **asked),
             *(self.ask("documentation", work, max_new_tokens=48, **each)
               for each in per_agent)], work.concurrency)
        prose = [checked_prose("overview", overview.text, spec_overview(blueprint), blueprint,
                               prompt=self.prompts.messages("documentation", **asked)[-1]
                               ["content"])]
        approver_of = {a.worker: a.approver for a in blueprint.approvals}
        agents = []
        for agent, asked, said in zip(blueprint.agents, per_agent, summaries, strict=True):
            prose.append(checked_prose(
                f"agent {agent.name}", said.text, "; ".join(agent.duties).capitalize() + ".",
                blueprint, agent=agent.name,
                prompt=self.prompts.messages("documentation", **asked)[-1]["content"]))
            settings = config["agents"][agent.name]
            prompt = prompt_set.prompt(agent.name)
            agents.append({
                "name": agent.name, "kind": agent.kind, "duties": agent.duties,
                "inputs": agent.inputs, "outputs": agent.outputs,
                "approver": approver_of.get(agent.name),
                "summary": prose[-1].kept,
                "system": settings["system"], "output_format": settings["output_format"],
                "max_new_tokens": settings["max_new_tokens"],
                "temperature": settings["temperature"],
                "variant": prompt.variant if prompt else "template",
                "score": prompt.score if prompt else 0.0,
            })
        values: dict[str, Any] = {
            **common, "slug": blueprint.slug, "dist_name": blueprint.slug.replace("_", "-"),
            "overview": prose[0].kept,
            "topology": blueprint.topology,
            "topology_summary": topology_summary(blueprint.topology),
            "agents": agents, "entry": blueprint.entry, "exit": blueprint.exit,
            "diagram": blueprint.diagram,
            "edges": [{"source": e.source, "target": e.target, "verb": EDGE_VERBS[e.kind]}
                      for e in blueprint.edges],
            "approvals": [a.model_dump() for a in blueprint.approvals],
            "deadline_s": config["deadline_s"],
            "first_input": blueprint.examples[0].input if blueprint.examples
            else blueprint.goal,
            "has_examples": bool(blueprint.examples),
            "tests": report.tests, "scenarios": report.scenarios, "reached": report.reached,
            "checks": checks_table(report),
            "rules": [{"text": " ".join(r.text.split()), "line": r.line,
                       "where": ("the system" if r.agent == "" else r.agent) if r.wired
                       else "not wired", "how": RULE_HOW.get(r.kind, r.kind) if r.wired
                       else r.why} for r in blueprint.rules],
            "rule_only": list(blueprint.rule_only),
            "tuning": {"trials": sum(t.measure is not None for t in tuning.trials),
                       "kept": sum(t.kept for t in tuning.trials),
                       "before": f"{tuning.before.metric:.2f}",
                       "after": f"{tuning.after.metric:.2f}"},
        }
        files = [make_file(path, render_template(f"docs/{path.split('/')[-1]}.j2", values))
                 for path in DOC_FILES]
        return Docs(files=files, agents=[a.name for a in blueprint.agents],
                    commands=commands(files), prose=prose)


# --- the approver's checks of this stage's artefact ---------------------------


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
    from autogenesis.build.agents.documentation import DOC_FILES

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
        check("paths_safe", unsafe_paths(by_path)),
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
