#!/usr/bin/env bash
# Set up .venv and run the main job with the embedded defaults (no configuration needed).
# Until `autogenesis build` lands this shows what exists: the log's status, the local
# model answering under a JSON schema, and a logged conversation of agents on the bus.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/autogenesis db upgrade
.venv/bin/autogenesis db status
.venv/bin/autogenesis models
.venv/bin/autogenesis generate "Plan a blog post about local language models." \
    --schema examples/plan.schema.json --max-new-tokens 160
.venv/bin/autogenesis demo "$@"
.venv/bin/autogenesis runs --limit 5
