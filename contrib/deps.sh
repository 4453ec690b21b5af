#!/usr/bin/env bash
# contrib/deps.sh: install everything ftpfs's tests and demo need, on Debian 12, as root.
#
# * apt packages: fuse3, proftpd-basic (also creates the user `ftp`), the shared libraries the
#   extracted servers need, openssl, curl, rsync, attr, rclone, lftp (the bench), a C linker
#   for cargo.
# * vsftpd and pure-ftpd conflict with proftpd as Debian packages, so they are not installed:
#   their .debs are downloaded and unpacked under /opt/ftpfs-test-servers/{vsftpd,pure-ftpd}.
# * the system user `ftp` with an existing home (vsftpd's anonymous mode needs it).
# * a Rust toolchain (rustup, with rustfmt and clippy) if cargo is missing.
# * for the Debian package (contrib/package.sh, tests/package.rs): cargo-deb (cargo install,
#   skipped when present), dpkg-dev (dpkg-shlibdeps) and man-db (man, to render the page).
#
# Non-interactive and idempotent: when everything is present it does no network access and
# finishes in well under a second. It never starts a server (a policy-rc.d guard blocks the
# Debian postinst scripts from starting proftpd on port 21 during the install).
#
# Environment: FTPFS_TEST_SERVERS overrides /opt/ftpfs-test-servers (the Rust test harness
# reads the same variable).
set -euo pipefail

SERVERS_DIR=${FTPFS_TEST_SERVERS:-/opt/ftpfs-test-servers}
MIN_RUST=1.88

APT_PACKAGES=(
    fuse3 proftpd-basic proftpd-mod-crypto openssl curl rsync attr rclone ca-certificates
    util-linux procps
    # contrib/bench/delay-proxy.py and wan-helper.py; lftp: the plain client of the WAN bench
    python3 lftp
    # shared libraries of the extracted vsftpd and pure-ftpd binaries
    libwrap0 libsodium23 libcap2 libpam0g libssl3 libcrypt1
    # linker for cargo
    gcc libc6-dev
)
# name of the extracted package -> binaries that must exist afterwards
declare -A EXTRACTED=(
    [vsftpd]="usr/sbin/vsftpd"
    [pure-ftpd]="usr/sbin/pure-ftpd usr/bin/pure-pw"
)
# The Debian package: dpkg-shlibdeps (cargo-deb's automatic Depends), man(1) for the man page
# test, and cargo-deb itself (installed with cargo below; this version is the one tested).
APT_PACKAGES+=(dpkg-dev man-db)
CARGO_DEB_VERSION=3.8.0

log() { printf 'deps.sh: %s\n' "$*" >&2; }
die() {
    log "ERROR: $*"
    exit 1
}

[[ $(id -u) -eq 0 ]] || die "must run as root (installs packages, servers run as root): sudo $0"
if ! command -v apt-get >/dev/null || ! command -v dpkg-query >/dev/null; then
    die "this script supports Debian 12 (apt/dpkg) only"
fi

export DEBIAN_FRONTEND=noninteractive
APT_OPTS=(-y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)

WORK=$(mktemp -d /tmp/ftpfs-deps.XXXXXX)
POLICY_RC=/usr/sbin/policy-rc.d
POLICY_RC_OURS=0
cleanup() {
    rm -rf -- "$WORK"
    if ((POLICY_RC_OURS)); then rm -f -- "$POLICY_RC"; fi
}
trap cleanup EXIT

apt_updated=0
apt_update() {
    if ((!apt_updated)); then
        log "apt-get update"
        apt-get update -q >"$WORK/apt-update.log" 2>&1 || {
            cat "$WORK/apt-update.log" >&2
            die "apt-get update failed"
        }
        apt_updated=1
    fi
}

# Prints the packages among "$@" that are not installed.
missing_packages() {
    local pkg status
    for pkg in "$@"; do
        status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
        [[ $status == "install ok installed" ]] || printf '%s\n' "$pkg"
    done
}

