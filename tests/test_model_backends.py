"""The model conformance suite on each backend, with the real default model."""

from __future__ import annotations

import pytest

from autogenesis.llm.base import Model
from autogenesis.llm.loader import load_model

from model_conformance import *  # noqa: F403  (the shared tests)

BACKENDS = ["llamacpp", "transformers"]


@pytest.fixture(scope="module", params=BACKENDS)
def model(request: pytest.FixtureRequest) -> Model:
    """One loaded model per backend for the module (load_model shares it per process)."""
    return load_model(backend=request.param)
