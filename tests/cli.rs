//! The command line and the process lifecycle, end to end: --help, failures that must exit
//! non-zero with one clear line within the connect timeout, background start that returns
//! only once the mount is live, and clean unmounts on signals with files open.

mod common;

use std::fs;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::process::{is_mounted, pid_alive};
use common::*;

fn run_ftpfs(args: &[&str], timeout: Duration) -> (Option<i32>, String, Duration) {
    let mut cmd = ftpfs_command();
    cmd.env_remove("FTPFS_LOG")
        .env_remove("RUST_LOG")
        .args(args)
        .stdin(Stdio::null());
    run_with_deadline(cmd, timeout)
}

/// Runs `cmd` (its stdin as the caller set it), killing it after `timeout`. Returns its
/// exit code (`None` if killed or signalled), its stderr and how long it took.
fn run_with_deadline(mut cmd: Command, timeout: Duration) -> (Option<i32>, String, Duration) {
    let start = Instant::now();
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let status = common::process::wait_child(&mut child, timeout);
    if status.is_none() {
        let _ = child.kill();
    }
    let out = child.wait_with_output().expect("collect output");
    let text = String::from_utf8_lossy(&out.stderr).into_owned();
    (status.and_then(|s| s.code()), text, start.elapsed())
}

fn mountpoint() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("ftpfs-cli.")
        .tempdir()
        .unwrap()
}

#[test]
fn help_documents_every_option() {
    let out = ftpfs_command().arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for opt in [
        "--foreground",
        "--debug",
        "--allow-other",
        "--default-permissions",
        "--active",
        "--disable-epsv",
        "--use-pasv-address",
        "--max-conns",
        "--connect-timeout",
        "--reply-timeout",
        "--data-timeout",
        "--idle-timeout",
        "--dir-cache-ttl",
        "--no-mdtm",
        "--uid",
        "--gid",
        "--umask",
        "-o <OPTIONS>",
    ] {
        assert!(help.contains(opt), "--help does not mention {opt}:\n{help}");
    }
}

/// Every failure must be a single "ftpfs: error: ..." line, last, not a backtrace or a log
/// dump. Warnings (`ftpfs: warning: ...`, one line each, none twice) may precede it.
fn assert_one_line(stderr: &str, needle: &str) {
    let lines: Vec<&str> = stderr.lines().collect();
    let Some((last, before)) = lines.split_last() else {
        panic!("expected an error line, got nothing");
    };
    assert!(last.starts_with("ftpfs: error: "), "{stderr}");
    for (i, l) in before.iter().enumerate() {
        assert!(l.starts_with("ftpfs: warning: "), "{stderr}");
        assert!(!before[..i].contains(l), "printed twice: {l}\n{stderr}");
    }
    assert!(
        last.to_lowercase().contains(needle),
        "expected '{needle}' in: {stderr}"
    );
}

#[test]
fn nothing_listening_fails_fast_with_one_line() {
    let dir = mountpoint();
    let port = common::process::ephemeral_port();
    let url = format!("ftp://127.0.0.1:{port}/");
    for fg in [true, false] {
        let mut args = vec![
            url.as_str(),
            dir.path().to_str().unwrap(),
            "-o",
            "connect_timeout=3",
        ];
        if fg {
            args.push("-f");
        }
        let (code, stderr, took) = run_ftpfs(&args, Duration::from_secs(20));
        assert_eq!(code, Some(1), "foreground={fg}: {stderr}");
        assert_one_line(&stderr, "connection refused");
        assert_one_line(&stderr, &format!("cannot connect to 127.0.0.1:{port}"));
        assert!(took < Duration::from_secs(6), "took {took:?}");
        assert!(!is_mounted(dir.path()));
    }
    // An IPv6 literal is named as the URL writes it.
    let url = format!("ftp://[::1]:{port}/");
    let args = [url.as_str(), dir.path().to_str().unwrap(), "-f"];
    let (code, stderr, _) = run_ftpfs(&args, Duration::from_secs(20));
    assert_eq!(code, Some(1), "{stderr}");
    assert_one_line(&stderr, &format!("cannot connect to [::1]:{port}"));
}

