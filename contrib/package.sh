#!/usr/bin/env bash
# contrib/package.sh: build the Debian package, target/debian/ftpfs_VERSION-1_ARCH.deb.
#
#   contrib/package.sh [cargo deb options]     e.g. --no-build, --output DIR
#
# Runs `cargo deb`, configured by [package.metadata.deb] in Cargo.toml: a release build, then
# the stripped binary, the man page, the bash/zsh/fish completions, the mount.ftpfs and
# mount.fuse.ftpfs helper links (in /usr/sbin, which is /sbin on Debian 12 and later), the
# docs and the fstab and systemd examples (/usr/share/doc/ftpfs), depending on fuse3.
# Install it with: apt install ./target/debian/ftpfs_*.deb   (or dpkg -i, then apt -f install)
#
# Needs cargo-deb (contrib/deps.sh installs it: cargo install cargo-deb --locked) and, for
# the automatic shared-library dependencies, dpkg-shlibdeps (package dpkg-dev).
# Prints the path of the .deb on the last line of its output.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

die() {
    printf 'package.sh: %s\n' "$*" >&2
    exit 1
}

if [[ -d $HOME/.cargo/bin && :$PATH: != *":$HOME/.cargo/bin:"* ]]; then
    PATH="$HOME/.cargo/bin:$PATH"
fi
command -v cargo >/dev/null || die "cargo is not in the PATH (contrib/deps.sh installs Rust)"
cargo deb --version >/dev/null 2>&1 ||
    die "cargo-deb is missing: contrib/deps.sh, or: cargo install cargo-deb --locked"
# The generated files the package carries must be what the code generates today.
for f in docs/ftpfs.1 contrib/completions/ftpfs.bash contrib/completions/_ftpfs \
    contrib/completions/ftpfs.fish; do
    [[ -f $f ]] || die "$f is missing; generate it with: UPDATE_DOCS=1 cargo test --test docs"
done

# cargo deb prints the path of the package it wrote as its last line.
cargo deb "$@"
