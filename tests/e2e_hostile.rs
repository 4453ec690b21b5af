//! ftpfs against a hostile FTP server: malformed greetings and replies, garbage and
//! oversized listing lines, broken EPSV/PASV replies, PASV replies naming another address
//! (ignored unless `use_pasv_address`), active-mode data connections from a stranger,
//! transfers that do not match the listed size, replies too large to buffer.
//!
//! The server is scripted (tests/common/scripted.rs: std::net, one thread per connection), so
//! every byte it sends is chosen here; the real `ftpfs` binary is mounted against it. Each scenario
//! asserts a clean, bounded outcome: the mount fails with one line within the timeouts, or
//! the syscall gets an errno (never a hang, never a crash), and afterwards the ftpfs process
//! is still alive and the mount answers the next valid request with a fresh listing.
//!
//! The parsers themselves are fuzzed by the cargo-fuzz targets in fuzz/ (docs/FUZZING.md);
//! PASV/EPSV replies are parsed inside suppaftp, so they are covered here, end to end.
//!
//! Needs root and /dev/fuse, like every e2e test; no real FTP server.

mod common;

use std::fs;
use std::io;
use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::process::{is_mounted, wait_until, within};
use common::scripted::*;

/// Options of every mount: short deadlines, so a stalled server costs seconds. `timeout` is
/// ftpfs's bound on one filesystem call, retries included.
const TIMEOUTS: &str = "timeout=6,connect_timeout=3,reply_timeout=3,data_timeout=2";
/// The `timeout` above: every failing call must have returned within it (plus [`SLACK`]).
const CALL_BUDGET: Duration = Duration::from_secs(6);
/// Scheduling slack on a loaded two-core machine.
const SLACK: Duration = Duration::from_secs(1);
/// A mount against a server that never becomes usable must have failed by then:
/// connect_timeout + reply_timeout plus slack for a loaded machine.
const MOUNT_FAIL_BOUND: Duration = Duration::from_secs(10);
/// A good mount must be up by then.
const MOUNT_BOUND: Duration = Duration::from_secs(10);
/// A syscall still running after this is taken for a hang (well past `CALL_BUDGET`).
const OP_BOUND: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------------------------
// The mount

/// The ftpfs process and its mountpoint. Dropping it unmounts (`umount -l`) and ends the
/// process (SIGTERM, then SIGKILL), whatever happened, and prints ftpfs's log when the test
/// is panicking.
struct FtpfsMount {
    child: Option<Child>,
    _tmp: tempfile::TempDir,
    mnt: PathBuf,
    log_path: PathBuf,
    /// The server's command log, shown on failure.
    server_log: Option<Arc<Mutex<Vec<String>>>>,
}

/// How a mount attempt ended.
enum Started {
    Mounted(FtpfsMount),
    /// ftpfs exited: its status, what it printed, and how long it took.
    Failed(ExitStatus, String, Duration),
}

impl FtpfsMount {
    /// Runs `ftpfs URL MNT -f -o OPTS` and waits until it mounted or exited. `debug` turns
    /// ftpfs's debug log on (otherwise its default level: warnings only).
    fn start(server: &HostileServer, opts: &str, debug: bool, bound: Duration) -> Started {
        common::require_fuse();
        let tmp = tempfile::Builder::new()
            .prefix("ftpfs-hostile.")
            .tempdir()
            .expect("tempdir");
        let mnt = tmp.path().join("mnt");
        fs::create_dir(&mnt).unwrap();
        let log_path = tmp.path().join("ftpfs.log");
        let log = fs::File::create(&log_path).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ftpfs"));
        cmd.arg(server.url())
            .arg(&mnt)
            .arg("-f")
            .arg("-o")
            .arg(opts)
            .env_remove("RUST_LOG")
            .env_remove("FTPFS_LOG")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        if debug {
            cmd.env("FTPFS_LOG", "ftpfs=debug,warn");
        }
        let started = Instant::now();
        let child = cmd.spawn().expect("spawn ftpfs");
        let mut mount = FtpfsMount {
            child: Some(child),
            _tmp: tmp,
            mnt,
            log_path,
            server_log: Some(Arc::clone(&server.log)),
        };
        let mut status = None;
        let done = wait_until(bound, || {
            status = mount.child.as_mut().unwrap().try_wait().unwrap();
            status.is_some() || is_mounted(&mount.mnt)
        });
        assert!(
            done,
            "ftpfs neither mounted nor exited within {bound:?}\n{}",
            mount.describe()
        );
        match status {
            None => Started::Mounted(mount),
            Some(status) => {
                mount.child = None;
                Started::Failed(status, mount.log(), started.elapsed())
            }
        }
    }

