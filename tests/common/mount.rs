//! A real ftpfs mount for end-to-end tests: runs the `ftpfs` binary built by cargo in the
//! foreground on a fresh tempdir mountpoint, waits until the kernel shows the mount, and on drop
//! unmounts and ends the process.
//!
//! Invariants: a [`Mount`] never outlives its mount (drop does `umount -l`, SIGTERM, waits
//! [`EXIT_GRACE`], then SIGKILL); ftpfs's stderr goes to a log file outside the mountpoint, and
//! is printed when a test panics while the mount is alive.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use tempfile::TempDir;

use super::process::{self, is_mounted, mount_fstype, wait_child, wait_until};
use super::server::Server;

/// How long ftpfs may take to mount.
pub const MOUNT_TIMEOUT: Duration = Duration::from_secs(15);
/// How long ftpfs gets to exit after unmount + SIGTERM before it is killed.
pub const EXIT_GRACE: Duration = Duration::from_secs(10);

/// Path of the ftpfs binary under test.
pub fn ftpfs_bin() -> &'static str {
    env!("CARGO_BIN_EXE_ftpfs")
}

/// A `Command` for the ftpfs binary, logging at debug level whatever the caller's
/// environment says: tests read the log, and some check that a line is *not* there, which a
/// quieter level would make pass for nothing. So a caller's `RUST_LOG`/`FTPFS_LOG` is not
/// passed on; `FTPFS_TEST_LOG=trace` may only make the log more verbose (any other value
/// fails the test).
pub fn ftpfs_command() -> Command {
    let mut cmd = Command::new(ftpfs_bin());
    let level = match std::env::var("FTPFS_TEST_LOG").as_deref() {
        Err(_) | Ok("debug") => "ftpfs=debug,info",
        Ok("trace") => "trace",
        Ok(other) => panic!(
            "FTPFS_TEST_LOG={other:?}: only `debug` (the default) or `trace`; a quieter \
             level would let the tests that check the log for a line's absence pass unchecked"
        ),
    };
    cmd.env_remove("RUST_LOG").env("FTPFS_LOG", level);
    cmd
}

/// A mounted ftpfs. See the module doc.
pub struct Mount {
    child: Option<Child>,
    /// Holds `mnt/` (the mountpoint) and `ftpfs.log`.
    tmp: TempDir,
    mountpoint: PathBuf,
    log_path: PathBuf,
    url: String,
}

