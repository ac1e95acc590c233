#!/usr/bin/env bash
# Install the Orthanc servers that KkOrthanc's integration tests run against.
#
#   sudo bash scripts/install-servers.sh
#
# On Debian 12, as root, this installs (idempotently):
#   * Orthanc 1.10.1 from Debian 12: orthanc orthanc-python dcmtk debootstrap
#     (the packaged "orthanc" service is kept stopped: tests start their own servers);
#   * a Debian 13 (trixie) chroot with Orthanc 1.12.x + orthanc-python at
#     ${KKORTHANC_CHROOT:-/var/cache/kkorthanc/trixie}.
#     The chroot is built in DIR.tmp and renamed to DIR only once complete, with the marker file
#     DIR/.kkorthanc-ready, so an interrupted build is never taken for a finished one.
#
# Environment:
#   KKORTHANC_CHROOT         where to build the chroot (default /var/cache/kkorthanc/trixie)
#   KKORTHANC_DEBIAN_MIRROR  Debian mirror for debootstrap (default: debootstrap's own)
set -euo pipefail

CHROOT="${KKORTHANC_CHROOT:-/var/cache/kkorthanc/trixie}"
CHROOT="${CHROOT%/}"
MIRROR="${KKORTHANC_DEBIAN_MIRROR:-}"
MARKER=".kkorthanc-ready"
HOST_PACKAGES=(orthanc orthanc-python orthanc-postgresql postgresql dcmtk debootstrap openssl
    python3 python3-venv python3-pip)
CHROOT_PACKAGES=(orthanc orthanc-python orthanc-postgresql)
POLICY=/usr/sbin/policy-rc.d
OWN_POLICY=0

