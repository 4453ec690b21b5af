#!/usr/bin/env bash
# contrib/install.sh: install ftpfs, its man page, shell completions and mount helpers.
#
#   contrib/install.sh [--prefix DIR] [--destdir DIR] [--sbindir DIR] [--binary FILE]
#   contrib/install.sh --uninstall [--prefix DIR] [--destdir DIR] [--sbindir DIR]
#
# Installs, under DESTDIR (empty by default) and PREFIX (default /usr/local):
#   PREFIX/bin/ftpfs                                       the binary
#   PREFIX/share/man/man1/ftpfs.1                          docs/ftpfs.1
#   PREFIX/share/bash-completion/completions/ftpfs         contrib/completions/ftpfs.bash
#   PREFIX/share/zsh/site-functions/_ftpfs                 contrib/completions/_ftpfs
#   PREFIX/share/fish/vendor_completions.d/ftpfs.fish      contrib/completions/ftpfs.fish
#   SBINDIR/mount.ftpfs, SBINDIR/mount.fuse.ftpfs          symlinks to PREFIX/bin/ftpfs
#
# The mount helper links let `mount -t ftpfs` and `mount -t fuse.ftpfs` (fstab, systemd) run
# ftpfs directly. mount(8) looks for helpers in /sbin only, so SBINDIR defaults to /sbin;
# when /sbin is not writable (not root, no --destdir), they go to PREFIX/sbin with a note.
# Without the links, `mount -t fuse.ftpfs` still works through mount.fuse3 (package fuse3)
# as long as ftpfs is in the PATH.
#
# The binary is target/release/ftpfs, built with `cargo build --release` first if it is
# missing or older than the sources; --binary installs another one instead.
#
# --destdir is for packaging: files go under DIR, links point to their final place.
set -euo pipefail

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
    exit "${1:-0}"
}

die() {
    printf 'install.sh: %s\n' "$*" >&2
    exit 1
}

note() {
    printf 'install.sh: %s\n' "$*" >&2
}

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
prefix=/usr/local
destdir=
sbindir=
binary=
uninstall=false

while (($#)); do
    case $1 in
        --prefix) prefix=${2:?--prefix needs a directory}; shift ;;
        --prefix=*) prefix=${1#*=} ;;
        --destdir) destdir=${2:?--destdir needs a directory}; shift ;;
        --destdir=*) destdir=${1#*=} ;;
        --sbindir) sbindir=${2:?--sbindir needs a directory}; shift ;;
        --sbindir=*) sbindir=${1#*=} ;;
        --binary) binary=${2:?--binary needs a file}; shift ;;
        --binary=*) binary=${1#*=} ;;
        --uninstall) uninstall=true ;;
        -h | --help) usage 0 ;;
        *) note "unknown argument: $1"; usage 2 >&2 ;;
    esac
    shift
done

[[ $prefix == /* ]] || die "--prefix must be an absolute path: $prefix"
[[ -z $destdir || $destdir == /* ]] || destdir=$(pwd)/$destdir
destdir=${destdir%/}
prefix=${prefix%/}

if [[ -z $sbindir ]]; then
    if [[ -n $destdir || -w /sbin ]]; then
        sbindir=/sbin
    else
        sbindir=$prefix/sbin
        note "/sbin is not writable: the mount helper links go to $sbindir;" \
            "mount(8) only looks in /sbin, so 'mount -t ftpfs' needs them there (run as root)," \
            "while 'mount -t fuse.ftpfs' works through mount.fuse3 with ftpfs in the PATH"
    fi
fi
[[ $sbindir == /* ]] || die "--sbindir must be an absolute path: $sbindir"

bin=$prefix/bin/ftpfs
man=$prefix/share/man/man1/ftpfs.1
bash_completion=$prefix/share/bash-completion/completions/ftpfs
zsh_completion=$prefix/share/zsh/site-functions/_ftpfs
fish_completion=$prefix/share/fish/vendor_completions.d/ftpfs.fish
helpers=("$sbindir/mount.ftpfs" "$sbindir/mount.fuse.ftpfs")

if $uninstall; then
    for link in "${helpers[@]}"; do
        # Only links that point at our binary: never someone else's helper.
        [[ -L $destdir$link ]] || continue
        target=$(readlink -- "$destdir$link")
        if [[ $target == "$bin" ]]; then
            rm -f -- "$destdir$link"
            printf 'removed %s\n' "$destdir$link"
        else
            note "$destdir$link points to $target, not $bin; left alone"
        fi
    done
    for file in "$bin" "$man" "$bash_completion" "$zsh_completion" "$fish_completion"; do
        if [[ -e $destdir$file || -L $destdir$file ]]; then
            rm -f -- "$destdir$file"
            printf 'removed %s\n' "$destdir$file"
        fi
    done
    exit 0
fi

# The files to install, all from the source tree.
generated=(docs/ftpfs.1 contrib/completions/ftpfs.bash contrib/completions/_ftpfs
    contrib/completions/ftpfs.fish)
for f in "${generated[@]}"; do
    [[ -f $repo/$f ]] || die "$f is missing; generate it with: UPDATE_DOCS=1 cargo test --test docs"
done

if [[ -z $binary ]]; then
    binary=$repo/target/release/ftpfs
    stale=
    if [[ -x $binary ]]; then
        stale=$(find "$repo/src" "$repo/Cargo.toml" "$repo/Cargo.lock" -newer "$binary" \
            -print -quit 2>/dev/null || true)
    fi
    if [[ ! -x $binary || -n $stale ]]; then
        command -v cargo >/dev/null ||
            die "$binary is missing or out of date, and cargo is not in the PATH;" \
                "build it first (cargo build --release) or pass --binary FILE"
        note "building: cargo build --release"
        (cd "$repo" && cargo build --release --bin ftpfs)
    fi
fi
[[ -f $binary && -x $binary ]] || die "not an executable file: $binary"

install -D -m 0755 "$binary" "$destdir$bin"
install -D -m 0644 "$repo/docs/ftpfs.1" "$destdir$man"
install -D -m 0644 "$repo/contrib/completions/ftpfs.bash" "$destdir$bash_completion"
install -D -m 0644 "$repo/contrib/completions/_ftpfs" "$destdir$zsh_completion"
install -D -m 0644 "$repo/contrib/completions/ftpfs.fish" "$destdir$fish_completion"
for file in "$bin" "$man" "$bash_completion" "$zsh_completion" "$fish_completion"; do
    printf 'installed %s\n' "$destdir$file"
done

mkdir -p -- "$destdir$sbindir"
for link in "${helpers[@]}"; do
    if [[ -e $destdir$link && ! -L $destdir$link ]]; then
        note "$destdir$link exists and is not a link; left alone"
        continue
    fi
    ln -sfn -- "$bin" "$destdir$link"
    printf 'linked %s -> %s\n' "$destdir$link" "$bin"
done

if [[ -z $destdir ]]; then
    command -v fusermount3 >/dev/null ||
        note "fusermount3 was not found: install FUSE 3 (Debian/Ubuntu: apt-get install fuse3)"
    case :$PATH: in
        *:"$prefix/bin":*) ;;
        *) note "$prefix/bin is not in your PATH" ;;
    esac
fi