/// `ftpfs URL DIR -o connect_timeout=2,reply_timeout=2` (given 30 s before it is killed).
fn mount_with_2s_deadlines(url: &str, dir: &std::path::Path) -> (Option<i32>, String, Duration) {
    run_ftpfs(
        &[
            url,
            dir.to_str().unwrap(),
            "-o",
            "connect_timeout=2,reply_timeout=2",
        ],
        Duration::from_secs(30),
    )
}

/// A host that never answers the TCP handshake (its SYNs are dropped, as a firewalled or
/// unreachable host does): the mount fails after `connect_timeout`, with one line.
#[test]
fn unreachable_host_fails_within_the_connect_timeout() {
    use std::os::fd::AsRawFd;
    let dir = mountpoint();
    // A listener whose accept queue is full: Linux drops further SYNs, so connect() hangs.
    let full = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    // SAFETY: listen(2) on a socket this test owns; a backlog of 0 queues one connection.
    assert_eq!(unsafe { libc::listen(full.as_raw_fd(), 0) }, 0);
    let addr = full.local_addr().unwrap();
    let mut queued = Vec::new();
    while let Ok(c) = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
        queued.push(c);
        assert!(queued.len() < 64, "the accept queue never filled up");
    }
    let url = format!("ftp://127.0.0.1:{}/", addr.port());
    let (code, stderr, took) = mount_with_2s_deadlines(&url, dir.path());
    assert_eq!(code, Some(1), "{stderr}");
    assert_one_line(&stderr, "timed out");
    assert!(
        took < Duration::from_secs(2) + Duration::from_millis(1500),
        "took {took:?}"
    );
}

#[test]
fn silent_server_fails_within_the_reply_timeout() {
    let dir = mountpoint();
    // A TCP listener that never answers the FTP greeting: the reply deadline applies.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ftp://127.0.0.1:{}/", silent.local_addr().unwrap().port());
    let (code, stderr, took) = mount_with_2s_deadlines(&url, dir.path());
    assert_eq!(code, Some(1), "{stderr}");
    assert_one_line(&stderr, "timed out");
    // The reply deadline (2 s) is what ended it, once: not less, and not a second deadline
    // (plus a stated slack of 1.5 s for starting the process on a loaded machine).
    let deadline = Duration::from_secs(2);
    assert!(
        took >= deadline && took < deadline + Duration::from_millis(1500),
        "took {took:?}"
    );
}