    /// Mounts with `-o TIMEOUTS`, panicking if that fails.
    fn new(server: &HostileServer) -> FtpfsMount {
        FtpfsMount::with_opts(server, TIMEOUTS)
    }

    /// Mounts with `-o opts`, panicking if that fails.
    fn with_opts(server: &HostileServer, opts: &str) -> FtpfsMount {
        match FtpfsMount::start(server, opts, true, MOUNT_BOUND) {
            Started::Mounted(m) => m,
            Started::Failed(status, log, _) => panic!(
                "ftpfs failed to mount ({status}):\n{log}\nserver saw:\n{}",
                server.commands()
            ),
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.mnt.join(rel)
    }

    fn log(&self) -> String {
        String::from_utf8_lossy(&fs::read(&self.log_path).unwrap_or_default()).into_owned()
    }

    fn describe(&self) -> String {
        let server = self
            .server_log
            .as_ref()
            .map(|l| l.lock().unwrap_or_else(|p| p.into_inner()).join("\n"))
            .unwrap_or_default();
        format!(
            "----- ftpfs log -----\n{}\n----- server saw -----\n{server}",
            self.log()
        )
    }

    /// Panics unless ftpfs is still running and the mount still there.
    fn assert_alive(&mut self) {
        let status = self.child.as_mut().map(|c| c.try_wait());
        assert!(
            matches!(status, Some(Ok(None))),
            "ftpfs is gone ({status:?})\n{}",
            self.describe()
        );
        assert!(
            is_mounted(&self.mnt),
            "the mount is gone\n{}",
            self.describe()
        );
    }

    /// Panics unless the mount answers a request that needs the server: a directory it has
    /// never listed, and a file in it.
    fn assert_serving(&mut self, fresh: usize) {
        self.assert_alive();
        let dir = format!("fresh-{fresh}");
        let names = within(OP_BOUND, list(self.path(&dir)));
        assert_eq!(
            names,
            Ok(vec!["a.txt".to_string()]),
            "listing {dir} after the hostile step\n{}",
            self.describe()
        );
        let data = within(OP_BOUND, read(self.path(&format!("{dir}/a.txt"))));
        assert_eq!(
            data.as_deref(),
            Ok(A_TXT),
            "reading {dir}/a.txt\n{}",
            self.describe()
        );
        self.assert_alive();
    }
}

impl Drop for FtpfsMount {
    fn drop(&mut self) {
        if thread::panicking() {
            eprintln!("{}", self.describe());
        }
        if is_mounted(&self.mnt) {
            let _ = Command::new("umount")
                .arg("-l")
                .arg(&self.mnt)
                .stderr(Stdio::null())
                .status();
        }
        if let Some(mut child) = self.child.take() {
            // SAFETY: kill(2) on the pid of our own child, which has not been reaped yet.
            unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
            let exited = wait_until(Duration::from_secs(5), || {
                matches!(child.try_wait(), Ok(Some(_)))
            });
            if !exited {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Bounded filesystem calls

/// [`within`] [`OP_BOUND`], also returning how long the call took.
fn timed<T: Send + 'static>(op: impl FnOnce() -> T + Send + 'static) -> (T, Duration) {
    let started = Instant::now();
    let v = within(OP_BOUND, op);
    (v, started.elapsed())
}

fn errno(e: io::Error) -> i32 {
    e.raw_os_error()
        .unwrap_or_else(|| panic!("not an OS error: {e}"))
}

/// `ls`: the sorted names, or the errno.
fn list(path: PathBuf) -> impl FnOnce() -> Result<Vec<String>, i32> + Send + 'static {
    move || {
        let mut names = Vec::new();
        for entry in fs::read_dir(&path).map_err(errno)? {
            let entry = entry.map_err(errno)?;
            names.push(String::from_utf8_lossy(entry.file_name().as_bytes()).into_owned());
        }
        names.sort();
        Ok(names)
    }
}

/// `cat`: the contents, or the errno.
fn read(path: PathBuf) -> impl FnOnce() -> Result<Vec<u8>, i32> + Send + 'static {
    move || fs::read(&path).map_err(errno)
}

/// `stat`: the size, or the errno.
fn stat(path: PathBuf) -> impl FnOnce() -> Result<u64, i32> + Send + 'static {
    move || fs::metadata(&path).map(|m| m.len()).map_err(errno)
}

fn errname(e: i32) -> &'static str {
    match e {
        libc::ENOENT => "ENOENT",
        libc::EIO => "EIO",
        libc::ETIMEDOUT => "ETIMEDOUT",
        libc::EACCES => "EACCES",
        libc::ENOTCONN => "ENOTCONN",
        _ => "other",
    }
}