# --- 1. apt packages -------------------------------------------------------------------------
mapfile -t missing < <(missing_packages "${APT_PACKAGES[@]}")
if ((${#missing[@]})); then
    log "installing: ${missing[*]}"
    proftpd_was_missing=0
    if [[ " ${missing[*]} " == *" proftpd-basic "* ]]; then proftpd_was_missing=1; fi
    # Keep package scripts from starting daemons (proftpd would listen on port 21).
    if [[ ! -e $POLICY_RC ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$POLICY_RC"
        chmod 755 "$POLICY_RC"
        POLICY_RC_OURS=1
    fi
    apt_update
    apt-get install "${APT_OPTS[@]}" --no-install-recommends "${missing[@]}" >"$WORK/apt-install.log" 2>&1 || {
        cat "$WORK/apt-install.log" >&2
        die "apt-get install ${missing[*]} failed"
    }
    if ((POLICY_RC_OURS)); then
        rm -f -- "$POLICY_RC"
        POLICY_RC_OURS=0
    fi
    # We installed proftpd only for its binary; do not leave it enabled on port 21 at boot.
    if ((proftpd_was_missing)) && command -v systemctl >/dev/null && [[ -d /run/systemd/system ]]; then
        log "disabling the proftpd system service (tests start their own instances)"
        systemctl disable --now proftpd >/dev/null 2>&1 || true
    fi
    mapfile -t still_missing < <(missing_packages "${APT_PACKAGES[@]}")
    ((${#still_missing[@]} == 0)) || die "still not installed: ${still_missing[*]}"
fi

# --- 2. vsftpd and pure-ftpd, unpacked (they conflict with proftpd as packages) ---------------
extracted_ok() { # NAME: all binaries present and their shared libraries resolve
    local name=$1 bin
    for bin in ${EXTRACTED[$name]}; do
        [[ -x $SERVERS_DIR/$name/$bin ]] || return 1
        if ldd "$SERVERS_DIR/$name/$bin" 2>/dev/null | grep -q 'not found'; then return 1; fi
    done
}

to_fetch=()
for name in "${!EXTRACTED[@]}"; do
    extracted_ok "$name" || to_fetch+=("$name")
done
if ((${#to_fetch[@]})); then
    log "downloading and unpacking into $SERVERS_DIR: ${to_fetch[*]}"
    dl="$WORK/debs"
    mkdir -p "$dl"
    # apt drops privileges to _apt while downloading; let it write here (avoids the
    # "Download is performed unsandboxed as root" warning).
    chmod 755 "$WORK"
    if getent passwd _apt >/dev/null; then chown _apt "$dl"; fi
    if ! (cd "$dl" && apt-get download -q "${to_fetch[@]}") >"$WORK/apt-download.log" 2>&1; then
        apt_update # fresh machine: no package lists yet
        (cd "$dl" && apt-get download -q "${to_fetch[@]}") >"$WORK/apt-download.log" 2>&1 || {
            cat "$WORK/apt-download.log" >&2
            die "apt-get download ${to_fetch[*]} failed"
        }
    fi
    mkdir -p "$SERVERS_DIR"
    for name in "${to_fetch[@]}"; do
        debs=("$dl/${name}"_*.deb)
        [[ -f ${debs[0]} ]] || die "apt-get download produced no .deb for $name"
        rm -rf -- "$SERVERS_DIR/$name.new"
        dpkg-deb -x "${debs[0]}" "$SERVERS_DIR/$name.new"
        dpkg-deb -f "${debs[0]}" Version >"$SERVERS_DIR/$name.new/VERSION"
        rm -rf -- "${SERVERS_DIR:?}/${name:?}"
        mv -- "$SERVERS_DIR/$name.new" "$SERVERS_DIR/$name"
        if ! extracted_ok "$name"; then
            for bin in ${EXTRACTED[$name]}; do ldd "$SERVERS_DIR/$name/$bin" >&2 || true; done
            die "$name unpacked into $SERVERS_DIR/$name but its binaries do not run (see ldd above)"
        fi
    done
fi

# --- 3. user ftp with an existing home ---------------------------------------------------------
if ! getent passwd ftp >/dev/null; then
    log "creating system user ftp"
    group=nogroup
    getent group "$group" >/dev/null || group=ftp
    getent group "$group" >/dev/null || groupadd --system "$group"
    useradd --system --home-dir /srv/ftp --no-create-home --shell /usr/sbin/nologin --gid "$group" ftp
fi
ftp_home=$(getent passwd ftp | cut -d: -f6)
[[ -n $ftp_home && $ftp_home != /nonexistent ]] || die "user ftp has no usable home directory ($ftp_home)"
if [[ ! -d $ftp_home ]]; then
    mkdir -p -- "$ftp_home"
    chmod 755 "$ftp_home"
fi

# --- 4. /dev/fuse -------------------------------------------------------------------------------
if [[ ! -c /dev/fuse ]]; then
    modprobe fuse >/dev/null 2>&1 || true
    [[ -c /dev/fuse ]] || die "/dev/fuse is missing: load the fuse kernel module (modprobe fuse), or give the container the device (docker run --device /dev/fuse --cap-add SYS_ADMIN)"
fi

# --- 5. Rust toolchain ----------------------------------------------------------------------------
if [[ -d $HOME/.cargo/bin && :$PATH: != *":$HOME/.cargo/bin:"* ]]; then
    PATH="$HOME/.cargo/bin:$PATH"
fi
if ! command -v cargo >/dev/null; then
    log "cargo not found: installing Rust with rustup (https://rustup.rs)"
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs |
        sh -s -- -y --profile minimal --component rustfmt,clippy >"$WORK/rustup.log" 2>&1 || {
        cat "$WORK/rustup.log" >&2
        die "installing Rust with rustup failed"
    }
    PATH="$HOME/.cargo/bin:$PATH"
    log "installed $(rustc --version); add \$HOME/.cargo/bin to your PATH"
fi
rust_version=$(rustc --version | awk '{print $2}')
if [[ $(printf '%s\n%s\n' "$MIN_RUST" "$rust_version" | sort -V | head -n1) != "$MIN_RUST" ]]; then
    die "rustc $rust_version is too old; ftpfs needs >= $MIN_RUST (rustup update stable)"
fi
if command -v rustup >/dev/null; then
    for comp in rustfmt clippy; do
        if ! rustup component list --installed 2>/dev/null | grep -q "^$comp"; then
            log "rustup component add $comp"
            rustup component add "$comp" >/dev/null
        fi
    done
fi

# --- 6. cargo-deb (contrib/package.sh) -------------------------------------------------------------
if ! cargo deb --version >/dev/null 2>&1; then
    log "cargo install cargo-deb $CARGO_DEB_VERSION (once; a few minutes)"
    cargo install cargo-deb --locked --version "$CARGO_DEB_VERSION" >"$WORK/cargo-deb.log" 2>&1 || {
        cat "$WORK/cargo-deb.log" >&2
        die "cargo install cargo-deb failed"
    }
fi

log "ok (servers in $SERVERS_DIR, rustc $rust_version)"
