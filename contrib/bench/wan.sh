# shellcheck shell=bash
# contrib/bench/wan.sh: the WAN mode of contrib/bench/run.sh (BENCH_MODE=wan or all). Sourced
# by run.sh, which provides the server, the mounts (mount_ftpfs, mount_rclone), the output
# helpers and the cleanup trap; never run on its own.
#
# The cases of issues 13 (tree walks) and 14 (small files, random reads, many readers), each
# measured for ftpfs, a plain client and `rclone mount` in the same run:
#   13a  find TREE -type f -printf '%s %T@ %P\n' over the BENCH_FILES/BENCH_DIRS tree, at RTT
#   13b  ls -l of one directory of BENCH_WAN_FLAT_FILES files, at RTT
#   13c  ls -l of one directory of BENCH_WAN_HUGE_FILES files, on loopback (+ ftpfs VmHWM)
#   13d  the find of 13a, on loopback
#   14a  cat of BENCH_WAN_SMALL_FILES files of BENCH_WAN_SMALL_KB KiB one after another, at RTT
#   14b  cp of as many new files into the mount, at RTT
#   14c  BENCH_WAN_READS random 4 KiB preads on an open file (mid.bin), each timed, at RTT
#   14d  cat of mid.bin (BENCH_WAN_MID_MB MiB) twice; RETRs of the second; then the server's
#        copy changes (same size, new bytes, new mtime) and a third cat must see it, at RTT
#   14e  four files of BENCH_WAN_PAR_MB MiB read at once, at RTT and on loopback
#   14f  sequential read and write of big.bin (BENCH_SIZE_MB MiB), at RTT
# "at RTT" means through delay-proxy.py with BENCH_RTT_MS of round trip on control and data
# connections (BENCH_RTT_MS=0: direct, on loopback). The plain client is lftp in one session
# (ftp:sync-mode BENCH_LFTP_SYNC) for listings and small files, and curl where lftp cannot
# (14c: ranges) or is much slower (14e, 14f: lftp cat moves 300 MB/s where curl moves 900 on
# loopback, so curl is the stronger baseline for bulk reads, as in case 1).
#
# FTP commands per operation come from the proxy, which counts every command line per control
# connection and the client's turns (waits for all replies); on loopback from vsftpd's protocol
# log when BENCH_VSFTPD_LOG=1 turns it on, and otherwise (and on pure-ftpd, which has none) from
# ftpfs's own counters (ftpfs --stats) for ftpfs alone.
#
# Knobs (defaults in brackets):
#   BENCH_CASES [13a 13b 13c 13d 14a 14b 14c 14d 14e 14f]   which cases run (space or comma)
#   BENCH_RTT_MS [40]              emulated round trip; 0 = everything on loopback, direct
#   BENCH_WAN_RUNS [1]             runs per case (the median is reported)
#   BENCH_WAN_TIMEOUT [30]         seconds after which an operation at RTT is stopped ("> 30 s")
#   BENCH_WAN_TIMEOUT_LO [120]     the same for the loopback cases (13c, 13d, 14e on loopback)
#   BENCH_WAN_WINDOW_KB [4096]     bytes in flight per connection and direction (TCP window)
#   BENCH_WAN_FLAT_FILES [5000]    13b
#   BENCH_WAN_HUGE_FILES [100000]  13c
#   BENCH_WAN_SMALL_FILES [100]    14a, 14b
#   BENCH_WAN_SMALL_KB [4]         14a, 14b
#   BENCH_WAN_READS [20]           14c
#   BENCH_WAN_MID_MB [50]          14c, 14d
#   BENCH_WAN_PAR_MB [256]         14e
#   BENCH_LFTP_SYNC [on]           lftp's ftp:sync-mode (on = lftp's default: one command at a
#                                  time; off = lftp pipelines)

WAN_ALL_CASES='13a 13b 13c 13d 14a 14b 14c 14d 14e 14f'
WAN_CASES=$(tr ',' ' ' <<<"${BENCH_CASES:-$WAN_ALL_CASES}" | xargs)
WAN_RTT=${BENCH_RTT_MS:-40}
WAN_RUNS=${BENCH_WAN_RUNS:-1}
WAN_TIMEOUT_RTT=${BENCH_WAN_TIMEOUT:-30}
WAN_TIMEOUT_LO=${BENCH_WAN_TIMEOUT_LO:-120}
WAN_TIMEOUT=$WAN_TIMEOUT_RTT # the current one: wan_at sets it
WAN_WINDOW_KB=${BENCH_WAN_WINDOW_KB:-4096}
FLAT_N=${BENCH_WAN_FLAT_FILES:-5000}
HUGE_N=${BENCH_WAN_HUGE_FILES:-100000}
SMALL_N=${BENCH_WAN_SMALL_FILES:-100}
SMALL_KB=${BENCH_WAN_SMALL_KB:-4}
NREADS=${BENCH_WAN_READS:-20}
MID_MB=${BENCH_WAN_MID_MB:-50}
PAR_MB=${BENCH_WAN_PAR_MB:-256}
LFTP_SYNC=${BENCH_LFTP_SYNC:-on}

for v in WAN_RUNS WAN_TIMEOUT_RTT WAN_TIMEOUT_LO FLAT_N HUGE_N SMALL_N SMALL_KB NREADS MID_MB PAR_MB; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer (got '${!v}')"
done
[[ $WAN_RTT =~ ^[0-9]+([.][0-9]+)?$ ]] || die "BENCH_RTT_MS must be a number of ms (got '$WAN_RTT')"
[[ $WAN_WINDOW_KB =~ ^[0-9]+$ ]] || die "BENCH_WAN_WINDOW_KB must be an integer (got '$WAN_WINDOW_KB')"
[[ $LFTP_SYNC == on || $LFTP_SYNC == off ]] || die "BENCH_LFTP_SYNC must be on or off"
for c in $WAN_CASES; do
    [[ " $WAN_ALL_CASES " == *" $c "* ]] || die "unknown case '$c' in BENCH_CASES (known: $WAN_ALL_CASES)"
done

# Targets from issues 13 and 14.
T13A_S=3.0      # find at RTT: seconds
T13B_S=1.5      # ls -l of 5,000 at RTT: seconds
T13C_S=3.0      # ls -l of 100,000 on loopback (vsftpd): seconds
T13C_RSS_MIB=96 # ... and the daemon's VmHWM
T14A_X=1.5      # cat of small files: x plain client
T14B_X=1.3      # cp of small files: x plain client
T14B_RCLONE_X=3.0
T14C_RTT=2.5 # random read: median in round trips
T14E_X=0.9   # four readers: aggregate x four plain clients
T14F_X=1.0   # sequential read/write: x plain client

WAN_HELPER=$SCRIPT_DIR/wan-helper.py
wan_has() { [[ " $WAN_CASES " == *" $1 "* ]]; }
wan_rtt_label() { if [[ $1 == 0 ]]; then echo loopback; else echo "${1} ms"; fi; }