log() { printf 'install-servers: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

usage_without_root() {
    cat >&2 <<EOF
install-servers: this script must run as root on Debian 12 ($1).

What it installs, so you can do it yourself:
  1. Orthanc 1.10.1 and tools (Debian 12):
       apt-get install orthanc orthanc-python dcmtk debootstrap
     and keep the packaged service stopped (the tests start their own servers).
  2. Orthanc 1.12.7 in a Debian 13 chroot:
       debootstrap --variant=minbase trixie /var/cache/kkorthanc/trixie
       chroot /var/cache/kkorthanc/trixie sh -c 'apt-get update && apt-get install -y orthanc orthanc-python'
       touch /var/cache/kkorthanc/trixie/$MARKER
  Then run: sudo bash scripts/install-servers.sh

Elsewhere (macOS, Windows, other Linux): install Orthanc from https://www.orthanc-server.com,
put the "Orthanc" executable on PATH, or point the tests at an existing server with
  KKORTHANC_TEST_URL=http://host:8042 [KKORTHANC_TEST_USERNAME=... KKORTHANC_TEST_PASSWORD=...]
(that server's data is wiped by the tests: never use a production server).
EOF
    exit 2
}

check_platform() {
    [[ $(id -u) -eq 0 ]] || usage_without_root "not running as root"
    [[ -r /etc/debian_version ]] && command -v apt-get >/dev/null \
        || usage_without_root "this is not a Debian system"
}

is_installed() {
    [[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) == "install ok installed" ]]
}

# Keep services from starting during "apt-get install" (restored on exit).
block_service_start() {
    if [[ ! -e $POLICY ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$POLICY"
        chmod 755 "$POLICY"
        OWN_POLICY=1
    fi
}

cleanup() {
    if [[ $OWN_POLICY -eq 1 ]]; then rm -f "$POLICY"; fi
}

install_host_packages() {
    local missing=() pkg
    for pkg in "${HOST_PACKAGES[@]}"; do is_installed "$pkg" || missing+=("$pkg"); done
    if [[ ${#missing[@]} -eq 0 ]]; then
        log "host packages already installed: ${HOST_PACKAGES[*]}"
        return
    fi
    if ! apt-cache show "${missing[@]}" >/dev/null 2>&1; then
        log "apt-get update"
        apt-get update -q
    fi
    log "apt-get install ${missing[*]}"
    block_service_start
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"; then
        log "apt-get install failed; retrying after apt-get update"
        apt-get update -q
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
    fi
}

stop_packaged_service() {
    if command -v systemctl >/dev/null && [[ -d /run/systemd/system ]]; then
        if systemctl is-active --quiet orthanc; then log "stopping orthanc.service"; systemctl stop orthanc; fi
        if systemctl is-enabled --quiet orthanc 2>/dev/null; then
            log "disabling orthanc.service"
            systemctl disable orthanc
        fi
    elif [[ -x /etc/init.d/orthanc ]]; then
        if /etc/init.d/orthanc status >/dev/null 2>&1; then
            log "stopping the orthanc service"
            /etc/init.d/orthanc stop
        fi
        update-rc.d orthanc disable >/dev/null 2>&1 || log "update-rc.d could not disable orthanc"
    fi
}

# Refuse to delete a directory something is mounted into (rm -rf would follow the mount).
remove_partial_build() {
    local dir="$1"
    [[ -e $dir ]] || return 0
    if awk -v d="$dir" '$2 == d || index($2, d "/") == 1 { found = 1 } END { exit !found }' /proc/mounts
    then
        die "$dir has file systems mounted inside it; unmount them, then run this script again"
    fi
    log "removing the unfinished build $dir"
    rm -rf --one-file-system "$dir"
}

build_chroot() {
    local tmp="$CHROOT.tmp" version
    remove_partial_build "$tmp"
    mkdir -p "$(dirname "$CHROOT")"
    log "debootstrap --variant=minbase trixie $tmp (about 30 s)"
    debootstrap --variant=minbase trixie "$tmp" ${MIRROR:+"$MIRROR"} >"$CHROOT.debootstrap.log" 2>&1 \
        || die "debootstrap failed, see $CHROOT.debootstrap.log"
    rm -f "$CHROOT.debootstrap.log"
    # Services must never start inside the chroot: the tests run their own Orthanc processes.
    printf '#!/bin/sh\nexit 101\n' >"$tmp$POLICY"
    chmod 755 "$tmp$POLICY"
    log "installing ${CHROOT_PACKAGES[*]} inside the chroot"
    chroot "$tmp" sh -c "apt-get update -q && DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends ${CHROOT_PACKAGES[*]} && apt-get clean"
    version=$(chroot "$tmp" Orthanc --version | head -n 1)
    [[ $version == *Orthanc* ]] || die "the chroot's Orthanc does not run (got: $version)"
    printf '%s\nbuilt %s by scripts/install-servers.sh\n' "$version" "$(date -u +%FT%TZ)" \
        >"$tmp/$MARKER"
    mv -T "$tmp" "$CHROOT"
    log "ready: $CHROOT ($version)"
}

# A chroot built by an older version of this script may lack packages added since.
complete_chroot() {
    local missing=() pkg
    for pkg in "${CHROOT_PACKAGES[@]}"; do
        chroot "$CHROOT" dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
            || missing+=("$pkg")
    done
    [[ ${#missing[@]} -eq 0 ]] && return
    log "installing ${missing[*]} inside the chroot"
    chroot "$CHROOT" sh -c "apt-get update -q && DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends ${missing[*]} && apt-get clean"
}

ensure_chroot() {
    if [[ -f $CHROOT/$MARKER ]]; then
        log "chroot already built: $CHROOT ($(head -n 1 "$CHROOT/$MARKER"))"
        complete_chroot
        return
    fi
    if [[ -e $CHROOT ]]; then
        die "$CHROOT exists but has no $MARKER marker: remove it, or set KKORTHANC_CHROOT elsewhere"
    fi
    build_chroot
}

main() {
    check_platform
    trap cleanup EXIT
    install_host_packages
    stop_packaged_service
    ensure_chroot
    log "done: system $(/usr/sbin/Orthanc --version | head -n 1), chroot $CHROOT"
}

main "$@"
