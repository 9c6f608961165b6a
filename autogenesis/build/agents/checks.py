"""What the approver's rule checks share: a check from its problems, and the names and
paths that may reach the file system.

Rules come first and decide: a failed blocking check rejects the artefact and its
detail becomes a reason the worker gets back. The checks compare an artefact with its
inputs (the spec for Requirements, the Requirements for a Blueprint, ...), so a worker
cannot approve its own mistakes. Each stage's checks live beside its agent (e.g.
`understanding.requirements_checks`); `stages.STAGES` says which judge which stage.
"""

from __future__ import annotations

from collections.abc import Iterable

from autogenesis.artefacts import Check
from autogenesis.build.codegen import check_identifier, safe_relpath
from autogenesis.errors import ConfigError


def check(name: str, problems: Iterable[str], ok_detail: str = "") -> Check:
    """A rule check: passed when it found no problem; the problems are its detail."""
    found = list(problems)
    return Check(name=name, passed=not found, detail="; ".join(found) if found else ok_detail)


def safe_names(names: Iterable[str], what: str) -> list[str]:
    """The problems of names that would reach the file system or a template."""
    problems = []
    for name in names:
        try:
            check_identifier(name, what)
        except ConfigError as exc:
            problems.append(str(exc))
    return problems


def unsafe_paths(paths: Iterable[str]) -> list[str]:
    """The problems of paths that would leave the package's folder."""
    problems = []
    for path in paths:
        try:
            safe_relpath(path)
        except ConfigError as exc:
            problems.append(str(exc))
    return problems
