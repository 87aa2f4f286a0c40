#!/usr/bin/env bash
# Build a local `python:3.11-slim` base image without any container registry.
#
# For machines (CI runners, air-gapped networks) that reach a Debian mirror and a Python
# package index but no container registry. It
#   1. debootstraps a minimal Debian bookworm root filesystem from the machine's own
#      configured Debian mirror (read from /etc/apt/sources.list[.d]) and `docker import`s it;
#   2. builds on it a small image with python3, pip and venv (bookworm's Python is 3.11,
#      so the `python:3.11-slim` tag is honest), carrying this host's CA bundle
#      (/etc/ssl/certs/ca-certificates.crt and /usr/local/share/ca-certificates/, for
#      networks whose outbound TLS is intercepted) with PIP_CERT/SSL_CERT_FILE pointing at
#      it, and this host's pip index settings (`pip config list`; only http(s) indexes are
#      carried: file:// indexes and local find-links directories do not exist in a container).
#
# The project Dockerfile stays registry-neutral: on a machine that can pull the official
# `python:3.11-slim`, none of this is needed. TLS verification is never disabled.
#
# Usage (as root, or as a user allowed to run debootstrap via sudo and to use docker):
#   docker/offline-base.sh            # build unless the tag already exists
#   FORCE=1 docker/offline-base.sh    # rebuild
# Environment: TAG (python:3.11-slim), SUITE (bookworm), DEBIAN_MIRROR (from apt's config),
#   DEBIAN_SECURITY_MIRROR (from apt's config), ROOTFS_TAG (seqserve-base/debian:bookworm-minbase),
#   BUILD_NETWORK (docker build --network; `host` if the bridge network has no egress).
set -euo pipefail

TAG=${TAG:-python:3.11-slim}
SUITE=${SUITE:-bookworm}
ROOTFS_TAG=${ROOTFS_TAG:-seqserve-base/debian:${SUITE}-minbase}
FORCE=${FORCE:-0}
BUILD_NETWORK=${BUILD_NETWORK:-}
export DOCKER_BUILDKIT=0 # the classic builder: what this daemon offers everywhere

log() { printf '== offline-base: %s\n' "$*" >&2; }
die() {
    printf 'offline-base: error: %s\n' "$*" >&2
    exit 1
}

command -v docker >/dev/null || die "no docker CLI"
docker info >/dev/null 2>&1 || die "no Docker daemon reachable (start dockerd first)"

if [[ $FORCE != 1 ]] && docker image inspect "$TAG" >/dev/null 2>&1; then
    log "$TAG already exists (FORCE=1 rebuilds)"
    exit 0
fi

SUDO=()
if [[ $(id -u) != 0 ]]; then
    command -v sudo >/dev/null || die "debootstrap needs root (or sudo)"
    SUDO=(sudo)
fi

# --- the Debian mirror this machine is configured with --------------------------------------
apt_uri() { # $1: a suite; prints the first URI apt is configured with for it (comments ignored)
    local suite=$1 f uri
    # deb822 .sources files: the URIs of the entry whose Suites name that suite.
    for f in /etc/apt/sources.list.d/*.sources; do
        [[ -f $f ]] || continue
        uri=$(awk -v suite="$suite" '
            BEGIN { RS = ""; FS = "\n" }
            {
                uris = ""; suites = ""
                for (i = 1; i <= NF; i++) {
                    if ($i ~ /^URIs:/)   { sub(/^URIs:[ \t]*/, "", $i); uris = $i }
                    if ($i ~ /^Suites:/) { sub(/^Suites:[ \t]*/, "", $i); suites = " " $i " " }
                }
                if (uris != "" && index(suites, " " suite " ") > 0) { split(uris, u, " "); print u[1]; exit }
            }' "$f")
        [[ -n $uri ]] && { echo "$uri"; return; }
    done
    # one-line format: `deb [opts] URI SUITE components`.
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [[ -f $f ]] || continue
        uri=$(awk -v suite="$suite" '
            $1 == "deb" {
                i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
                if ($(i + 1) == suite) { print $i; exit }
            }' "$f")
        [[ -n $uri ]] && { echo "$uri"; return; }
    done
    return 0
}
MIRROR=${DEBIAN_MIRROR:-$(apt_uri "$SUITE")}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${DEBIAN_SECURITY_MIRROR:-$(apt_uri "$SUITE-security")}
log "Debian mirror: $MIRROR (suite $SUITE; security: ${SECURITY_MIRROR:-none})"

WORKDIR=$(mktemp -d "${TMPDIR:-/tmp}/offline-base.XXXXXX")
cleanup() { "${SUDO[@]}" rm -rf "$WORKDIR"; }
trap cleanup EXIT

# --- 1. root filesystem -> image ----------------------------------------------------------------
if [[ $FORCE != 1 ]] && docker image inspect "$ROOTFS_TAG" >/dev/null 2>&1; then
    log "$ROOTFS_TAG already exists, reusing it"