impl Mount {
    /// The mount's counters, as `ftpfs --stats MOUNTPOINT` prints them.
    pub fn stats(&self) -> std::collections::HashMap<String, u64> {
        let out = Command::new(ftpfs_bin())
            .arg("--stats")
            .arg(self.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "ftpfs --stats: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| {
                l.split_once(' ')
                    .map(|(k, v)| (k.to_string(), v.trim().parse().unwrap_or(0)))
            })
            .collect()
    }

    /// Mounts `url` with `-o opts` (none: no `-o`). Panics with ftpfs's log if it fails.
    pub fn new(url: &str, opts: &[&str]) -> Mount {
        Mount::try_new(url, opts).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Like [`new`](Mount::new), but returns ftpfs's exit status and log as the error text when
    /// it exits or does not mount within [`MOUNT_TIMEOUT`]. (A missing /dev/fuse still panics.)
    pub fn try_new(url: &str, opts: &[&str]) -> Result<Mount, String> {
        let mut args: Vec<String> = Vec::new();
        if !opts.is_empty() {
            args.push("-o".into());
            args.push(opts.join(","));
        }
        Mount::try_with_args(url, &args)
    }

    /// Mounts with arbitrary extra arguments (after `URL MOUNTPOINT -f`), e.g.
    /// `["--max-conns", "2"]`.
    pub fn try_with_args<S: AsRef<str>>(url: &str, extra_args: &[S]) -> Result<Mount, String> {
        let (tmp, mountpoint, log_path, log) = scratch("ftpfs-test-mount.");
        let mut cmd = ftpfs_command();
        cmd.arg(url)
            .arg(&mountpoint)
            .arg("-f")
            .args(extra_args.iter().map(|a| a.as_ref()))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup log"))
            .stderr(log);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot spawn {} (did the build fail?): {e}", ftpfs_bin()));
        let mut mount = Mount {
            child: Some(child),
            tmp,
            mountpoint,
            log_path,
            url: url.to_string(),
        };
        let mut exited = None;
        let mounted = wait_until(MOUNT_TIMEOUT, || {
            if is_mounted(&mount.mountpoint) {
                return true;
            }
            exited = mount.child.as_mut().unwrap().try_wait().ok().flatten();
            exited.is_some()
        }) && exited.is_none();
        if mounted {
            return Ok(mount);
        }
        let what = match exited {
            Some(status) => format!("exited with {status} before mounting"),
            None => format!("did not mount within {MOUNT_TIMEOUT:?}"),
        };
        mount.teardown();
        Err(format!(
            "ftpfs {what}\ncommand: {cmd:?}\n----- ftpfs log -----\n{}",
            mount.log()
        ))
    }

    /// The mountpoint.
    pub fn path(&self) -> &Path {
        &self.mountpoint
    }

    /// `path().join(rel)`.
    pub fn join(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.mountpoint.join(rel)
    }

    /// The URL that was mounted.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// PID of the ftpfs process (0 once it was reaped by `unmount`).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, |c| c.id())
    }

    /// The filesystem type the kernel reports (e.g. `fuse` or `fuse.ftpfs`), if still mounted.
    pub fn fstype(&self) -> Option<String> {
        mount_fstype(&self.mountpoint)
    }

    /// Everything ftpfs wrote to stdout/stderr so far.
    pub fn log(&self) -> String {
        process::read_lossy(&self.log_path)
    }

    /// Path of the log file (it lives until the `Mount` is dropped).
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// Unmounts the way a user would (`umount MOUNTPOINT`, not lazy) and waits up to
    /// [`EXIT_GRACE`] for ftpfs to exit on its own. Returns its exit status; panics (with the
    /// log) if the unmount fails or ftpfs keeps running.
    pub fn unmount(mut self) -> ExitStatus {
        let out = Command::new("umount")
            .arg(&self.mountpoint)
            .output()
            .expect("run umount");
        assert!(
            out.status.success(),
            "umount {} failed: {}\n----- ftpfs log -----\n{}",
            self.mountpoint.display(),
            String::from_utf8_lossy(&out.stderr),
            process::tail(&self.log(), 100)
        );
        let mut child = self.child.take().expect("ftpfs process");
        match wait_child(&mut child, EXIT_GRACE) {
            Some(status) => status,
            None => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "ftpfs did not exit within {EXIT_GRACE:?} after umount\n----- ftpfs log -----\n{}",
                    process::tail(&self.log(), 100)
                );
            }
        }
    }

    /// Sends a signal to the ftpfs process (e.g. `libc::SIGTERM` to test its own shutdown).
    pub fn signal(&self, sig: libc::c_int) {
        if let Some(c) = &self.child {
            process::signal(c.id(), sig);
        }
    }

    /// Waits up to `timeout` for ftpfs to exit by itself; returns its status if it did.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let status = wait_child(self.child.as_mut()?, timeout);
        if status.is_some() {
            self.child = None;
        }
        status
    }

    /// Lazy unmount, SIGTERM, wait, SIGKILL. Idempotent.
    fn teardown(&mut self) -> Option<ExitStatus> {
        if is_mounted(&self.mountpoint) {
            lazy_unmount(&self.mountpoint);
        }
        let status = match self.child.take() {
            Some(mut child) => match child.try_wait() {
                Ok(Some(status)) => Some(status),
                _ => {
                    process::signal(child.id(), libc::SIGTERM);
                    match wait_child(&mut child, EXIT_GRACE) {
                        Some(status) => Some(status),
                        None => {
                            eprintln!(
                                "ftpfs (pid {}) ignored SIGTERM for {EXIT_GRACE:?}; killing it",
                                child.id()
                            );
                            let _ = child.kill();
                            child.wait().ok()
                        }
                    }
                }
            },
            None => None,
        };
        if is_mounted(&self.mountpoint) {
            lazy_unmount(&self.mountpoint);
        }
        status
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "===== ftpfs {} on {} log =====\n{}",
                self.url,
                self.mountpoint.display(),
                process::tail(&self.log(), 300)
            );
        }
        self.teardown();
        // Only an empty, unmounted directory is removed; make sure TempDir does not recurse
        // into a mount that somehow survived.
        if is_mounted(&self.mountpoint) {
            eprintln!(
                "WARNING: {} is still mounted; leaving it",
                self.mountpoint.display()
            );
            std::mem::forget(std::mem::replace(
                &mut self.tmp,
                TempDir::new().expect("tempdir"),
            ));
        }
    }
}

