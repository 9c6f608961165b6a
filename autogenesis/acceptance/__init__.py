"""Acceptance: what a spec's examples expect, as checks (`compile`), run on answers
(`evaluate`). Testing runs them on the generated system's answers and on a baseline of
one plain call of the same model, so that a build says how well its system does."""

from autogenesis.acceptance.compile import checks_for, constraint_checks, example_checks
from autogenesis.acceptance.evaluate import run_check, run_checks

__all__ = ["checks_for", "constraint_checks", "example_checks", "run_check", "run_checks"]
