#!/usr/bin/env bash
# Set up .venv with the test tools, lint, type-check, and run the whole test suite.
# Needs the PostgreSQL server at 127.0.0.1:5432 (trust auth) for the tests that use a
# real external server (override with AUTOGENESIS_TEST_DATABASE_URL) and the mosquitto
# binary (Debian's package) for the MQTT tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --dev
# The MQTT tests need a broker: AUTOGENESIS_TEST_MQTT_URL, else mosquitto on 127.0.0.1:1883,
# started here when it is not running (others they start themselves, on free ports).
if [ -z "${AUTOGENESIS_TEST_MQTT_URL:-}" ] && ! (exec 3<>/dev/tcp/127.0.0.1/1883) 2>/dev/null; then
    echo "test: starting mosquitto on 127.0.0.1:1883"
    if [ -f /etc/mosquitto/mosquitto.conf ]; then
        mosquitto -d -c /etc/mosquitto/mosquitto.conf
    else
        mosquitto -d -p 1883
    fi
    sleep 1
fi
.venv/bin/ruff check .
.venv/bin/mypy   # strict on the files pyproject.toml's [tool.mypy] names
exec .venv/bin/python -m pytest "$@"