/// `ls` of each of `dirs` fails with `errno` within the call budget, and the mount keeps
/// serving after each.
#[track_caller]
fn listings_fail_and_mount_serves(m: &mut FtpfsMount, dirs: &[&str], errno: i32) {
    for (i, d) in dirs.iter().enumerate() {
        let r = timed(list(m.path(d)));
        assert_errno(&format!("ls {d}"), r, errno, CALL_BUDGET, m);
        m.assert_serving(i);
    }
}

/// Asserts that a call failed with `want` within `budget` (plus [`SLACK`]).
#[track_caller]
fn assert_errno<T: std::fmt::Debug>(
    what: &str,
    (result, took): (Result<T, i32>, Duration),
    want: i32,
    budget: Duration,
    m: &FtpfsMount,
) {
    match result {
        Err(e) if e == want => {}
        other => panic!(
            "{what}: expected {} ({want}), got {:?} {}\n{}",
            errname(want),
            other,
            other.as_ref().err().map_or("", |e| errname(*e)),
            m.describe()
        ),
    }
    assert!(
        took <= budget + SLACK,
        "{what}: {} after {took:?}, more than {budget:?}",
        errname(want)
    );
    eprintln!("{what}: {} after {took:.1?}", errname(want));
}

// ---------------------------------------------------------------------------------------------
// Greetings: the mount must fail with one line, within the deadlines

fn assert_mount_fails(greeting: Action) {
    let server = HostileServer::start(Script::mlsd(&[]).greeting(greeting));
    let outcome = FtpfsMount::start(&server, TIMEOUTS, false, MOUNT_FAIL_BOUND);
    let Started::Failed(status, output, took) = outcome else {
        panic!("ftpfs mounted a server with a hostile greeting");
    };
    assert!(!status.success(), "ftpfs exited with {status}: {output}");
    assert_eq!(
        status.code(),
        Some(1),
        "ftpfs exited with {status}: {output}"
    );
    let lines: Vec<&str> = output.lines().collect();
    assert!(
        lines.len() == 1 && lines[0].starts_with("ftpfs: ") && lines[0].len() < 1024,
        "expected one short error line, got {} lines:\n{output}",
        lines.len()
    );
    assert!(took < MOUNT_FAIL_BOUND, "took {took:?}");
    eprintln!("mount failed after {took:?}: {}", lines[0]);
}

#[test]
fn greeting_not_220() {
    assert_mount_fails(Action::Reply(b"421 Too many users, go away.\r\n".to_vec()));
}

#[test]
fn greeting_binary_junk() {
    assert_mount_fails(Action::Reply(
        b"\x00\x01\xff\xfe\x80\x1b[2Jjunk\x00\r\n\xc3\x28".to_vec(),
    ));
}

#[test]
fn greeting_endless_line_without_crlf() {
    // 4 MiB of 'A' and no line end: more than suppaftp's 256 KiB reply bound.
    assert_mount_fails(Action::Endless {
        prefix: b"220 ".to_vec(),
        line: vec![b'A'; 64 * 1024],
        total: 4 << 20,
    });
}

#[test]
fn greeting_endless_multiline() {
    // A multi-line 220 whose last line never comes.
    assert_mount_fails(Action::Endless {
        prefix: b"220-Welcome\r\n".to_vec(),
        line: b"220-and welcome again, and again, and again\r\n".to_vec(),
        total: 4 << 20,
    });
}

#[test]
fn greeting_never_sent() {
    // Bounded by reply_timeout (3 s).
    assert_mount_fails(Action::Silence);
}

#[test]
fn greeting_then_hangup() {
    assert_mount_fails(Action::Close);
}

#[test]
fn login_with_oversized_feat_reply() {
    // Logs in, then answers FEAT with 1 MiB of features and no end line.
    let server = HostileServer::start(Script::mlsd(&[]).hook(|c| {
        (c.verb == "FEAT").then(|| Action::Endless {
            prefix: b"211-Features:\r\n".to_vec(),
            line: b" XFEATURE with a long, long description\r\n".to_vec(),
            total: 1 << 20,
        })
    }));
    let outcome = FtpfsMount::start(&server, TIMEOUTS, false, MOUNT_FAIL_BOUND);
    let Started::Failed(status, output, took) = outcome else {
        panic!("ftpfs mounted a server whose FEAT reply is 1 MiB");
    };
    assert_eq!(status.code(), Some(1), "{output}");
    assert_eq!(output.lines().count(), 1, "{output}");
    assert!(took < MOUNT_FAIL_BOUND, "took {took:?}");
}