# ----- data ----------------------------------------------------------------------------------
# Called by run.sh after it made big.bin and tree/ (if needed), before the server starts.
wan_prepare() {
    local t0
    t0=$(now)
    if [[ -d $ROOT/tree ]]; then python3 "$WAN_HELPER" mtimes "$ROOT/tree"; fi
    if wan_has 13b; then python3 "$WAN_HELPER" mkfiles "$ROOT/flat" "$FLAT_N" 100; fi
    if wan_has 13c; then python3 "$WAN_HELPER" mkfiles "$ROOT/huge" "$HUGE_N" 10; fi
    if wan_has 14a || wan_has 14b; then
        python3 "$WAN_HELPER" mkfiles "$ROOT/small" "$SMALL_N" $((SMALL_KB * 1024)) --random
        cp -r "$ROOT/small" "$WORK/small-src" # the source of 14b, outside the server root
    fi
    if wan_has 14c || wan_has 14d; then
        head -c $((MID_MB * 1048576)) /dev/urandom >"$WORK/mid-a.bin"
        head -c $((MID_MB * 1048576)) /dev/urandom >"$WORK/mid-b.bin"
        touch -d '-2 hours' "$WORK/mid-a.bin" # B, the changed file, is newer
        cp -p "$WORK/mid-a.bin" "$ROOT/mid.bin"
    fi
    if wan_has 14e; then
        for i in 0 1 2 3; do head -c $((PAR_MB * 1048576)) /dev/urandom >"$ROOT/par$i.bin"; done
    fi
    info "WAN data: $(du -sh --apparent-size "$ROOT" | cut -f1) on the server ($(calc "$(now) - $t0" 1) s):" \
        "$(wan_has 13b && echo "flat/ $FLAT_N files, ")$(wan_has 13c && echo "huge/ $HUGE_N files, ")$( (wan_has 14a || wan_has 14b) && echo "small/ $SMALL_N x $SMALL_KB KiB, ")$( (wan_has 14c || wan_has 14d) && echo "mid.bin $MID_MB MiB, ")$(wan_has 14e && echo "par0-3.bin $PAR_MB MiB each")"
}

# ----- the proxy and the endpoint --------------------------------------------------------------
PROXY_PID=
PROXY_PORT=
PROXY_ADMIN=
proxy_start() {
    local i
    rm -f "$WORK/wan-proxy.port"
    python3 "$SCRIPT_DIR/delay-proxy.py" --upstream "$PORT" --rtt-ms "$WAN_RTT" \
        --window-kb "$WAN_WINDOW_KB" --port-file "$WORK/wan-proxy.port" \
        --stats "$LOGS/wan-proxy.stats" --log "$LOGS/wan-proxy-commands.log" \
        >"$LOGS/wan-proxy.log" 2>&1 &
    PROXY_PID=$!
    DAEMON_PIDS+=("$PROXY_PID")
    for ((i = 0; i < 200; i++)); do
        if [[ -s $WORK/wan-proxy.port ]]; then break; fi
        kill -0 "$PROXY_PID" 2>/dev/null || break
        sleep 0.05
    done
    [[ -s $WORK/wan-proxy.port ]] || die "delay-proxy.py did not start (see $LOGS/wan-proxy.log)"
    PROXY_PORT=$(sed -n 1p "$WORK/wan-proxy.port")
    PROXY_ADMIN=$(sed -n 2p "$WORK/wan-proxy.port")
}
# proxy_req REQUEST: one request on the admin port; dies unless the proxy answers "ok".
proxy_req() {
    local fd reply=
    exec {fd}<>"/dev/tcp/127.0.0.1/$PROXY_ADMIN" || die "delay-proxy.py's admin port does not answer"
    printf '%s\n' "$1" >&"$fd"
    read -r -t 20 reply <&"$fd" || true
    exec {fd}>&-
    [[ $reply == ok ]] || die "delay-proxy.py answered '$reply' to '$1'"
}

# wan_at RTT: every client connects through the proxy (RTT > 0) or directly (0) from now on.
CUR_RTT=0
wan_at() {
    CUR_RTT=$1
    if [[ $CUR_RTT == 0 ]]; then
        EP_PORT=$PORT
        WAN_TIMEOUT=$WAN_TIMEOUT_LO
    else
        EP_PORT=$PROXY_PORT
        WAN_TIMEOUT=$WAN_TIMEOUT_RTT
    fi
    # shellcheck disable=SC2034 # read by run.sh's mount_rclone
    CTRL_PORT=$EP_PORT
    FTPFS_URL=${FTPFS_URL_DIRECT/:$PORT\//:$EP_PORT/}
    EP_URL=ftp://127.0.0.1:$EP_PORT$FTP_DIR
}

# ----- counting commands -------------------------------------------------------------------
# count_begin before an operation, count_end after it: sets CNT_CMDS, CNT_TURNS, CNT_DATA,
# CNT_RETR and CNT_VERBS ("-" where unknown).
VS_LOG_MARK=0
count_begin() {
    if [[ $CUR_RTT != 0 ]]; then
        proxy_req reset
    elif [[ $SERVER == vsftpd && $VS_PROTOCOL_LOG == YES ]]; then
        VS_LOG_MARK=$(wc -l <"$STATE/vsftpd.log")
    fi
}
count_end() {
    local f=$LOGS/wan-count.stats
    CNT_CMDS=- CNT_TURNS=- CNT_DATA=- CNT_RETR=- CNT_VERBS=-
    if [[ $CUR_RTT != 0 ]]; then
        proxy_req "dump $f"
        CNT_CMDS=$(awk '$1 == "commands" { print $2 }' "$f")
        CNT_TURNS=$(awk '$1 == "turns" { print $2 }' "$f")
        CNT_DATA=$(awk '$1 == "data_connections" { print $2 }' "$f")
        CNT_RETR=$(awk '$1 == "verb.RETR" { n = $2 } END { print n + 0 }' "$f")
        CNT_VERBS=$(awk '$1 ~ /^verb\./ { sub(/^verb\./, "", $1); printf "%s%s=%s", sep, $1, $2; sep = " " }' "$f")
    elif [[ $SERVER == vsftpd && $VS_PROTOCOL_LOG == YES ]]; then
        tail -n +"$((VS_LOG_MARK + 1))" "$STATE/vsftpd.log" | grep 'FTP command:' >"$f" || true
        CNT_CMDS=$(wc -l <"$f")
        CNT_RETR=$(grep -c '"RETR ' "$f" || true)
        CNT_VERBS=$(sed -E 's/.*FTP command: Client "[^"]*", "([A-Za-z]+).*/\1/' "$f" | tr '[:lower:]' '[:upper:]' |
            sort | uniq -c | awk '{ printf "%s%s=%s", sep, $2, $1; sep = " " }')
    fi
}
# ftpfs's own counters (ftpfs --stats of the mount) as "name=value ..."
ftpfs_stats() {
    timeout -k 2 10 "$FTPFS_BIN" --stats "$MNT" 2>/dev/null | awk 'NF == 2 { printf "%s=%s ", $1, $2 }'
}
# ftpfs_delta BEFORE AFTER: the counters that changed, as "name +N ..."
ftpfs_delta() {
    awk -v a="$1" -v b="$2" 'BEGIN {
        n = split(a, x, " "); for (i = 1; i <= n; i++) { split(x[i], kv, "="); old[kv[1]] = kv[2] }
        n = split(b, y, " "); for (i = 1; i <= n; i++) { split(y[i], kv, "=");
            if (kv[1] != "operations" && kv[2] - old[kv[1]] != 0) { printf "%s%s +%d", sep, kv[1], kv[2] - old[kv[1]]; sep = ", " } }
    }'
}

