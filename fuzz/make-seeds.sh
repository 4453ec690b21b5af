#!/usr/bin/env bash
# fuzz/make-seeds.sh: (re)creates the seed corpus in fuzz/corpus/ (see docs/FUZZING.md).
#
#   corpus/listing/  every file of tests/fixtures/listings/ (fixture-NAME), and each of its
#                    lines on its own (line-NAME-NNN, with its line terminator); the inputs
#                    that once crashed it, from tests/fixtures/fuzz/ (regress-NAME)
#   corpus/reply/    real server replies: two bytes of little-endian reply code, then the text
#   corpus/path/     mount-URL paths and names, good and hostile
#   corpus/wire/     scripted server sessions: a flags byte, then NUL-separated chunks (see
#                    fuzz_targets/wire.rs), as vsftpd, proftpd, pure-ftpd, IIS and Serv-U talk
#
# Seeds have descriptive names; files libFuzzer adds are named by their SHA-1 (40 hex digits),
# which fuzz/.gitignore ignores. Running this again rewrites the seeds and leaves those alone.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"
fixtures=../tests/fixtures/listings

rm -f corpus/listing/fixture-* corpus/listing/line-* corpus/listing/regress-* \
    corpus/reply/reply-* corpus/path/path-* corpus/wire/script-*
mkdir -p corpus/listing corpus/reply corpus/path corpus/wire

