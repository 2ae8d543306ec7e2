#!/usr/bin/env bash
# make image-test: build the images (deploy/image/build.sh), then run the processor from them against
# the local stack (Kafka localhost:9092, Redis localhost:6379) with buildah's chroot isolation on the
# host network: models bootstrap (training image), topics create, simulate, run, audit (runtime
# image). Checks: the accounting identity holds; the version inside the image is the package's; the
# HEALTHCHECK survived the build and /healthz answers; the runtime image has no training library and
# says what to install; the runtime image is at most MAX_IMAGE_MB (300) MB.
# Its own topic names, consumer group and Redis prefix: it cannot touch other runs' data.
set -euo pipefail
cd "$(dirname "$0")/../.."

IMAGE=${1:-processor:local}
TRAIN_IMAGE=${2:-processor:train}
MAX_IMAGE_MB=${MAX_IMAGE_MB:-300}
BOOTSTRAP=${PROCESSOR_KAFKA__BOOTSTRAP_SERVERS:-localhost:9092}
REDIS_URL=${PROCESSOR_REDIS__URL:-redis://localhost:6379/0}
COUNT=${IMAGE_TEST_COUNT:-3000}

say() { printf '==> %s\n' "$*"; }
fail() { printf 'image-test FAILED: %s\n' "$*" >&2; exit 1; }

if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
    fail "a Docker daemon answers: this test drives buildah (run the same steps with docker run --network host)"
fi
bash deploy/image/build.sh "$IMAGE" "$TRAIN_IMAGE"

run_id="imgtest-$(date +%s)-$$"
work=$(mktemp -d)
containers=()
cleanup() {
    for c in ${containers[@]+"${containers[@]}"}; do buildah rm "$c" >/dev/null 2>&1 || true; done
    rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/models"
chown 10001:10001 "$work/models"  # the images run as uid 10001

env_args=(
    --env "PROCESSOR_KAFKA__BOOTSTRAP_SERVERS=$BOOTSTRAP"
    --env "PROCESSOR_REDIS__URL=$REDIS_URL"
    --env "PROCESSOR_REDIS__KEY_PREFIX=$run_id:"
    --env "PROCESSOR_KAFKA__GROUP_ID=$run_id"
    --env "PROCESSOR_TOPICS__RAW=$run_id.raw"
    --env "PROCESSOR_TOPICS__SCORED=$run_id.scored"
    --env "PROCESSOR_TOPICS__REVIEW=$run_id.review"
    --env "PROCESSOR_TOPICS__QUARANTINE=$run_id.quarantine"
    --env "PROCESSOR_TOPICS__FEEDBACK=$run_id.feedback"
    --env "PROCESSOR_TOPICS__RAW_PARTITIONS=3"
    --env "PROCESSOR_TOPICS__OUTPUT_PARTITIONS=3"
)
container() {  # container VAR IMAGE: a working container of IMAGE named in VAR, removed at exit
    local c
    c=$(buildah from --quiet "$2")
    containers+=("$c")
    printf -v "$1" '%s' "$c"
}
in_image() {  # in_image CONTAINER ARGS... -> `processor ARGS` inside, host network, models mounted
    local c=$1
    shift
    buildah run --isolation chroot --network host "${env_args[@]}" \
        --volume "$work/models:/var/lib/processor/models" "$c" -- python -m processor "$@"
}

# what the images are
size_mb() {  # buildah reports the image's unpacked size in decimal units ("264 MB", "1.1 GB")
    buildah images --json "$1" | python3 -c '
import json, sys
number, unit = json.load(sys.stdin)[0]["size"].split()
print(round(float(number) * {"B": 1e-6, "kB": 1e-3, "KB": 1e-3, "MB": 1, "GB": 1e3}[unit]))'
}
runtime_mb=$(size_mb "$IMAGE")
train_mb=$(size_mb "$TRAIN_IMAGE")
say "image sizes: $IMAGE $runtime_mb MB, $TRAIN_IMAGE $train_mb MB"
((runtime_mb <= MAX_IMAGE_MB)) || fail "$IMAGE is $runtime_mb MB, more than $MAX_IMAGE_MB MB"
healthcheck=$(buildah inspect --type image --format '{{.Docker.Config.Healthcheck}}' "$IMAGE")
[[ $healthcheck == *HEALTHCHECK_URL* ]] || fail "the HEALTHCHECK is missing from $IMAGE ($healthcheck)"

container serve "$IMAGE"
container train "$TRAIN_IMAGE"
expected_version=$(python3 -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')
version=$(in_image "$serve" --version)
[[ $version == "$expected_version" ]] || fail "the image reports version '$version', pyproject.toml says $expected_version"
say "version inside the image: $version"

# the runtime image has no training library, and `processor train` says what to install
if buildah run --isolation chroot "$serve" -- python -c 'import sklearn' >/dev/null 2>&1; then
    fail "scikit-learn is importable in $IMAGE"
fi
if buildah run --isolation chroot "$serve" -- python -c 'import scipy' >/dev/null 2>&1; then
    fail "scipy is importable in $IMAGE"
fi
set +e
train_err=$(in_image "$serve" train --event-type user_signed_up --events /dev/null 2>&1)
train_code=$?
set -e
[[ $train_code == 2 && $train_err == *"processor[train]"* ]] || fail "processor train in $IMAGE: $train_code $train_err"
say "runtime image: no scikit-learn, no scipy; processor train says: ${train_err#configuration error: }"

say "models bootstrap ($TRAIN_IMAGE)"
in_image "$train" models bootstrap | grep -E "^(model for|guard relaxed|models ready)" || fail "models bootstrap"
say "topics create"
in_image "$serve" topics create
say "simulate $COUNT events with the default fault mix"
in_image "$serve" simulate --count "$COUNT" --seed 7

metrics_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
say "run (metrics on :$metrics_port)"
buildah run --isolation chroot --network host "${env_args[@]}" --env "PROCESSOR_METRICS__PORT=$metrics_port" \
    --volume "$work/models:/var/lib/processor/models:ro" "$serve" -- python -m processor run --max-idle 10 \
    >"$work/run.log" 2>&1 &
run_pid=$!
healthy=""
for _ in $(seq 1 120); do
    if python3 -c "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:$metrics_port/healthz', timeout=2).status != 200)" 2>/dev/null; then
        healthy=yes
        break
    fi
    kill -0 "$run_pid" 2>/dev/null || break
    sleep 0.5
done
wait "$run_pid" || { tail -30 "$work/run.log"; fail "processor run exited with an error"; }
[[ -n $healthy ]] || { tail -30 "$work/run.log"; fail "/healthz never answered 200"; }
grep -q "starting processor $expected_version" "$work/run.log" || fail "the run did not log version $expected_version"
loaded=$(grep -c 'active now' "$work/run.log" || true)
((loaded >= 3)) || { tail -30 "$work/run.log"; fail "the processor loaded $loaded models, 3 expected"; }
say "run: /healthz answered, $loaded models loaded, stopped after 10 s idle"

say "audit"
in_image "$serve" audit | tee "$work/audit.txt"
grep -q "accounting identity: HOLDS" "$work/audit.txt" || fail "the accounting identity does not hold"
grep -qE "^inputs [1-9]" "$work/audit.txt" || fail "no inputs counted"
say "image-test passed: $IMAGE $runtime_mb MB, $TRAIN_IMAGE $train_mb MB, version $version"