// ---------------------------------------------------------------------------------------------
// Listings with garbage

/// MLSD lines that no parser may turn into an entry.
fn garbage_mlsd_lines() -> Vec<Vec<u8>> {
    vec![
        b"\x00\xff\xfe\x80\x81".to_vec(),
        b"type=file;size=12 no-separator".to_vec(),
        b"type=file;size=abc; bad-size".to_vec(),
        b"type=file;size=-1; negative-size".to_vec(),
        b"type=file;size=99999999999999999999999; huge-size".to_vec(),
        b"typefile; no-equals".to_vec(),
        b"type=file;=x; empty-fact".to_vec(),
        b"type=file;size=1; ".to_vec(),
        b"type=file;size=1; sub/dir".to_vec(),
        b"type=file;size=1; nul\x00name".to_vec(),
        b"type=file;size=1; ..".to_vec(),
        b"type=cdir; current".to_vec(),
        b"size=1;size; no-value".to_vec(),
        // Longer than the parser's 64 KiB line limit.
        [b"type=file;size=1; ".as_slice(), &vec![b'L'; 200 * 1024]].concat(),
    ]
}

#[test]
fn mlsd_listing_with_garbage_lines() {
    let mut listing = Vec::new();
    let valid = [
        mlsd_file("good-1.txt", 5),
        mlsd_file("good 2.txt", 0),
        mlsd_dir("good-dir"),
    ];
    for (i, bad) in garbage_mlsd_lines().into_iter().enumerate() {
        if let Some(v) = valid.get(i) {
            listing.extend_from_slice(v.as_bytes());
            listing.extend_from_slice(b"\r\n");
        }
        listing.extend_from_slice(&bad);
        listing.extend_from_slice(if i % 2 == 0 { b"\r\n" } else { b"\n" });
    }
    // A last line of 1 MiB without a line end.
    listing.extend_from_slice(&vec![b'z'; 1 << 20]);
    let server = HostileServer::start(
        Script::mlsd(&[&mlsd_dir("mixed")])
            .listing("/mixed", listing)
            .listing("/mixed/good-dir", Vec::new())
            .file("/mixed/good-1.txt", b"12345".to_vec()),
    );
    let mut m = FtpfsMount::new(&server);
    let names = within(OP_BOUND, list(m.path("mixed")));
    assert_eq!(
        names,
        Ok(vec![
            "good 2.txt".to_string(),
            "good-1.txt".to_string(),
            "good-dir".to_string()
        ]),
        "only the valid lines become entries\n{}",
        m.describe()
    );
    assert_eq!(
        within(OP_BOUND, read(m.path("mixed/good-1.txt"))).as_deref(),
        Ok(&b"12345"[..])
    );
    for ghost in [
        "bad-size",
        "no-equals",
        "current",
        "nul",
        "sub",
        "negative-size",
    ] {
        let r = timed(stat(m.path(&format!("mixed/{ghost}"))));
        assert_errno(
            &format!("stat mixed/{ghost}"),
            r,
            libc::ENOENT,
            CALL_BUDGET,
            &m,
        );
    }
    assert!(
        m.log().contains("skipped a line"),
        "bad lines are logged\n{}",
        m.describe()
    );
    m.assert_serving(0);
}