#[test]
fn wrong_password_fails_with_one_line() {
    let server = Server::start(ServerKind::Proftpd, ServerOptions::default());
    let url = format!("ftp://test:wrong@127.0.0.1:{}/", server.port());
    let dir = mountpoint();
    let (code, stderr, took) = run_ftpfs(
        &[&url, dir.path().to_str().unwrap()],
        Duration::from_secs(30),
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert_one_line(&stderr, "login");
    assert!(
        !stderr.contains("wrong"),
        "the password was printed: {stderr}"
    );
    assert!(took < Duration::from_secs(15), "took {took:?}");
}

/// What a person sees when a mount fails, line by line: one `ftpfs: warning: ...` line per
/// distinct problem, then the reason, `ftpfs: error: ...`, last; no log records (timestamps,
/// module paths). The same in the foreground and from the background start, whose daemon
/// never detached. With `FTPFS_LOG` set the warnings are log records again, and the reason
/// is still the last line.
#[test]
fn failed_mount_prints_one_line_per_problem_and_the_reason_last() {
    let server = Server::start(ServerKind::Proftpd, ServerOptions::default());
    let port = server.port();
    let url = format!("ftp://test:wrong@127.0.0.1:{port}/");
    let dir = mountpoint();
    let mnt = dir.path().to_str().unwrap();
    let expected_warnings = [
        "ftpfs: warning: the password in the URL is visible to other users (ps, /proc); \
         use password_file=PATH, ~/.netrc or FTPFS_PASSWORD instead",
        "ftpfs: warning: the password for test goes over the network in clear text; \
         use ftps:// if the server supports it",
    ];
    let reason = format!("ftpfs: error: 127.0.0.1:{port}: login refused for user 'test': 530 ");
    for args in [vec![url.as_str(), mnt], vec![url.as_str(), mnt, "-f"]] {
        let (code, stderr, _) = run_ftpfs(&args, Duration::from_secs(30));
        assert_eq!(code, Some(1), "{args:?}: {stderr}");
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 3, "{args:?}:\n{stderr}");
        assert_eq!(lines[..2], expected_warnings, "{args:?}:\n{stderr}");
        assert!(lines[2].starts_with(&reason), "{args:?}:\n{stderr}");
        assert!(!is_mounted(dir.path()));
    }

    // A log was asked for: log records, then the same last line.
    let mut cmd = Command::new(ftpfs_bin());
    cmd.env("FTPFS_LOG", "warn")
        .env_remove("RUST_LOG")
        .args([url.as_str(), mnt, "-f"])
        .stdin(Stdio::null());
    let (code, stderr, _) = run_with_deadline(cmd, Duration::from_secs(30));
    assert_eq!(code, Some(1), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 3, "{stderr}");
    let records = log_records(&stderr);
    assert_eq!(
        records,
        [
            ("WARN".to_string(), "ftpfs::config".to_string()),
            ("WARN".to_string(), "ftpfs::mount".to_string())
        ],
        "{stderr}"
    );
    assert!(lines[2].starts_with(&reason), "{stderr}");
}

