"""Stage 4, generator: `Blueprint` + `PromptSet` -> `Package`.

The files come from the jinja2 templates (`autogenesis.build.codegen`): rules, not
the model, write the code. The model writes one line of prose, the package's
description, which reaches the templates only as a quoted string.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import sys
import tempfile
from pathlib import Path

from autogenesis.artefacts import (
    Blueprint,
    Check,
    Package,
    PromptSet,
    package_sha256,
)
from autogenesis.build.agents.base import StageAgent, Work
from autogenesis.build.agents.checks import check, unsafe_paths
from autogenesis.build.codegen import (
    PLACEHOLDER,
    materialise,
    render_package,
)
from autogenesis.sandbox import run_sandboxed

IMPORT_TIMEOUT_S = 60.0


def clean_description(text: str, fallback: str) -> str:
    line = " ".join(text.split()).strip("\"' ")
    line = PLACEHOLDER.sub("", line)
    line = re.split(r"(?<=[.!?])\s", line)[0][:160].strip()
    return line if len(line.split()) >= 4 else fallback


class Generator(StageAgent):
    stage = "generator"
    produces = Package

    async def produce(self, work: Work) -> Package:
        blueprint = Blueprint.model_validate(work.inputs["blueprint"])
        prompts = PromptSet.model_validate(work.inputs["prompt_set"])
        result = await self.ask("generator", work, max_new_tokens=48, slug=blueprint.slug,
                                title=blueprint.title, goal=blueprint.goal,
                                agents=[a.name for a in blueprint.agents])
        fallback = re.split(r"(?<=[.!?])\s", blueprint.goal)[0][:160]
        return render_package(blueprint, prompts, clean_description(result.text, fallback))


# --- the approver's checks of this stage's artefact ---------------------------


def _import_probe(slug: str) -> str:
    return (f"import json, {slug}, {slug}.system, {slug}.agents, {slug}.__main__\n"
            f"config = json.load(open({slug}.CONFIG_PATH))\n"
            f"assert set({slug}.agents.AGENTS) == set(config['agents'])\n"
            f"assert callable({slug}.system.build)\n")


async def package_checks(pkg: Package, bp: Blueprint) -> list[Check]:
    paths = [f.path for f in pkg.files]
    unsafe = unsafe_paths(paths)
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
