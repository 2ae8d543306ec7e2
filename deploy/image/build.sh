#!/usr/bin/env bash
# make image: the runtime image ($1, default processor:local) and the training image ($2, default
# processor:train) from the Dockerfile. Docker when a daemon answers; otherwise buildah
# (`bud --isolation chroot --format docker`: Docker's format keeps the HEALTHCHECK, which OCI drops).
# The base: $BASE_IMAGE when set; else python:3.11-slim-bookworm when a registry answers; else one
# built from Debian packages (deploy/image/debootstrap-base.sh), as on machines without registry access.
set -euo pipefail
cd "$(dirname "$0")/../.."

IMAGE=${1:-processor:local}
TRAIN_IMAGE=${2:-processor:train}
REGISTRY_BASE=python:3.11-slim-bookworm
LOCAL_BASE=localhost/processor-base:bookworm

if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
    base=${BASE_IMAGE:-$REGISTRY_BASE}
    docker build --build-arg BASE_IMAGE="$base" --target runtime -t "$IMAGE" .
    docker build --build-arg BASE_IMAGE="$base" --target train -t "$TRAIN_IMAGE" .
    docker image ls "$IMAGE" && docker image ls "$TRAIN_IMAGE"
    exit 0
fi

command -v buildah >/dev/null || { apt-get update -qq && apt-get install -y -qq buildah; }
base=${BASE_IMAGE:-}
if [[ -z "$base" ]]; then
    if timeout 30 buildah pull --quiet "docker.io/library/$REGISTRY_BASE" >/dev/null 2>&1; then
        base="docker.io/library/$REGISTRY_BASE"
    else
        echo "no container registry answers: the base image comes from Debian packages ($LOCAL_BASE)"
        bash deploy/image/debootstrap-base.sh
        base=$LOCAL_BASE
    fi
fi
echo "building $IMAGE and $TRAIN_IMAGE on $base with buildah"
for target in runtime train; do
    tag=$IMAGE
    [[ $target == train ]] && tag=$TRAIN_IMAGE
    buildah bud --isolation chroot --format docker --layers --quiet \
        --build-arg BASE_IMAGE="$base" --target "$target" -t "$tag" . >/dev/null
done
buildah images "$IMAGE"
buildah images "$TRAIN_IMAGE" | tail -n +2
