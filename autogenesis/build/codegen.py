"""Rendering a generated package from its blueprint and prompts, and writing it safely.

Templates live in `autogenesis/templates/` (jinja2, `StrictUndefined`): the
common files of every package, and `topologies/<topology>.py.j2` for the
wiring. Spec-derived text only reaches a template as data through filters
that make it inert where it lands: `pyrepr` (a Python literal), `docstring`
(no closing quotes or escapes), `toml` (a TOML string), `shell` (one quoted
word). Names are checked before rendering (`check_identifier`), paths
before writing (`safe_relpath`), and a package is written to a temporary
folder next to its target and swapped in, so a rebuild never leaves a
half-written package.
"""

from __future__ import annotations

import hashlib
import json
import keyword
import os
import re
import shlex
import shutil
import sys
import uuid
from pathlib import Path, PurePosixPath
from typing import Any

import jinja2

from autogenesis.artefacts import (
    Blueprint,
    Package,
    PackageFile,
    PromptSet,
    TestReport,
    package_sha256,
)
from autogenesis.build.skills_code import award, member_timeout, rules_code
from autogenesis.canonical import file_sha256
from autogenesis.config import check_name
from autogenesis.errors import ConfigError
from autogenesis.runtime.skills import TESTS_REQUIREMENT

TEMPLATES = Path(__file__).parents[1] / "templates"
RESERVED = frozenset({"autogenesis", "tests", "test", "main", "setup", "site", "config"})
PLACEHOLDER = re.compile(r"\{\{|\{%|\}\}|%\}|<placeholder>|\bTODO\b|\bFIXME\b|<[A-Z_]{3,}>")
SYSTEM_CLASSES = {"pipeline": "Pipeline", "feedback_loop": "FeedbackLoop", "router": "Router",
                  "hierarchy": "Hierarchy", "contract_net": "ContractNet",
                  "consensus": "Consensus"}


def check_identifier(name: str, what: str) -> str:
    """A name safe as a Python identifier, module, address and folder name."""
    check_name(name, what)
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        raise ConfigError(f"invalid {what} {name!r}: a Python keyword")
    if what == "system slug" and (name in RESERVED or name in sys.stdlib_module_names):
        raise ConfigError(f"invalid {what} {name!r}: it would shadow the module {name!r}")
    return name


def class_name(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_") if part)


def safe_relpath(path: str) -> str:
    """`path` if it is relative, normalised and stays inside its folder."""
    pure = PurePosixPath(path)
    if (not path or pure.is_absolute() or "\\" in path or ".." in pure.parts
            or str(pure) != path or any(p.startswith(".") for p in pure.parts)):
        raise ConfigError(f"unsafe file path in a package: {path!r}")
    return path


def _docstring(text: str) -> str:
    text = " ".join(str(text).split()).replace("\\", "/").replace('"""', "'''")
    return text.rstrip('"')


def _sentence(text: str) -> str:
    text = str(text).strip()
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else f"{text}."


def _schema_literal(schema: dict[str, Any]) -> str:
    """A JSON schema as a Python literal, its closing braces spaced ("} }") so that a
    nested schema never reads as a template placeholder."""
    return repr(schema).replace("}}", "} }").replace("}}", "} }")


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), undefined=jinja2.StrictUndefined,
        autoescape=False, keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True,
    )
    env.filters.update(pyrepr=repr, pyschema=_schema_literal, docstring=_docstring,
                       sentence=_sentence,
                       shell=shlex.quote, toml=lambda s: json.dumps(str(s)))
    return env


def render_template(template: str, values: dict[str, Any]) -> str:
    return _environment().get_template(template).render(values)


def make_file(path: str, content: str) -> PackageFile:
    data = content.encode()
    return PackageFile(path=safe_relpath(path), sha256=hashlib.sha256(data).hexdigest(),
                       size=len(data), content=content)


def package_config(blueprint: Blueprint, prompts: PromptSet) -> dict[str, Any]:
    """The generated system's config.json: model, deadlines, and each agent's prompt."""
    agents = {}
    for agent in blueprint.agents:
        prompt = prompts.prompt(agent.name)
        if prompt is None:
            raise ConfigError(f"the prompt set has no prompt for agent {agent.name!r}")
        agents[agent.name] = {
            "system": prompt.system, "output_format": prompt.output_format,
            "examples": [shot.model_dump() for shot in prompt.examples],
            "max_new_tokens": agent.model.max_new_tokens,
            "temperature": agent.model.temperature,
        }
    return {
        "name": blueprint.slug, "title": blueprint.title, "goal": blueprint.goal,
        "topology": blueprint.topology, "model": None,
        "deadline_s": round(blueprint.step_seconds * max(4, 2 * len(blueprint.agents)), 1),
        "answer_words": blueprint.answer_words,
        "approvals": [a.model_dump() for a in blueprint.approvals],
        "examples": [e.model_dump() for e in blueprint.examples],
        "agents": agents,
        "rules": [r.model_dump() for r in blueprint.rules],
        "member_timeout_s": member_timeout(blueprint.rules),
        "award": award(blueprint.rules),
        "test_runs": [{k: r.params[k] for k in ("author", "tester", "rounds")}
                      for r in blueprint.rules if r.kind == "run_tests" and r.wired],
    }