# ftpfs_after BEFORE: sets FTPFS_DELTA to the counters' changes since BEFORE; where the commands
# are not counted otherwise (on loopback, unless BENCH_VSFTPD_LOG=1), CNT_CMDS and CNT_RETR
# become ftpfs's own counts (ftp_commands, downloads).
ftpfs_after() {
    local now
    now=$(ftpfs_stats)
    FTPFS_DELTA=$(ftpfs_delta "$1" "$now")
    if [[ $CNT_CMDS == - ]]; then
        CNT_CMDS=$(awk -v a="$1" -v b="$now" 'BEGIN {
            n = split(a, x, " "); for (i = 1; i <= n; i++) { split(x[i], kv, "="); if (kv[1] == "ftp_commands") o = kv[2] }
            n = split(b, y, " "); for (i = 1; i <= n; i++) { split(y[i], kv, "="); if (kv[1] == "ftp_commands") print kv[2] - o }
        }')
        CNT_CMDS=${CNT_CMDS:--}
        CNT_RETR=$(awk -v a="$1" -v b="$now" 'BEGIN {
            n = split(a, x, " "); for (i = 1; i <= n; i++) { split(x[i], kv, "="); if (kv[1] == "downloads") o = kv[2] }
            n = split(b, y, " "); for (i = 1; i <= n; i++) { split(y[i], kv, "="); if (kv[1] == "downloads") print kv[2] - o }
        }')
        CNT_RETR=${CNT_RETR:-0}
    fi
}

# ----- running one operation -------------------------------------------------------------------
# timed_op OUT CMD...: runs CMD (stdout to OUT, stderr to OUT.err) under BENCH_WAN_TIMEOUT;
# sets OP_SECS and OP_RC (124: timed out).
timed_op() {
    local out=$1 t0 t1
    shift
    OP_RC=0
    t0=$(now)
    timeout -k 5 "$WAN_TIMEOUT" "$@" >"$out" 2>"$out.err" || OP_RC=$?
    t1=$(now)
    OP_SECS=$(calc "$t1 - $t0" 6)
}

# Unmounts $MNT even after a command on it was killed, and waits for the daemon to exit.
wan_unmount() {
    local i
    for ((i = 0; i < 50; i++)); do
        umount "$MNT" 2>/dev/null && break
        sleep 0.1
    done
    if is_mounted "$MNT"; then umount -l "$MNT" 2>/dev/null || true; fi
    for ((i = 0; i < EXIT_WAIT * 10; i++)); do
        kill -0 "$FS_PID" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$FS_PID" 2>/dev/null; then
        kill -KILL "$FS_PID" 2>/dev/null || true
    fi
    wait "$FS_PID" 2>/dev/null || true
}

# lftp in one session against the current endpoint: lftp_run OUT "COMMANDS"
lftp_script() {
    printf 'set cmd:fail-exit yes; set cmd:interactive no; set net:max-retries 1; set net:timeout 20; '
    printf 'set ftp:ssl-allow no; set ftp:passive-mode yes; set ftp:sync-mode %s; ' "$LFTP_SYNC"
    printf 'set cmd:time-style +%%s; set xfer:clobber yes; '
    printf 'open -u %s,%s -p %s 127.0.0.1; ' "$FTP_USER" "$FTP_PASS" "$EP_PORT"
    if [[ -n $FTP_DIR ]]; then printf 'cd %s; ' "$FTP_DIR"; fi
    printf '%s' "$1"
}

# Results. Keys are "CASE/CLIENT" (CASE may carry a suffix such as 14e-lo); values are lists
# over the runs. RES_TO marks a timed-out client: "1", or "est" when the time is extrapolated
# from the part done by the timeout (OP_FRAC, set by the case: files listed, read or written).
declare -A RES_T RES_CMDS RES_TURNS RES_DATA RES_TO
OP_FRAC=
# progress DONE TOTAL: sets OP_FRAC after a timeout
progress() { if ((OP_RC == 124 && $2 > 0)); then OP_FRAC=$(calc "$1 / $2" 4); fi; }
# record KEY: stores OP_SECS and the counts of the operation just measured, prints its line.
# NOTE (optional second argument) is printed after it.
record() {
    local key=$1 note=${2:-} rtts='' secs=$OP_SECS mark=' '
    if ((OP_RC == 124)); then
        mark='>'
        RES_TO[$key]=1
        if [[ -n $OP_FRAC ]] && lt 0.05 "$OP_FRAC"; then
            secs=$(calc "$OP_SECS / $OP_FRAC" 6)
            RES_TO[$key]=est
            note="timed out after $(calc "$OP_FRAC * 100" 0) % of the work: ~$(calc "$secs" 1) s extrapolated. $note"
        fi
    fi
    OP_FRAC=
    RES_T[$key]+="$secs "
    RES_CMDS[$key]+="$CNT_CMDS "
    RES_TURNS[$key]+="$CNT_TURNS "
    RES_DATA[$key]+="$CNT_DATA "
    if [[ $CUR_RTT != 0 ]]; then rtts=$(printf '%7.1f RTT' "$(calc "$OP_SECS * 1000 / $CUR_RTT" 1)"); fi
    printf '   run %d  %-7s %s%9.3f s %s  cmds %-6s turns %-6s data %-5s %s\n' "$RUN" "${key#*/}" \
        "$mark" "$OP_SECS" "$rtts" "$CNT_CMDS" "$CNT_TURNS" "$CNT_DATA" "$note"
    if [[ $CNT_VERBS != - ]]; then printf '          %s\n' "$(cut -c1-150 <<<"$CNT_VERBS")"; fi
}
# check_op WHAT: dies if the operation failed other than by the WAN timeout
check_op() {
    if ((OP_RC != 0 && OP_RC != 124)); then
        tail -n 5 "$1.err" >&2 || true
        die "$2 failed (exit $OP_RC; see $1.err)"
    fi
}

