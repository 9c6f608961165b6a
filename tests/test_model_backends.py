"""The model conformance suite on each backend, with the real default model."""

from __future__ import annotations

import pytest

from autogenesis.llm.base import Model
from autogenesis.llm.loader import load_model

from model_conformance import *  # noqa: F403  (the shared tests)

BACKENDS = ["llamacpp", "llamacpp-xgrammar", "transformers"]
"""llama.cpp with each grammar engine (llguidance, its default, and xgrammar), and
transformers."""


@pytest.fixture(scope="module", params=BACKENDS)
def model(request: pytest.FixtureRequest) -> Model:
    """One loaded model per backend for the module (load_model shares it per process)."""
    backend, _, engine = request.param.partition("-")
    return load_model(backend=backend, **({"grammar": engine} if engine else {}))


def test_llamacpp_constrains_with_llguidance_by_default():
    """llguidance needs no torch (xgrammar's masks are torch tensors): bench/grammar.py."""
    model = load_model(backend="llamacpp")
    assert model.grammar_engine == "llguidance"
    assert model.identity.backend_version.endswith(", llguidance")
