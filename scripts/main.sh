#!/usr/bin/env bash
# Set up .venv and run the main job with the embedded defaults (no configuration needed).
# Until `autogenesis build` lands this shows what exists: the log's status and a logged
# conversation of agents on the bus.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/autogenesis db upgrade
.venv/bin/autogenesis db status
.venv/bin/autogenesis demo "$@"
.venv/bin/autogenesis runs --limit 5