# ----- the cases -------------------------------------------------------------------------------
# wan_list CASE DIR FORMAT N: a listing case (13a-13d) for all three clients.
# DIR is below the server root and holds N files; FORMAT: find (find -printf) or ls (ls -l).
wan_list() {
    local case=$1 dir=$2 fmt=$3 n=$4 client out res before rss
    for client in ftpfs lftp rclone; do
        out=$LOGS/wan-$case-$client.out
        if [[ $client == lftp ]]; then
            count_begin
            timed_op "$out" lftp -c "$(lftp_script "find -l $dir")"
            count_end
            check_op "$out" "lftp find -l $dir"
            res=$(python3 "$WAN_HELPER" check-list long "$out" "$ROOT/$dir") || {
                ((OP_RC == 124)) || die "lftp listed $dir wrongly: $res"
            }
            progress "$(grep -c '^-' "$out" || true)" "$n"
            record "$case/$client" "$res"
            continue
        fi
        mount_fs "$client" "$case-$RUN"
        before=
        if [[ $client == ftpfs ]]; then before=$(ftpfs_stats); fi
        count_begin
        if [[ $fmt == find ]]; then
            timed_op "$out" find "$MNT/$dir" -type f -printf '%s %T@ %P\n'
        else
            timed_op "$out" ls -l --time-style=+%s "$MNT/$dir"
        fi
        count_end
        check_op "$out" "$client: listing $dir"
        if ((OP_RC != 124)); then
            if [[ -s $out.err ]]; then { cat "$out.err" >&2; die "$client: listing $dir printed errors"; }; fi
            res=$(python3 "$WAN_HELPER" check-list "$([[ $fmt == find ]] && echo printf || echo long)" "$out" "$ROOT/$dir") ||
                die "$client listed $dir wrongly: $res"
        else
            res='timed out'
            progress "$(wc -l <"$out")" "$n" # ls prints nothing before it has everything
        fi
        if [[ $client == ftpfs ]]; then
            rss=$(awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$FS_PID/status")
            RES_RSS[$case]+="$rss "
            ftpfs_after "$before"
            res+="  VmHWM ${rss} MiB  [ftpfs: $FTPFS_DELTA]"
        fi
        wan_unmount
        record "$case/$client" "$res"
    done
}
declare -A RES_RSS

case_13a() {
    section "13a. find tree/ -type f -printf '%s %T@ %P\\n' ($NFILES files in $NDIRS dirs), $(wan_rtt_label "$WAN_RTT")"
    wan_at "$WAN_RTT"
    for ((RUN = 1; RUN <= WAN_RUNS; RUN++)); do wan_list 13a tree find "$NFILES"; done
}
case_13b() {
    section "13b. ls -l of flat/ ($FLAT_N files), $(wan_rtt_label "$WAN_RTT")"
    wan_at "$WAN_RTT"
    for ((RUN = 1; RUN <= WAN_RUNS; RUN++)); do wan_list 13b flat ls "$FLAT_N"; done
}
case_13c() {
    section "13c. ls -l of huge/ ($HUGE_N files), loopback"
    wan_at 0
    for ((RUN = 1; RUN <= WAN_RUNS; RUN++)); do wan_list 13c huge ls "$HUGE_N"; done
}
case_13d() {
    section "13d. find tree/ -type f -printf ... ($NFILES files in $NDIRS dirs), loopback"
    wan_at 0
    for ((RUN = 1; RUN <= WAN_RUNS; RUN++)); do wan_list 13d tree find "$NFILES"; done
}

# 14a: cat of the small files one after another (one cat per file through the mounts; one
# lftp `cat` of all of them in one session); the concatenation's sha256 must match.
case_14a() {
    local client out names=() f want got before res
    section "14a. cat of $SMALL_N files of $SMALL_KB KiB one after another, $(wan_rtt_label "$WAN_RTT")"
    wan_at "$WAN_RTT"
    for f in "$ROOT"/small/f*; do names+=("${f##*/}"); done
    want=$(cat "$ROOT"/small/f* | sha256sum | cut -c1-64)
    for ((RUN = 1; RUN <= WAN_RUNS; RUN++)); do
        for client in ftpfs lftp rclone; do
            out=$LOGS/wan-14a-$client.out
            before=
            if [[ $client == lftp ]]; then
                count_begin
                timed_op "$out" lftp -c "$(lftp_script "cat $(printf 'small/%s ' "${names[@]}")")"
            else
                mount_fs "$client" "14a-$RUN"
                if [[ $client == ftpfs ]]; then before=$(ftpfs_stats); fi
                count_begin
                # shellcheck disable=SC2016 # expanded by the inner bash
                timed_op "$out" bash -c 'for f in "${@:2}"; do cat "$1/small/$f"; done' _ "$MNT" "${names[@]}"
            fi
            count_end
            check_op "$out" "$client: cat of the small files"
            got=$(sha256sum <"$out" | cut -c1-64)
            progress "$(stat -c %s "$out")" $((SMALL_N * SMALL_KB * 1024))
            res=
            if ((OP_RC != 124)); then
                [[ $got == "$want" ]] || die "$client: the small files' content differs"
                res="content ok; $(calc "$SMALL_N / $OP_SECS" 2) files/s"
            fi
            if [[ $client != lftp ]]; then
                if [[ $client == ftpfs ]]; then ftpfs_after "$before" && res+="  [ftpfs: $FTPFS_DELTA]"; fi
                wan_unmount
            fi
            record "14a/$client" "$res"
        done
    done
}

# 14b: cp of SMALL_N new files into a directory made beforehand (on the server); timed until
# cp returned and the server has every file complete; then compared (diff -r).
case_14b() {
    local client out dest before res i n
    section "14b. cp of $SMALL_N new files of $SMALL_KB KiB into the mount, $(wan_rtt_label "$WAN_RTT")"
    wan_at "$WAN_RTT"
    for ((RUN = 1; RUN <= WAN_RUNS; RUN++)); do
        for client in ftpfs lftp rclone; do
            out=$LOGS/wan-14b-$client.out
            dest=up14b-$client-$RUN
            rm -rf "${ROOT:?}/$dest"
            mkdir "$ROOT/$dest"
            chown "$FTP_UID:$FTP_GID" "$ROOT/$dest"
            before=
            if [[ $client == lftp ]]; then
                count_begin
                timed_op "$out" lftp -c "$(lftp_script "lcd $WORK/small-src; mput -O $dest f*")"
            else
                mount_fs "$client" "14b-$RUN"
                if [[ $client == ftpfs ]]; then before=$(ftpfs_stats); fi
                count_begin
                # cp, then wait (within the timeout) until the server has every file complete
                # shellcheck disable=SC2016 # expanded by the inner bash
                timed_op "$out" bash -c 'cp "$1"/f* "$2/" && while :; do
                    n=0; for f in "$1"/f*; do
                        if [[ $(stat -c %s "$3/${f##*/}" 2>/dev/null) == "$(stat -c %s "$f")" ]]; then n=$((n + 1)); fi
                    done
                    ((n == $4)) && exit 0; sleep 0.01; done' _ "$WORK/small-src" "$MNT/$dest" "$ROOT/$dest" "$SMALL_N"
            fi
            count_end
            check_op "$out" "$client: copying the small files in"
            res=
            if ((OP_RC != 124)); then
                diff -r "$WORK/small-src" "$ROOT/$dest" >/dev/null || die "$client: the copied files differ on the server"
                res="content ok; $(calc "$SMALL_N / $OP_SECS" 2) files/s"
            else
                n=$(find "$ROOT/$dest" -type f | wc -l)
                progress "$n" "$SMALL_N"
                res="$n files on the server at the timeout"
            fi
            if [[ $client != lftp ]]; then
                if [[ $client == ftpfs ]]; then ftpfs_after "$before" && res+="  [ftpfs: $FTPFS_DELTA]"; fi
                wan_unmount
            fi
            record "14b/$client" "$res"
            rm -rf "${ROOT:?}/$dest"
        done
    done
}

# 14c: random 4 KiB reads of mid.bin: ftpfs and rclone through an open file (python pread),
# the plain client with one curl -r per read.
declare -A RES_MED
case_14c() {
    local client out before res med seed
    section "14c. $NREADS random 4 KiB reads of mid.bin ($MID_MB MiB), each timed, $(wan_rtt_label "$WAN_RTT")"
    wan_at "$WAN_RTT"
    cp -p "$WORK/mid-a.bin" "$ROOT/mid.bin"
    chown "$FTP_UID:$FTP_GID" "$ROOT/mid.bin"
    for ((RUN = 1; RUN <= WAN_RUNS; RUN++)); do
        seed=$((1000 + RUN))
        for client in ftpfs curl rclone; do
            out=$LOGS/wan-14c-$client.out
            before=
            if [[ $client == curl ]]; then
                count_begin
                timed_op "$out" python3 "$WAN_HELPER" randread-curl "$EP_URL/mid.bin" "$ROOT/mid.bin" "$NREADS" "$seed" \
                    "$FTP_USER:$FTP_PASS"
            else
                mount_fs "$client" "14c-$RUN"
                if [[ $client == ftpfs ]]; then before=$(ftpfs_stats); fi
                count_begin
                timed_op "$out" python3 "$WAN_HELPER" randread "$MNT/mid.bin" "$ROOT/mid.bin" "$NREADS" "$seed"
            fi
            count_end
            if ((OP_RC == 1)); then die "$client: a random read returned wrong bytes (see $out)"; fi
            check_op "$out" "$client: random reads"
            med=$(sed -n 's/^median_ms=\([0-9.]*\).*/\1/p' "$out")
            if [[ -n $med ]]; then
                RES_MED[14c/$client]+="$med "
                res="$(tail -n 1 "$out")"
                if [[ $CUR_RTT != 0 ]]; then res+=" = $(calc "$med / $CUR_RTT" 2) RTT per read (median)"; fi
            else
                res='timed out'
                progress "$(grep -c '^read offset' "$out" || true)" "$NREADS"
            fi
            if [[ $client != curl ]]; then
                if [[ $client == ftpfs ]]; then ftpfs_after "$before" && res+="  [ftpfs: $FTPFS_DELTA]"; fi
                wan_unmount
            fi
            record "14c/$client" "$res"
        done
    done
}

# 14d: cat of mid.bin twice on one mount (one lftp session); RETRs of the second. Then the
# server's copy changes (same size, new bytes, newer mtime) and the next cat must return them.
declare -A RES_RETR2 RES_FRESH RES_EVICTED RES_REREAD
case_14d() {
    local client out sum_a sum_aa sum_b before res got evicted
    section "14d. cat of mid.bin ($MID_MB MiB) twice, then after it changed on the server, $(wan_rtt_label "$WAN_RTT")"
    wan_at "$WAN_RTT"
    sum_a=$(sha256sum <"$WORK/mid-a.bin" | cut -c1-64)
    sum_b=$(sha256sum <"$WORK/mid-b.bin" | cut -c1-64)
    sum_aa=$(cat "$WORK/mid-a.bin" "$WORK/mid-a.bin" | sha256sum | cut -c1-64)
    for ((RUN = 1; RUN <= WAN_RUNS; RUN++)); do
        for client in ftpfs lftp rclone; do
            cp -p "$WORK/mid-a.bin" "$ROOT/mid.bin"
            chown "$FTP_UID:$FTP_GID" "$ROOT/mid.bin"
            out=$LOGS/wan-14d-$client.out
            if [[ $client == lftp ]]; then
                # a plain client downloads every time: two cats in one session, each counted
                # as half of the time (the login is shared); the change is not tried
                count_begin
                timed_op "$out" lftp -c "$(lftp_script 'cat mid.bin; cat mid.bin')"
                count_end
                check_op "$out" "lftp: two cats of mid.bin"
                if ((OP_RC != 124)); then
                    [[ $(sha256sum <"$out" | cut -c1-64) == "$sum_aa" ]] || die "lftp: cat of mid.bin gave wrong content"
                fi
                OP_SECS=$(calc "$OP_SECS / 2" 6)
                record "14d/$client" "half of one session with two cats (RETR $CNT_RETR)"
                continue
            fi
            mount_fs "$client" "14d-$RUN"
            timed_op "$out" cat "$MNT/mid.bin"
            check_op "$out" "$client: first cat of mid.bin"
            [[ $OP_RC == 0 && $(sha256sum <"$out" | cut -c1-64) == "$sum_a" ]] || die "$client: first cat of mid.bin gave wrong content"
            info "$client first cat: $(calc "$OP_SECS" 3) s"
            # What the kernel no longer holds of the file: this VM's DAMON pageout scheme
            # evicts idle page cache (a few pages a second, anywhere in the file), and the
            # second cat must read those pages again whatever the client does. fincore opens
            # the file (for ftpfs: SIZE and MDTM, before the count starts).
            evicted=$(fincore -b -n -o RES "$MNT/mid.bin" 2>/dev/null) && evicted=$((MID_MB * 1048576 - evicted)) || evicted=-
            before=
            if [[ $client == ftpfs ]]; then before=$(ftpfs_stats); fi
            count_begin
            timed_op "$out" cat "$MNT/mid.bin"
            count_end
            check_op "$out" "$client: second cat of mid.bin"
            [[ $OP_RC == 0 && $(sha256sum <"$out" | cut -c1-64) == "$sum_a" ]] || die "$client: second cat of mid.bin gave wrong content"
            res=
            RES_EVICTED[$client]=$evicted
            RES_REREAD[$client]=-
            if [[ $client == ftpfs ]]; then
                ftpfs_after "$before" && res="  [ftpfs: $FTPFS_DELTA]"
                RES_REREAD[$client]=$(sed -n 's/.*bytes_read +\([0-9]*\).*/\1/p' <<<"$FTPFS_DELTA")
                RES_REREAD[$client]=${RES_REREAD[$client]:-0}
            fi
            RES_RETR2[$client]=$CNT_RETR
            res="second cat: RETR $CNT_RETR, evicted by the host before it: $evicted bytes$res"
            record "14d/$client" "$res"
            # the change: new bytes, same size, newer mtime
            cp -p "$WORK/mid-b.bin" "$ROOT/mid.bin.new"
            chown "$FTP_UID:$FTP_GID" "$ROOT/mid.bin.new"
            mv "$ROOT/mid.bin.new" "$ROOT/mid.bin"
            timed_op "$out" cat "$MNT/mid.bin"
            check_op "$out" "$client: cat of the changed mid.bin"
            got=$(sha256sum <"$out" | cut -c1-64)
            if [[ $got == "$sum_b" ]]; then
                RES_FRESH[$client]=new
            elif [[ $got == "$sum_a" ]]; then
                RES_FRESH[$client]=OLD
            else
                RES_FRESH[$client]=mixed
            fi
            info "$client cat after the change: $(calc "$OP_SECS" 3) s, content: ${RES_FRESH[$client]}"
            wan_unmount
        done
    done
    cp -p "$WORK/mid-a.bin" "$ROOT/mid.bin"
}

# 14e: four files read at once: one mount (ftpfs, rclone) with four dd's, or four curls.
case_14e_at() {
    local rtt=$1 key client out i total before res
    key=14e
    if [[ $rtt == 0 && $WAN_RTT != 0 ]]; then key=14e-lo; fi
    section "14e. four files of $PAR_MB MiB read at once, $(wan_rtt_label "$rtt")"
    wan_at "$rtt"
    for ((RUN = 1; RUN <= WAN_RUNS; RUN++)); do
        for client in ftpfs curl rclone; do
            out=$LOGS/wan-$key-$client.out
            for i in 0 1 2 3; do cat "$ROOT/par$i.bin" >/dev/null; done # the server reads from RAM
            before=
            if [[ $client == curl ]]; then
                count_begin
                # shellcheck disable=SC2016 # expanded by the inner bash
                timed_op "$out" bash -c 'for i in 0 1 2 3; do
                    curl -sS -o /dev/null -w "%{size_download}\n" --user "$1" "$2/par$i.bin" & done; wait' \
                    _ "$FTP_USER:$FTP_PASS" "$EP_URL"
            else
                mount_fs "$client" "$key-$RUN"
                if [[ $client == ftpfs ]]; then before=$(ftpfs_stats); fi
                count_begin
                # shellcheck disable=SC2016 # expanded by the inner bash
                timed_op "$out" bash -c 'for i in 0 1 2 3; do
                    { LC_ALL=C dd if="$1/par$i.bin" of=/dev/null bs=1M 2>&1 >/dev/null | awk "/bytes/ { print \$1 }"; } & done; wait' \
                    _ "$MNT"
            fi
            count_end
            check_op "$out" "$client: four parallel reads"
            total=$(awk '{ s += $1 } END { print s + 0 }' "$out")
            if ((OP_RC != 124)); then
                ((total == 4 * PAR_MB * 1048576)) || die "$client: four parallel reads gave $total bytes, not $((4 * PAR_MB * 1048576))"
            fi
            res="$(calc "4 * $PAR_MB / $OP_SECS" 1) MiB/s aggregate, bytes ok"
            if [[ $client != curl ]]; then
                if [[ $client == ftpfs ]]; then
                    ftpfs_after "$before"
                    res+="  VmHWM $(awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$FS_PID/status") MiB  [ftpfs: $FTPFS_DELTA]"
                fi
                wan_unmount
            fi
            record "$key/$client" "$res"
        done
    done
    if [[ $rtt == 0 && $VERIFY == 1 ]]; then
        for client in ftpfs rclone; do
            mount_fs "$client" "$key-verify"
            for i in 0 1 2 3; do
                timeout -k 10 "$TIMEOUT" cmp "$MNT/par$i.bin" "$ROOT/par$i.bin" || die "$client: par$i.bin content differs"
            done
            wan_unmount
        done
        info "content of par0-3.bin verified through ftpfs and rclone (cmp, untimed)"
    fi
}
case_14e() {
    case_14e_at "$WAN_RTT"
    if [[ $WAN_RTT != 0 ]]; then case_14e_at 0; fi
    return 0
}

