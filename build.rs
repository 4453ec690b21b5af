//! Build script: gives the binary the version string `ftpfs --version` prints,
//! `FTPFS_VERSION` = `0.1.0 (commit 0123456789ab)`, the package version and the git commit the
//! source was built from.
//!
//! The commit comes from `FTPFS_GIT_COMMIT` if set (for builds from a tarball whose commit is
//! known, such as a distribution's), else from `git rev-parse HEAD` in the source tree. A
//! tree without `.git`, or a machine without git, still builds: the version is then the
//! package version alone. A `-dirty` mark is not added: edits would not rerun this script, so
//! it would lie as often as not.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Hex digits of the commit shown (12: unique in any repository this size, and short).
const COMMIT_LEN: usize = 12;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=FTPFS_GIT_COMMIT");
    let version = env("CARGO_PKG_VERSION");
    let commit = std::env::var("FTPFS_GIT_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .map(|c| c.trim().to_string())
        .or_else(git_commit);
    let full = match commit {
        Some(c) => format!("{version} (commit {})", &c[..c.len().min(COMMIT_LEN)]),
        None => version,
    };
    println!("cargo:rustc-env=FTPFS_VERSION={full}");
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("cargo sets {name}"))
}

/// HEAD's commit, if the source tree is a git checkout (or worktree) and git runs. Asks cargo
/// to rerun this script when HEAD moves: a commit, a checkout, a fetch that packs refs.
fn git_commit() -> Option<String> {
    let dir = PathBuf::from(env("CARGO_MANIFEST_DIR"));
    let git = |args: &[&str]| -> Option<String> {
        let out = Command::new("git")
            .arg("-C")
            .arg(&dir)
            .args(args)
            .output()
            .ok()?;
        let text = String::from_utf8(out.stdout).ok()?;
        (out.status.success() && !text.trim().is_empty()).then(|| text.trim().to_string())
    };
    // Only the repository this crate is the top of: not one that merely contains a copy.
    let top = git(&["rev-parse", "--show-toplevel"])?;
    if !same_dir(Path::new(&top), &dir) {
        return None;
    }
    let commit = git(&["rev-parse", "HEAD"])?;
    let abs = |p: String| {
        let p = PathBuf::from(p);
        if p.is_absolute() {
            p
        } else {
            dir.join(p)
        }
    };
    // Only files that exist: cargo reruns the script every time for one that does not.
    let watch = |p: &Path| {
        if p.exists() {
            println!("cargo:rerun-if-changed={}", p.display());
        }
    };
    // HEAD lives in the worktree's git dir; the branch it names, in the common one, as a
    // file of its own or a line of packed-refs (a commit then creates the file: watch its
    // directory).
    if let Some(head) = git(&["rev-parse", "--git-path", "HEAD"]) {
        watch(&abs(head));
    }
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        if let Some(r) = git(&["rev-parse", "--git-path", &branch]).map(abs) {
            if r.exists() {
                watch(&r);
            } else if let Some(dir) = r.parent() {
                watch(dir);
            }
        }
        if let Some(packed) = git(&["rev-parse", "--git-path", "packed-refs"]) {
            watch(&abs(packed));
        }
    }
    commit
        .bytes()
        .all(|b| b.is_ascii_hexdigit())
        .then_some(commit)
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}
