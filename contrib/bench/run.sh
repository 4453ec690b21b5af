#!/usr/bin/env bash
# contrib/bench/run.sh: ftpfs performance benchmark against curl, lftp and `rclone mount`.
#
# Starts ONE local FTP server (pure-ftpd, proftpd or vsftpd) on 127.0.0.1 with a private root
# in a temp dir. BENCH_MODE picks what runs against it:
#   loopback (default): cases 1-7 below, on loopback (as before the WAN mode existed)
#   wan:  the cases of issues 13 and 14 (contrib/bench/wan.sh), most of them through
#         delay-proxy.py, which delays control AND data connections by BENCH_RTT_MS of round
#         trip and counts FTP commands; ftpfs against lftp (one session) and rclone mount
#   all:  both
# The loopback cases, in one run:
#   1. sequential read of a BENCH_SIZE_MB random file: curl (raw client baseline), ftpfs mount,
#      rclone mount (FTP backend, default --vfs-cache-mode off)
#   2. `find` over a tree of BENCH_FILES files in BENCH_DIRS directories: names only, and with
#      `-type f -size +0` (forces a stat per entry), ftpfs vs rclone mount
#   3. the ftpfs daemon's peak RSS (VmHWM) while streaming the big file
#   4. sequential write, ftpfs vs `curl -T` (only if ftpfs accepts writes; else "skipped")
#   5. many small files: `cp -r` of the find tree into the mount, ftpfs vs rclone mount
#   6. the same with BENCH_SMALL_FILES files behind a control link with BENCH_RTT_MS of round
#      trip (contrib/bench/delay-proxy.py): how many round trips a small file costs
#   7. FTPS (explicit AUTH TLS, pure-ftpd only): sequential read and write of the big file,
#      ftpfs vs curl --ssl-reqd, both trusting the same throwaway CA
# and prints a summary table with the targets of the performance issue (PASS/MISS).
# A MISS is only reported; wrong results (byte counts, file counts, content) make it fail.
#
# Usage (as root, after contrib/deps.sh and cargo build --release):
#   sudo contrib/bench/run.sh
#   sudo BENCH_MODE=wan BENCH_SERVER=vsftpd contrib/bench/run.sh
# Environment knobs (defaults in brackets):
#   BENCH_MODE [loopback]     loopback | wan | all (see above)
#   BENCH_SIZE_MB [1024]      size of the sequential-read file
#   BENCH_FILES [5000]        files in the find tree
#   BENCH_DIRS [50]           directories in the find tree
#   BENCH_SERVER [pureftpd]   pureftpd | proftpd | vsftpd (LIST only, anonymous login)
#   BENCH_RUNS [3]            repetitions of every timed case (the median is reported)
#   BENCH_RTT_MS [10 in case 6, 40 in WAN mode]   emulated round trip; in WAN mode 0 runs
#                             the WAN cases on loopback, without the proxy
#   BENCH_SMALL_FILES [200]   files copied in case 6 (one run each: the link is slow)
#   BENCH_VERIFY [1]          1: compare the big file's content once through each client (cmp)
#   BENCH_WARM_SERVER [1]     1: after dropping caches, re-read the server's copy locally so the
#                             server serves from RAM (the disk is not what we benchmark)
#   BENCH_KEEP [0]            1: keep the work dir (logs, server root) instead of deleting it
#   BENCH_TLS [1]             1: run case 7 (the server offers optional TLS: -Y 1)
#   BENCH_TIMEOUT [900]       seconds before any single timed command is considered hung
#   FTPFS_BIN [target/release/ftpfs]   the binary under test
#   FTPFS_OPTS []             extra ftpfs arguments, e.g. "-o max_conns=8"
#   FTPFS_LOG [info]          ftpfs log filter; its logs are scanned for WARN/ERROR at the end
#   RCLONE_OPTS []            extra `rclone mount` arguments
#   FTPFS_TEST_SERVERS [/opt/ftpfs-test-servers]   where contrib/deps.sh unpacked pure-ftpd
# WAN mode has its own knobs (BENCH_CASES, BENCH_WAN_*): see the top of contrib/bench/wan.sh.
#
# The server set-up below is a private copy of the approach in contrib/servers/ and
# tests/common/server.rs (same options), so this script does not depend on their details.
set -euo pipefail

# ----- configuration -------------------------------------------------------------------------
SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd -- "$SCRIPT_DIR/../.." && pwd)

SIZE_MB=${BENCH_SIZE_MB:-1024}
NFILES=${BENCH_FILES:-5000}
NDIRS=${BENCH_DIRS:-50}
SERVER=${BENCH_SERVER:-pureftpd}
MODE=${BENCH_MODE:-loopback}
FTP_DIR='' # the path under the FTP root where the bench's files are (vsftpd: /pub)
RUNS=${BENCH_RUNS:-3}
RTT_MS=${BENCH_RTT_MS:-10}
NSMALL=${BENCH_SMALL_FILES:-200}
VERIFY=${BENCH_VERIFY:-1}
WARM_SERVER=${BENCH_WARM_SERVER:-1}
KEEP=${BENCH_KEEP:-0}
TLS=${BENCH_TLS:-1}
TIMEOUT=${BENCH_TIMEOUT:-900}
FTPFS_BIN=${FTPFS_BIN:-$REPO/target/release/ftpfs}
FTPFS_LOG_FILTER=${FTPFS_LOG:-info}
read -r -a FTPFS_EXTRA <<<"${FTPFS_OPTS:-}"
read -r -a RCLONE_EXTRA <<<"${RCLONE_OPTS:-}"
SERVERS_DIR=${FTPFS_TEST_SERVERS:-/opt/ftpfs-test-servers}
FTP_USER='test'
FTP_PASS='test'
NPASV=100               # passive ports reserved for the server
MOUNT_WAIT=20           # seconds a mount may take to appear
EXIT_WAIT=15            # seconds a FUSE daemon may take to exit after unmount

# Targets from the performance issue.
TARGET_READ_VS_CURL=0.70
TARGET_READ_VS_RCLONE=2.0
TARGET_RSS_MIB=64
TARGET_WRITE_VS_CURL=0.70  # sequential write: ftpfs at least 70% of curl -T

# ----- output helpers ------------------------------------------------------------------------
if [[ -t 1 ]]; then
    C_BOLD=$'\e[1m' C_RED=$'\e[31m' C_GREEN=$'\e[32m' C_YELLOW=$'\e[33m' C_OFF=$'\e[0m'
else
    C_BOLD='' C_RED='' C_GREEN='' C_YELLOW='' C_OFF=''
fi
section() { printf '\n%s== %s ==%s\n' "$C_BOLD" "$*" "$C_OFF"; }
info() { printf '   %s\n' "$*"; }
warn() { printf '%sWARNING:%s %s\n' "$C_YELLOW" "$C_OFF" "$*" >&2; }
die() {
    printf '\n%sBENCH FAILED:%s %s\n' "$C_RED" "$C_OFF" "$*" >&2
    exit 1
}
now() { date +%s.%N; }
CLK_TCK=$(getconf CLK_TCK)
# user+system CPU seconds used so far by process $1
cpu_secs() { sed 's/^.*) //' "/proc/$1/stat" | awk -v t="$CLK_TCK" '{ printf "%.2f", ($12 + $13) / t }'; }
# awk arithmetic helpers (bash has no floats)
calc() { awk "BEGIN { printf \"%.${2:-2}f\", $1 }"; }
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.6f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
# med "t1 t2 t3 ": median of a space-separated list
med() {
    local -a a
    read -r -a a <<<"$1"
    median "${a[@]}"
}
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; }
lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }
verdict() { if "$@"; then printf '%sPASS%s' "$C_GREEN" "$C_OFF"; else printf '%sMISS%s' "$C_RED" "$C_OFF"; fi; }