# 14f: sequential read and write of big.bin at RTT (the loopback figures are cases 1 and 4).
case_14f() {
    local client out before res big=$((SIZE_MB * 1048576))
    section "14f. sequential read and write of big.bin ($SIZE_MB MiB), $(wan_rtt_label "$WAN_RTT")"
    wan_at "$WAN_RTT"
    cp "$ROOT/big.bin" "$WORK/upload.bin"
    for ((RUN = 1; RUN <= WAN_RUNS; RUN++)); do
        for client in ftpfs curl rclone; do
            out=$LOGS/wan-14f-$client.out
            cat "$ROOT/big.bin" >/dev/null
            before=
            if [[ $client == curl ]]; then
                count_begin
                timed_op "$out" curl -sS -o /dev/null -w '%{size_download}\n' --user "$FTP_USER:$FTP_PASS" "$EP_URL/big.bin"
            else
                mount_fs "$client" "14f-read$RUN"
                if [[ $client == ftpfs ]]; then before=$(ftpfs_stats); fi
                count_begin
                # shellcheck disable=SC2016 # expanded by the inner bash
                timed_op "$out" bash -c 'LC_ALL=C dd if="$1" of=/dev/null bs=1M 2>&1 >/dev/null | awk "/bytes/ { print \$1 }"' _ "$MNT/big.bin"
            fi
            count_end
            check_op "$out" "$client: sequential read"
            if ((OP_RC != 124)); then
                [[ $(<"$out") == "$big" ]] || die "$client read $(<"$out") bytes of big.bin, not $big"
            fi
            res="read $(calc "$SIZE_MB / $OP_SECS" 1) MiB/s, bytes ok"
            if [[ $client != curl ]]; then
                if [[ $client == ftpfs ]]; then ftpfs_after "$before" && res+="  [ftpfs: $FTPFS_DELTA]"; fi
                wan_unmount
            fi
            record "14f-read/$client" "$res"
        done
        for client in ftpfs curl rclone; do
            out=$LOGS/wan-14f-w-$client.out
            rm -f "$ROOT/up14f-$client.bin"
            cat "$WORK/upload.bin" >/dev/null
            before=
            if [[ $client == curl ]]; then
                count_begin
                timed_op "$out" curl -sS -T "$WORK/upload.bin" --user "$FTP_USER:$FTP_PASS" "$EP_URL/up14f-curl.bin"
            else
                mount_fs "$client" "14f-write$RUN"
                if [[ $client == ftpfs ]]; then before=$(ftpfs_stats); fi
                count_begin
                # dd + close, then wait until the server has the whole file
                # shellcheck disable=SC2016 # expanded by the inner bash
                timed_op "$out" bash -c 'dd if="$1" of="$2" bs=1M status=none &&
                    while [[ $(stat -c %s "$3" 2>/dev/null || echo 0) != "$4" ]]; do sleep 0.01; done' \
                    _ "$WORK/upload.bin" "$MNT/up14f-$client.bin" "$ROOT/up14f-$client.bin" "$big"
            fi
            count_end
            check_op "$out" "$client: sequential write"
            if ((OP_RC != 124)); then
                cmp "$WORK/upload.bin" "$ROOT/up14f-$client.bin" || die "$client: the uploaded big file differs"
            else
                progress "$(stat -c %s "$ROOT/up14f-$client.bin" 2>/dev/null || echo 0)" "$big"
            fi
            res="write $(calc "$SIZE_MB / $OP_SECS" 1) MiB/s, content ok"
            if [[ $client != curl ]]; then
                if [[ $client == ftpfs ]]; then ftpfs_after "$before" && res+="  [ftpfs: $FTPFS_DELTA]"; fi
                wan_unmount
            fi
            record "14f-write/$client" "$res"
            rm -f "$ROOT/up14f-$client.bin"
        done
    done
    rm -f "$WORK/upload.bin"
}