def render_package(blueprint: Blueprint, prompts: PromptSet, description: str) -> Package:
    """Every file of `generated/<slug>/`, rendered from the templates."""
    slug = check_identifier(blueprint.slug, "system slug")
    approver_of = {a.worker: a.approver for a in blueprint.approvals}
    wired = rules_code(blueprint.rules)
    for code in wired:
        check_identifier(code.function or code.agent, "rule function name")
    agents = []
    for agent in blueprint.agents:
        check_identifier(agent.name, "agent name")
        mine = [c for c in wired if c.agent == agent.name]
        agents.append({"name": agent.name, "class_name": class_name(agent.name),
                       "kind": agent.kind, "duty": "; ".join(agent.duties),
                       "approver": approver_of.get(agent.name),
                       "rules": [c.function for c in mine if c.function and not c.after],
                       "after": [c.function for c in mine if c.after],
                       "fields": {k: v for c in mine for k, v in c.fields.items()},
                       "prose": agent.name not in blueprint.rule_only,
                       "writes_code": any(agent.name in (r.params.get("author"),
                                                         r.params.get("tester"))
                                          for r in blueprint.rules
                                          if r.kind == "run_tests" and r.wired)})
    names = [a["class_name"] for a in agents]
    if len(set(names)) != len(names) or "ModelAgent" in names:
        raise ConfigError(f"agent names give clashing class names: {names}")
    values = {
        "slug": slug, "dist_name": slug.replace("_", "-"), "title": blueprint.title,
        "goal": blueprint.goal, "description": description, "topology": blueprint.topology,
        "system_class": SYSTEM_CLASSES[blueprint.topology], "agents": agents,
        "entry": blueprint.entry, "exit": blueprint.exit, "order": blueprint.order,
        "monitors": [a.name for a in blueprint.agents if a.kind == "monitor"],
        "max_rounds": max((a.max_rounds for a in blueprint.approvals), default=1),
        "example_inputs": [e.input for e in blueprint.examples] or [blueprint.goal],
        "has_examples": bool(blueprint.examples),
        "diagram": blueprint.diagram,
        "rule_code": wired, "has_rules": any(c.function for c in wired),
        "award": award(blueprint.rules),
        "has_after": any(c.after for c in wired),
        "has_fields": any(c.fields for c in wired),
        "uses_date": any(c.kind == "not_future" for c in wired),
        "uses_data": any(c.data for c in wired),
        "unwired": [r for r in blueprint.rules if not r.wired],
        "reworkable": any(a.worker not in blueprint.rule_only for a in blueprint.approvals),
        # what the package declares besides the runtime (pyproject.toml)
        "requirements": [TESTS_REQUIREMENT] if any(
            r.kind == "run_tests" and r.wired for r in blueprint.rules) else [],
    }
    env = _environment()

    def render(template: str) -> str:
        return env.get_template(template).render(values)

    files = [
        make_file("pyproject.toml", render("pyproject.toml.j2")),
        make_file("README.md", render("README.md.j2")),
        make_file("Dockerfile", render("Dockerfile.j2")),
        make_file("docker-compose.yml", render("docker-compose.yml.j2")),
        make_file(f"{slug}/__init__.py", render("__init__.py.j2")),
        make_file(f"{slug}/__main__.py", render("__main__.py.j2")),
        make_file(f"{slug}/agents.py", render("agents.py.j2")),
        make_file(f"{slug}/system.py", render(f"topologies/{blueprint.topology}.py.j2")),
        make_file(f"{slug}/config.json",
              json.dumps(package_config(blueprint, prompts), indent=2, ensure_ascii=False)
              + "\n"),
        make_file(f"tests/test_{slug}.py", render("test_system.py.j2")),
        make_file("tests/test_acceptance.py", render("test_acceptance.py.j2")),
    ]
    if values["has_rules"]:
        files += [make_file(f"{slug}/skills.py", render("skills.py.j2")),
                  make_file("tests/test_skills.py", render("test_skills.py.j2"))]
    for code in wired:
        for name, content in code.data.items():
            table = check_identifier(name.removesuffix(".csv"), "data file name")
            files.append(make_file(f"{slug}/data/{table}.csv", content))
    return Package(slug=slug, files=files, sha256=package_sha256(files))


def with_files(package: Package, files: list[PackageFile]) -> Package:
    """`package` with `files` added, or replacing those at the same paths."""
    replaced = {f.path: f for f in files}
    kept = [f for f in package.files if f.path not in replaced]
    merged = sorted([*kept, *files], key=lambda f: f.path)
    return Package(slug=package.slug, files=merged, sha256=package_sha256(merged))


