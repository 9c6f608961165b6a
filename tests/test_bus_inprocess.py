"""The bus conformance suite on the in-process transport."""

import pytest

from autogenesis.bus import InProcessTransport

from bus_conformance import *  # noqa: F403  (the shared suite and its fixtures)


@pytest.fixture
def transport() -> InProcessTransport:
    return InProcessTransport()