#[test]
fn list_listing_with_garbage_lines() {
    // A server without MLST: ftpfs uses LIST -a and the Unix/DOS parsers.
    let mut listing = Vec::new();
    for line in [
        &b"total 12"[..],
        b"-rw-r--r--   1 ftp      ftp             5 Jan 01  2024 good-1.txt",
        b"\x00\xff garbage \xfe",
        b"drwxr-xr-x   2 ftp      ftp          4096 Jan 01  2024 good-dir",
        b"-rw-r--r--   1 ftp      ftp           abc Jan 01  2024 bad-size",
        b"-rw-r--r--   1 ftp      ftp             5 Foo 99  2024 bad-date",
        b"-rw-r--r--   1 ftp      ftp             5 Jan 01  2024 ",
        b"-rw-r--r--   1 ftp      ftp             5 Jan 01  2024 nul\x00name",
        b"-rw-r--r--",
        b"01-01-24  12:00PM                    5 good-dos.txt",
        b"01-01-24  12:00PM                  xyz bad-dos.txt",
        b"lrwxrwxrwx   1 ftp      ftp             5 Jan 01  2024 link -> ",
        b" leading-space-line",
    ] {
        listing.extend_from_slice(line);
        listing.extend_from_slice(b"\r\n");
    }
    listing.extend_from_slice(
        &[
            &b"-rw-r--r-- 1 a b 5 Jan 01  2024 "[..],
            &vec![b'L'; 100_000],
        ]
        .concat(),
    );
    listing.extend_from_slice(b"\r\n");
    let mut script = Script::mlsd(&[]);
    script.feat = vec!["SIZE", "EPSV", "REST STREAM"];
    // Root and the fresh directories in LIST form.
    let mut root = b"drwxr-xr-x 2 ftp ftp 4096 Jan 01  2024 mixed\r\n".to_vec();
    for i in 0..FRESH_DIRS {
        root.extend_from_slice(
            format!("drwxr-xr-x 2 ftp ftp 4096 Jan 01  2024 fresh-{i}\r\n").as_bytes(),
        );
        script.listings.insert(
            format!("/fresh-{i}"),
            b"-rw-r--r-- 1 ftp ftp 5 Jan 01  2024 a.txt\r\n".to_vec(),
        );
    }
    let server = HostileServer::start(
        script
            .listing("/", root)
            .listing("/mixed", listing)
            .listing("/mixed/good-dir", Vec::new()),
    );
    let mut m = FtpfsMount::new(&server);
    let names = within(OP_BOUND, list(m.path("mixed")));
    assert_eq!(
        names,
        Ok(vec![
            "good-1.txt".to_string(),
            "good-dir".to_string(),
            "good-dos.txt".to_string(),
            // A link whose target is empty: kept, target unknown (listing.rs).
            "link".to_string()
        ]),
        "only the valid lines become entries\n{}",
        m.describe()
    );
    for ghost in ["bad-size", "bad-dos.txt", "bad-date", "nul"] {
        let r = timed(stat(m.path(&format!("mixed/{ghost}"))));
        assert_errno(
            &format!("stat mixed/{ghost}"),
            r,
            libc::ENOENT,
            CALL_BUDGET,
            &m,
        );
    }
    m.assert_serving(0);
}

// ---------------------------------------------------------------------------------------------
// Malformed EPSV / PASV replies

#[test]
fn malformed_epsv_replies() {
    // A port nobody listens on (bound, then released).
    let dead_port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dirs = [
        "epsv-port-99999",
        "epsv-no-port",
        "epsv-garbage",
        "epsv-dead-port",
    ];
    let root: Vec<String> = dirs.iter().map(|d| mlsd_dir(d)).collect();
    let root: Vec<&str> = root.iter().map(String::as_str).collect();
    let mut script = Script::mlsd(&root).hook(move |c| {
        if c.verb != "EPSV" {
            return None;
        }
        match c.cwd.as_str() {
            "/epsv-port-99999" => reply("229 Entering Extended Passive Mode (|||99999|)"),
            "/epsv-no-port" => reply("229 Entering Extended Passive Mode"),
            "/epsv-garbage" => Some(Action::Reply(b"229 (|||\xff\xfe|)\x00\r\n".to_vec())),
            "/epsv-dead-port" => reply(&format!(
                "229 Entering Extended Passive Mode (|||{dead_port}|)"
            )),
            _ => None,
        }
    });
    for d in dirs {
        script
            .listings
            .insert(format!("/{d}"), mlsd_file("x", 1).into_bytes());
    }
    let server = HostileServer::start(script);
    // Each listing sends its own EPSV from inside its directory only without data
    // connections opened ahead: with them, it would use the one opened in the directory
    // before (a bad reply to such an EPSV only leaves nothing opened ahead; see
    // e2e_preopen).
    let mut m = FtpfsMount::with_opts(&server, &format!("{TIMEOUTS},no_preopen"));
    for (i, d) in dirs.iter().enumerate() {
        let r = timed(list(m.path(d)));
        assert_errno(&format!("ls {d}"), r, libc::EIO, CALL_BUDGET, &m);
        let r = timed(stat(m.path(&format!("{d}/x"))));
        assert_errno(&format!("stat {d}/x"), r, libc::EIO, CALL_BUDGET, &m);
        m.assert_serving(i);
    }
}