/// `umount -l`, falling back to `fusermount3 -u -z`; errors are ignored.
fn lazy_unmount(path: &Path) {
    let ok = Command::new("umount")
        .arg("-l")
        .arg(path)
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        let _ = Command::new("fusermount3")
            .args(["-u", "-z"])
            .arg(path)
            .stderr(Stdio::null())
            .status();
    }
}

/// What one ftpfs run needs (after checking /dev/fuse): a private temp dir (`prefix`) holding
/// an empty mountpoint `mnt` and the log file `ftpfs.log`, created and open for ftpfs's output.
fn scratch(prefix: &str) -> (tempfile::TempDir, PathBuf, PathBuf, fs::File) {
    super::require_fuse();
    let tmp = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .expect("create mount tempdir");
    let mountpoint = tmp.path().join("mnt");
    fs::create_dir(&mountpoint).expect("create mountpoint");
    let log_path = tmp.path().join("ftpfs.log");
    let log = fs::File::create(&log_path).expect("create ftpfs.log");
    (tmp, mountpoint, log_path, log)
}

/// Runs ftpfs on `url` with `-o opts` and `env` at its default log level (no
/// `RUST_LOG`/`FTPFS_LOG`: what a user sees) and expects the mount to fail. Returns everything ftpfs printed; panics
/// if it mounted, exited with success or neither mounted nor exited within [`MOUNT_TIMEOUT`].
pub fn mount_failure(url: &str, opts: &[&str], env: &[(&str, &str)]) -> String {
    let (_tmp, mountpoint, log_path, log) = scratch("ftpfs-test-fail.");
    let mut cmd = Command::new(ftpfs_bin());
    cmd.arg(url).arg(&mountpoint).arg("-f");
    if !opts.is_empty() {
        cmd.arg("-o").arg(opts.join(","));
    }
    cmd.env_remove("RUST_LOG")
        .env_remove("FTPFS_LOG")
        .env_remove("FTPFS_PASSWORD")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("dup log"))
        .stderr(log);
    let mut child = cmd.spawn().expect("spawn ftpfs");
    let status = wait_child(&mut child, MOUNT_TIMEOUT);
    if status.is_none() {
        if is_mounted(&mountpoint) {
            lazy_unmount(&mountpoint);
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    let output = process::read_lossy(&log_path);
    match status {
        Some(status) if !status.success() => output,
        Some(status) => panic!("ftpfs exited with {status} on {url}:\n{output}"),
        None => panic!("ftpfs did not fail within {MOUNT_TIMEOUT:?} on {url}:\n{output}"),
    }
}

/// Asserts that `output` (from [`mount_failure`]) is exactly one line, `ftpfs: ...`, that
/// contains every one of `needles`.
#[track_caller]
pub fn assert_one_error_line(output: &str, needles: &[&str]) {
    let lines: Vec<&str> = output.lines().collect();
    assert!(
        lines.len() == 1 && lines[0].starts_with("ftpfs: "),
        "expected one 'ftpfs: ...' line, got {} lines:\n{output}",
        lines.len()
    );
    for needle in needles {
        assert!(lines[0].contains(needle), "'{needle}' not in: {}", lines[0]);
    }
}

/// Mounts `server.url()` with `opts`.
pub fn mount_for(server: &Server, opts: &[&str]) -> Mount {
    Mount::new(&server.url(), opts)
}
