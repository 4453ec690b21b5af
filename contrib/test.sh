#!/usr/bin/env bash
# contrib/test.sh: the one command that runs every check ftpfs has (what CI runs via .ci/run).
#
#   1. contrib/deps.sh (apt packages, test FTP servers, Rust toolchain; fast when done already)
#   2. cargo fmt --check
#   3. cargo clippy --all-targets -- -D warnings
#   4. cargo test --release (release: 100 MiB transfers through FUSE stay quick)
#
# Needs root (the test FTP servers chroot, and the end-to-end tests mount FUSE filesystems).
# Extra arguments go to `cargo test`, e.g. contrib/test.sh --test harness_selftest.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n==> %s\n' "$*" >&2; }
elapsed() { printf '    (%ds)\n' "$((SECONDS - $1))" >&2; }

t=$SECONDS
step "contrib/deps.sh"
contrib/deps.sh
if [[ -d $HOME/.cargo/bin && :$PATH: != *":$HOME/.cargo/bin:"* ]]; then
    PATH="$HOME/.cargo/bin:$PATH" # deps.sh may just have installed rustup
fi
elapsed "$t"

t=$SECONDS
step "cargo fmt --check"
cargo fmt --all -- --check
elapsed "$t"

t=$SECONDS
step "cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets -- -D warnings
elapsed "$t"

t=$SECONDS
step "cargo test --release $*"
# Every test bounds its own waits; this is the backstop that keeps a hang from eating CI's
# 90 minutes (the suite takes about 6).
timeout --kill-after=60 40m cargo test --release "$@"
elapsed "$t"

printf '\nAll checks passed (%ds).\n' "$SECONDS" >&2