#[test]
fn malformed_pasv_replies() {
    let dirs = [
        "pasv-short",
        "pasv-octet-999",
        "pasv-no-parens",
        "pasv-other-loopback",
    ];
    let root: Vec<String> = dirs.iter().map(|d| mlsd_dir(d)).collect();
    let root: Vec<&str> = root.iter().map(String::as_str).collect();
    let mut script = Script::mlsd(&root).hook(|c| {
        if c.verb != "PASV" {
            return None;
        }
        match c.cwd.as_str() {
            "/pasv-short" => reply("227 Entering Passive Mode (1,2,3)"),
            "/pasv-octet-999" => reply("227 Entering Passive Mode (127,0,0,1,999,999)"),
            "/pasv-no-parens" => reply("227 Entering Passive Mode 127,0,0,1,4,1"),
            // The real listener, announced at another address: ftpfs must connect to the
            // control connection's peer instead, as it does by default.
            "/pasv-other-loopback" => Some(Action::PassiveAs("127,0,0,2")),
            _ => None,
        }
    });
    // No EPSV in FEAT: ftpfs uses PASV.
    script.feat = vec!["MLST type*;size*;modify*;", "SIZE", "REST STREAM"];
    for d in dirs {
        script
            .listings
            .insert(format!("/{d}"), mlsd_file("x", 1).into_bytes());
    }
    let server = HostileServer::start(script);
    let mut m = FtpfsMount::new(&server);
    for (i, d) in dirs[..3].iter().enumerate() {
        let r = timed(list(m.path(d)));
        assert_errno(&format!("ls {d}"), r, libc::EIO, CALL_BUDGET, &m);
        m.assert_serving(i);
    }
    let r = within(OP_BOUND, list(m.path("pasv-other-loopback")));
    assert_eq!(r, Ok(vec!["x".to_string()]), "{}", m.describe());
    m.assert_serving(3);
}

/// A server without features answers FEAT with one line, `211 no-features` (RFC 2389): the
/// mount comes up at once, not after a reply deadline (the deadline here is longer than
/// [`MOUNT_BOUND`], so a mount that waited for more of the FEAT reply would not come up in
/// time), and works with LIST, PASV and RETR.
#[test]
fn server_without_features() {
    const REPLY_TIMEOUT: Duration = Duration::from_secs(15);
    const _: () = assert!(REPLY_TIMEOUT.as_secs() > MOUNT_BOUND.as_secs());
    let mut script = Script::mlsd(&[]);
    script.feat = Vec::new();
    script
        .files
        .insert("/plain.txt".to_string(), A_TXT.to_vec());
    let server = HostileServer::start(script.listing(
        "/",
        b"-rw-r--r-- 1 ftp ftp 5 Jan 01  2024 plain.txt\r\n".to_vec(),
    ));
    let opts = format!(
        "timeout=30,connect_timeout=3,reply_timeout={},data_timeout=2",
        REPLY_TIMEOUT.as_secs()
    );
    let m = FtpfsMount::with_opts(&server, &opts);
    assert!(
        !m.log().contains("timed out"),
        "a reply deadline expired while mounting\n{}",
        m.describe()
    );
    let names = within(OP_BOUND, list(m.path("")));
    assert_eq!(names, Ok(vec!["plain.txt".to_string()]), "{}", m.describe());
    let data = within(OP_BOUND, read(m.path("plain.txt")));
    assert_eq!(data, Ok(A_TXT.to_vec()), "{}", m.describe());
}

// ---------------------------------------------------------------------------------------------
// Where data connections go, and where they may come from

/// A server without EPSV that answers PASV in `/elsewhere` with 127.0.0.2, and listens there
/// and on 127.0.0.1 (the control connection's peer) at the announced port.
fn pasv_elsewhere_script() -> Script {
    let mut script = script_with_dirs(&["elsewhere"], |c| {
        (c.verb == "PASV" && c.cwd == "/elsewhere")
            .then_some(Action::PassiveOn(Ipv4Addr::new(127, 0, 0, 2)))
    });
    script.feat = vec!["MLST type*;size*;modify*;", "SIZE", "REST STREAM"];
    script
}

/// The address in a PASV reply is ignored by default: the data connection goes to the
/// control connection's peer. `-o use_pasv_address` connects to the address in the reply.
#[test]
fn pasv_address_is_used_only_with_use_pasv_address() {
    // No look-ahead: only the listings asked for open data connections.
    let ignored = format!("{TIMEOUTS},prefetch_dirs=0");
    let honoured = format!("{TIMEOUTS},prefetch_dirs=0,use_pasv_address");
    for (opts, to, not_to) in [
        (ignored.as_str(), "127.0.0.1:", "127.0.0.2:"),
        (honoured.as_str(), "127.0.0.2:", "127.0.0.1:"),
    ] {
        let server = HostileServer::start(pasv_elsewhere_script());
        let m = FtpfsMount::with_opts(&server, opts);
        // The root is listed first (the mount does not keep its own check's listing),
        // through an ordinary 127.0.0.1 PASV reply.
        let root = within(OP_BOUND, list(m.path("")));
        assert!(root.is_ok(), "{opts}: {root:?}\n{}", m.describe());
        let before = server.commands().lines().count();
        let r = within(OP_BOUND, list(m.path("elsewhere")));
        assert_eq!(r, Ok(vec!["x".to_string()]), "{opts}\n{}", m.describe());
        let log = server.commands();
        let data: Vec<&str> = log
            .lines()
            .skip(before)
            .filter(|l| l.starts_with("data connection to "))
            .collect();
        assert!(
            data.len() == 1 && data[0].contains(to) && !data[0].contains(not_to),
            "-o {opts}: expected one data connection to {to}, got {data:?}\n{}",
            m.describe()
        );
    }
}

