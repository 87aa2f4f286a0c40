#!/usr/bin/env bash
# make docker-test: build the image, run it, and ask it `seqserve predict addition "3+10"`
# from the host through the published port; the answer must be 13.
#
#   1. a Docker daemon: the running one, else start `dockerd` in the background (as root, or
#      with passwordless sudo), remembering its PID. As root on a Debian machine without
#      dockerd, Debian's docker.io (and debootstrap) are installed first (DOCKER_TEST_INSTALL=0
#      turns that off). No daemon to be had: say why, print SKIPPED, exit 0.
#   2. docker/build.sh: the base image if missing (pull, else docker/offline-base.sh), then
#      the seqserve image (layer cache kept by the daemon between runs).
#   3. docker run -p 127.0.0.1:PORT:50051 (read-only root filesystem, no capabilities, as in
#      deploy/kubernetes), wait for the container's HEALTHCHECK to report healthy, predict
#      from the host with .venv/bin/seqserve, stop the container.
#   4. on exit, whatever happened: remove the container, stop the daemon this script started
#      (by its PID), never one it found running.
# Environment: IMAGE (seqserve:test), DOCKER_TEST_PORT (a free port), HEALTH_TIMEOUT (240),
#   DOCKER_TEST_INSTALL (1), plus build.sh's DOCKER_BASE and BUILD_TIMEOUT.
set -euo pipefail
cd "$(dirname "$0")/.."

export IMAGE=${IMAGE:-seqserve:test}
HEALTH_TIMEOUT=${HEALTH_TIMEOUT:-240}
DOCKER_TEST_INSTALL=${DOCKER_TEST_INSTALL:-1}
CLIENT=.venv/bin/seqserve
LOG_DIR=build/docker
CONTAINER=seqserve-docker-test-$$
DOCKERD_PID=
T0=$SECONDS
mkdir -p "$LOG_DIR"