# ----- preconditions -------------------------------------------------------------------------
[[ $(id -u) -eq 0 ]] || die "must run as root (starts an FTP server that chroots, drops caches): sudo $0"
[[ -e /dev/fuse ]] || die "/dev/fuse is missing"
for v in SIZE_MB NFILES NDIRS RUNS; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer (got '${!v}')"
done
((NDIRS <= NFILES)) || die "BENCH_DIRS ($NDIRS) must not exceed BENCH_FILES ($NFILES)"
case $SERVER in
pureftpd | pure-ftpd)
    SERVER=pureftpd
    SERVER_BIN=$SERVERS_DIR/pure-ftpd/usr/sbin/pure-ftpd
    PURE_PW=$SERVERS_DIR/pure-ftpd/usr/bin/pure-pw
    [[ -x $PURE_PW ]] || die "missing $PURE_PW: run contrib/deps.sh"
    ;;
proftpd) SERVER_BIN=/usr/sbin/proftpd ;;
vsftpd)
    # vsftpd logs in anonymous users without PAM: no system account or password needed
    SERVER_BIN=$SERVERS_DIR/vsftpd/usr/sbin/vsftpd
    FTP_USER='anonymous'
    FTP_PASS='anonymous'
    # vsftpd refuses a writable chroot for anonymous users (allow_writeable_chroot is for
    # local users only): the root is read-only and everything happens in pub/, as in the tests
    FTP_DIR=/pub
    ;;
*) die "BENCH_SERVER must be pureftpd, proftpd or vsftpd (got '$SERVER')" ;;
esac
case $MODE in
loopback | wan | all) ;;
*) die "BENCH_MODE must be loopback, wan or all (got '$MODE')" ;;
esac
[[ -x $SERVER_BIN ]] || die "missing $SERVER_BIN: run contrib/deps.sh"
[[ -x $FTPFS_BIN ]] || die "missing $FTPFS_BIN: run cargo build --release (or set FTPFS_BIN)"
for tool in curl rclone openssl getent ss awk cmp dd timeout umount setsid python3; do
    command -v "$tool" >/dev/null || die "missing tool '$tool': run contrib/deps.sh (rclone: apt-get install -y rclone)"
done
if [[ $MODE != loopback ]]; then
    for tool in lftp sha256sum; do
        command -v "$tool" >/dev/null || die "missing tool '$tool' (WAN mode): run contrib/deps.sh"
    done
fi
FTP_UID=$(getent passwd ftp | cut -d: -f3) || die "user 'ftp' does not exist: run contrib/deps.sh"
FTP_GID=$(getent passwd ftp | cut -d: -f4)

# WAN mode: its knobs, checks and functions (no side effects until wan_prepare/wan_main).
WAN_CASES=''
if [[ $MODE != loopback ]]; then
    # shellcheck source-path=SCRIPTDIR source=wan.sh
    source "$SCRIPT_DIR/wan.sh"
fi
# needs CASE...: true if BENCH_MODE includes the loopback cases or WAN mode runs one of CASE
needs() {
    local c
    [[ $MODE != wan ]] && return 0
    for c in "$@"; do [[ " $WAN_CASES " == *" $c "* ]] && return 0; done
    return 1
}

CAN_DROP=1
if ! (sync && echo 3 >/proc/sys/vm/drop_caches) 2>/dev/null; then
    CAN_DROP=0
    warn "cannot write /proc/sys/vm/drop_caches; results may include page-cache hits"
fi

# ----- state and cleanup ---------------------------------------------------------------------
WORK=$(mktemp -d /tmp/ftpfs-bench.XXXXXX)
chmod 755 "$WORK" # the server drops privileges and must traverse it
SRV_ROOT=$WORK/root   # the FTP root (chroot) of the FTP user
ROOT=$SRV_ROOT$FTP_DIR # the directory the bench uses: the FTP root, or vsftpd's pub/
STATE=$WORK/server
LOGS=$WORK/logs
MNTS=$WORK/mnt
mkdir -p "$ROOT" "$STATE" "$LOGS" "$MNTS"
# Run a private copy: other people may rebuild target/release/ftpfs while the bench runs.
cp -- "$FTPFS_BIN" "$WORK/ftpfs"
FTPFS_SRC=$FTPFS_BIN
FTPFS_BIN=$WORK/ftpfs
SERVER_PID=
FTPFS_TLS_ARGS=() # case 7 sets --cafile
DAEMON_PIDS=() # ftpfs / rclone processes we started
MOUNTED=()     # mountpoints we created

is_mounted() { awk -v m="$1" '$2 == m { found = 1 } END { exit !found }' /proc/self/mounts; }