/// Active mode: ftpfs listens for the server's data connection (PORT). A connection to that
/// listener from another address than the control connection's peer, even one that sends a
/// complete listing first, is closed and never read; the server's real connection is used.
#[test]
fn active_mode_takes_data_only_from_the_control_peer() {
    let planted = format!("{}\r\n", mlsd_file("planted", 1)).into_bytes();
    let script = script_with_dirs(&["rogue"], move |c| {
        (c.verb == "MLSD" && c.cwd == "/rogue").then(|| Action::RogueFirst {
            rogue: planted.clone(),
            data: one_file_listing(),
        })
    });
    let server = HostileServer::start(script);
    let mut m = FtpfsMount::with_opts(&server, &format!("{TIMEOUTS},active"));
    let r = within(OP_BOUND, list(m.path("rogue")));
    assert_eq!(r, Ok(vec!["x".to_string()]), "{}", m.describe());
    let log = server.commands();
    assert!(
        log.contains("PORT 127,0,0,1,")
            && log.contains("rogue connection from 127.0.0.2:")
            && log.contains("real data connection served"),
        "{}",
        m.describe()
    );
    m.assert_serving(0);
}

// ---------------------------------------------------------------------------------------------
// Malformed and oversized replies

/// A root with these directories, each holding a file `x`, and `hook` answering MLSD.
fn script_with_dirs(
    dirs: &[&str],
    hook: impl Fn(&Cmd) -> Option<Action> + Send + Sync + 'static,
) -> Script {
    let root: Vec<String> = dirs.iter().map(|d| mlsd_dir(d)).collect();
    let root: Vec<&str> = root.iter().map(String::as_str).collect();
    let mut script = Script::mlsd(&root).hook(hook);
    for d in dirs {
        script.listings.insert(
            format!("/{d}"),
            format!("{}\r\n", mlsd_file("x", 1)).into_bytes(),
        );
    }
    script
}

/// A valid listing of one file, as the transfers below send it.
fn one_file_listing() -> Vec<u8> {
    format!("{}\r\n", mlsd_file("x", 1)).into_bytes()
}

#[test]
fn malformed_replies_give_eio() {
    let dirs = [
        "bad-code",
        "unknown-code",
        "too-short",
        "oversized-multiline",
        "oversized-line",
        "final-garbage",
        "final-hangup",
    ];
    let script = script_with_dirs(&dirs, |c| {
        if c.verb != "MLSD" {
            return None;
        }
        Some(match c.cwd.as_str() {
            // Not a three-digit code.
            "/bad-code" => Action::Reply(b"1\xff0 junk\r\n".to_vec()),
            // A code no RFC knows, and binary text.
            "/unknown-code" => Action::Reply(b"999 \xff\xfe\x00 what\r\n".to_vec()),
            "/too-short" => Action::Reply(b"15\r\n".to_vec()),
            // A multi-line reply that never ends: 1 MiB of continuation lines.
            "/oversized-multiline" => Action::Endless {
                prefix: b"150-Here it comes\r\n".to_vec(),
                line: b"150-and more, and more, and more, and more\r\n".to_vec(),
                total: 1 << 20,
            },
            // One 1 MiB line without a line end.
            "/oversized-line" => Action::Endless {
                prefix: b"150 ".to_vec(),
                line: vec![b'x'; 64 * 1024],
                total: 1 << 20,
            },
            // A good listing, then garbage instead of 226.
            "/final-garbage" => Action::Transfer {
                data: one_file_listing(),
                end: End::Reply(b"2\xff6 \x00\x01\x02\r\n".to_vec()),
            },
            // A good listing, then the control connection closes without 226.
            "/final-hangup" => Action::Transfer {
                data: one_file_listing(),
                end: End::Close,
            },
            _ => return None,
        })
    });
    let server = HostileServer::start(script);
    let mut m = FtpfsMount::new(&server);
    listings_fail_and_mount_serves(&mut m, &dirs, libc::EIO);
}

