# The processor's images: one for every serving role (processor run, topics create, ingest serve,
# review serve, quarantine replay...), the same entry point as the `processor` CLI, and a training
# image beside it (target `train`: the same plus scikit-learn, matplotlib and scipy) for
# `processor models bootstrap` and `processor train`.
#
#   docker build -t processor:local .                      the runtime image (the last stage)
#   docker build --target train -t processor:train .       the training image
#   make image                                             both, with docker or else buildah
#
# Dependencies come from the lock files (requirements/*.lock: versions and hashes, `make lock`),
# installed with --no-deps: the runtime stage leaves scipy out, which only the lightgbm package
# imports (serving scores through lib_lightgbm.so: processor/serving/native.py). Built in throw-away
# stages; the runtime stage has no compiler, no pip and runs as an unprivileged user.
# Build in Docker's format (buildah/podman: --format docker): OCI images have no HEALTHCHECK.

# Python 3.11: what the lock files are resolved for. Without a registry, deploy/image/debootstrap-base.sh
# makes an equivalent base from Debian bookworm's own python3 (make image-test does).
ARG BASE_IMAGE=python:3.11-slim-bookworm

FROM ${BASE_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
COPY requirements/runtime.lock requirements/build.lock /tmp/requirements/
RUN pip install --no-deps --require-hashes -r /tmp/requirements/runtime.lock \
    && pip install --no-deps --require-hashes -r /tmp/requirements/build.lock
# The package itself, editable from /app, where the runtime stages put the code beside the schemas/,
# config/ and data/ that PROJECT_ROOT points at: its metadata (the version `processor --version`
# and the logs report) and the `processor` script land in the venv.
WORKDIR /app
COPY pyproject.toml README.md ./
COPY processor ./processor
RUN pip install --no-deps --no-build-isolation --editable . \
    && rm -rf processor ./*.egg-info

# the training libraries on top (same pins for everything both locks hold)
FROM build AS train-build
COPY requirements/train.lock /tmp/requirements/
RUN pip install --no-deps --require-hashes -r /tmp/requirements/train.lock \
    && pip uninstall --yes setuptools wheel \
    && python -m pip uninstall --yes pip

# the runtime's venv: the build tools and pip go, and the test suites the wheels ship
FROM build AS runtime-venv
RUN pip uninstall --yes setuptools wheel packaging \
    && python -m pip uninstall --yes pip \
    && find /opt/venv -depth -type d -name tests -path "*/numpy/*" -exec rm -rf {} +

# what both images share: the OS packages, the user, the code and the configuration
FROM ${BASE_IMAGE} AS base
# LightGBM's library links OpenMP at run time. Not version-pinned: the distribution's security
# updates should reach the image at each build (the base image tag pins the release).
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install --yes --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin \
    && groupadd --system --gid 10001 processor \
    && useradd --system --uid 10001 --gid processor --home-dir /app --shell /usr/sbin/nologin processor \
    && mkdir -p /var/lib/processor/models /var/lib/processor/uploads \
    && chown processor:processor /var/lib/processor/models /var/lib/processor/uploads
WORKDIR /app
COPY processor ./processor
COPY schemas ./schemas
COPY config ./config
COPY data/jira-hadoop ./data/jira-hadoop
# MPLCONFIGDIR: matplotlib (training's report) writes its cache there, not into the read-only home
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MPLCONFIGDIR=/tmp/matplotlib \
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

FROM base AS train
COPY --from=train-build /opt/venv /opt/venv

# last, so a plain `docker build .` gives the runtime image
FROM base AS runtime
COPY --from=runtime-venv /opt/venv /opt/venv