def with_recorded_answers(package: Package, report: TestReport) -> Package:
    """`package` with the answers its system gave in testing, and their checks' verdicts,
    in tests/recorded_answers.json (what its test_acceptance.py holds to the checks)."""
    recorded = [{"example": s.example, "input": s.input, "answer": s.answer,
                 "route": s.route,
                 "checks": [{"text": r.text, "passed": r.passed} for r in s.checks]}
                for s in report.scenarios]
    return with_files(package, [make_file("tests/recorded_answers.json",
                                          json.dumps(recorded, indent=2, ensure_ascii=False)
                                          + "\n")])


def with_config(package: Package, config: dict[str, Any]) -> Package:
    """`package` with its config.json replaced."""
    return with_files(package, [make_file(f"{package.slug}/config.json",
                                          json.dumps(config, indent=2, ensure_ascii=False)
                                          + "\n")])


def materialise(package: Package, folder: Path) -> Path:
    """Write the package's files under `folder` (which must not exist yet)."""
    folder.mkdir(parents=True)
    for file in package.files:
        target = folder / safe_relpath(file.path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(file.content, encoding="utf-8")
    return folder


MANIFEST = ".autogenesis-files.json"
"""What a build wrote into `generated/<slug>/`, path -> sha256: how a rebuild tells a
file the user changed (refused without --force; a filled-in data table is kept) from one
it wrote, and a file the user added (carried over) from one it no longer writes."""
NOT_USERS = ("__pycache__", ".pytest_cache", "build", "dist", ".venv")


def user_changes(target: Path) -> tuple[list[str], list[str]]:
    """(files the user changed since the last build wrote them, files the user added)
    in the package folder `target`; nothing for a folder no build recorded."""
    manifest = target / MANIFEST
    if not manifest.is_file():
        return [], []
    try:
        written = dict(json.loads(manifest.read_text(encoding="utf-8"))["files"])
    except (ValueError, KeyError, TypeError):
        raise ConfigError(f"{manifest} is damaged: move {target} away, or rebuild with "
                          "--force to replace it") from None
    changed = sorted(p for p, sha in written.items()
                     if (target / p).is_file() and file_sha256(target / p) != sha)
    added = sorted(str(p.relative_to(target)) for p in target.rglob("*")
                   if p.is_file() and not p.is_symlink() and p.name != MANIFEST
                   and str(p.relative_to(target)) not in written
                   and not any(part in NOT_USERS or part.endswith(".egg-info")
                               for part in p.relative_to(target).parts))
    return changed, added


def _data(relpath: str) -> bool:
    """A data file a rule reads (`<slug>/data/*.csv`): the user's to fill in, kept."""
    return PurePosixPath(relpath).parent.name == "data"


def refuse_user_edits(target: Path) -> None:
    """A clear refusal when a rebuild would overwrite files the user changed (a data
    file they filled in is kept instead)."""
    changed = [p for p in user_changes(target)[0] if not _data(p)]
    if changed:
        raise ConfigError(
            f"{target} has file(s) you changed since it was built: {', '.join(changed)}. "
            "A rebuild would overwrite them: move them away, or rebuild with --force to "
            "overwrite them")


def write_package(package: Package, out_dir: Path,
                  extra: dict[str, Path] | None = None, *, force: bool = False) -> Path:
    """Write `package` to `out_dir/<slug>/`, replacing an existing one atomically.

    `extra` maps further relative paths to files copied in (the built wheel). A file
    the user changed since the last build stops the write (`refuse_user_edits`) unless
    `force`; files the user added are carried over.
    """
    slug = check_identifier(package.slug, "system slug")
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / slug
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise ConfigError(f"{target} exists and is not a folder; refusing to replace it")
    added: list[str] = []
    if target.is_dir():
        if not force:
            refuse_user_edits(target)
        changed, added = user_changes(target)
        added += [p for p in changed if _data(p)]     # filled-in tables stay the user's
    token = uuid.uuid4().hex[:8]
    staging = materialise(package, out_dir / f".{slug}.new-{token}")
    for relpath, source in (extra or {}).items():
        target_file = staging / safe_relpath(relpath)
        target_file.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target_file)
    written = {str(p.relative_to(staging)): file_sha256(p)
               for p in sorted(staging.rglob("*")) if p.is_file()}
    for relpath in added:                # the user's own files stay
        if relpath not in written or _data(relpath):
            (staging / relpath).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(target / relpath, staging / relpath)
    (staging / MANIFEST).write_text(json.dumps({"files": written}, indent=1, sort_keys=True)
                                    + "\n", encoding="utf-8")
    old = out_dir / f".{slug}.old-{token}"
    try:
        if target.exists():
            os.rename(target, old)
        os.rename(staging, target)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
        if old.exists() and not target.exists():
            os.rename(old, target)
        raise
    shutil.rmtree(old, ignore_errors=True)
    return target