cleanup() {
    local rc=$? m p i
    trap - EXIT INT TERM
    for m in "${MOUNTED[@]}"; do
        if is_mounted "$m"; then umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; fi
    done
    for p in "${DAEMON_PIDS[@]}"; do
        if kill -0 "$p" 2>/dev/null; then
            kill -TERM "$p" 2>/dev/null || true
            for ((i = 0; i < 50; i++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
            kill -KILL "$p" 2>/dev/null || true
        fi
        wait "$p" 2>/dev/null || true
    done
    if [[ -n $SERVER_PID ]]; then
        # setsid made the server a process-group leader: this ends it and its session processes.
        kill -TERM -- "-$SERVER_PID" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL -- "-$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    for m in "${MOUNTED[@]}"; do
        if is_mounted "$m"; then
            warn "$m is still mounted; not deleting $WORK"
            KEEP=1
        fi
    done
    if [[ $KEEP == 1 || $rc -ne 0 ]]; then
        printf '\nwork dir kept (logs, server root): %s\n' "$WORK" >&2
    else
        rm -rf --one-file-system -- "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ----- FTP server ----------------------------------------------------------------------------
# Picks a free control port followed by NPASV free passive ports, below the kernel's ephemeral
# range so that no outgoing connection can be sitting on them.
pick_ports() {
    local lo hi used base p ok attempt
    read -r lo hi </proc/sys/net/ipv4/ip_local_port_range
    used=" $(ss -Htan | awk '{ n = split($4, a, ":"); print a[n] }' | sort -u | tr '\n' ' ') "
    for ((attempt = 0; attempt < 100; attempt++)); do
        base=$((20000 + RANDOM % 10000))
        ((base + NPASV < lo || base > hi)) || continue
        ok=1
        for ((p = base; p <= base + NPASV; p++)); do
            if [[ $used == *" $p "* ]]; then ok=0 && break; fi
        done
        if ((ok)); then
            PORT=$base PASV_MIN=$((base + 1)) PASV_MAX=$((base + NPASV))
            return 0
        fi
    done
    die "no free block of $((NPASV + 1)) ports found"
}

# Reads the server's greeting; true once a complete "220 " line arrives.
banner_ok() {
    local line
    { exec {fd}<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || return 1
    while IFS= read -r -t 2 line <&"$fd"; do
        if [[ $line == "220 "* ]]; then
            exec {fd}>&-
            return 0
        fi
        [[ $line == "220-"* || $line == " "* ]] || break
    done
    exec {fd}>&-
    return 1
}

# A throwaway CA and a leaf for 127.0.0.1 in $STATE/tls (as tests/common/tls.rs makes them).
make_tls_files() {
    local d=$STATE/tls
    mkdir -p "$d"
    (
        cd "$d"
        openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 \
            -subj '/CN=ftpfs bench CA' -addext 'basicConstraints=critical,CA:TRUE' \
            -addext 'keyUsage=critical,keyCertSign,cRLSign'
        openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=localhost
        printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >ext.cnf
        openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem \
            -days 2 -extfile ext.cnf
        chmod 600 server.key ca.key
    ) >"$LOGS/openssl.log" 2>&1 || die "openssl could not make the TLS files (see $LOGS/openssl.log)"
}

prepare_server_files() {
    local hash
    if [[ $SERVER == pureftpd && $TLS == 1 ]]; then make_tls_files; fi
    chown "$FTP_UID:$FTP_GID" "$ROOT"
    chmod 755 "$ROOT"
    hash=$(openssl passwd -6 -salt ftpfsbnc "$FTP_PASS")
    case $SERVER in
    pureftpd)
        # pure-pw's passwd format; "/./" marks the chroot point. A SHA-512 crypt hash keeps
        # logins fast (pure-pw useradd would use argon2id: ~3 s per login).
        printf '%s:%s:%s:%s::%s/./::::::::::::\n' "$FTP_USER" "$hash" "$FTP_UID" "$FTP_GID" "$ROOT" \
            >"$STATE/pureftpd.passwd"
        chmod 600 "$STATE/pureftpd.passwd"
        "$PURE_PW" mkdb "$STATE/pureftpd.pdb" -f "$STATE/pureftpd.passwd" </dev/null
        ;;
    proftpd)
        printf '%s:%s:%s:%s::%s:/bin/false\n' "$FTP_USER" "$hash" "$FTP_UID" "$FTP_GID" "$ROOT" \
            >"$STATE/ftpd.passwd"
        printf 'ftpgroup:x:%s:\n' "$FTP_GID" >"$STATE/ftpd.group"
        chmod 600 "$STATE/ftpd.passwd" "$STATE/ftpd.group"
        ;;
    vsftpd)
        mkdir -p "$STATE/empty" # secure_chroot_dir: empty, not writable
        chmod 555 "$STATE/empty"
        chown root:root "$SRV_ROOT" # anon_root: owned by root, not writable
        chmod 755 "$SRV_ROOT"
        ;;
    esac
}

server_command() {
    case $SERVER in
    pureftpd)
        # -E no anonymous, -A chroot everyone, -H no DNS, -4 IPv4, -c/-C max clients total/per IP,
        # -f none: no syslog (a /dev/log whose reader stalls would block every login)
        SERVER_CMD=("$SERVER_BIN" -S "127.0.0.1,$PORT" -p "$PASV_MIN:$PASV_MAX"
            -l "puredb:$STATE/pureftpd.pdb" -E -A -H -4 -c 100 -C 100 -f none
            -g "$STATE/pure-ftpd.pid" -O "clf:$STATE/transfer.log")
        # WAN mode lists a directory of BENCH_WAN_HUGE_FILES entries (case 13c): without -L,
        # pure-ftpd cuts listings at 10000 entries.
        if [[ $MODE != loopback ]]; then SERVER_CMD+=(-L 1000000:8); fi
        # Optional TLS (-Y 1): plain clients are unaffected; case 7 asks for it.
        if [[ $TLS == 1 ]]; then
            SERVER_CMD+=(-Y 1 -2 "$STATE/tls/server.pem,$STATE/tls/server.key")
        fi
        ;;
    proftpd)
        cat >"$STATE/proftpd.conf" <<EOF
ServerName            "ftpfs bench proftpd"
ServerType            standalone
DefaultServer         on
Port                  $PORT
DefaultAddress        127.0.0.1
SocketBindTight       on
UseIPv6               off
User                  nobody
Group                 nogroup
Umask                 022
MaxInstances          100
PassivePorts          $PASV_MIN $PASV_MAX
PidFile               $STATE/proftpd.pid
ScoreboardFile        $STATE/proftpd.scoreboard
DelayTable            none
WtmpLog               off
UseReverseDNS         off
UseLastlog            off
SystemLog             $STATE/proftpd.log
TransferLog           $STATE/xfer.log
AuthPAM               off
AuthOrder             mod_auth_file.c
AuthUserFile          $STATE/ftpd.passwd
AuthGroupFile         $STATE/ftpd.group
RequireValidShell     off
DefaultRoot           ~
AllowRetrieveRestart  on
AllowOverwrite        on
AllowStoreRestart     on
EOF
        chmod 600 "$STATE/proftpd.conf"
        SERVER_CMD=("$SERVER_BIN" -n -c "$STATE/proftpd.conf")
        ;;
    vsftpd)
        # contrib/servers/vsftpd.conf (anonymous login, read-only root, writable pub/ = $ROOT).
        # vsftpd has no MLSD. It runs as it ships, without its protocol log: that log costs
        # vsftpd about half its time per command (100,000 MDTMs: 1.9 s logged, 1.05 s not),
        # which would time the server's logging rather than the clients. BENCH_VSFTPD_LOG=1
        # turns it on (log_ftp_protocol), and WAN mode then counts commands there on loopback.
        # Comments must be whole lines; the file must be owned by root.
        if [[ ${BENCH_VSFTPD_LOG:-0} == 1 ]]; then VS_PROTOCOL_LOG=YES; else VS_PROTOCOL_LOG=NO; fi
        cat >"$STATE/vsftpd.conf" <<EOF
listen=YES
listen_ipv6=NO
listen_address=127.0.0.1
listen_port=$PORT
background=NO
anonymous_enable=YES
local_enable=NO
write_enable=YES
anon_upload_enable=YES
anon_mkdir_write_enable=YES
anon_other_write_enable=YES
anon_world_readable_only=NO
anon_umask=022
anon_root=$SRV_ROOT
ftp_username=ftp
pasv_enable=YES
pasv_min_port=$PASV_MIN
pasv_max_port=$PASV_MAX
pasv_address=127.0.0.1
max_clients=0
max_per_ip=0
seccomp_sandbox=NO
isolate=NO
isolate_network=NO
secure_chroot_dir=$STATE/empty
pam_service_name=vsftpd
xferlog_enable=YES
vsftpd_log_file=$STATE/vsftpd.log
log_ftp_protocol=$VS_PROTOCOL_LOG
EOF
        chmod 600 "$STATE/vsftpd.conf"
        SERVER_CMD=("$SERVER_BIN" "$STATE/vsftpd.conf")
        ;;
    esac
}

