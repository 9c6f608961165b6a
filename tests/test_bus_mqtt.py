"""The bus conformance suite on the MQTT transport, through a real broker.

The broker is AUTOGENESIS_TEST_MQTT_URL (the local mosquitto, 127.0.0.1:1883,
unless set); each test gets a topic prefix of its own, so tests never see
each other's messages or presence.
"""

from __future__ import annotations

import os
import secrets

import pytest

from autogenesis.bus.mqtt import MqttTransport

from bus_conformance import *  # noqa: F403  (the shared suite and its fixtures)

MQTT_URL = os.environ.get("AUTOGENESIS_TEST_MQTT_URL", "mqtt://127.0.0.1:1883")


@pytest.fixture
def transport() -> MqttTransport:
    return MqttTransport(f"{MQTT_URL.rstrip('/')}/agtest-{secrets.token_hex(4)}")
