#!/usr/bin/env bash
# Build the seqserve CPU image (`make docker` runs `make export` first, then this).
#
# Needs a reachable Docker daemon. When the base image (python:3.11-slim) is not there it is
# pulled; when no registry can be reached it is built locally by docker/offline-base.sh
# (DOCKER_BASE=offline skips the pull attempt, DOCKER_BASE=pull never builds locally).
# Environment: IMAGE (seqserve:latest), DOCKER_BASE (auto|pull|offline), BUILD_TIMEOUT (s),
#   BUILD_NETWORK (docker build --network, e.g. `host` where the bridge network has no egress).
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE=${IMAGE:-seqserve:latest}
BASE=python:3.11-slim
DOCKER_BASE=${DOCKER_BASE:-auto}
BUILD_TIMEOUT=${BUILD_TIMEOUT:-1800}
export BUILD_NETWORK=${BUILD_NETWORK:-}
NET=()
[[ -n $BUILD_NETWORK ]] && NET=(--network "$BUILD_NETWORK")
LOG_DIR=build/docker
export DOCKER_BUILDKIT=0 # the classic builder: the Dockerfile uses nothing newer

log() { printf '== docker: %s\n' "$*"; }
die() {
    printf 'docker: error: %s\n' "$*" >&2
    exit 1
}

docker info >/dev/null 2>&1 || die "no Docker daemon reachable (make docker-test starts one; or run dockerd)"
ls models/*/*/model.json >/dev/null 2>&1 || die "no exported models in ./models: run make export first"
mkdir -p "$LOG_DIR"

if ! docker image inspect "$BASE" >/dev/null 2>&1; then
    pulled=0
    if [[ $DOCKER_BASE != offline ]]; then
        log "pulling $BASE"
        if timeout 300 docker pull -q "$BASE" >"$LOG_DIR/pull.log" 2>&1; then
            pulled=1
        else
            log "cannot pull $BASE: $(tail -1 "$LOG_DIR/pull.log")"
            [[ $DOCKER_BASE == pull ]] && die "DOCKER_BASE=pull and the pull failed"
        fi
    fi
    if [[ $pulled == 0 ]]; then
        log "building $BASE locally (docker/offline-base.sh)"
        start=$SECONDS
        docker/offline-base.sh
        log "base image ready in $((SECONDS - start))s"
    fi
fi

log "building $IMAGE (docker/Dockerfile, log: $LOG_DIR/build.log)"
start=$SECONDS
status=0
timeout "$BUILD_TIMEOUT" docker build "${NET[@]}" -f docker/Dockerfile -t "$IMAGE" \
    --label "org.opencontainers.image.revision=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
    . >"$LOG_DIR/build.log" 2>&1 || status=$?
awk '/^Step [0-9]+\/[0-9]+ : (FROM|RUN|COPY)/ { print "   " substr($0, 1, 110) }' "$LOG_DIR/build.log"
if [[ $status != 0 ]]; then
    tail -40 "$LOG_DIR/build.log" >&2
    [[ $status == 124 ]] && die "docker build ran past ${BUILD_TIMEOUT}s"
    die "docker build failed (exit $status; full log: $LOG_DIR/build.log)"
fi
cached=$(grep -c 'Using cache' "$LOG_DIR/build.log" || true)
size=$(docker image inspect -f '{{.Size}}' "$IMAGE")
log "built $IMAGE in $((SECONDS - start))s ($cached steps from cache, $((size / 1000000)) MB)"