# ----- summary ---------------------------------------------------------------------------------
# medof KEY ARRAY: median of a result list, or "" if none
medof() {
    local -n arr=$2
    [[ -n ${arr[$1]:-} ]] || return 1
    med "${arr[$1]}"
}
# fmt_t KEY: "1.234", "> 30" (timed out) or "~45.0" (timed out, extrapolated)
fmt_t() {
    local m
    m=$(medof "$1" RES_T) || true
    case ${RES_TO[$1]:-} in
    '') if [[ -z $m ]]; then echo -; else calc "$m" 3; fi ;;
    est) echo "~$(calc "$m" 1)" ;;
    *) echo "> $(calc "$m" 1)" ;;
    esac
}
# ratio A B: time(B) / time(A), i.e. how many times faster A is than B ("-" if missing; ">=" if
# B timed out, "<=" if A did, "~" if a time is extrapolated)
ratio() {
    local a b p=''
    a=$(medof "$1" RES_T) || true
    b=$(medof "$2" RES_T) || true
    if [[ -z $a || -z $b ]]; then { echo -; return; }; fi
    if [[ -n ${RES_TO[$1]:-}${RES_TO[$2]:-} ]]; then p='~'; fi
    if [[ ${RES_TO[$2]:-} == 1 ]]; then p='>='; fi
    if [[ ${RES_TO[$1]:-} == 1 ]]; then p='<='; fi
    if [[ ${RES_TO[$1]:-} == 1 && ${RES_TO[$2]:-} == 1 ]]; then { echo '?'; return; }; fi
    echo "$p$(calc "$b / $a" 2)"
}
cmds_of() { local m; m=$(medof "$1" RES_CMDS) || true; echo "${m:--}"; }
row() {
    local c=$1 label=$2 plain=$3
    printf '   %-10s %-34s %10s %10s %10s %9s %9s   %s/%s/%s\n' "$c" "$label" "$(fmt_t "$c/ftpfs")" "$(fmt_t "$c/$plain")" \
        "$(fmt_t "$c/rclone")" "$(ratio "$c/ftpfs" "$c/$plain")" "$(ratio "$c/ftpfs" "$c/rclone")" \
        "$(cmds_of "$c/ftpfs")" "$(cmds_of "$c/$plain")" "$(cmds_of "$c/rclone")"
}
# target LABEL FIGURE PASS?: one target line
target() { printf '   %-62s %-26s %s\n' "$1" "$2" "$3"; }
# tle KEY LIMIT: the median time of KEY is <= LIMIT (and it did not time out)
tle() { local m; m=$(medof "$1" RES_T) && [[ -z ${RES_TO[$1]:-} ]] && ! lt "$2" "$m"; }
# rge A B X: B's time / A's time >= X (A did not time out, or its time was extrapolated)
rge() {
    local a b
    a=$(medof "$1" RES_T) && b=$(medof "$2" RES_T) && [[ ${RES_TO[$1]:-} != 1 ]] && ge "$(calc "$b / $a" 4)" "$3"
}

