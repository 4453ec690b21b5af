//! End-to-end write failures: the server refuses, fills up, hits a quota or dies during an
//! upload. Each case checks the errno the writing program gets, that the server keeps its old
//! content with nothing half-written left, and that a spooled file's bytes stay in the spool.

mod common;

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::time::Duration;

use common::process::within;
use common::shell::{assert_no_temp_files, assert_no_temp_files_within};
use common::*;

/// A server-side read-only directory: cp fails, and nothing half-written is left.
fn read_only_directory(server: &Server) {
    server.populate(|d| {
        fs::create_dir(d.join("ro")).unwrap();
        fs::write(d.join("ro/old.txt"), b"old content\n").unwrap();
    });
    fs::set_permissions(server.dir().join("ro"), fs::Permissions::from_mode(0o555)).unwrap();
    fs::set_permissions(
        server.dir().join("ro/old.txt"),
        fs::Permissions::from_mode(0o444),
    )
    .unwrap();
    let m = mount_for(server, &[]);
    let src = tempfile::tempdir().unwrap();
    write_random_file(src.path().join("new.bin"), 300_000, 9);
    let cp = Command::new("cp")
        .arg(src.path().join("new.bin"))
        .arg(m.join("ro/new.bin"))
        .output()
        .unwrap();
    assert!(
        !cp.status.success(),
        "cp into a read-only directory succeeded"
    );
    let stderr = String::from_utf8_lossy(&cp.stderr);
    assert!(
        stderr.contains("Permission denied"),
        "{stderr}\n{}",
        m.log()
    );
    let cp = Command::new("cp")
        .arg(src.path().join("new.bin"))
        .arg(m.join("ro/old.txt"))
        .output()
        .unwrap();
    assert!(!cp.status.success(), "cp over a read-only file succeeded");
    let stderr = String::from_utf8_lossy(&cp.stderr);
    assert!(
        stderr.contains("Permission denied"),
        "{stderr}\n{}",
        m.log()
    );
    // An empty new file: the refusal comes at close (the file is stored then), and the name
    // is gone from the mount right after, although the kernel had cached it.
    let touch = Command::new("touch")
        .arg(m.join("ro/empty"))
        .output()
        .unwrap();
    assert!(
        !touch.status.success(),
        "touch in a read-only directory succeeded"
    );
    assert!(
        wait_until(Duration::from_secs(5), || !m.join("ro/empty").exists()),
        "the refused file is still shown\n{}",
        m.log()
    );
    assert_eq!(
        fs::read(server.dir().join("ro/old.txt")).unwrap(),
        b"old content\n"
    );
    let names = dir_names(server.dir().join("ro"));
    assert_eq!(
        names,
        vec!["old.txt".to_string()],
        "half-written files left"
    );
    assert_eq!(fs::read(m.join("ro/old.txt")).unwrap(), b"old content\n");
}
for_each_server_kind!(read_only_directory, read_only_directory);

#[test]
fn read_only_directory_proftpd_default_config() {
    read_only_directory(&Server::start(
        ServerKind::Proftpd,
        ServerOptions::default().without_overwrite(),
    ));
}

/// A 1 MiB tmpfs mounted in the server's tree, unmounted when dropped.
struct SmallDisk(std::path::PathBuf);

impl SmallDisk {
    fn new(path: std::path::PathBuf) -> SmallDisk {
        fs::create_dir(&path).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=1m,mode=1777", "tmpfs"])
            .arg(&path)
            .status()
            .unwrap();
        assert!(
            status.success(),
            "cannot mount a tmpfs on {}",
            path.display()
        );
        SmallDisk(path)
    }
}

