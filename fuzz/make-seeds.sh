#!/usr/bin/env bash
# fuzz/make-seeds.sh: (re)creates the seed corpus in fuzz/corpus/ (see docs/FUZZING.md).
#
#   corpus/listing/  every file of tests/fixtures/listings/ (fixture-NAME), and each of its
#                    lines on its own (line-NAME-NNN, with its line terminator); the inputs
#                    that once crashed it, from tests/fixtures/fuzz/ (regress-NAME)
#   corpus/reply/    real server replies: two bytes of little-endian reply code, then the text
#   corpus/path/     mount-URL paths and names, good and hostile
#
# Seeds have descriptive names; files libFuzzer adds are named by their SHA-1 (40 hex digits),
# which fuzz/.gitignore ignores. Running this again rewrites the seeds and leaves those alone.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"
fixtures=../tests/fixtures/listings

rm -f corpus/listing/fixture-* corpus/listing/line-* corpus/listing/regress-* corpus/reply/reply-* corpus/path/path-*
mkdir -p corpus/listing corpus/reply corpus/path

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

echo "seeds: $(ls corpus/listing | wc -l) listing, $(ls corpus/reply | wc -l) reply," \
    "$(ls corpus/path | wc -l) path"