# --- listing ---------------------------------------------------------------------------------
for f in "$fixtures"/*.txt; do
    name=$(basename "$f" .txt)
    cp "$f" "corpus/listing/fixture-$name"
    # split(1) is byte-exact: every line keeps its CRLF or LF.
    split -l 1 -d -a 3 "$f" "corpus/listing/line-$name-"
done
for f in ../tests/fixtures/fuzz/listing-*; do
    cp "$f" "corpus/listing/regress-$(basename "$f")"
done

# --- reply -----------------------------------------------------------------------------------
reply() { # reply CODE SLUG TEXT
    printf "\\x$(printf %02x $(($1 & 255)))\\x$(printf %02x $(($1 >> 8)))%s" "$3" \
        >"corpus/reply/reply-$1-$2"
}
reply 220 vsftpd-greeting $'220 (vsFTPd 3.0.3)\r\n'
reply 220 multiline $'220-Welcome\r\n220-to the server\r\n220 ready\r\n'
reply 230 login $'230 Login successful.\r\n'
reply 211 feat $'211-Features:\r\n EPSV\r\n MDTM\r\n MLST type*;size*;modify*;unix.mode;\r\n REST STREAM\r\n SIZE\r\n UTF8\r\n211 End\r\n'
reply 227 pasv $'227 Entering Passive Mode (127,0,0,1,39,16).\r\n'
reply 229 epsv $'229 Entering Extended Passive Mode (|||10000|)\r\n'
reply 213 size $'213 1048576\r\n'
reply 213 mdtm $'213 20240101120000\r\n'
reply 257 pwd $'257 "/" is the current directory\r\n'
reply 421 timeout $'421 Timeout.\r\n'
reply 425 no-data $'425 Failed to establish connection.\r\n'
reply 426 aborted $'426 Failure writing network stream.\r\n'
reply 450 busy $'450 Temporarily busy\r\n'
reply 451 local-error $'451 Requested action aborted: local error in processing\r\n'
reply 452 space $'452 Insufficient storage space\r\n'
reply 500 unknown $'500 Unknown command.\r\n'
reply 502 not-impl $'502 Command not implemented\r\n'
reply 522 tls-reuse $'522 SSL connection failed: session reuse required\r\n'
reply 530 login-incorrect $'530 Login incorrect.\r\n'
reply 550 vsftpd-missing $'550 Failed to open file.\r\n'
reply 550 proftpd-missing $'550 /nope: No such file or directory\r\n'
reply 550 permission $'550 /x: Permission denied\r\n'
reply 550 not-empty $'550 /d: Directory not empty\r\n'
reply 550 exists $'550 /d: File exists\r\n'
reply 550 not-dir $'550 /f: Not a directory\r\n'
reply 550 is-dir $'550 /f: Is a directory\r\n'
reply 552 quota $'552 Quota exceeded\r\n'
reply 553 bad-name $'553 Could not create file.\r\n'
reply 534 unknown-to-suppaftp $'534 Policy requires SSL.\r\n'
reply 550 latin1 $'550 caf\xe9: No such file\r\n'

# --- path ------------------------------------------------------------------------------------
path() { # path SLUG BYTES (printf format)
    printf "$2" >"corpus/path/path-$1"
}
path root '/'
path empty ''
path simple '/pub/incoming'
path messy '//pub/./incoming//'
path dotdot '/pub/../etc'
path spaces '/ leading  and trailing /x '
path latin1 '/caf\xe9/\xd6\xd0\xce\xc4.txt'
path utf8 '/\xe5\xae\x9e\xe9\xaa\x8c.doc'
path crlf-injection '/a\r\nDELE x'
path nul '/a\000b'
path long-name "/$(printf 'x%.0s' {1..256})"
path max-name "/$(printf 'y%.0s' {1..255})"

# --- wire ------------------------------------------------------------------------------------
# script SLUG FLAGS CHUNK...: FLAGS is the flags byte in hex (bit 0 PASV, 1 LIST -a, 2 SIZE and
# MDTM, 3 RETR, 4 REST 1000, 5 list /d too). A chunk `=TEXT` is written without reading a
# command, `DTEXT` goes on the data connection, `.` hangs up, anything else is a reply to the
# next command (the first one, the greeting, to none). %P is the data port, %Q it as "p1,p2".
# Here, a chunk @NAME stands for `D` and the bytes of tests/fixtures/listings/NAME.txt.
script() {
    local slug=$1 flags=$2 sep=''
    shift 2
    {
        printf '%b' "\\x$flags"
        for chunk in "$@"; do
            printf '%s' "$sep"
            case $chunk in
            @*) printf D && cat "$fixtures/${chunk#@}.txt" ;;
            *) printf '%s' "$chunk" ;;
            esac
            sep=$'\x01' # stands for the NUL separator, which bash strings cannot hold
        done | tr '\001' '\000'
    } >"corpus/wire/script-$slug"
}
r=$'\r\n'

vsftpd_login=("220 (vsFTPd 3.0.3)$r" "331 Please specify the password.$r"
    "230 Login successful.$r" "200 Switching to Binary mode.$r"
    $'211-Features:\r\n EPRT\r\n EPSV\r\n MDTM\r\n PASV\r\n REST STREAM\r\n SIZE\r\n TVFS\r\n UTF8\r\n211 End\r\n'
    "200 Always in UTF8 mode.$r")
proftpd_login=("220 ProFTPD Server (Debian) [::ffff:127.0.0.1]$r"
    "331 Password required for test$r" "230 User test logged in$r"
    "200 Type set to I$r"
    $'211-Features:\r\n MDTM\r\n MFMT\r\n LANG en-US*\r\n TVFS\r\n UTF8\r\n MFF modify;UNIX.group;UNIX.mode;\r\n MLST modify*;perm*;size*;type*;unique*;UNIX.group*;UNIX.groupname*;UNIX.mode*;UNIX.owner*;UNIX.ownername*;\r\n SITE MKDIR\r\n SITE RMDIR\r\n SITE UTIME\r\n SITE SYMLINK\r\n SIZE\r\n EPSV\r\n REST STREAM\r\n211 End\r\n'
    "200 UTF8 set to on$r")
pureftpd_login=($'220---------- Welcome to Pure-FTPd [privsep] [TLS] ----------\r\n220-You are user number 1 of 50 allowed.\r\n220-Local time is now 12:00. Server port: 21.\r\n220-This is a private system - No anonymous login\r\n220 You will be disconnected after 15 minutes of inactivity.\r\n'
    "331 User test OK. Password required$r"
    $'230-Your bandwidth usage is restricted\r\n230 OK. Current directory is /\r\n'
    "200 TYPE is now 8-bit binary$r"
    $'211-Extensions supported:\r\n EPRT\r\n IDLE\r\n MDTM\r\n SIZE\r\n MFMT\r\n REST STREAM\r\n MLST type*;size*;sizd*;modify*;UNIX.mode*;UNIX.uid*;UNIX.gid*;unique*;\r\n MLSD\r\n PRET\r\n AUTH TLS\r\n PBSZ\r\n PROT\r\n UTF8\r\n TVFS\r\n ESTA\r\n PASV\r\n EPSV\r\n ESTP\r\n211 End.\r\n'
    "200 OK, UTF-8 enabled$r")

# vsftpd: LIST over EPSV, then SIZE, MDTM and a RETR with REST.
script vsftpd-list-size-retr 1c "${vsftpd_login[@]}" "250 Directory successfully changed.$r" \
    "229 Entering Extended Passive Mode (|||%P|)$r" "150 Here comes the directory listing.$r" \
    @vsftpd_list "=226 Directory send OK.$r" "213 2000$r" "213 20240101120000$r" \
    "229 Entering Extended Passive Mode (|||%P|)$r" "350 Restart position accepted (1000).$r" \
    "150 Opening BINARY mode data connection for /f (2000 bytes).$r" "D$(printf 'x%.0s' {1..1000})" \
    "=226 Transfer complete.$r"
# vsftpd in PASV mode (227), LIST -a.
script vsftpd-pasv 03 "${vsftpd_login[@]}" "250 Directory successfully changed.$r" \
    "227 Entering Passive Mode (127,0,0,1,%Q).$r" "150 Here comes the directory listing.$r" \
    @vsftpd_list "=226 Directory send OK.$r"
# proftpd: MLSD over EPSV, twice (/ and /d).
script proftpd-mlsd 20 "${proftpd_login[@]}" "250 CWD command successful$r" \
    "229 Entering Extended Passive Mode (|||%P|)$r" \
    "150 Opening BINARY mode data connection for MLSD$r" @proftpd_mlsd \
    "=226 Transfer complete$r" "250 CWD command successful$r" \
    "229 Entering Extended Passive Mode (|||%P|)$r" \
    "150 Opening BINARY mode data connection for MLSD$r" @proftpd_mlsd_slink \
    "=226 Transfer complete$r"
# proftpd: the file is missing.
script proftpd-missing 0c "${proftpd_login[@]}" "250 CWD command successful$r" \
    "229 Entering Extended Passive Mode (|||%P|)$r" \
    "150 Opening BINARY mode data connection for MLSD$r" "D" "=226 Transfer complete$r" \
    "550 /f: No such file or directory$r" "550 /f: No such file or directory$r" \
    "229 Entering Extended Passive Mode (|||%P|)$r" "550 /f: No such file or directory$r"
# pure-ftpd: MLSD over PASV, multi-line 226.
script pureftpd-pasv-mlsd 01 "${pureftpd_login[@]}" "250 OK. Current directory is /$r" \
    "227 Entering Passive Mode (127,0,0,1,%Q)$r" "150 Accepted data connection$r" \
    @pureftpd_mlsd $'=226-Options: -a -l \r\n226 12 matches total\r\n'
# pure-ftpd: EPSV refused, falls back to PASV.
script epsv-refused 00 "${pureftpd_login[@]}" "250 OK. Current directory is /$r" \
    "500 Unknown command$r" "227 Entering Passive Mode (10,0,0,5,%Q)$r" \
    "150 Accepted data connection$r" @pureftpd_mlsd_anon \
    "=226-Options: -a -l$r""226 5 matches total$r"
# IIS: no FEAT features, DOS listing over PASV.
script iis-dos 01 "220 Microsoft FTP Service$r" "331 Password required$r" \
    "230 User logged in.$r" "200 Type set to I.$r" \
    $'211-Extended features supported:\r\n LANG EN*\r\n UTF8\r\n AUTH TLS;TLS-C;SSL;TLS-P;\r\n PBSZ\r\n PROT C;P;\r\n CCC\r\n HOST\r\n SIZE\r\n MDTM\r\n REST STREAM\r\n211 END\r\n' \
    "200 OPTS UTF8 command successful - UTF8 encoding now ON.$r" \
    "250 CWD command successful.$r" "227 Entering Passive Mode (127,0,0,1,%Q).$r" \
    "125 Data connection already open; Transfer starting.$r" @iis_dos \
    "=226 Transfer complete.$r"
# Serv-U: MLSD over EPSV.
script servu-mlsd 00 "220 Serv-U FTP Server v15.1 ready...$r" \
    "331 User name okay, need password.$r" "230 User logged in, proceed.$r" \
    "200 Type set to I.$r" \
    $'211-Extensions supported\r\n UTF8\r\n OPTS MODE;MLST;UTF8\r\n CLNT\r\n CSID Name; Version;\r\n HOST domain\r\n SITE PSWD;SET;ZONE;CHMOD;MSG;EXEC;HELP\r\n AUTH TLS;SSL;TLS-C;TLS-P;\r\n PBSZ\r\n PROT\r\n CCC\r\n SSCN\r\n RMDA directoryname\r\n DSIZ\r\n AVBL\r\n EPRT\r\n EPSV\r\n MODE Z\r\n THMB BMP|JPEG|GIF|TIFF|PNG max_width max_height\r\n REST STREAM\r\n SIZE\r\n MDTM\r\n MDTM YYYYMMDDHHMMSS[+-TZ];filename\r\n MFMT\r\n MFCT\r\n MFF Create;Modify\r\n XCRC filename;start;end\r\n XMD5 filename;start;end\r\n XSHA1 filename;start;end\r\n XSHA256 filename;start;end\r\n XSHA512 filename;start;end\r\n COMB target;source_list\r\n MLST type*;size*;create;modify*;\r\n MLSD\r\n211 End (for details use "HELP commmand" where command is the command of interest)\r\n' \
    "200 OPTS UTF8 is set to ON.$r" "250 Directory changed to /$r" \
    "229 Entering Extended Passive Mode (|||%P|)$r" \
    "150 Opening ASCII mode data connection for MLSD.$r" @serv-u_mlsd \
    "=226 Transfer complete. 571 bytes transferred. 571 bps.$r"
# Refusals and broken replies.
script greeting-421 00 "421 Too many users - please try again later.$r"
script login-530 00 "220 (vsFTPd 3.0.3)$r" "331 Please specify the password.$r" \
    "530 Login incorrect.$r"
script per-ip-limit 00 "220 ready$r" "530 Sorry, the maximum number of clients (2) for this user are already connected.$r"
script greeting-junk 00 $'\xff\xfe\x1b[2J junk\r\n'
script greeting-hangup 00 .
script feat-garbage 00 "220 ready$r" "331 pw$r" "230 in$r" "200 I$r" \
    $'211-Features\r\nMLST no leading space\r\n\xff\r\n211 End\r\n' "200 ok$r"
script epsv-bad-port 04 "${vsftpd_login[@]}" "250 ok$r" \
    "229 Entering Extended Passive Mode (|||99999|)$r" "213 12$r" "213 2024$r"
script epsv-no-port 00 "${vsftpd_login[@]}" "250 ok$r" "229 Entering Extended Passive Mode$r"
script pasv-bad-octets 01 "${vsftpd_login[@]}" "250 ok$r" \
    "227 Entering Passive Mode (999,0,0,1,4,1).$r" "227 Entering Passive Mode (1,2,3).$r"
script listing-then-garbage 00 "${proftpd_login[@]}" "250 ok$r" \
    "229 Entering Extended Passive Mode (|||%P|)$r" "150 go$r" @proftpd_mlsd \
    $'=2\xff6 done\r\n'
# RFC 2389's one-line "no features" reply, then silence (suppaftp waits for a second line).
script feat-one-line 00 "220 ready$r" "331 pw$r" "230 in$r" "200 I$r" "211 No features$r" "" ""
script multiline-never-ends 00 "220 ready$r" "331 pw$r" "230 in$r" \
    "200 I$r" $'211-Features\r\n EPSV\r\n' "" "" # then silence: two empty replies

echo "seeds: $(ls corpus/listing | wc -l) listing, $(ls corpus/reply | wc -l) reply," \
    "$(ls corpus/path | wc -l) path, $(ls corpus/wire | wc -l) wire"
