# The processor's image: one image for every role (processor run, topics create, train, ingest
# serve, review serve, quarantine replay...), the same entry point as the `processor` CLI.
# Multi-stage: dependencies are built in a throw-away stage; the runtime stage has no compiler,
# no pip cache and runs as an unprivileged user.

ARG PYTHON_IMAGE=python:3.12-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml README.md ./
COPY processor ./processor
# Install the package to resolve its pinned dependencies, then remove the package itself: the code
# runs from /app (PYTHONPATH), which is also the project directory (PROCESSOR_PROJECT_DIR): the
# repository's example project, schemas/input and config/pipelines.yaml. A team's image copies its
# own project there instead (docs/your-events.md).
RUN pip install . && pip uninstall --yes processor

FROM ${PYTHON_IMAGE} AS runtime
# LightGBM's wheel links OpenMP at run time. Not version-pinned: the distribution's security
# updates should reach the image at each build (the base image tag pins the release).
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install --yes --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 processor \
    && useradd --system --uid 10001 --gid processor --home-dir /app --shell /usr/sbin/nologin processor \
    && mkdir -p /var/lib/processor/models /var/lib/processor/uploads \
    && chown processor:processor /var/lib/processor/models /var/lib/processor/uploads
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY processor ./processor
COPY schemas ./schemas
COPY config ./config
COPY data/jira-hadoop ./data/jira-hadoop
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PROCESSOR_PROJECT_DIR=/app \
    PROCESSOR_MODELS__DIR=/var/lib/processor/models \
    HEALTHCHECK_URL=http://127.0.0.1:9108/healthz
USER 10001:10001
# 9108: /metrics, /healthz, /readyz of `processor run`; 8080: ingest serve; 8081: review serve
EXPOSE 9108 8080 8081
# the role's own health endpoint (compose sets HEALTHCHECK_URL for the HTTP roles)
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; sys.exit(0 if urllib.request.urlopen(os.environ['HEALTHCHECK_URL'], timeout=2).status == 200 else 1)"]
ENTRYPOINT ["python", "-m", "processor"]
CMD ["run"]
