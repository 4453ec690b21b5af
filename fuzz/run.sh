#!/usr/bin/env bash
# fuzz/run.sh [SECONDS]: runs every cargo-fuzz target of ftpfs for SECONDS each (default 60),
# one after the other, starting from the seed corpus in fuzz/corpus/TARGET, and prints one
# summary line per target. Exits 1 if any target crashed (the input is saved in
# fuzz/artifacts/TARGET/), 2 if it could not run. See docs/FUZZING.md.
#
# cargo fuzz builds with -Zsanitizer=address, a nightly flag. Only stable Rust is available
# here, so RUSTC_BOOTSTRAP=1 lets the stable compiler accept it (the sanitizer runtime ships
# with the stable x86_64 Linux toolchain). Needs `cargo install cargo-fuzz` and a C++
# compiler (libfuzzer-sys builds libFuzzer).
#
# Environment:
#   FUZZ_SANITIZER=none  no AddressSanitizer, and so no RUSTC_BOOTSTRAP: plain stable Rust
#   FUZZ_ARGS="..."      extra libFuzzer flags (e.g. "-max_len=65536")
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"
secs=${1:-60}
if ! [[ $secs =~ ^[0-9]+$ ]] || ((secs < 1)); then
    echo "usage: fuzz/run.sh [SECONDS]" >&2
    exit 2
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz/run.sh: cargo-fuzz is missing; install it with: cargo install cargo-fuzz" >&2
    exit 2
fi
# -a: debug assertions and overflow checks on, so an arithmetic overflow is a crash too.
build_flags=(--release -a)
if [[ ${FUZZ_SANITIZER:-address} == none ]]; then
    build_flags+=(--sanitizer none)
else
    export RUSTC_BOOTSTRAP=1
fi
cargo fuzz build "${build_flags[@]}"

# The wire target connects to whatever port of 127.0.0.1 a mutated PASV/EPSV reply names. Run
# it in a network namespace of its own, where no other service listens, when the system allows
# one (unshare(1) with user namespaces, ip(8)); otherwise as it is.
isolate=()
if unshare -rn sh -c 'ip link set lo up' 2>/dev/null; then
    isolate=(unshare -rn sh -c 'ip link set lo up && exec "$@"' sh)
else
    echo "fuzz/run.sh: no network namespace available; wire runs on the host's loopback" >&2
fi

summary=()
failed=0
for target in $(cargo fuzz list); do
    mkdir -p "corpus/$target"
    log="target/fuzz-$target.log"
    echo "==> $target for ${secs}s (log: fuzz/$log)" >&2
    wrap=()
    [[ $target == wire ]] && wrap=("${isolate[@]}")
    # -timeout: an input running this long is a hang (wire: a missing deadline), a crash too.
    # shellcheck disable=SC2086 # FUZZ_ARGS is a list of flags
    if ! "${wrap[@]}" cargo fuzz run "${build_flags[@]}" "$target" "corpus/$target" -- \
        -max_total_time="$secs" -timeout=30 -print_final_stats=1 ${FUZZ_ARGS:-} >"$log" 2>&1; then
        grep -A 3 -m 1 panicked "$log" >&2 || tail -n 20 "$log" >&2
        summary+=("$target: CRASHED, see fuzz/$log and fuzz/artifacts/$target/")
        failed=1
        continue
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1)
    corpus=$(find "corpus/$target" -type f | wc -l)
    summary+=("$target: ${runs:-?} runs in ${secs}s, ${cov:-cov: ?}, corpus $corpus files, no crash")
done
printf '%s\n' "${summary[@]}"
exit "$failed"