/// `--version`: the package version, and the commit the binary was built from when it was
/// built in a git checkout (build.rs).
#[test]
fn version_names_the_commit() {
    let out = Command::new(ftpfs_bin()).arg("--version").output().unwrap();
    assert!(out.status.success());
    let version = String::from_utf8(out.stdout).unwrap();
    let manifest_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    // As build.rs: only a checkout whose top is this crate.
    let head = Command::new("git")
        .arg("-C")
        .arg(manifest_dir)
        .args(["rev-parse", "--show-toplevel", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| {
            let text = String::from_utf8_lossy(&o.stdout).into_owned();
            let (top, commit) = text.trim().split_once('\n')?;
            let ours = fs::canonicalize(top).ok()? == fs::canonicalize(manifest_dir).ok()?;
            ours.then(|| commit.trim().to_string())
        });
    let expected = match head {
        Some(commit) => format!(
            "ftpfs {} (commit {})\n",
            env!("CARGO_PKG_VERSION"),
            &commit[..12]
        ),
        // A source tarball: no commit to name.
        None => format!("ftpfs {}\n", env!("CARGO_PKG_VERSION")),
    };
    assert_eq!(version, expected);
}

#[test]
fn missing_remote_directory_fails() {
    let server = Server::start(ServerKind::PureFtpd, ServerOptions::default());
    let dir = mountpoint();
    let url = server.url_for("no/such/dir");
    let (code, stderr, _) = run_ftpfs(
        &[&url, dir.path().to_str().unwrap(), "-f"],
        Duration::from_secs(30),
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert_one_line(&stderr, "no such directory");
}

#[test]
fn background_mode_returns_once_mounted() {
    let server = Server::start(ServerKind::Vsftpd, ServerOptions::default());
    server.populate(|d| fs::write(d.join("ready.txt"), b"yes\n").unwrap());
    let dir = mountpoint();
    let (code, stderr, _) = run_ftpfs(
        &[&server.url(), dir.path().to_str().unwrap()],
        Duration::from_secs(30),
    );
    assert_eq!(code, Some(0), "{stderr}");
    // Live the moment the parent exits: no polling here.
    assert!(is_mounted(dir.path()), "not mounted when ftpfs returned");
    assert_eq!(fs::read(dir.path().join("ready.txt")).unwrap(), b"yes\n");
    let status = Command::new("umount").arg(dir.path()).status().unwrap();
    assert!(status.success());
    assert!(wait_until(Duration::from_secs(10), || !is_mounted(
        dir.path()
    )));
    // The daemon exits after the unmount.
    let gone = wait_until(Duration::from_secs(10), || {
        let out = Command::new("pgrep")
            .arg("-f")
            .arg(dir.path())
            .output()
            .unwrap();
        out.stdout.is_empty()
    });
    assert!(gone, "the ftpfs daemon outlived its mount");
}

/// SIGTERM and SIGINT with a file open unmount cleanly: no "Transport endpoint is not
/// connected" left behind, and the process exits 0.
fn signal_with_open_file(sig: libc::c_int) {
    let server = Server::start(ServerKind::PureFtpd, ServerOptions::default());
    server.populate(|d| write_random_file(d.join("big.bin"), 8 << 20, 1));
    let mut m = mount_for(&server, &[]);
    let mut f = fs::File::open(m.join("big.bin")).unwrap();
    let mut buf = vec![0u8; 65536];
    std::io::Read::read_exact(&mut f, &mut buf).unwrap();
    let pid = m.pid();
    let mnt = m.path().to_path_buf();
    m.signal(sig);
    let status = m
        .wait_exit(Duration::from_secs(10))
        .unwrap_or_else(|| panic!("ftpfs ignored signal {sig}\n{}", m.log()));
    assert!(status.success(), "exit status {status}\n{}", m.log());
    assert!(!pid_alive(pid));
    assert!(!is_mounted(&mnt), "mount left behind after signal {sig}");
    drop(f);
    // The mountpoint is an ordinary empty directory again.
    assert_eq!(fs::read_dir(&mnt).unwrap().count(), 0);
}

/// SIGTERM while a program holds a file open with unsaved changes (one written in order,
/// streaming, and one written out of order, in a spool): both reach the server before the
/// daemon exits, instead of vanishing with it.
#[test]
fn sigterm_uploads_files_still_open() {
    use std::os::unix::fs::FileExt;
    let server = Server::start(ServerKind::PureFtpd, ServerOptions::default());
    let mut m = mount_for(&server, &[]);
    let streamed = random_bytes(3 << 20, 41);
    let spooled = random_bytes(2 << 20, 42);
    let mut a = fs::File::create(m.join("streamed.bin")).unwrap();
    std::io::Write::write_all(&mut a, &streamed).unwrap();
    let b = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(m.join("spooled.bin"))
        .unwrap();
    b.write_all_at(&spooled[1 << 20..], 1 << 20).unwrap();
    b.write_all_at(&spooled[..1 << 20], 0).unwrap();
    m.signal(libc::SIGTERM);
    let status = m
        .wait_exit(Duration::from_secs(30))
        .unwrap_or_else(|| panic!("ftpfs ignored SIGTERM\n{}", m.log()));
    assert!(status.success(), "exit status {status}\n{}", m.log());
    for (name, data) in [("streamed.bin", &streamed), ("spooled.bin", &spooled)] {
        let on_server = fs::read(server.dir().join(name)).unwrap();
        assert!(
            on_server == *data,
            "{name}: {} bytes on the server, {} written\n{}",
            on_server.len(),
            data.len(),
            m.log()
        );
    }
    drop((a, b));
}

#[test]
fn sigterm_with_open_file_unmounts() {
    signal_with_open_file(libc::SIGTERM);
}

#[test]
fn sigint_with_open_file_unmounts() {
    signal_with_open_file(libc::SIGINT);
}

#[test]
fn bad_option_is_a_usage_error() {
    let dir = mountpoint();
    let (code, stderr, _) = run_ftpfs(
        &[
            "ftp://127.0.0.1/",
            dir.path().to_str().unwrap(),
            "-o",
            "no_such_option",
        ],
        Duration::from_secs(10),
    );
    assert_eq!(code, Some(2), "{stderr}");
    // One line, in the console's form, naming the option.
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(lines[0].starts_with("ftpfs: error: "), "{stderr}");
    assert!(stderr.contains("no-such-option"), "{stderr}");
}

/// Runs `mount.ftpfs ARGS` (the mount(8) helper convention, where `-f` means fake) with a
/// standard input that stays open, so a read from it would hang until `timeout`.
fn run_mount_helper(args: &[&str], timeout: Duration) -> (Option<i32>, String) {
    let bin = tempfile::Builder::new()
        .prefix("ftpfs-helper.")
        .tempdir()
        .unwrap();
    let helper = bin.path().join("mount.ftpfs");
    std::os::unix::fs::symlink(ftpfs_bin(), &helper).unwrap();
    let mut cmd = Command::new(&helper);
    cmd.env_remove("FTPFS_PASSWORD")
        .args(args)
        .stdin(Stdio::piped());
    let (code, stderr, _) = run_with_deadline(cmd, timeout);
    (code, stderr)
}

/// `mount -f` (fake) validates the arguments as a real mount would, but uses no network and
/// reads no password: a bad URL scheme, contradictory options or a missing password file
/// fail with one line; a good line succeeds at once even with no server there, and mounts
/// nothing.
#[test]
fn mount_fake_validates_without_network() {
    let dir = mountpoint();
    let mnt = dir.path().to_str().unwrap();
    let port = common::process::ephemeral_port();
    let url = format!("ftp://someone@127.0.0.1:{port}/");
    let fake = |url: &str, opts: &str| {
        let (code, stderr) = run_mount_helper(
            &[url, mnt, "-f", "-n", "-o", opts, "-t", "ftpfs"],
            Duration::from_secs(10),
        );
        assert!(!is_mounted(dir.path()));
        (code, stderr)
    };

    let (code, stderr) = fake(&format!("http://127.0.0.1:{port}/"), "rw");
    assert_eq!(code, Some(1), "{stderr}");
    assert_one_line(&stderr, "http");
    let (code, stderr) = fake(&url, "active,disable_epsv");
    assert_eq!(code, Some(1), "{stderr}");
    assert_one_line(&stderr, "active and disable_epsv cannot be combined");
    let (code, stderr) = fake(&format!("ftps://127.0.0.1:{port}/"), "tls=none");
    assert_eq!(code, Some(1), "{stderr}");
    assert_one_line(&stderr, "contradict");
    let (code, stderr) = fake(&url, "password_file=/nonexistent/ftpfs-password");
    assert_eq!(code, Some(1), "{stderr}");
    assert_one_line(&stderr, "/nonexistent/ftpfs-password");

    // Nothing listens on the port: success means nothing tried to connect. password_stdin
    // with an open, silent stdin: success within the deadline means it was not read.
    for opts in ["rw,_netdev,max_conns=2", "password_stdin,noexec"] {
        let (code, stderr) = fake(&url, opts);
        assert_eq!(code, Some(0), "-o {opts}: {stderr}");
        assert_eq!(stderr, "", "-o {opts}");
    }
}

/// Kills and unmounts a hand-started ftpfs if the test fails half-way.
struct Foreground {
    child: std::process::Child,
    mnt: tempfile::TempDir,
}

impl Drop for Foreground {
    fn drop(&mut self) {
        if is_mounted(self.mnt.path()) {
            let _ = Command::new("umount")
                .arg("-l")
                .arg(self.mnt.path())
                .status();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The (level, target) of each log record in `stderr` (`[TIME LEVEL target] message`).
fn log_records(stderr: &str) -> Vec<(String, String)> {
    stderr
        .lines()
        .filter_map(|l| {
            let head = l.strip_prefix('[')?.split(']').next()?;
            let mut words = head.split_whitespace();
            let (_time, level, target) = (words.next()?, words.next()?, words.next()?);
            Some((level.to_string(), target.to_string()))
        })
        .collect()
}

/// Mounts with `ftpfs URL MNT -d` (no `-f`) and `FTPFS_LOG` set to `filter` (or unset), reads
/// a file, unmounts, and returns what ftpfs wrote to stderr. Checks that `-d` kept it in the
/// foreground: the process started is still running once the mount is live, serves it, and
/// exits 0 after the unmount.
fn debug_mount(server: &Server, filter: Option<&str>) -> String {
    let mnt = mountpoint();
    let log = mnt.path().with_extension("stderr");
    let mut cmd = Command::new(ftpfs_bin());
    cmd.arg(server.url())
        .arg(mnt.path())
        .arg("-d")
        .env_remove("RUST_LOG")
        .env_remove("FTPFS_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(fs::File::create(&log).unwrap());
    if let Some(f) = filter {
        cmd.env("FTPFS_LOG", f);
    }
    let mut fg = Foreground {
        child: cmd.spawn().unwrap(),
        mnt,
    };
    let mounted = wait_until(Duration::from_secs(20), || {
        is_mounted(fg.mnt.path()) || matches!(fg.child.try_wait(), Ok(Some(_)))
    });
    let stderr = || common::process::read_lossy(&log);
    assert!(
        mounted && is_mounted(fg.mnt.path()),
        "not mounted:\n{}",
        stderr()
    );
    assert!(
        fg.child.try_wait().unwrap().is_none(),
        "ftpfs -d went to the background:\n{}",
        stderr()
    );
    assert_eq!(fs::read(fg.mnt.path().join("ready.txt")).unwrap(), b"yes\n");
    let status = Command::new("umount").arg(fg.mnt.path()).status().unwrap();
    assert!(status.success());
    let exit = common::process::wait_child(&mut fg.child, Duration::from_secs(10));
    assert!(exit.is_some_and(|s| s.success()), "{exit:?}\n{}", stderr());
    let text = stderr();
    let _ = fs::remove_file(&log);
    text
}

/// `-d` keeps ftpfs in the foreground and logs debug records to stderr; `FTPFS_LOG` filters
/// replace the level `-d` sets, per target.
#[test]
fn debug_logs_to_stderr_in_the_foreground_and_ftpfs_log_filters() {
    let server = Server::start(ServerKind::Vsftpd, ServerOptions::default());
    server.populate(|d| fs::write(d.join("ready.txt"), b"yes\n").unwrap());

    // -d alone: debug records from across ftpfs, the FTP trace among them.
    let text = debug_mount(&server, None);
    let records = log_records(&text);
    let debug_from = |target: &str| {
        records
            .iter()
            .any(|(level, t)| level == "DEBUG" && t == target)
    };
    for target in ["ftpfs::remote::session", "ftpfs::ftp"] {
        assert!(debug_from(target), "no DEBUG from {target}:\n{text}");
    }
    assert!(text.contains("ftpfs::ftp] > RETR /pub/ready.txt"), "{text}");

    // A per-target filter: debug records from ftpfs::ftp only, and the warnings and errors
    // of the rest.
    let text = debug_mount(&server, Some("warn,ftpfs::ftp=debug"));
    let records = log_records(&text);
    assert!(
        records
            .iter()
            .any(|(l, t)| l == "DEBUG" && t == "ftpfs::ftp"),
        "{text}"
    );
    let others: Vec<_> = records
        .iter()
        .filter(|(l, t)| t != "ftpfs::ftp" && !matches!(l.as_str(), "WARN" | "ERROR"))
        .collect();
    assert!(others.is_empty(), "{others:?} let through:\n{text}");

    // A level: info and above only.
    let text = debug_mount(&server, Some("info"));
    let records = log_records(&text);
    assert!(
        records
            .iter()
            .any(|(l, t)| l == "INFO" && t == "ftpfs::mount"),
        "{text}"
    );
    assert!(
        records
            .iter()
            .all(|(l, _)| matches!(l.as_str(), "INFO" | "WARN" | "ERROR")),
        "{text}"
    );
}