wan_summary() {
    local rl m rss_list=() rss_max
    rl=$(wan_rtt_label "$WAN_RTT")
    section "WAN summary ($SERVER, RTT $rl, window $WAN_WINDOW_KB KiB, median of $WAN_RUNS run(s))"
    info "times in s ('>' = stopped at the timeout); x = how many times faster ftpfs is; commands per operation (proxy or server log)"
    printf '   %-10s %-34s %10s %10s %10s %9s %9s   %s\n' case operation ftpfs plain rclone "x plain" "x rclone" "FTP commands ftpfs/plain/rclone"
    if wan_has 13a; then row 13a "find -printf, $rl (lftp find -l)" lftp; fi
    if wan_has 13b; then row 13b "ls -l $FLAT_N, $rl (lftp find -l)" lftp; fi
    if wan_has 13c; then row 13c "ls -l $HUGE_N, loopback (lftp)" lftp; fi
    if wan_has 13d; then row 13d "find -printf, loopback (lftp)" lftp; fi
    if wan_has 14a; then row 14a "cat $SMALL_N x $SMALL_KB KiB, $rl (lftp)" lftp; fi
    if wan_has 14b; then row 14b "cp $SMALL_N x $SMALL_KB KiB, $rl (lftp)" lftp; fi
    if wan_has 14c; then row 14c "$NREADS random reads, $rl (curl -r)" curl; fi
    if wan_has 14d; then row 14d "2nd cat of $MID_MB MiB, $rl (lftp)" lftp; fi
    if wan_has 14e; then
        row 14e "4 x $PAR_MB MiB at once, $rl (curl)" curl
        if [[ $WAN_RTT != 0 ]]; then row 14e-lo "4 x $PAR_MB MiB at once, loopback" curl; fi
    fi
    if wan_has 14f; then
        row 14f-read "read $SIZE_MB MiB, $rl (curl)" curl
        row 14f-write "write $SIZE_MB MiB, $rl (curl -T)" curl
    fi
    if [[ $WAN_RTT != 0 ]]; then
        info "round trips: elapsed / RTT is on every run line above; 'turns' there counts a client's command"
        info "bursts that follow a reply (>= 1 RTT each), 'data' its data connections (>= 1 RTT each)"
    fi

    section "WAN targets ($SERVER; issues 13 and 14)"
    [[ $WAN_RTT == 40 ]] || info "(the targets are set for 40 ms; this run used $rl)"
    if wan_has 13a; then
        target "13a find at $rl <= $T13A_S s" "ftpfs $(fmt_t 13a/ftpfs) s" "$(verdict tle 13a/ftpfs "$T13A_S")"
    fi
    if wan_has 13b; then
        target "13b ls -l of $FLAT_N at $rl <= $T13B_S s" "ftpfs $(fmt_t 13b/ftpfs) s" "$(verdict tle 13b/ftpfs "$T13B_S")"
    fi
    if wan_has 13c; then
        read -r -a rss_list <<<"${RES_RSS[13c]:-}"
        rss_max=$(printf '%s\n' "${rss_list[@]}" | sort -g | tail -n 1)
        target "13c ls -l of $HUGE_N on loopback <= $T13C_S s$([[ $SERVER == vsftpd ]] || echo ' (set for vsftpd)')" \
            "ftpfs $(fmt_t 13c/ftpfs) s" "$(verdict tle 13c/ftpfs "$T13C_S")"
        target "13c ftpfs peak RSS <= $T13C_RSS_MIB MiB" "VmHWM ${rss_max:-?} MiB" "$(verdict lt "${rss_max:-1e9}" "$((T13C_RSS_MIB + 0)).01")"
    fi
    if wan_has 13d; then
        target "13d find on loopback <= lftp's time" "ftpfs $(fmt_t 13d/ftpfs) s, lftp $(fmt_t 13d/lftp) s" \
            "$(verdict rge 13d/ftpfs 13d/lftp 1.0)"
    fi
    if wan_has 14a; then
        target "14a cat of small files >= ${T14A_X}x lftp" "$(ratio 14a/ftpfs 14a/lftp)x" "$(verdict rge 14a/ftpfs 14a/lftp "$T14A_X")"
    fi
    if wan_has 14b; then
        target "14b cp of new small files >= ${T14B_X}x lftp" "$(ratio 14b/ftpfs 14b/lftp)x" "$(verdict rge 14b/ftpfs 14b/lftp "$T14B_X")"
        target "14b cp of new small files >= ${T14B_RCLONE_X}x rclone" "$(ratio 14b/ftpfs 14b/rclone)x" \
            "$(verdict rge 14b/ftpfs 14b/rclone "$T14B_RCLONE_X")"
    fi
    if wan_has 14c; then
        m=$(medof 14c/ftpfs RES_MED) || true
        if [[ $WAN_RTT != 0 && -n $m ]]; then
            target "14c random 4 KiB read: median <= $T14C_RTT RTT" "$(calc "$m" 1) ms = $(calc "$m / $WAN_RTT" 2) RTT" \
                "$(verdict ge "$(calc "$T14C_RTT * $WAN_RTT" 3)" "$m")"
        else
            target "14c random 4 KiB read: median <= $T14C_RTT RTT" "${m:-?} ms (no RTT)" "-"
        fi
    fi
    if wan_has 14d; then
        target "14d second cat of an unchanged file: no RETR" "RETR ${RES_RETR2[ftpfs]:-?}" "$(verdict test "${RES_RETR2[ftpfs]:-x}" == 0)"
        if [[ ${RES_RETR2[ftpfs]:-0} != 0 ]]; then
            # A RETR for pages the host evicted is the kernel's doing: ftpfs kept the cache if
            # it was asked for no more than those bytes.
            target "   ... only the pages the host evicted were read again" "read ${RES_REREAD[ftpfs]:-?} of ${RES_EVICTED[ftpfs]:-?} B evicted" "$(verdict test "${RES_REREAD[ftpfs]:-x}" == "${RES_EVICTED[ftpfs]:-y}")"
        fi
        target "14d cat after the file changed: the new bytes" "content ${RES_FRESH[ftpfs]:-?}" "$(verdict test "${RES_FRESH[ftpfs]:-x}" == new)"
    fi
    if wan_has 14e; then
        target "14e 4 readers at once, $rl: >= ${T14E_X}x 4 curls" "$(ratio 14e/ftpfs 14e/curl)x" "$(verdict rge 14e/ftpfs 14e/curl "$T14E_X")"
        if [[ $WAN_RTT != 0 ]]; then
            target "14e 4 readers at once, loopback: >= ${T14E_X}x 4 curls" "$(ratio 14e-lo/ftpfs 14e-lo/curl)x" \
                "$(verdict rge 14e-lo/ftpfs 14e-lo/curl "$T14E_X")"
        fi
    fi
    if wan_has 14f; then
        target "14f sequential read, $rl: >= ${T14F_X}x curl" "$(ratio 14f-read/ftpfs 14f-read/curl)x" \
            "$(verdict rge 14f-read/ftpfs 14f-read/curl "$T14F_X")"
        target "14f sequential write, $rl: >= ${T14F_X}x curl -T" "$(ratio 14f-write/ftpfs 14f-write/curl)x" \
            "$(verdict rge 14f-write/ftpfs 14f-write/curl "$T14F_X")"
    fi
    printf '\n   all results verified (listings: entries and sizes; reads: checksums or byte counts; writes: content).\n'
}

