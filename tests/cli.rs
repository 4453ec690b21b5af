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
    let start = Instant::now();
    let mut child = ftpfs_command()
        .env_remove("FTPFS_LOG")
        .env_remove("RUST_LOG")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ftpfs");
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

/// Every failure must be a single "ftpfs: ..." line, not a backtrace or a log dump. (Log
/// warnings, which start with a timestamp, may precede it.)
fn assert_one_line(stderr: &str, needle: &str) {
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('['))
        .collect();
    assert_eq!(lines.len(), 1, "expected one line, got:\n{stderr}");
    assert!(lines[0].starts_with("ftpfs: "), "{stderr}");
    assert!(
        lines[0].to_lowercase().contains(needle),
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

#[test]
fn unreachable_host_fails_within_the_connect_timeout() {
    let dir = mountpoint();
    // A TCP listener that never answers the FTP greeting: the reply deadline applies.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ftp://127.0.0.1:{}/", silent.local_addr().unwrap().port());
    let (code, stderr, took) = run_ftpfs(
        &[
            &url,
            dir.path().to_str().unwrap(),
            "-o",
            "connect_timeout=2,reply_timeout=2",
        ],
        Duration::from_secs(30),
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert_one_line(&stderr, "timed out");
    assert!(took < Duration::from_secs(10), "took {took:?}");
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
    let mut child = Command::new(&helper)
        .env_remove("FTPFS_PASSWORD")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn mount.ftpfs");
    let status = common::process::wait_child(&mut child, timeout);
    if status.is_none() {
        let _ = child.kill();
    }
    let out = child.wait_with_output().expect("collect output");
    (
        status.and_then(|s| s.code()),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
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
