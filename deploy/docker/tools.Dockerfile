# syntax=docker/dockerfile:1
# policywatch operator tools: the whole workspace and the `policywatch` command.
# Used by the compose `init` service and the Kubernetes `policywatch-init` Job
# (deploy/init/init.py: topics, bucket, notifier migration), and for ad-hoc operations:
#   docker compose run --rm init policywatch --help
# Build from the repository root:  docker build -f deploy/docker/tools.Dockerfile -t policywatch-tools .
FROM python:3.11-slim-bookworm AS build
# uv pinned to the release that wrote uv.lock.
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /usr/local/bin/uv
WORKDIR /app
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never UV_PROJECT_ENVIRONMENT=/app/.venv
COPY pyproject.toml uv.lock ./
COPY shared/pyproject.toml shared/
COPY services/fetcher/pyproject.toml services/fetcher/
COPY services/differ/pyproject.toml services/differ/
COPY services/classifier/pyproject.toml services/classifier/
COPY services/notifier/pyproject.toml services/notifier/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-install-workspace
COPY README.md ./
COPY shared shared
COPY services services
COPY src src
# The root project depends on every service package: one environment with every CLI verb.
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable

FROM python:3.11-slim-bookworm
RUN groupadd --system --gid 10001 policywatch \
    && useradd --system --uid 10001 --gid 10001 --home-dir /app --no-create-home policywatch \
    && mkdir -p /app/var && chown 10001:10001 /app/var
WORKDIR /app
COPY --from=build /app/.venv /app/.venv
COPY catalog catalog
COPY deploy/init deploy/init
ENV PATH="/app/.venv/bin:$PATH" PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
USER 10001:10001
CMD ["python", "/app/deploy/init/init.py"]
