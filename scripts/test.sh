#!/usr/bin/env bash
# Set up .venv with the test tools, lint, and run the whole test suite.
# Needs the PostgreSQL server at 127.0.0.1:5432 (trust auth) for the tests that use a
# real external server; override with AUTOGENESIS_TEST_DATABASE_URL.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --dev
.venv/bin/ruff check .
exec .venv/bin/python -m pytest "$@"
