#!/usr/bin/env bash
# Set up .venv and run the main job with the embedded defaults (no configuration needed):
# build the example trip planner from its spec (all nine stages: the package is tested,
# tuned, documented, built as a wheel, installed in a fresh venv and run; each artefact
# approved by the hierarchy approver, everything logged), run the generated package's own
# tests, run the generated system once on the spec's first example, list the runs and
# inspect the build (agents, topology, verdicts, provenance; the SVG next to the package).
# Another spec: bash scripts/main.sh examples/support_router.md
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
python="$PWD/.venv/bin/python"
out=$(.venv/bin/autogenesis build "${1:-examples/trip_planner.md}")
echo "$out"
package=$(echo "$out" | sed -n 's/^built \([^ ]*\) in .*/\1/p')
cd "$package"
"$python" -m pytest -q -p no:cacheprovider
"$python" -m "$(basename "$package")" --example 1
cd - >/dev/null
.venv/bin/autogenesis runs --limit 5
.venv/bin/autogenesis inspect "$package"