#[test]
fn replies_that_never_complete_give_etimedout() {
    let dirs = ["code-then-garbage", "no-reply", "data-stalls"];
    let script = script_with_dirs(&dirs, |c| {
        if c.verb != "MLSD" {
            return None;
        }
        Some(match c.cwd.as_str() {
            // A three-digit code and no separator: a multi-line reply whose end never comes.
            "/code-then-garbage" => Action::Reply(b"150\xff\xfe\x00garbage\r\n".to_vec()),
            "/no-reply" => Action::Silence,
            // Half a listing, then the data connection stays open and silent.
            "/data-stalls" => Action::Transfer {
                data: b"type=file;size=1; x\r\ntype=fi".to_vec(),
                end: End::Stall,
            },
            _ => return None,
        })
    });
    let server = HostileServer::start(script);
    // reply_timeout 3 s, data_timeout 2 s, timeout 6 s: retried while the first 3 s last.
    let mut m = FtpfsMount::new(&server);
    listings_fail_and_mount_serves(&mut m, &dirs, libc::ETIMEDOUT);
}

// ---------------------------------------------------------------------------------------------
// Transfers that do not match the listing

/// 0, 1, 2, ... as bytes.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

fn transfer_script() -> Script {
    Script::mlsd(&[
        &mlsd_file("short.bin", 1000),
        &mlsd_file("long.bin", 100),
        &mlsd_file("missing.bin", 10),
        &mlsd_file("refused.bin", 10),
        &mlsd_file("stalls.bin", 1000),
        &mlsd_file("aborted.bin", 1000),
    ])
    // The server's file is shorter than its listing says ...
    .file("/short.bin", pattern(400))
    // ... or longer.
    .file("/long.bin", pattern(5000))
    .hook(|c| {
        if c.verb != "RETR" {
            return None;
        }
        match c.arg.as_str() {
            "/missing.bin" => Some(Action::Reply(b"550 \xff\xfe no such\r\n".to_vec())),
            "/refused.bin" => reply("425 Can't open data connection."),
            "/stalls.bin" => Some(Action::Transfer {
                data: pattern(100),
                end: End::Stall,
            }),
            "/aborted.bin" => Some(Action::Transfer {
                data: pattern(400),
                end: End::Reply(b"426 Connection closed; transfer aborted.\r\n".to_vec()),
            }),
            _ => None,
        }
    })
}

#[test]
fn transfers_that_do_not_match_the_listing() {
    let server = HostileServer::start(transfer_script());
    let mut m = FtpfsMount::new(&server);

    // Fewer bytes than listed: a short read (docs/SEMANTICS.md: a file that shrank).
    assert_eq!(within(OP_BOUND, stat(m.path("short.bin"))), Ok(1000));
    let r = within(OP_BOUND, read(m.path("short.bin")));
    assert_eq!(r, Ok(pattern(400)), "short.bin\n{}", m.describe());
    m.assert_serving(0);

    // More bytes than listed: reads stop at the listed size.
    let r = within(OP_BOUND, read(m.path("long.bin")));
    assert_eq!(r, Ok(pattern(100)), "long.bin\n{}", m.describe());
    m.assert_serving(1);

    // RETR refused with 550 and binary text.
    let r = timed(read(m.path("missing.bin")));
    assert_errno("cat missing.bin", r, libc::ENOENT, CALL_BUDGET, &m);
    m.assert_serving(2);

    // 425 on every try.
    let r = timed(read(m.path("refused.bin")));
    assert_errno("cat refused.bin", r, libc::EIO, CALL_BUDGET, &m);
    m.assert_serving(3);

    // The data connection stalls after 100 bytes (data_timeout 2 s, resumed once).
    let r = timed(read(m.path("stalls.bin")));
    assert_errno("cat stalls.bin", r, libc::ETIMEDOUT, CALL_BUDGET, &m);
    m.assert_serving(4);
}

/// A transfer that the server ends with 426 after 400 of 1000 bytes must not pass for a
/// complete (shorter) file.
#[test]
fn transfer_aborted_by_the_server_is_an_error() {
    let server = HostileServer::start(transfer_script());
    let mut m = FtpfsMount::new(&server);
    let r = timed(read(m.path("aborted.bin")));
    assert_errno(
        "cat aborted.bin",
        (r.0.map(|d| d.len()), r.1),
        libc::EIO,
        CALL_BUDGET,
        &m,
    );
    m.assert_serving(0);
}
