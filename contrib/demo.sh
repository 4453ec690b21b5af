#!/usr/bin/env bash
# contrib/demo.sh: see ftpfs work in one command, on a fresh Debian 12 machine (as root).
#
#   contrib/demo.sh [MOUNTPOINT]        install deps, build ftpfs, start a local FTP server with
#                                       sample files, mount it (default /tmp/ftpfs-demo), show it
#   contrib/demo.sh stop [MOUNTPOINT]   unmount and stop the demo server
#
# The server is proftpd on 127.0.0.1 (port 2121, or the next free one of 2221, 2321, ...),
# configured from contrib/servers/proftpd.conf like the tests, with user demo / password demo.
# Its files live in /tmp/ftpfs-demo-server/root, so you can compare both sides.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE=/tmp/ftpfs-demo-server
ROOT=$STATE/root
DEFAULT_MNT=/tmp/ftpfs-demo
USER_NAME=demo
PASSWORD=demo

log() { printf 'demo.sh: %s\n' "$*" >&2; }
die() {
    log "ERROR: $*"
    exit 1
}

[[ $(id -u) -eq 0 ]] || die "run as root (the FTP server chroots; deps.sh installs packages): sudo $0 $*"

# Polls "$@" every 0.1 s until it succeeds or DEADLINE_S seconds have passed.
wait_for() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@"; do
        ((SECONDS < deadline)) || return 1
        sleep 0.1
    done
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# True once the server on port $1 has sent its "220" greeting.
greets() {
    (
        exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
        IFS= read -r -t 2 line <&3 || exit 1
        [[ $line == 220* ]]
    ) 2>/dev/null
}

is_mounted() { mountpoint -q -- "$1" 2>/dev/null; }
is_fuse_mount() { [[ $(findmnt -n -o FSTYPE --mountpoint "$1" 2>/dev/null) == fuse* ]]; }

# Unmounts the recorded mountpoint of the running demo and "$1" (if given), stops the server.
stop_demo() {
    local mnt mnts=("${1:-$DEFAULT_MNT}")
    if [[ -f $STATE/mountpoint ]]; then mnts+=("$(<"$STATE/mountpoint")"); fi
    for mnt in "${mnts[@]}"; do
        if is_fuse_mount "$mnt"; then
            log "unmounting $mnt"
            umount -- "$mnt" 2>/dev/null || umount -l -- "$mnt"
            rmdir -- "$mnt" 2>/dev/null || true
        fi
    done
    if [[ -f $STATE/server.pid ]]; then
        local pid
        pid=$(<"$STATE/server.pid")
        if kill -0 "$pid" 2>/dev/null; then
            log "stopping the FTP server (pid $pid)"
            pkill -TERM -P "$pid" 2>/dev/null || true # its session processes
            kill -TERM "$pid" 2>/dev/null || true
            wait_for 5 bash -c "! kill -0 $pid 2>/dev/null || grep -q '^State:.*Z' /proc/$pid/status" ||
                kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    rm -rf -- "$STATE"
}

if [[ ${1:-} == stop ]]; then
    stop_demo "${2:-}"
    log "stopped"
    exit 0