impl Drop for SmallDisk {
    /// Unmounts; lazily if a server process still has something open there (a panicking
    /// test may drop this before the server), so that no tmpfs outlives the test.
    fn drop(&mut self) {
        let unmounted = Command::new("umount")
            .arg(&self.0)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !unmounted {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
}

/// The server's disk fills up during uploads. The servers say so on the control connection
/// after closing the data connection (on a full tmpfs all three say 451, proftpd with the
/// error it got: "Input/output error"): close()/fsync() fail with EIO, and the log
/// gives the server's reason (not "Broken pipe"); a file that was being replaced keeps its
/// old content on the server, its new content is kept in the spool, and no temporary file is
/// left behind.
fn server_disk_full(server: &Server) {
    const SIZE: usize = 3 << 20;
    let disk = SmallDisk::new(server.dir().join("small"));
    server.populate(|d| {
        fs::write(d.join("small/keep.txt"), b"keep me\n").unwrap();
        fs::write(d.join("small/keep2.txt"), b"keep me too\n").unwrap();
    });
    let cache = tempfile::tempdir().unwrap();
    let cache_opt = format!("cache_dir={}", cache.path().display());
    let m = mount_for(server, &[&cache_opt, "dir_cache_ttl=3600"]);
    let data = random_bytes(SIZE, 12);
    let src = tempfile::tempdir().unwrap();
    fs::write(src.path().join("new.bin"), &data).unwrap();
    // A new file, streamed.
    let cp = Command::new("cp")
        .arg(src.path().join("new.bin"))
        .arg(m.join("small/new.bin"))
        .output()
        .unwrap();
    assert!(!cp.status.success(), "cp onto a full disk succeeded");
    let stderr = String::from_utf8_lossy(&cp.stderr);
    assert!(
        stderr.contains("Input/output error"),
        "{stderr}\n{}",
        m.log()
    );
    // A new file whose first upload failed is not left half-written on the server, and
    // the mount stops showing it once its last handle is released (`ls`, and a lookup by
    // name: the kernel is told to forget its entry).
    let gone = |name: &str| {
        assert!(!disk.0.join(name).exists(), "{}", m.log());
        assert!(
            wait_until(Duration::from_secs(10), || {
                !dir_names(m.join("small")).contains(&name.to_string())
                    && !m.join("small").join(name).exists()
            }),
            "{name} is still shown\n{}",
            m.log()
        );
    };
    gone("new.bin");
    // The same for a new file that `dd` writes: it closes a duplicate descriptor before its
    // first write, which stores the empty file; the content then streams to the file's own
    // name, and its failure deletes what it left, the empty file included.
    let dd = Command::new("dd")
        .arg(format!("if={}", src.path().join("new.bin").display()))
        .arg(format!("of={}", m.join("small/dd.bin").display()))
        .arg("bs=1M")
        .output()
        .unwrap();
    assert!(!dd.status.success(), "dd onto a full disk succeeded");
    gone("dd.bin");
    // An existing file overwritten (streamed, O_TRUNC): the server keeps its old content, also
    // after the last close, when there is nothing left to upload but an empty file.
    let cp = Command::new("cp")
        .arg(src.path().join("new.bin"))
        .arg(m.join("small/keep.txt"))
        .output()
        .unwrap();
    assert!(!cp.status.success(), "cp onto a full disk succeeded");
    // The same by a program that calls fsync after the failed write, then close: every call
    // reports the failure, and nothing is uploaded afterwards (before, the last one stored an
    // empty file over the old content, and close() succeeded).
    {
        use std::os::fd::IntoRawFd;
        let mut f = fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(m.join("small/keep2.txt"))
            .unwrap();
        // The writes may all be queued before the server gives up; fsync waits for it.
        let _ = (0..4).try_for_each(|_| f.write_all(&data[..1 << 20]));
        assert!(f.sync_all().is_err());
        assert!(f.sync_all().is_err());
        // SAFETY: closes the descriptor this File owned, once.
        let closed = unsafe { libc::close(f.into_raw_fd()) };
        assert_eq!(closed, -1, "close succeeded after a lost upload");
    }
    // An existing file, rewritten in place (spooled), then replaced.
    fs::write(m.join("small/old.txt"), b"old content\n").unwrap();
    let mut f = fs::OpenOptions::new()
        .write(true)
        .open(m.join("small/old.txt"))
        .unwrap();
    f.write_all(&data).unwrap();
    let err = f.sync_all().expect_err("fsync onto a full disk succeeded");
    assert_eq!(err.raw_os_error(), Some(libc::EIO), "{err}");
    drop(f);
    assert_eq!(fs::read(disk.0.join("old.txt")).unwrap(), b"old content\n");
    let log = m.log();
    assert!(
        upload_failures(&log, "/small/old.txt")
            .iter()
            .any(|reason| reason.starts_with("server: 451 ")),
        "the log does not give the server's 451 as the reason:\n{log}"
    );
    assert!(
        !log.contains("Broken pipe") && !log.contains("reset by peer"),
        "the log blames the socket, not the server's reply:\n{log}"
    );
    kept_spool(cache.path(), &data, &log);
    drop(m); // every handle released
    assert_eq!(fs::read(disk.0.join("keep.txt")).unwrap(), b"keep me\n");
    assert_eq!(
        fs::read(disk.0.join("keep2.txt")).unwrap(),
        b"keep me too\n"
    );
    assert_no_temp_files(&disk.0);
}
for_each_server_kind!(server_disk_full, server_disk_full);

#[test]
fn server_disk_full_proftpd_default_config() {
    server_disk_full(&Server::start(
        ServerKind::Proftpd,
        ServerOptions::default().without_overwrite(),
    ));
}

/// The reasons in `log`'s "upload of PATH failed (REASON)..." lines for a path ending in
/// `path`.
fn upload_failures(log: &str, path: &str) -> Vec<String> {
    let marker = format!("{path} failed (");
    log.lines()
        .filter(|l| l.contains("upload of "))
        .filter_map(|l| l.split_once(marker.as_str()).map(|(_, r)| r.to_string()))
        .collect()
}

/// pure-ftpd with a 1 MiB quota answers an upload over it with "552 Quota exceeded":
/// `cp` of a new file and the `fsync` of a rewritten one fail with EDQUOT, the old content
/// stays on the server and the rewritten file's bytes stay in the spool.
#[test]
fn quota_exceeded_is_edquot() {
    const SIZE: usize = 3 << 20;
    let server = Server::start(
        ServerKind::PureFtpd,
        ServerOptions::extra(&["-n", "1000:1"]),
    );
    server.populate(|d| fs::write(d.join("old.txt"), b"old content\n").unwrap());
    let cache = tempfile::tempdir().unwrap();
    let cache_opt = format!("cache_dir={}", cache.path().display());
    let m = mount_for(&server, &[&cache_opt]);
    let data = random_bytes(SIZE, 13);
    let src = tempfile::tempdir().unwrap();
    fs::write(src.path().join("new.bin"), &data).unwrap();
    let cp = Command::new("cp")
        .arg(src.path().join("new.bin"))
        .arg(m.join("new.bin"))
        .output()
        .unwrap();
    assert!(!cp.status.success(), "cp over the quota succeeded");
    let stderr = String::from_utf8_lossy(&cp.stderr);
    assert!(
        stderr.contains("Disk quota exceeded"),
        "{stderr}\n{}",
        m.log()
    );
    assert!(!server.dir().join("new.bin").exists());
    // Rewritten in place (spooled): fsync reports it, the spool keeps the bytes.
    let mut f = fs::OpenOptions::new()
        .write(true)
        .open(m.join("old.txt"))
        .unwrap();
    f.write_all(&data).unwrap();
    let err = f.sync_all().expect_err("fsync over the quota succeeded");
    assert_eq!(err.raw_os_error(), Some(libc::EDQUOT), "{err}\n{}", m.log());
    drop(f);
    assert_eq!(
        fs::read(server.dir().join("old.txt")).unwrap(),
        b"old content\n"
    );
    kept_spool(cache.path(), &data, &m.log());
    // The last release tries the upload once more, after close() returned.
    assert_no_temp_files_within(server.dir(), Duration::from_secs(10));
}

/// The server dies in the middle of an upload: fsync fails within `timeout` (plus slack),
/// close fails too, the server keeps the old content and the spool keeps the new bytes, at a
/// path the log names.
///
/// The servers throttle uploads (see [`throttled`]) so that the kill lands while STOR runs,
/// however late this thread gets to see the temporary file.
fn server_killed_during_upload(server: &mut Server) {
    const SIZE: usize = 32 << 20;
    const TIMEOUT: Duration = Duration::from_secs(6);
    let cache = tempfile::tempdir().unwrap();
    let cache_opt = format!("cache_dir={}", cache.path().display());
    // Replacing a file the server has: the upload goes to a temporary name (a new file would
    // be stored under its own name).
    server.populate(|d| fs::write(d.join("big.bin"), b"old content\n").unwrap());
    let m = mount_for(server, &[&cache_opt, "timeout=6", "connect_timeout=2"]);
    let data = random_bytes(SIZE, 11);
    let f = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .truncate(true)
        .open(m.join("big.bin"))
        .unwrap();
    // Second half first: not sequential, so this goes through the spool.
    use std::os::unix::fs::FileExt;
    f.write_all_at(&data[SIZE / 2..], (SIZE / 2) as u64)
        .unwrap();
    f.write_all_at(&data[..SIZE / 2], 0).unwrap();
    let syncer = std::thread::spawn(move || {
        let r = f.sync_all();
        (r, f)
    });
    let dir = server.dir().to_path_buf();
    let uploading = wait_until(Duration::from_secs(30), || {
        fs::read_dir(&dir).unwrap().any(|e| {
            let e = e.unwrap();
            // A temporary file appears when STOR starts (ours, or pure-ftpd's own
            // `.pureftpd-upload.*`); at the throttled rate the upload then takes seconds, so
            // the kill below lands in the middle of it.
            e.file_name() != "big.bin"
        })
    });
    assert!(uploading, "the upload never started\n{}", m.log());
    server.stop();
    server.kill();
    let killed = std::time::Instant::now();
    let (result, f) = within(TIMEOUT * 3, move || syncer.join().unwrap());
    let err = result.expect_err("fsync succeeded although the server died during the upload");
    assert!(
        killed.elapsed() < TIMEOUT + Duration::from_secs(1),
        "fsync failed only after {:?}",
        killed.elapsed()
    );
    assert_eq!(
        fs::read(server.dir().join("big.bin")).unwrap(),
        b"old content\n",
        "the old content was lost"
    );
    assert!(
        matches!(err.raw_os_error(), Some(libc::EIO) | Some(libc::ETIMEDOUT)),
        "{err}"
    );
    // close() tries the upload again (the spool is still dirty) and reports that it failed.
    let fd = std::os::fd::IntoRawFd::into_raw_fd(f);
    let closed = within(TIMEOUT * 3, move || {
        // SAFETY: `fd` came from into_raw_fd above and is closed exactly once, here.
        let rc = unsafe { libc::close(fd) };
        (rc, std::io::Error::last_os_error())
    });
    assert_eq!(closed.0, -1, "close() succeeded after a failed upload");
    assert!(
        matches!(
            closed.1.raw_os_error(),
            Some(libc::EIO) | Some(libc::ETIMEDOUT)
        ),
        "close: {}",
        closed.1
    );
    let spool = kept_spool(cache.path(), &data, &m.log());
    assert!(
        m.log().contains(&spool.display().to_string()),
        "the spool path is not logged"
    );
}

/// The one file in the spool directory under `cache`, checked to hold `data` (`log` is
/// ftpfs's log, shown if there is not exactly one).
fn kept_spool(cache: &std::path::Path, data: &[u8], log: &str) -> std::path::PathBuf {
    let mut spools: Vec<_> = fs::read_dir(cache.join("spool"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(spools.len(), 1, "{spools:?}\n{log}");
    let spool = spools.remove(0);
    assert_eq!(
        sha256_file(&spool),
        sha256_bytes(data),
        "the kept spool has the wrong bytes"
    );
    spool
}

/// Server options that hold uploads to about 8 MiB/s.
fn throttled(kind: ServerKind) -> ServerOptions {
    let extra: &[&str] = match kind {
        ServerKind::Vsftpd => &["anon_max_rate=8388608", "local_max_rate=8388608"],
        ServerKind::Proftpd => &["TransferRate STOR 8192"],
        ServerKind::PureFtpd => &["-T 8192"],
    };
    ServerOptions {
        extra: extra.iter().map(|l| l.to_string()).collect(),
        ..ServerOptions::default()
    }
}

#[test]
fn server_killed_during_upload_pure_ftpd() {
    server_killed_during_upload(&mut Server::start(
        ServerKind::PureFtpd,
        throttled(ServerKind::PureFtpd),
    ));
}

#[test]
fn server_killed_during_upload_vsftpd() {
    server_killed_during_upload(&mut Server::start(
        ServerKind::Vsftpd,
        throttled(ServerKind::Vsftpd),
    ));
}

#[test]
fn server_killed_during_upload_proftpd() {
    server_killed_during_upload(&mut Server::start(
        ServerKind::Proftpd,
        throttled(ServerKind::Proftpd),
    ));
}

#[test]
fn server_killed_during_upload_proftpd_default_config() {
    server_killed_during_upload(&mut Server::start(
        ServerKind::Proftpd,
        throttled(ServerKind::Proftpd).without_overwrite(),
    ));
}

/// A file rewritten in part whose upload fails before its old content was fetched (the
/// server is gone): the spool keeps the written ranges only, and the log says so; the
/// server's file is untouched.
#[test]
fn failed_upload_before_the_fetch_keeps_the_written_ranges() {
    let mut server = Server::start(ServerKind::PureFtpd, ServerOptions::default());
    let old = random_bytes(300_000, 21);
    server.populate(|d| fs::write(d.join("part.bin"), &old).unwrap());
    let cache = tempfile::tempdir().unwrap();
    let cache_opt = format!("cache_dir={}", cache.path().display());
    let m = mount_for(&server, &[&cache_opt, "timeout=4", "connect_timeout=2"]);
    // O_WRONLY (no page cache: nothing is read for the partial pages), not truncated, one
    // range in the middle: the rest of the file is still only on the server.
    let f = fs::OpenOptions::new()
        .write(true)
        .open(m.join("part.bin"))
        .unwrap();
    use std::os::unix::fs::FileExt;
    f.write_all_at(b"NEW BYTES", 100_000).unwrap();
    server.kill();
    let err = within(Duration::from_secs(30), move || f.sync_all())
        .expect_err("fsync succeeded with the server gone");
    assert!(
        matches!(err.raw_os_error(), Some(libc::EIO) | Some(libc::ETIMEDOUT)),
        "{err}"
    );
    let log = m.log();
    let said = log.lines().find(|l| {
        l.contains("upload of ")
            && l.contains("part.bin failed (")
            && l.contains("the bytes written to it are kept in ")
            && l.contains("the parts never written there are unchanged on the server")
    });
    let said = said.unwrap_or_else(|| panic!("the log does not say the copy is partial:\n{log}"));
    let spools: Vec<_> = fs::read_dir(cache.path().join("spool"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(spools.len(), 1, "{spools:?}\n{log}");
    assert!(
        said.contains(&spools[0].display().to_string()),
        "the log names another file than {}: {said}",
        spools[0].display()
    );
    let kept = fs::read(&spools[0]).unwrap();
    assert_eq!(
        &kept[100_000..100_009],
        b"NEW BYTES",
        "the written range is not in the kept file"
    );
    assert!(
        kept[..100_000].iter().all(|&b| b == 0),
        "the kept file has bytes before the written range that were never written there"
    );
    assert_eq!(fs::read(server.dir().join("part.bin")).unwrap(), old);
}