else
    command -v debootstrap >/dev/null || die "debootstrap not installed (apt-get install debootstrap)"
    ROOTFS=$WORKDIR/rootfs
    log "debootstrap --variant=minbase $SUITE (a few minutes)"
    start=$SECONDS
    "${SUDO[@]}" debootstrap --variant=minbase "$SUITE" "$ROOTFS" "$MIRROR" >"$WORKDIR/debootstrap.log" 2>&1 ||
        { tail -30 "$WORKDIR/debootstrap.log" >&2; die "debootstrap failed (log above)"; }
    # apt inside the image: the same mirror, plus updates and security when the host has them.
    {
        echo "deb $MIRROR $SUITE main"
        echo "deb $MIRROR $SUITE-updates main"
        if [[ -n $SECURITY_MIRROR ]]; then echo "deb $SECURITY_MIRROR $SUITE-security main"; fi
    } | "${SUDO[@]}" tee "$ROOTFS/etc/apt/sources.list" >/dev/null
    "${SUDO[@]}" rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/archives/*.deb \
        "$ROOTFS"/var/log/* "$ROOTFS"/tmp/*
    "${SUDO[@]}" tar --numeric-owner -C "$ROOTFS" -c . | docker import \
        --change 'CMD ["bash"]' --change 'ENV LANG=C.UTF-8' \
        --message "debootstrap --variant=minbase $SUITE $MIRROR" - "$ROOTFS_TAG" >/dev/null
    "${SUDO[@]}" rm -rf "$ROOTFS"
    log "imported $ROOTFS_TAG in $((SECONDS - start))s"
fi

# --- 2. python3 + pip + venv, the host's CA bundle and pip index ---------------------------------
CTX=$WORKDIR/context
mkdir -p "$CTX/local-ca"
cp /etc/ssl/certs/ca-certificates.crt "$CTX/ca-certificates.crt" 2>/dev/null ||
    die "no /etc/ssl/certs/ca-certificates.crt on this host"
if [[ -d /usr/local/share/ca-certificates ]]; then
    cp -R /usr/local/share/ca-certificates/. "$CTX/local-ca/"
fi

# pip settings: index-url / extra-index-url / trusted-host / timeout from `pip config list`
# (global, user, site and PIP_* environment), keeping only what works inside a container.
pip_cfg() { # $1: key; prints its value (PIP_* environment first, then the config files)
    { python3 -m pip config list 2>/dev/null || pip config list 2>/dev/null || true; } |
        awk -F= -v k="$1" '
            { key = $1; sub(/^[^.]*\./, "", key) }
            key == k { if ($1 ~ /^:env:/) e = substr($0, length($1) + 2); else v = substr($0, length($1) + 2) }
            END { print (e != "" ? e : v) }' |
        sed -e "s/^'//" -e "s/'$//"
}
keep_remote() { tr ' ' '\n' | grep -E '^https?://' | tr '\n' ' ' | sed 's/ $//' || true; }
INDEX_URL=$(pip_cfg index-url | keep_remote)
EXTRA_INDEX_URL=$(pip_cfg extra-index-url | keep_remote)
FIND_LINKS=$(pip_cfg find-links | keep_remote)
TRUSTED_HOST=$(pip_cfg trusted-host)
TIMEOUT=$(pip_cfg default-timeout)
{
    echo "[global]"
    echo "cert = /etc/ssl/certs/ca-certificates.crt"
    echo "disable-pip-version-check = true"
    [[ -n $INDEX_URL ]] && echo "index-url = $INDEX_URL"
    [[ -n $EXTRA_INDEX_URL ]] && echo "extra-index-url = $EXTRA_INDEX_URL"
    [[ -n $FIND_LINKS ]] && echo "find-links = $FIND_LINKS"
    [[ -n $TRUSTED_HOST ]] && echo "trusted-host = $TRUSTED_HOST"
    [[ -n $TIMEOUT ]] && echo "timeout = $TIMEOUT"
    true
} >"$CTX/pip.conf"
log "pip.conf for the image:"
sed 's/^/    /' "$CTX/pip.conf" >&2

cat >"$CTX/Dockerfile" <<EOF
FROM $ROOTFS_TAG
ENV LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive
COPY local-ca/ /usr/local/share/ca-certificates/
RUN apt-get update \\
 && apt-get install -y --no-install-recommends ca-certificates python3 python3-pip python3-venv python-is-python3 \\
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb \\
 && rm -f /usr/lib/python3*/EXTERNALLY-MANAGED
# After update-ca-certificates (run by the package): this host's bundle, exactly.
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY pip.conf /etc/pip.conf
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \\
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt \\
    REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt \\
    PYTHONDONTWRITEBYTECODE=1
LABEL org.opencontainers.image.description="local python:3.11-slim stand-in: Debian $SUITE minbase + python3 (docker/offline-base.sh)"
CMD ["python3"]
EOF

NET=()
[[ -n $BUILD_NETWORK ]] && NET=(--network "$BUILD_NETWORK")
log "building $TAG"
start=$SECONDS
docker build "${NET[@]}" -t "$TAG" "$CTX" >"$WORKDIR/build.log" 2>&1 ||
    { tail -30 "$WORKDIR/build.log" >&2; die "building $TAG failed (log above)"; }
log "built $TAG in $((SECONDS - start))s: $(docker run --rm "${NET[@]}" "$TAG" python3 --version 2>&1)"