log() { printf '== docker-test [%4ss]: %s\n' "$((SECONDS - T0))" "$*"; }
skip() {
    log "SKIPPED: $*"
    exit 0
}
fail() {
    log "FAILED: $*" >&2
    exit 1
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if docker container inspect "$CONTAINER" >/dev/null 2>&1; then
        docker rm -f "$CONTAINER" >/dev/null 2>&1 || true
    fi
    if [[ -n $DOCKERD_PID ]]; then
        log "stopping the dockerd this test started (pid $DOCKERD_PID)"
        "${SUDO[@]}" kill -TERM "$DOCKERD_PID" 2>/dev/null || true
        for _ in $(seq 60); do
            "${SUDO[@]}" kill -0 "$DOCKERD_PID" 2>/dev/null || break
            sleep 0.5
        done
        if "${SUDO[@]}" kill -0 "$DOCKERD_PID" 2>/dev/null; then
            log "dockerd (pid $DOCKERD_PID) still running after 30s; killing it"
            "${SUDO[@]}" kill -KILL "$DOCKERD_PID" 2>/dev/null || true
        fi
    fi
    log "done in $((SECONDS - T0))s (exit $rc)"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

[[ -x $CLIENT ]] || fail "$CLIENT missing: run make install first"

# --- 1. a daemon ----------------------------------------------------------------------------
SUDO=()
if [[ $(id -u) != 0 ]]; then
    if sudo -n true 2>/dev/null; then SUDO=(sudo -n); fi
fi
can_root() { [[ $(id -u) == 0 || ${#SUDO[@]} -gt 0 ]]; }

if ! command -v docker >/dev/null; then
    if [[ $DOCKER_TEST_INSTALL == 1 ]] && can_root && command -v apt-get >/dev/null; then
        :
    else
        skip "no docker CLI on this machine"
    fi
fi

if docker info >/dev/null 2>&1; then
    log "using the running Docker daemon ($(docker info -f '{{.ServerVersion}}'))"
else
    if ! command -v dockerd >/dev/null || ! command -v debootstrap >/dev/null; then
        if [[ $DOCKER_TEST_INSTALL == 1 ]] && can_root && command -v apt-get >/dev/null; then
            log "installing Debian's docker.io and debootstrap (DOCKER_TEST_INSTALL=0 to skip)"
            if ! { "${SUDO[@]}" apt-get update -qq &&
                DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq \
                    --no-install-recommends docker.io debootstrap; } >"$LOG_DIR/apt.log" 2>&1; then
                tail -5 "$LOG_DIR/apt.log"
                command -v dockerd >/dev/null || skip "no dockerd, and installing docker.io failed (see $LOG_DIR/apt.log)"
            fi
        fi
    fi
    command -v dockerd >/dev/null || skip "no Docker daemon running and no dockerd to start (apt-get install docker.io)"
    can_root || skip "no Docker daemon running, and starting dockerd needs root (or passwordless sudo)"
    log "starting dockerd (log: $LOG_DIR/dockerd.log)"
    "${SUDO[@]}" dockerd >"$LOG_DIR/dockerd.log" 2>&1 &
    DOCKERD_PID=$!
    for _ in $(seq 60); do
        docker info >/dev/null 2>&1 && break
        if ! kill -0 "$DOCKERD_PID" 2>/dev/null; then
            DOCKERD_PID=
            tail -5 "$LOG_DIR/dockerd.log"
            skip "dockerd exited at start (it needs root, cgroups and overlay/iptables support; log above)"
        fi
        sleep 0.5
    done
    docker info >/dev/null 2>&1 || skip "dockerd (pid $DOCKERD_PID) did not answer within 30s (see $LOG_DIR/dockerd.log)"
    log "dockerd $(docker info -f '{{.ServerVersion}}') up, pid $DOCKERD_PID"
fi

# --- 2. the image ---------------------------------------------------------------------------
docker/build.sh

# --- 3. run it, wait for healthy, predict from the host -------------------------------------
FREE_PORT='import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
PORT=${DOCKER_TEST_PORT:-$(python3 -c "$FREE_PORT")}
HTTP_PORT=${DOCKER_TEST_HTTP_PORT:-$(python3 -c "$FREE_PORT")}
log "docker run $IMAGE on 127.0.0.1:$PORT (gRPC) and 127.0.0.1:$HTTP_PORT (HTTP)"
# As the Kubernetes Deployment runs it: read-only root filesystem, no capabilities.
docker run -d --name "$CONTAINER" -p "127.0.0.1:$PORT:50051" -p "127.0.0.1:$HTTP_PORT:8000" \
    --read-only --tmpfs /tmp --cap-drop ALL --security-opt no-new-privileges "$IMAGE" >/dev/null
start=$SECONDS
while :; do
    state=$(docker inspect -f '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}' "$CONTAINER")
    case $state in
    "running healthy") break ;;
    running*) ;;
    *)
        docker logs --tail 40 "$CONTAINER" 2>&1 || true
        fail "the container stopped ($state) before becoming healthy"
        ;;
    esac
    if ((SECONDS - start > HEALTH_TIMEOUT)); then
        docker logs --tail 40 "$CONTAINER" 2>&1 || true
        docker inspect -f '{{range .State.Health.Log}}{{.Output}}{{end}}' "$CONTAINER" 2>&1 | tail -5 || true
        fail "not healthy after ${HEALTH_TIMEOUT}s ($state)"
    fi
    sleep 1
done
log "container healthy after $((SECONDS - start))s"

out=$(timeout 60 "$CLIENT" predict addition "3+10" --target "127.0.0.1:$PORT" 2>&1) ||
    fail "seqserve predict failed: $out"
log "seqserve predict addition \"3+10\" -> $out"
[[ $(printf '%s' "$out" | tr -d '[:space:]') == 13 ]] || fail "expected 13, got: $out"
out=$(curl -s --max-time 30 -d '{"inputs":[{"text":"3+10"}]}' \
    "http://127.0.0.1:$HTTP_PORT/v1/models/addition:predict" 2>&1) || fail "curl predict failed: $out"
log "curl .../v1/models/addition:predict -> $out"
[[ $out == *'"text":"13"'* ]] || fail "expected 13 over HTTP, got: $out"

docker stop -t 20 "$CONTAINER" >/dev/null
log "PASSED: the container answered 13 over gRPC and HTTP"
