# policywatch operator tools: the whole workspace and the `policywatch` command.
# Used by the compose `init` job (topics, bucket, notifier migration) and for ad-hoc
# operations: `docker compose run --rm init policywatch status`.
# Build from the repository root:  docker build -f deploy/docker/tools.Dockerfile .
FROM python:3.11-slim AS build
COPY --from=ghcr.io/astral-sh/uv:0.5 /uv /usr/local/bin/uv
WORKDIR /app
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy
COPY pyproject.toml uv.lock README.md ./
COPY shared shared
COPY services services
COPY src src
# The root project depends on every service package: one environment with all CLI verbs.
RUN uv sync --frozen --no-dev --no-editable

FROM python:3.11-slim
RUN useradd --system --uid 10001 policywatch
WORKDIR /app
COPY --from=build /app/.venv /app/.venv
COPY catalog catalog
COPY deploy/init deploy/init
ENV PATH="/app/.venv/bin:$PATH" PYTHONUNBUFFERED=1
USER policywatch
CMD ["policywatch", "--help"]
