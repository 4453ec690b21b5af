//! Shell steps for the end-to-end tests: run a bash script in a directory, compare trees
//! with `diff -r`, build a tree of awkward names, and check no upload temporaries are left.

use std::fs;
use std::path::Path;
use std::process::Command;

use super::random_bytes;

/// Runs `script` with `bash -euo pipefail` in `dir`; fails the test if it fails. Its stdout.
pub fn sh(dir: &Path, script: &str) -> String {
    let out = run(dir, script);
    assert!(
        out.status.success(),
        "script failed: {script}\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `script` like [`sh`] and returns its output whether it failed or not.
pub fn run(dir: &Path, script: &str) -> std::process::Output {
    Command::new("bash")
        .arg("-euo")
        .arg("pipefail")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .output()
        .unwrap()
}

/// `diff -r a b` finds no difference.
pub fn diff_r(a: &Path, b: &Path) {
    let out = Command::new("diff")
        .arg("-r")
        .arg(a)
        .arg(b)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "diff -r {} {}:\n{}{}",
        a.display(),
        b.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// No temporary upload names may be left on the server.
pub fn assert_no_temp_files(dir: &Path) {
    let left = temp_files(dir);
    assert!(left.is_empty(), "temporary files left: {left}");
}

/// The same, allowing `bound` for an upload still under way to end: one run by a release,
/// which the kernel does not wait for, after a `close()` that already failed.
pub fn assert_no_temp_files_within(dir: &Path, bound: std::time::Duration) {
    super::wait_until(bound, || temp_files(dir).is_empty());
    assert_no_temp_files(dir);
}

/// Temporary upload names under `dir`, one per line (`find` output): ours
/// (`.~ftpfs-*`) and pure-ftpd's own (`.pureftpd-upload.*`, a STOR in progress or left by
/// one that failed). Panics if `find` fails, so an unreadable or missing `dir` is not taken
/// for a clean one.
fn temp_files(dir: &Path) -> String {
    let out = Command::new("find")
        .arg(dir)
        .args([
            "(",
            "-name",
            ".~ftpfs-*",
            "-o",
            "-name",
            ".pureftpd-upload.*",
            ")",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "find {} failed ({}): {}",
        dir.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A tree of `n` files in nested directories, with awkward names and sizes.
pub fn make_tree(root: &Path, n: usize) {
    for i in 0..n {
        let dir = root
            .join(format!("d{}", i % 7))
            .join(format!("sub {}", i % 3));
        fs::create_dir_all(&dir).unwrap();
        let name = match i % 5 {
            0 => format!("file {i}.txt"),
            1 => format!("实验 {i}.doc"),
            2 => format!(" lead{i}"),
            _ => format!("f{i}.bin"),
        };
        let len = (i * 7919) % 20000;
        fs::write(dir.join(name), random_bytes(len, i as u64)).unwrap();
    }
}