fi
MNT=${1:-$DEFAULT_MNT}
case $MNT in /*) ;; *) MNT=$PWD/$MNT ;; esac

# --- 1. dependencies and build ------------------------------------------------------------------
"$REPO/contrib/deps.sh"
if [[ -d $HOME/.cargo/bin && :$PATH: != *":$HOME/.cargo/bin:"* ]]; then PATH="$HOME/.cargo/bin:$PATH"; fi
log "building ftpfs (cargo build --release)"
(cd "$REPO" && cargo build --release --quiet)
FTPFS=${CARGO_TARGET_DIR:-$REPO/target}/release/ftpfs
[[ -x $FTPFS ]] || die "no binary at $FTPFS after cargo build"

# --- 2. a local FTP server with sample files -------------------------------------------------
stop_demo "$MNT" # a previous run, if any
mkdir -p "$ROOT/docs/nested/deeper"
chmod 755 "$STATE"
cat >"$ROOT/README.txt" <<'TXT'
Hello from the FTP server!

This file lives in /tmp/ftpfs-demo-server/root on the server side. Through ftpfs it is an
ordinary file: cat it, grep it, open it in an editor, copy it with cp or rsync.
TXT
printf '实验 (experiment): a file name in UTF-8, as in the FTP seed document.\n' >"$ROOT/实验.doc"
printf '# Notes\n\nA file three directories down.\n' >"$ROOT/docs/nested/deeper/notes.md"
printf 'spaces are fine\n' >"$ROOT/docs/file with spaces.txt"
head -c $((4 * 1024 * 1024)) /dev/urandom >"$ROOT/random-4MiB.bin"
chown -R ftp: "$ROOT"
find "$ROOT" -type d -exec chmod 755 {} + && find "$ROOT" -type f -exec chmod 644 {} +

PORT=
for candidate in 2121 2221 2321 2421 2521 2621 2721 2821 2921; do
    if ! port_in_use "$candidate"; then
        PORT=$candidate
        break
    fi
done
[[ -n $PORT ]] || die "ports 2121, 2221, ... 2921 are all in use"

uid=$(id -u ftp)
gid=$(id -g ftp)
printf '%s:%s:%s:%s::%s:/bin/false\n' "$USER_NAME" "$(openssl passwd -6 -salt ftpfsdem "$PASSWORD")" \
    "$uid" "$gid" "$ROOT" >"$STATE/ftpd.passwd"
printf 'ftpgroup:x:%s:\n' "$gid" >"$STATE/ftpd.group"
chmod 600 "$STATE/ftpd.passwd" "$STATE/ftpd.group"
cat "$REPO/contrib/servers/proftpd.conf" "$REPO/contrib/servers/proftpd-overwrite.conf" |
    sed -e "s|@PORT@|$PORT|g" -e "s|@PASV_MIN@|$((PORT + 1))|g" -e "s|@PASV_MAX@|$((PORT + 20))|g" \
        -e "s|@STATE@|$STATE|g" -e "s|@ROOT@|$ROOT|g" -e "s|@FTP_USER@|ftp|g" >"$STATE/proftpd.conf"
log "starting proftpd on 127.0.0.1:$PORT (root $ROOT)"
setsid /usr/sbin/proftpd -n -c "$STATE/proftpd.conf" </dev/null >"$STATE/stdout.log" 2>&1 &
echo $! >"$STATE/server.pid"
if ! wait_for 10 greets "$PORT"; then
    cat "$STATE/stdout.log" "$STATE/proftpd.log" >&2 2>/dev/null || true
    stop_demo "$MNT"
    die "proftpd did not answer on port $PORT (its log is above)"
fi

# --- 3. mount it ------------------------------------------------------------------------------
URL="ftp://$USER_NAME:$PASSWORD@127.0.0.1:$PORT/"
mkdir -p -- "$MNT"
printf '%s\n' "$MNT" >"$STATE/mountpoint"
log "mounting: $FTPFS $URL $MNT"
if ! "$FTPFS" "$URL" "$MNT" || ! wait_for 10 is_mounted "$MNT"; then
    stop_demo "$MNT"
    die "ftpfs did not mount (try it in the foreground with -f -d to see why)"
fi
trap 'log "something failed; clean up with: $0 stop"' ERR

show() {
    printf '\n$ %s\n' "$*"
    "$@"
}
show ls -la "$MNT"
show ls -la "$MNT/docs"
show cat "$MNT/README.txt"
show cat "$MNT/实验.doc"
show sha256sum "$MNT/random-4MiB.bin" "$ROOT/random-4MiB.bin"
printf '\n$ echo "written through ftpfs" > %s/hello-from-ftpfs.txt\n' "$MNT"
echo "written through ftpfs" >"$MNT/hello-from-ftpfs.txt"
show cat "$ROOT/hello-from-ftpfs.txt"

cat <<EOF

ftpfs is mounted: $MNT  ->  $URL
The server's own view of the same files: $ROOT

Look around:   ls -la $MNT; cp $MNT/random-4MiB.bin /tmp/; mkdir $MNT/new; rsync -a /etc/apt/ $MNT/apt/
Stop:          $0 stop        (unmounts $MNT and stops the FTP server)
EOF