# ----- main ------------------------------------------------------------------------------------
wan_main() {
    local c
    FTPFS_URL_DIRECT=$FTPFS_URL
    export LFTP_HOME=$WORK/lftp-home # keep lftp's history and bookmarks out of $HOME
    export TZ=UTC                    # lftp prints some times in local time (wan-helper.py)
    section "WAN mode: cases $WAN_CASES; RTT $(wan_rtt_label "$WAN_RTT") on control and data connections"
    info "lftp:        $(lftp --version | awk 'NR == 1 { print $2, $3, $4 }') (one session, ftp:sync-mode $LFTP_SYNC)"
    info "proxy:       contrib/bench/delay-proxy.py: RTT/2 per direction on every chunk and FIN, handshake 1.5 RTT"
    info "             before the server sees a connection, window $WAN_WINDOW_KB KiB per connection and direction"
    info "runs:        $WAN_RUNS per case; an operation is stopped after $WAN_TIMEOUT_RTT s at RTT (BENCH_WAN_TIMEOUT),"
    info "             $WAN_TIMEOUT_LO s on loopback (BENCH_WAN_TIMEOUT_LO)"
    info "caches:      a fresh mount for every operation; the server's files stay in RAM (no drop_caches)"
    if [[ $WAN_RTT != 0 ]]; then proxy_start; fi
    for c in $WAN_CASES; do "case_$c"; done
    wan_at "$WAN_RTT"
    FTPFS_URL=$FTPFS_URL_DIRECT
    unset CTRL_PORT
    report_daemon_logs
    wan_summary
    info "load avg:    $(cut -d' ' -f1-3 /proc/loadavg) at the end (was $LOAD_START)"
}