start_server() {
    local attempt i
    prepare_server_files
    for ((attempt = 1; attempt <= 5; attempt++)); do
        pick_ports
        server_command
        printf '===== bench: starting %s on port %s =====\n' "$SERVER" "$PORT" >>"$STATE/stdout.log"
        (cd "$STATE" && exec setsid "${SERVER_CMD[@]}") </dev/null >>"$STATE/stdout.log" 2>&1 &
        SERVER_PID=$!
        for ((i = 0; i < 150; i++)); do
            if ! kill -0 "$SERVER_PID" 2>/dev/null; then break; fi
            if banner_ok "$PORT"; then
                # Make sure it is our server that answers, not someone who took the port.
                if ss -Htlnp "sport = :$PORT" | grep -q "pid=$SERVER_PID,"; then return 0; fi
                break
            fi
            sleep 0.1
        done
        kill -TERM -- "-$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=
        warn "$SERVER did not come up on port $PORT (attempt $attempt); log:"
        tail -n 20 "$STATE/stdout.log" "$STATE"/*.log >&2 2>/dev/null || true
    done
    die "could not start $SERVER"
}

# ----- mounts --------------------------------------------------------------------------------
# Waits until $1 shows up in /proc/self/mounts (not stat(), which would go through FUSE) while
# process $2 is alive; $3 is its log.
wait_mounted() {
    local mnt=$1 pid=$2 log=$3 i
    for ((i = 0; i < MOUNT_WAIT * 20; i++)); do
        is_mounted "$mnt" && return 0
        if ! kill -0 "$pid" 2>/dev/null; then
            wait "$pid" 2>/dev/null || true
            tail -n 30 "$log" >&2 || true
            die "the daemon for $mnt exited before mounting (log: $log)"
        fi
        sleep 0.05
    done
    tail -n 30 "$log" >&2 || true
    die "$mnt did not get mounted within ${MOUNT_WAIT}s (log: $log)"
}

# mount_ftpfs TAG: mounts the server's root on a fresh mountpoint; sets MNT and FS_PID. ftpfs
# runs with -f in the background so that we know the daemon's pid (for VmHWM).
mount_ftpfs() {
    MNT=$MNTS/ftpfs-$1
    LOG=$LOGS/ftpfs-$1.log
    mkdir -p "$MNT"
    MOUNTED+=("$MNT")
    FTPFS_LOG=$FTPFS_LOG_FILTER "$FTPFS_BIN" "$FTPFS_URL" "$MNT" -f "${FTPFS_AUTH[@]}" "${FTPFS_EXTRA[@]}" \
        "${FTPFS_TLS_ARGS[@]}" \
        </dev/null >"$LOG" 2>&1 &
    FS_PID=$!
    DAEMON_PIDS+=("$FS_PID")
    wait_mounted "$MNT" "$FS_PID" "$LOG"
}

# mount_rclone TAG: `rclone mount` of the same server through an on-the-fly :ftp: remote
# configured by environment variables (rclone >= 1.55); sets MNT and FS_PID.
mount_rclone() {
    MNT=$MNTS/rclone-$1
    LOG=$LOGS/rclone-$1.log
    mkdir -p "$MNT"
    MOUNTED+=("$MNT")
    RCLONE_CONFIG=$WORK/rclone.conf RCLONE_FTP_HOST=127.0.0.1 RCLONE_FTP_PORT=${CTRL_PORT:-$PORT} \
        RCLONE_FTP_USER=$FTP_USER RCLONE_FTP_PASS=$RCLONE_PASS_OBSCURED \
        rclone mount ":ftp:$FTP_DIR/" "$MNT" --log-file "$LOG" --log-level NOTICE "${RCLONE_EXTRA[@]}" \
        </dev/null >"$LOG.out" 2>&1 &
    FS_PID=$!
    DAEMON_PIDS+=("$FS_PID")
    wait_mounted "$MNT" "$FS_PID" "$LOG"
}

# Unmounts $MNT and waits for its daemon $FS_PID to exit.
unmount_current() {
    local i
    umount "$MNT" || die "umount $MNT failed"
    for ((i = 0; i < EXIT_WAIT * 10; i++)); do
        kill -0 "$FS_PID" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$FS_PID" 2>/dev/null; then
        warn "daemon $FS_PID did not exit ${EXIT_WAIT}s after unmounting $MNT; killing it"
        kill -KILL "$FS_PID" 2>/dev/null || true
    fi
    wait "$FS_PID" 2>/dev/null || true
}

mount_fs() { if [[ $1 == ftpfs ]]; then mount_ftpfs "$2"; else mount_rclone "$2"; fi; }

# Drops the page cache (client side: nothing may be served from a previous read), then
# re-reads the server's copies so that the server itself serves from RAM (see README).
drop_caches() {
    if ((CAN_DROP)); then
        sync
        echo 3 >/proc/sys/vm/drop_caches
    fi
    if [[ $WARM_SERVER == 1 ]]; then
        if [[ -e $ROOT/big.bin ]]; then cat "$ROOT/big.bin" >/dev/null; fi
        if [[ -e $ROOT/tree ]]; then find "$ROOT/tree" -type f -size +0 >/dev/null; fi
    fi
}

# Prints the distinct WARN/ERROR lines of all ftpfs mounts and the first rclone ERROR lines.
report_daemon_logs() {
    local ftpfs_logs rclone_logs n_warn n_rwarn
    section "daemon logs"
    shopt -s nullglob
    ftpfs_logs=("$LOGS"/ftpfs-*.log)
    rclone_logs=("$LOGS"/rclone-*.log)
    n_warn=$(cat "${ftpfs_logs[@]}" /dev/null | grep -cE '\b(WARN|ERROR)\b' || true)
    info "ftpfs (${#ftpfs_logs[@]} mounts, FTPFS_LOG=$FTPFS_LOG_FILTER): $n_warn WARN/ERROR lines"
    if ((n_warn > 0)); then
        # strip the timestamp so that identical messages collapse
        cat "${ftpfs_logs[@]}" | grep -E '\b(WARN|ERROR)\b' | sed -E 's/^\[?[0-9TZ:.+-]+ ?//' |
            sort | uniq -c | sort -rn | awk 'NR <= 15' | sed 's/^/     /'
    fi
    n_rwarn=$(cat "${rclone_logs[@]}" /dev/null | grep -cE '(ERROR|CRITICAL)' || true)
    info "rclone (${#rclone_logs[@]} mounts): $n_rwarn ERROR lines"
    ((n_rwarn > 0)) && grep -hE '(ERROR|CRITICAL)' "${rclone_logs[@]}" | awk 'NR <= 5' | sed 's/^/     /'
    shopt -u nullglob
}

# ----- timed operations ----------------------------------------------------------------------
# Each prints "SECONDS RESULT"; the caller checks RESULT.
# timed_curl [CURL_ARGS...]: downloads big.bin to /dev/null; prints seconds and bytes.
timed_curl() {
    local t0 t1 n
    t0=$(now)
    n=$(timeout -k 10 "$TIMEOUT" curl -sS -o /dev/null -w '%{size_download}' "$FTP_URL_NOCRED/big.bin" \
        --user "$FTP_USER:$FTP_PASS" "$@") || die "curl download failed"
    t1=$(now)
    echo "$(calc "$t1 - $t0" 6) $n"
}
timed_dd() {
    local t0 t1 n
    t0=$(now)
    n=$(LC_ALL=C timeout -k 10 "$TIMEOUT" dd if="$1" of=/dev/null bs=1M 2>&1 >/dev/null |
        awk '/bytes/ { print $1 }') || die "dd $1 failed"
    t1=$(now)
    echo "$(calc "$t1 - $t0" 6) ${n:-0}"
}
# wait_server_size FILE: waits until the server's copy has the full size (a FUSE daemon may
# upload after close()).
wait_server_size() {
    local i
    for ((i = 0; i < TIMEOUT * 100; i++)); do
        [[ $(stat -c %s "$1" 2>/dev/null || echo 0) -eq $BIG_BYTES ]] && return 0
        sleep 0.01
    done
    die "$1 did not reach $BIG_BYTES bytes on the server"
}
# timed_find DIR names|stat
timed_find() {
    local t0 t1 n err=$LOGS/find.err
    t0=$(now)
    if [[ $2 == names ]]; then
        n=$(timeout -k 10 "$TIMEOUT" find "$1" 2>"$err" | wc -l) || { cat "$err" >&2; die "find $1 failed"; }
    else
        n=$(timeout -k 10 "$TIMEOUT" find "$1" -type f -size +0 2>"$err" | wc -l) ||
            { cat "$err" >&2; die "find $1 -type f -size +0 failed"; }
    fi
    t1=$(now)
    [[ -s $err ]] && { cat "$err" >&2; die "find $1 printed errors"; }
    echo "$(calc "$t1 - $t0" 6) $n"
}

# ----- start ---------------------------------------------------------------------------------
BIG_BYTES=$((SIZE_MB * 1024 * 1024))
section "ftpfs benchmark"
info "date:        $(date -Is)"
info "host:        $(uname -srm), $(nproc) CPUs, $(awk '/MemTotal/ { printf "%.1f GiB RAM", $2 / 1048576 }' /proc/meminfo)"
info "ftpfs:       $FTPFS_SRC ($("$FTPFS_BIN" --version 2>/dev/null || echo '?'); built $(date -r "$FTPFS_SRC" -Is); sha256 $(sha256sum "$FTPFS_BIN" | cut -c1-12))"
info "git:         $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$REPO" diff --quiet HEAD -- src 2>/dev/null || echo ' (src/ has uncommitted changes)')"
info "ftpfs args:  -f ${FTPFS_EXTRA[*]:-(defaults)}   FTPFS_LOG=$FTPFS_LOG_FILTER"
info "rclone:      $(rclone version 2>/dev/null | awk 'NR == 1') (mount, FTP backend, vfs-cache-mode off) ${RCLONE_EXTRA[*]:-}"
info "curl:        $(curl --version | awk 'NR == 1 { print $1, $2 }')"
info "sizes:       ${SIZE_MB} MiB file; $NFILES files in $NDIRS dirs; $RUNS run(s) each, median reported"
info "caches:      drop_caches $( ((CAN_DROP)) && echo yes || echo NO) before every run; fresh mount every run; server-side warm: $([[ $WARM_SERVER == 1 ]] && echo yes || echo no)"
info "work dir:    $WORK"
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
info "load avg:    $LOAD_START (1/5/15 min) before starting"
if awk -v l="${LOAD_START%% *}" 'BEGIN { exit !(l > 0.5) }'; then
    warn "the machine is busy (load $LOAD_START): timings will be noisy; results are best on an idle machine"
fi

section "preparing data on the server's disk"
if needs 14f; then
    t0=$(now)
    head -c "$BIG_BYTES" /dev/urandom >"$ROOT/big.bin"
    info "big.bin: $SIZE_MB MiB of random data ($(calc "$(now) - $t0" 1) s)"
fi
EXPECT_ALL=$((1 + NDIRS + NFILES))
EXPECT_FILES=$NFILES
if needs 13a 13d; then
    t0=$(now)
    mkdir -p "$ROOT/tree"
    for ((d = 0; d < NDIRS; d++)); do
        dir=$ROOT/tree/$(printf 'dir%03d' "$d")
        mkdir -p "$dir"
        # spread NFILES over NDIRS as evenly as possible
        per=$((NFILES / NDIRS + (d < NFILES % NDIRS ? 1 : 0)))
        for ((f = 0; f < per; f++)); do
            printf 'file %d in dir %d\n' "$f" "$d" >"$dir/$(printf 'file%05d.txt' "$f")"
        done
    done
    [[ $(find "$ROOT/tree" | wc -l) -eq $EXPECT_ALL ]] || die "local tree has the wrong number of entries"
    info "tree/: $NFILES files in $NDIRS directories ($(calc "$(now) - $t0" 1) s); expecting $EXPECT_ALL entries from 'find', $EXPECT_FILES from 'find -type f -size +0'"
fi
if [[ $MODE != loopback ]]; then wan_prepare; fi
chown -R "$FTP_UID:$FTP_GID" "$ROOT"
printf 'ftpfs bench write probe\n' >"$WORK/probe.txt"
RCLONE_PASS_OBSCURED=$(rclone obscure "$FTP_PASS")
touch "$WORK/rclone.conf"

start_server
FTP_URL_NOCRED=ftp://127.0.0.1:$PORT$FTP_DIR
# Newer ftpfs binaries take the password from a file (and warn about one in the URL).
if "$FTPFS_BIN" --help 2>/dev/null | grep -q -- '--password-file'; then
    (umask 077 && printf '%s\n' "$FTP_PASS" >"$WORK/ftp-password")
    FTPFS_URL=ftp://$FTP_USER@127.0.0.1:$PORT$FTP_DIR/
    FTPFS_AUTH=(--password-file "$WORK/ftp-password")
else
    FTPFS_URL=ftp://$FTP_USER:$FTP_PASS@127.0.0.1:$PORT$FTP_DIR/
    FTPFS_AUTH=()
fi
info "server:      $SERVER (pid $SERVER_PID) on 127.0.0.1:$PORT, passive ports $PASV_MIN-$PASV_MAX, root $ROOT"
if [[ $MODE == wan ]]; then
    wan_main
    exit 0
fi

# ----- 1 + 3. sequential read and ftpfs peak RSS ---------------------------------------------
section "1. sequential read of big.bin ($SIZE_MB MiB)"
declare -A READ_T  # client -> list of seconds
RSS_KIB=()
CPU_T=''
declare -A CUR # client -> seconds in the current run
R_FC='' R_FR='' # per-run throughput ratios ftpfs/curl, ftpfs/rclone
for ((r = 1; r <= RUNS; r++)); do
    for client in curl ftpfs rclone; do
        drop_caches
        if [[ $client == curl ]]; then
            out=$(timed_curl)
            read -r secs bytes <<<"$out"
            what="curl -o /dev/null"
        else
            mount_fs "$client" "read$r"
            out=$(timed_dd "$MNT/big.bin")
            read -r secs bytes <<<"$out"
            what="dd bs=1M of=/dev/null via $client mount"
            if [[ $client == ftpfs ]]; then
                hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$FS_PID/status")
                cpu=$(cpu_secs "$FS_PID")
                RSS_KIB+=("$hwm")
                CPU_T+="$cpu "
            fi
            unmount_current
        fi
        [[ $bytes -eq $BIG_BYTES ]] || die "$client read $bytes bytes of big.bin, expected $BIG_BYTES"
        READ_T[$client]+="$secs "
        CUR[$client]=$secs
        printf '   run %d  %-6s %8.2f s  %9.1f MiB/s   (%s)%s\n' "$r" "$client" "$secs" \
            "$(calc "$SIZE_MB / $secs" 1)" "$what" \
            "$([[ $client == ftpfs ]] && printf '  VmHWM %.1f MiB, CPU %.2f s' "$(calc "$hwm / 1024" 1)" "$cpu")"
    done
    # throughput ratios of this run, whose clients ran back to back under similar load
    R_FC+="$(calc "${CUR[curl]} / ${CUR[ftpfs]}" 4) "
    R_FR+="$(calc "${CUR[rclone]} / ${CUR[ftpfs]}" 4) "
done

if [[ $VERIFY == 1 ]]; then
    info "verifying content (cmp against the server's copy, untimed, fresh mounts) ..."
    timeout -k 10 "$TIMEOUT" curl -sS --user "$FTP_USER:$FTP_PASS" "$FTP_URL_NOCRED/big.bin" |
        cmp - "$ROOT/big.bin" || die "curl: big.bin content differs"
    for client in ftpfs rclone; do
        drop_caches
        mount_fs "$client" verify
        timeout -k 10 "$TIMEOUT" cmp "$MNT/big.bin" "$ROOT/big.bin" || die "$client: big.bin content differs"
        unmount_current
    done
    info "content identical through curl, ftpfs and rclone"
fi

# ----- 2. find ---------------------------------------------------------------------------------
section "2. find over tree/ ($NFILES files in $NDIRS dirs)"
declare -A FIND_T # "client/mode" -> list of seconds
declare -A R_FIND=([names]='' [stat]='') # mode -> per-run time ratios ftpfs/rclone
for ((r = 1; r <= RUNS; r++)); do
    for mode in names stat; do
        for client in ftpfs rclone; do
            drop_caches
            mount_fs "$client" "find-$mode$r"
            out=$(timed_find "$MNT/tree" "$mode")
            read -r secs n <<<"$out"
            unmount_current
            if [[ $mode == names ]]; then expect=$EXPECT_ALL cmd="find MNT/tree | wc -l"; else
                expect=$EXPECT_FILES cmd="find MNT/tree -type f -size +0 | wc -l"
            fi
            [[ $n -eq $expect ]] || die "$client: '$cmd' counted $n, expected $expect"
            FIND_T[$client/$mode]+="$secs "
            CUR[$client]=$secs
            printf '   run %d  %-6s %8.3f s  %6d entries  (%s)\n' "$r" "$client" "$secs" "$n" "$cmd"
        done
        R_FIND[$mode]+="$(calc "${CUR[ftpfs]} / ${CUR[rclone]}" 4) " # time ratio of this run
    done
done

# ----- 4. sequential write (only once ftpfs can write) ---------------------------------------
# >>> WRITE BENCHMARK: "ftpfs write vs curl -T". Runs only when ftpfs accepts writes, detected
# >>> by cp'ing a small file into a fresh mount. Until then it prints "skipped: ftpfs is read-only".
section "4. sequential write ($SIZE_MB MiB): ftpfs vs curl -T"
WRITE_RESULT=skipped
mount_ftpfs write-probe
if cp "$WORK/probe.txt" "$MNT/.bench-write-probe" 2>"$LOGS/write-probe.err"; then
    rm -f "$MNT/.bench-write-probe" || true
    unmount_current
    rm -f "$ROOT/.bench-write-probe"
    cp "$ROOT/big.bin" "$WORK/upload.bin" # the source lives outside the server root
    declare -A WRITE_T
    R_W=''
    for ((r = 1; r <= RUNS; r++)); do
        for client in curl ftpfs; do
            rm -f "$ROOT/up-$client.bin"
            drop_caches
            cat "$WORK/upload.bin" >/dev/null
            if [[ $client == curl ]]; then
                t0=$(now)
                timeout -k 10 "$TIMEOUT" curl -sS -T "$WORK/upload.bin" --user "$FTP_USER:$FTP_PASS" \
                    "$FTP_URL_NOCRED/up-curl.bin" || die "curl -T failed"
            else
                mount_ftpfs "write$r"
                t0=$(now)
                timeout -k 10 "$TIMEOUT" dd if="$WORK/upload.bin" of="$MNT/up-ftpfs.bin" bs=1M status=none ||
                    die "dd into the ftpfs mount failed"
            fi
            t_cmd=$(now)
            wait_server_size "$ROOT/up-$client.bin"
            t1=$(now)
            [[ $client == ftpfs ]] && unmount_current
            cmp "$WORK/upload.bin" "$ROOT/up-$client.bin" || die "$client: uploaded content differs"
            secs=$(calc "$t1 - $t0" 6)
            WRITE_T[$client]+="$secs "
            CUR[$client]=$secs
            printf '   run %d  %-6s %8.2f s  %9.1f MiB/s   (%s returned after %.2f s)\n' "$r" "$client" "$secs" \
                "$(calc "$SIZE_MB / $secs" 1)" "$([[ $client == curl ]] && echo 'curl -T' || echo 'dd + close')" \
                "$(calc "$t_cmd - $t0" 2)"
        done
        R_W+="$(calc "${CUR[curl]} / ${CUR[ftpfs]}" 4) "
    done
    rm -f "$WORK/upload.bin" "$ROOT"/up-*.bin
    WRITE_RESULT='measured'
else
    info "skipped: ftpfs is read-only ($(head -n 1 "$LOGS/write-probe.err"))"
    unmount_current
fi
# <<< END WRITE BENCHMARK

# ----- 5. many small files ------------------------------------------------------------------
# cp -r of tree/ (the find tree) into a fresh directory through each mount; the copy on the
# server is then compared with the source (diff -r, untimed).
SMALL_RESULT=skipped
if [[ $WRITE_RESULT == measured ]]; then
    section "5. cp -r of tree/ ($NFILES small files in $NDIRS dirs) into the mount"
    cp -r "$ROOT/tree" "$WORK/tree-src" # outside the server root
    declare -A SMALL_T
    R_SMALL=''
    for ((r = 1; r <= RUNS; r++)); do
        for client in ftpfs rclone; do
            rm -rf "$ROOT/copy-$client"
            drop_caches
            mount_fs "$client" "small$r"
            t0=$(now)
            timeout -k 10 "$TIMEOUT" cp -r "$WORK/tree-src" "$MNT/copy-$client" ||
                die "$client: cp -r into the mount failed"
            unmount_current # rclone may upload after close(): its unmount waits for that
            t1=$(now)
            diff -r "$WORK/tree-src" "$ROOT/copy-$client" >/dev/null ||
                die "$client: the copied tree differs on the server"
            secs=$(calc "$t1 - $t0" 6)
            SMALL_T[$client]+="$secs "
            CUR[$client]=$secs
            printf '   run %d  %-6s %8.2f s  %7.0f files/s   (cp -r, then unmount)\n' "$r" "$client" \
                "$secs" "$(calc "$NFILES / $secs" 0)"
        done
        R_SMALL+="$(calc "${CUR[ftpfs]} / ${CUR[rclone]}" 4) "
    done
    rm -rf "$WORK/tree-src" "$ROOT"/copy-*
    SMALL_RESULT=measured
fi

# ----- 6. small files over a slow control link ------------------------------------------------
# The control connections go through delay-proxy.py (BENCH_RTT_MS per round trip); the data
# connections go straight to the passive ports. One run per client: this counts round trips.
# (WAN mode, contrib/bench/wan.sh, delays the data connections and the handshakes too.)
RTT_RESULT=skipped
if [[ $SMALL_RESULT == measured ]]; then
    section "6. cp -r of $NSMALL small files with a ${RTT_MS} ms control round trip"
    mkdir -p "$WORK/rtt-src"
    for ((i = 0; i < NSMALL; i++)); do head -c $((100 + i * 37 % 4000)) /dev/urandom >"$WORK/rtt-src/f$i"; done
    rm -f "$WORK/proxy.port"
    # control connection only, no handshake delay: as this case always measured
    python3 "$SCRIPT_DIR/delay-proxy.py" --upstream "$PORT" --rtt-ms "$RTT_MS" --control-only \
        --no-connect-delay --port-file "$WORK/proxy.port" >"$LOGS/delay-proxy.log" 2>&1 &
    DAEMON_PIDS+=("$!")
    for ((i = 0; i < 100; i++)); do [[ -s $WORK/proxy.port ]] && break; sleep 0.05; done
    [[ -s $WORK/proxy.port ]] || die "delay-proxy.py did not start (see $LOGS/delay-proxy.log)"
    CTRL_PORT=$(sed -n 1p "$WORK/proxy.port")
    DIRECT_URL=$FTPFS_URL
    FTPFS_URL=${FTPFS_URL/:$PORT\//:$CTRL_PORT/}
    declare -A RTT_T
    for client in ftpfs rclone; do
        rm -rf "$ROOT/rtt-$client"
        mount_fs "$client" rtt
        t0=$(now)
        timeout -k 10 "$TIMEOUT" cp -r "$WORK/rtt-src" "$MNT/rtt-$client" ||
            die "$client: cp -r over the slow link failed"
        unmount_current
        t1=$(now)
        diff -r "$WORK/rtt-src" "$ROOT/rtt-$client" >/dev/null ||
            die "$client: the copied tree differs on the server"
        RTT_T[$client]=$(calc "$t1 - $t0" 6)
        printf '   %-6s %8.2f s  %6.1f ms per file  (%.1f round trips of %s ms)\n' "$client" \
            "${RTT_T[$client]}" "$(calc "${RTT_T[$client]} * 1000 / $NSMALL" 1)" \
            "$(calc "${RTT_T[$client]} * 1000 / $NSMALL / $RTT_MS" 1)" "$RTT_MS"
    done
    FTPFS_URL=$DIRECT_URL
    unset CTRL_PORT
    rm -rf "$WORK/rtt-src" "$ROOT"/rtt-*
    RTT_RESULT=measured
fi

# ----- 7. FTPS ----------------------------------------------------------------------------------
# The same big file through explicit FTPS (AUTH TLS on control and data connections), each
# client trusting the bench's CA: curl --ssl-reqd (download, then -T) against dd through an
# ftps:// mount. ftpfs streams uploads over TLS 1.3 only after 8 of them have completed on
# the mount (docs/SECURITY.md: servers that cannot resume TLS 1.3 sessions on data
# connections fail at the end); each write run first copies 8 small files in, untimed, and the
# first write run is also timed without them, as a fresh mount's first big upload.
TLS_RESULT=skipped
TLS_WHY="BENCH_TLS=0"
[[ $SERVER == pureftpd ]] || TLS_WHY="the TLS case is set up for pure-ftpd only"
if [[ $TLS == 1 && $SERVER == pureftpd && $WRITE_RESULT == measured ]]; then
    section "7. FTPS (explicit AUTH TLS): read and write of big.bin ($SIZE_MB MiB), ftpfs vs curl --ssl-reqd"
    CA=$STATE/tls/ca.pem
    PLAIN_URL=$FTPFS_URL
    FTPFS_URL=${FTPFS_URL/#ftp:/ftps:}
    FTPFS_TLS_ARGS=(--cafile "$CA")
    CURL_TLS=(--ssl-reqd --cacert "$CA")
    cp "$ROOT/big.bin" "$WORK/upload.bin"
    for ((i = 0; i < 8; i++)); do printf 'warm-up %d\n' "$i" >"$WORK/warm$i.txt"; done
    declare -A TLS_T
    R_TR='' R_TW=''
    for ((r = 1; r <= RUNS; r++)); do
        # read (to /dev/null as in case 1; the content is compared once, untimed, below)
        for client in curl ftpfs; do
            drop_caches
            if [[ $client == curl ]]; then
                out=$(timed_curl "${CURL_TLS[@]}")
            else
                mount_ftpfs "tls-read$r"
                out=$(timed_dd "$MNT/big.bin")
                unmount_current
            fi
            read -r secs bytes <<<"$out"
            [[ $bytes == "$BIG_BYTES" ]] || die "$client: FTPS read gave $bytes bytes, not $BIG_BYTES"
            CUR[$client]=$secs
            TLS_T[read/$client]+="${CUR[$client]} "
            printf '   run %d  read   %-6s %8.2f s  %9.1f MiB/s\n' "$r" "$client" "${CUR[$client]}" \
                "$(calc "$SIZE_MB / ${CUR[$client]}" 1)"
        done
        R_TR+="$(calc "${CUR[curl]} / ${CUR[ftpfs]}" 4) "
        # write
        for client in curl ftpfs; do
            rm -f "$ROOT/tls-up-$client.bin"
            drop_caches
            cat "$WORK/upload.bin" >/dev/null
            if [[ $client == curl ]]; then
                t0=$(now)
                timeout -k 10 "$TIMEOUT" curl -sS "${CURL_TLS[@]}" --user "$FTP_USER:$FTP_PASS" -T "$WORK/upload.bin" \
                    "$FTP_URL_NOCRED/tls-up-curl.bin" || die "curl --ssl-reqd -T failed"
                note='curl -T'
            else
                mount_ftpfs "tls-write$r"
                if ((r == 1)); then
                    # A fresh mount's first big upload (spooled, then uploaded at close).
                    t0=$(now)
                    timeout -k 10 "$TIMEOUT" dd if="$WORK/upload.bin" of="$MNT/tls-up-ftpfs.bin" bs=1M status=none ||
                        die "dd into the ftps:// mount failed"
                    wait_server_size "$ROOT/tls-up-ftpfs.bin"
                    TLS_FIRST=$(calc "$(now) - $t0" 6)
                    printf '   run %d  write  %-6s %8.2f s  %9.1f MiB/s   (first upload of a fresh mount: spooled)\n' \
                        "$r" ftpfs "$TLS_FIRST" "$(calc "$SIZE_MB / $TLS_FIRST" 1)"
                    rm -f "$MNT/tls-up-ftpfs.bin"
                fi
                for ((i = 0; i < 8; i++)); do cp "$WORK/warm$i.txt" "$MNT/" || die "warm-up copy failed"; done
                t0=$(now)
                timeout -k 10 "$TIMEOUT" dd if="$WORK/upload.bin" of="$MNT/tls-up-ftpfs.bin" bs=1M status=none ||
                    die "dd into the ftps:// mount failed"
                note='dd + close, after 8 small uploads'
            fi
            wait_server_size "$ROOT/tls-up-$client.bin"
            t1=$(now)
            [[ $client == ftpfs ]] && unmount_current
            cmp "$WORK/upload.bin" "$ROOT/tls-up-$client.bin" || die "$client: FTPS upload differs"
            CUR[$client]=$(calc "$t1 - $t0" 6)
            TLS_T[write/$client]+="${CUR[$client]} "
            printf '   run %d  write  %-6s %8.2f s  %9.1f MiB/s   (%s)\n' "$r" "$client" "${CUR[$client]}" \
                "$(calc "$SIZE_MB / ${CUR[$client]}" 1)" "$note"
        done
        rm -f "$ROOT"/tls-up-*.bin "$ROOT"/warm*.txt
        R_TW+="$(calc "${CUR[curl]} / ${CUR[ftpfs]}" 4) "
    done
    if [[ $VERIFY == 1 ]]; then
        timeout -k 10 "$TIMEOUT" curl -sS "${CURL_TLS[@]}" --user "$FTP_USER:$FTP_PASS" "$FTP_URL_NOCRED/big.bin" |
            cmp - "$ROOT/big.bin" || die "curl: FTPS read differs"
        mount_ftpfs tls-verify
        timeout -k 10 "$TIMEOUT" cmp "$MNT/big.bin" "$ROOT/big.bin" || die "ftpfs: FTPS read differs"
        unmount_current
        info "FTPS reads verified: content identical through curl and ftpfs"
    fi
    rm -f "$WORK/upload.bin" "$WORK"/warm*.txt
    FTPFS_URL=$PLAIN_URL
    FTPFS_TLS_ARGS=()
    TLS_RESULT=measured
fi

# ----- logs ----------------------------------------------------------------------------------
report_daemon_logs

# ----- summary ---------------------------------------------------------------------------------
mc=$(med "${READ_T[curl]}")
mf=$(med "${READ_T[ftpfs]}")
mr=$(med "${READ_T[rclone]}")
tc=$(calc "$SIZE_MB / $mc" 1)
tf=$(calc "$SIZE_MB / $mf" 1)
tr=$(calc "$SIZE_MB / $mr" 1)
r_fc=$(calc "$(med "$R_FC")" 2)
r_fr=$(calc "$(med "$R_FR")" 2)
fn_f=$(med "${FIND_T[ftpfs/names]}")
fn_r=$(med "${FIND_T[rclone/names]}")
fs_f=$(med "${FIND_T[ftpfs/stat]}")
fs_r=$(med "${FIND_T[rclone/stat]}")
rn=$(calc "$(med "${R_FIND[names]}")" 2)
rs=$(calc "$(med "${R_FIND[stat]}")" 2)
rss_kib=$(printf '%s\n' "${RSS_KIB[@]}" | sort -n | tail -n 1)
rss=$(calc "$rss_kib / 1024" 1)

section "summary ($SERVER, ${SIZE_MB} MiB, $NFILES files / $NDIRS dirs, median of $RUNS)"
info "(times: median per client; ratios: median of the per-run ratios, each run measuring the"
info " clients back to back, which is less sensitive to load changing during the bench)"
printf '   %-42s %12s %12s %12s\n' "sequential read" "curl" "ftpfs" "rclone mount"
printf '   %-42s %12s %12s %12s\n' "  throughput (MiB/s)" "$tc" "$tf" "$tr"
printf '   %-42s %12s %12s %12s\n' "  time (s)" "$(calc "$mc" 2)" "$(calc "$mf" 2)" "$(calc "$mr" 2)"
printf '   %-42s %12s\n' "  ratio ftpfs/curl" "$r_fc"
printf '   %-42s %12s\n' "  ratio ftpfs/rclone" "$r_fr"
printf '\n   %-42s %12s %12s %12s\n' "find over tree/ (s)" "ftpfs" "rclone mount" "ftpfs/rclone"
printf '   %-42s %12s %12s %12s\n' "  find | wc -l  ($EXPECT_ALL entries)" "$(calc "$fn_f" 3)" "$(calc "$fn_r" 3)" "$rn"
printf '   %-42s %12s %12s %12s\n' "  find -type f -size +0  ($EXPECT_FILES files)" "$(calc "$fs_f" 3)" "$(calc "$fs_r" 3)" "$rs"
printf '\n   %-42s %12s\n' "ftpfs peak RSS while streaming (VmHWM)" "$rss MiB"
printf '   %-42s %12s\n' "ftpfs CPU time (user+sys) for the read" "$(calc "$(med "$CPU_T")" 2) s"
if [[ $WRITE_RESULT == measured ]]; then
    mwc=$(med "${WRITE_T[curl]}")
    mwf=$(med "${WRITE_T[ftpfs]}")
    printf '\n   %-42s %12s %12s %12s\n' "sequential write (MiB/s)" "curl -T" "ftpfs" "ftpfs/curl"
    printf '   %-42s %12s %12s %12s\n' "" "$(calc "$SIZE_MB / $mwc" 1)" "$(calc "$SIZE_MB / $mwf" 1)" "$(calc "$(med "$R_W")" 2)"
else
    printf '\n   %-42s %s\n' "sequential write" "skipped: ftpfs is read-only"
fi

if [[ $SMALL_RESULT == measured ]]; then
    msf=$(med "${SMALL_T[ftpfs]}")
    msr=$(med "${SMALL_T[rclone]}")
    printf '\n   %-42s %12s %12s %12s\n' "cp -r of $NFILES small files (s)" "ftpfs" "rclone mount" "ftpfs/rclone"
    printf '   %-42s %12s %12s %12s\n' "" "$(calc "$msf" 2)" "$(calc "$msr" 2)" "$(calc "$(med "$R_SMALL")" 2)"
fi

if [[ $RTT_RESULT == measured ]]; then
    printf '\n   %-42s %12s %12s %12s\n' "cp -r of $NSMALL files, ${RTT_MS} ms RTT (s)" "ftpfs" "rclone mount" "ftpfs/rclone"
    printf '   %-42s %12s %12s %12s\n' "" "$(calc "${RTT_T[ftpfs]}" 2)" "$(calc "${RTT_T[rclone]}" 2)" \
        "$(calc "${RTT_T[ftpfs]} / ${RTT_T[rclone]}" 2)"
fi

if [[ $TLS_RESULT == measured ]]; then
    printf '\n   %-42s %12s %12s %12s\n' "FTPS (AUTH TLS) throughput (MiB/s)" "curl" "ftpfs" "ftpfs/curl"
    for dir in read write; do
        printf '   %-42s %12s %12s %12s\n' "  $dir" "$(calc "$SIZE_MB / $(med "${TLS_T[$dir/curl]}")" 1)" \
            "$(calc "$SIZE_MB / $(med "${TLS_T[$dir/ftpfs]}")" 1)" \
            "$(calc "$(med "$([[ $dir == read ]] && echo "$R_TR" || echo "$R_TW")")" 2)"
    done
    printf '   %-42s %12s %12s\n' "  first upload of a fresh mount (spooled)" "" "$(calc "$SIZE_MB / $TLS_FIRST" 1)"
else
    printf '\n   %-42s %s\n' "FTPS" "skipped: $TLS_WHY"
fi

info "load avg:    $(cut -d' ' -f1-3 /proc/loadavg) at the end (was $LOAD_START)"

section "targets"
printf '   %-56s %-22s %s\n' "sequential read >= 70% of curl" "ftpfs/curl = $r_fc" "$(verdict ge "$r_fc" "$TARGET_READ_VS_CURL")"
printf '   %-56s %-22s %s\n' "sequential read >= 2x rclone mount" "ftpfs/rclone = $r_fr" "$(verdict ge "$r_fr" "$TARGET_READ_VS_RCLONE")"
printf '   %-56s %-22s %s\n' "find | wc -l faster than rclone mount" "ftpfs/rclone = $rn" "$(verdict lt "$rn" 1)"
printf '   %-56s %-22s %s\n' "find -type f -size +0 faster than rclone mount" "ftpfs/rclone = $rs" "$(verdict lt "$rs" 1)"
printf '   %-56s %-22s %s\n' "ftpfs peak RSS < $TARGET_RSS_MIB MiB" "$rss MiB" "$(verdict lt "$rss" "$TARGET_RSS_MIB")"
if [[ $WRITE_RESULT == measured ]]; then
    r_w=$(calc "$(med "$R_W")" 2)
    printf '   %-56s %-22s %s\n' "sequential write >= 70% of curl -T" "ftpfs/curl = $r_w" "$(verdict ge "$r_w" "$TARGET_WRITE_VS_CURL")"
fi
printf '\n   all results verified (byte counts, entry counts%s).\n' "$([[ $VERIFY == 1 ]] && echo ', content')"

if [[ $MODE == all ]]; then wan_main; fi
