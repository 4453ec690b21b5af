//! ftpfs as a native Linux citizen: `mount -t fuse.ftpfs`, a scratch fstab with `mount -T`,
//! the `mount.ftpfs` helper convention, the options mount(8) and systemd pass, and legacy
//! file-name encodings.

mod common;

use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use common::process::is_mounted;
use common::*;

/// mount(8) runs its helpers with a fixed, safe PATH, so mount.fuse3 finds `ftpfs` only where
/// an install puts it. Link the binary under test as /usr/local/bin/ftpfs (replacing a link a
/// test left there, possibly to another build). A real install there (a file, not a link)
/// fails the test rather than being tested in place of this build. [`check_mount`] checks
/// which binary the mount runs, so a link replaced meanwhile cannot go unnoticed either.
fn install_for_mount() {
    let link = Path::new("/usr/local/bin/ftpfs");
    match fs::symlink_metadata(link) {
        Ok(md) if md.file_type().is_symlink() => {
            if fs::read_link(link).is_ok_and(|t| t == Path::new(ftpfs_bin())) {
                return;
            }
            fs::remove_file(link).unwrap();
        }
        Ok(_) => panic!(
            "{} is a real install: the mount(8) tests would run it instead of the binary \
             under test ({}); remove it first",
            link.display(),
            ftpfs_bin()
        ),
        Err(_) => fs::create_dir_all("/usr/local/bin").unwrap(),
    }
    std::os::unix::fs::symlink(ftpfs_bin(), link).unwrap();
}

/// Panics unless the daemon serving `mnt` runs the binary under test (compared by content,
/// so that an installed copy of it counts).
fn assert_runs_binary_under_test(mnt: &Path) {
    let out = Command::new("pgrep")
        .arg("-f")
        .arg(mnt.as_os_str())
        .output()
        .unwrap();
    let pids: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let want = sha256_file(ftpfs_bin());
    let daemons: Vec<String> = pids
        .iter()
        .filter(|pid| {
            fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.contains("ftpfs"))
        })
        .cloned()
        .collect();
    assert!(
        !daemons.is_empty(),
        "no ftpfs process serves {} (pgrep found {pids:?})",
        mnt.display()
    );
    for pid in daemons {
        let exe = fs::read_link(format!("/proc/{pid}/exe")).unwrap_or_default();
        assert_eq!(
            sha256_file(format!("/proc/{pid}/exe")),
            want,
            "{} is served by {} (pid {pid}), not by the binary under test {}",
            mnt.display(),
            exe.display(),
            ftpfs_bin()
        );
    }
}

/// A directory with `ftpfs` (and `mount.ftpfs`) links to the binary under test.
fn bin_dir() -> tempfile::TempDir {
    install_for_mount();
    let dir = tempfile::Builder::new()
        .prefix("ftpfs-bin.")
        .tempdir()
        .unwrap();
    std::os::unix::fs::symlink(ftpfs_bin(), dir.path().join("ftpfs")).unwrap();
    std::os::unix::fs::symlink(ftpfs_bin(), dir.path().join("mount.ftpfs")).unwrap();
    dir
}

fn path_with(bin: &Path) -> String {
    format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Unmounts (and waits for the daemon to go) whatever the test mounted by hand.
struct Unmount(PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        if is_mounted(&self.0) {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
}

/// The source a mount of [`Server::url`] shows in /proc/mounts: the URL without the
/// password, its path without a trailing slash (the root stays `/`).
fn expected_source(server: &Server) -> String {
    let dir = server.remote_dir().trim_end_matches('/');
    format!(
        "ftp://{}@127.0.0.1:{}{}",
        server.user(),
        server.port(),
        if dir.is_empty() { "/" } else { dir }
    )
}

/// The /proc/mounts line of `mnt` as fields: source, mountpoint, type, options, ...
fn mounts_line(mnt: &Path) -> Vec<String> {
    let mounts = fs::read_to_string("/proc/self/mounts").unwrap();
    mounts
        .lines()
        .map(|l| l.split(' ').map(str::to_string).collect::<Vec<_>>())
        .find(|f| f.get(1).map(String::as_str) == mnt.to_str())
        .unwrap_or_else(|| panic!("{} not in /proc/mounts:\n{mounts}", mnt.display()))
}

/// The options of `mnt` in /proc/mounts.
fn mount_options(mnt: &Path) -> Vec<String> {
    mounts_line(mnt)[3].split(',').map(str::to_string).collect()
}

fn check_mount(mnt: &Path, server: &Server) {
    assert!(is_mounted(mnt), "not mounted");
    assert_runs_binary_under_test(mnt);
    let fstype = common::process::mount_fstype(mnt);
    assert_eq!(fstype.as_deref(), Some("fuse.ftpfs"));
    assert_eq!(fs::read(mnt.join("hello.txt")).unwrap(), b"hello\n");
    let line = mounts_line(mnt);
    assert_eq!(line[0], expected_source(server), "{line:?}");
    assert_eq!(line[2], "fuse.ftpfs", "{line:?}");
    // ftpfs always mounts nosuid,nodev.
    let options = mount_options(mnt);
    for want in ["nosuid", "nodev"] {
        assert!(options.iter().any(|o| o == want), "no {want}: {line:?}");
    }
}

/// Runs `hello.sh` on the mount: its output, or the error of exec(2).
fn run_script(mnt: &Path) -> std::io::Result<Vec<u8>> {
    Command::new(mnt.join("hello.sh"))
        .output()
        .map(|out| out.stdout)
}

fn umount_and_wait(mnt: &Path) {
    run(Command::new("umount").arg(mnt));
    assert!(wait_until(Duration::from_secs(10), || !is_mounted(mnt)));
    let gone = wait_until(Duration::from_secs(10), || {
        let out = Command::new("pgrep")
            .arg("-f")
            .arg(mnt.as_os_str())
            .output()
            .unwrap();
        out.stdout.is_empty()
    });
    assert!(gone, "the ftpfs daemon outlived umount");
}

/// proftpd serving `hello.txt` and an executable `hello.sh`.
fn server() -> Server {
    use std::os::unix::fs::PermissionsExt;
    let server = Server::start(ServerKind::Proftpd, ServerOptions::default());
    server.populate(|d| {
        fs::write(d.join("hello.txt"), b"hello\n").unwrap();
        let script = d.join("hello.sh");
        fs::write(&script, b"#!/bin/sh\necho script ran\n").unwrap();
        fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    });
    server
}

/// Tests that run mount(8) hold this: `install_script_and_mount_t_ftpfs` puts helpers in
/// /sbin for a while, which changes what `mount -t fuse.ftpfs` runs.
fn mount8_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

/// `mount -t fuse.ftpfs URL MNT -o OPTS`, finding ftpfs in `bin`.
fn mount_t(bin: &tempfile::TempDir, server: &Server, mnt: &Path, opts: &str) {
    run(Command::new("mount")
        .env("PATH", path_with(bin.path()))
        .args(["-t", "fuse.ftpfs", &server.url()])
        .arg(mnt)
        .args(["-o", opts]));
}

/// `mount -t fuse.ftpfs URL DIR -o ...` through mount.fuse3, with the options mount(8) and
/// systemd pass mixed in.
#[test]
fn mount_t_fuse_ftpfs() {
    let _mount8 = mount8_lock();
    let server = server();
    let bin = bin_dir();
    let mnt = tempfile::tempdir().unwrap();
    let _guard = Unmount(mnt.path().to_path_buf());
    mount_t(
        &bin,
        &server,
        mnt.path(),
        "rw,nodev,nosuid,noatime,_netdev,x-systemd.automount,dir_cache_ttl=5,max_conns=2",
    );
    check_mount(mnt.path(), &server);
    // Without noexec, programs on the mount run.
    assert!(!mount_options(mnt.path()).contains(&"noexec".to_string()));
    assert_eq!(run_script(mnt.path()).unwrap(), b"script ran\n");
    umount_and_wait(mnt.path());
}

/// `-o noexec` through mount(8) is honoured: /proc/mounts shows it, and exec(2) of a file
/// on the mount fails with EACCES. Before, ftpfs dropped it with the options it ignores.
#[test]
fn mount_noexec() {
    let _mount8 = mount8_lock();
    let server = server();
    let bin = bin_dir();
    let mnt = tempfile::tempdir().unwrap();
    let _guard = Unmount(mnt.path().to_path_buf());
    mount_t(&bin, &server, mnt.path(), "exec,suid,dev,noexec,_netdev");
    check_mount(mnt.path(), &server);
    let options = mount_options(mnt.path());
    assert!(options.contains(&"noexec".to_string()), "{options:?}");
    let err = run_script(mnt.path()).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EACCES), "{err}");
    // Reading it is still fine.
    assert_eq!(
        fs::read(mnt.path().join("hello.sh")).unwrap(),
        b"#!/bin/sh\necho script ran\n"
    );
    umount_and_wait(mnt.path());

    // The other mount path: through fusermount3, as auto_unmount (and non-root) mounts go.
    let m = mount_for(&server, &["noexec", "auto_unmount"]);
    let options = mount_options(m.path());
    assert!(options.contains(&"noexec".to_string()), "{options:?}");
    let err = run_script(m.path()).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EACCES), "{err}");
}

/// A scratch fstab line of type fuse.ftpfs, mounted with `mount -T FSTAB DIR`.
#[test]
fn scratch_fstab() {
    let _mount8 = mount8_lock();
    let server = server();
    let bin = bin_dir();
    let mnt = tempfile::tempdir().unwrap();
    let _guard = Unmount(mnt.path().to_path_buf());
    let fstab = bin.path().join("fstab");
    fs::write(
        &fstab,
        format!(
            "# scratch fstab\n{} {} fuse.ftpfs noauto,nofail,_netdev,users,x-systemd.automount,x-systemd.idle-timeout=60,ro,timeout=20 0 0\n",
            server.url(),
            mnt.path().display()
        ),
    )
    .unwrap();
    run(Command::new("mount")
        .env("PATH", path_with(bin.path()))
        .arg("-T")
        .arg(&fstab)
        .arg(mnt.path()));
    check_mount(mnt.path(), &server);
    let err = fs::write(mnt.path().join("x"), b"x").unwrap_err();
    assert_eq!(
        err.raw_os_error(),
        Some(libc::EROFS),
        "the ro option was lost"
    );
    umount_and_wait(mnt.path());
}

/// The mount(8) helper convention: `mount.ftpfs SOURCE DIR -n -o OPTS` (what `-t ftpfs`
/// runs once the `mount.ftpfs` link is installed in /sbin).
#[test]
fn mount_helper_link() {
    let server = server();
    let bin = bin_dir();
    let mnt = tempfile::tempdir().unwrap();
    let _guard = Unmount(mnt.path().to_path_buf());
    run(Command::new(bin.path().join("mount.ftpfs"))
        .arg(server.url())
        .arg(mnt.path())
        .args(["-n", "-o", "rw,noatime,max_conns=2", "-t", "ftpfs"]));
    check_mount(mnt.path(), &server);
    // `mount -f` (fake) checks the arguments but mounts nothing.
    let other = tempfile::tempdir().unwrap();
    run(Command::new(bin.path().join("mount.ftpfs"))
        .arg(server.url())
        .arg(other.path())
        .arg("-f"));
    assert!(!is_mounted(other.path()));
    umount_and_wait(mnt.path());
}

/// Runs contrib/install.sh with `args`.
fn install_sh(args: &[&str]) -> Output {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/install.sh");
    run(Command::new("bash").arg(script).args(args))
}

/// Uninstalls from a scratch prefix (and /sbin) when dropped, even after a failure.
struct Uninstall(String);

impl Drop for Uninstall {
    fn drop(&mut self) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/install.sh");
        let _ = Command::new("bash")
            .arg(script)
            .args(["--uninstall", "--prefix", &self.0, "--sbindir", "/sbin"])
            .output();
    }
}

/// contrib/install.sh for real: the binary, man page and completions under a scratch prefix
/// and the mount helper links in /sbin, where mount(8) looks. Then `mount -t ftpfs` (no
/// `fuse.` prefix) runs the installed /sbin/mount.ftpfs, and `--uninstall` removes it all.
#[test]
fn install_script_and_mount_t_ftpfs() {
    let _mount8 = mount8_lock();
    let helpers = [
        PathBuf::from("/sbin/mount.ftpfs"),
        PathBuf::from("/sbin/mount.fuse.ftpfs"),
    ];
    for h in &helpers {
        assert!(
            fs::symlink_metadata(h).is_err(),
            "{} exists: this test installs its own helpers in /sbin and removes them \
             afterwards, so it will not run over a real install (uninstall it first)",
            h.display()
        );
    }
    let server = server();
    let prefix = tempfile::Builder::new()
        .prefix("ftpfs-prefix.")
        .tempdir()
        .unwrap();
    let p = prefix.path().to_str().unwrap().to_string();
    let _uninstall = Uninstall(p.clone());
    install_sh(&[
        "--prefix",
        &p,
        "--sbindir",
        "/sbin",
        "--binary",
        ftpfs_bin(),
    ]);

    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let installed = [
        ("bin/ftpfs", PathBuf::from(ftpfs_bin())),
        ("share/man/man1/ftpfs.1", repo.join("docs/ftpfs.1")),
        (
            "share/bash-completion/completions/ftpfs",
            repo.join("contrib/completions/ftpfs.bash"),
        ),
        (
            "share/zsh/site-functions/_ftpfs",
            repo.join("contrib/completions/_ftpfs"),
        ),
        (
            "share/fish/vendor_completions.d/ftpfs.fish",
            repo.join("contrib/completions/ftpfs.fish"),
        ),
    ];
    for (rel, source) in &installed {
        let got = fs::read(prefix.path().join(rel))
            .unwrap_or_else(|e| panic!("{rel} was not installed: {e}"));
        assert!(
            got == fs::read(source).unwrap(),
            "{rel} differs from {}",
            source.display()
        );
    }
    let bin = prefix.path().join("bin/ftpfs");
    for h in &helpers {
        assert_eq!(fs::read_link(h).unwrap(), bin, "{}", h.display());
    }

    let mnt = tempfile::tempdir().unwrap();
    let _guard = Unmount(mnt.path().to_path_buf());
    run(Command::new("mount")
        .args(["-t", "ftpfs", &server.url()])
        .arg(mnt.path())
        .args(["-o", "rw,noatime,max_conns=2"]));
    check_mount(mnt.path(), &server);
    umount_and_wait(mnt.path());

    install_sh(&["--uninstall", "--prefix", &p, "--sbindir", "/sbin"]);
    for h in &helpers {
        assert!(
            fs::symlink_metadata(h).is_err(),
            "{} is still there",
            h.display()
        );
    }
    for (rel, _) in &installed {
        assert!(!prefix.path().join(rel).exists(), "{rel} is still there");
    }
}

/// Tests that own `/dev/log` hold this.
fn devlog_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

const LOG_SECRET: &str = "Zq9-syslog-secret";

/// A proftpd whose password is [`LOG_SECRET`], serving `hello.txt`.
fn log_server() -> Server {
    let server = Server::start(
        ServerKind::Proftpd,
        ServerOptions {
            password: LOG_SECRET.into(),
            ..ServerOptions::default()
        },
    );
    server.populate(|d| fs::write(d.join("hello.txt"), b"hello\n").unwrap());
    server
}

/// Mounts `server` in the background on `mnt` (connecting on first use, so the login happens
/// after the daemon has left the terminal), reads a file and unmounts, with `/dev/log`
/// replaced by `devlog` (bound over it in a private mount namespace) when given.
fn mount_read_unmount(server: &Server, mnt: &Path, devlog: Option<&Path>, opts: &str) {
    let script = r#"
        set -e
        if [ -n "$DEVLOG" ]; then mount --bind "$DEVLOG" /dev/log; fi
        "$FTPFS" "$URL" "$MNT" -o "$OPTS"
        cat "$MNT/hello.txt"
        umount "$MNT"
    "#;
    let mut cmd = match devlog {
        Some(d) => {
            let mut c = Command::new("unshare");
            c.args(["--mount", "--propagation", "private", "sh", "-c", script]);
            c.env("DEVLOG", d);
            c
        }
        None => {
            let mut c = Command::new("sh");
            c.args(["-c", script]);
            c
        }
    };
    let url = format!("ftp://{}@127.0.0.1:{}/", server.user(), server.port());
    let out = run(cmd
        .env("FTPFS", ftpfs_bin())
        .env("URL", &url)
        .env("MNT", mnt)
        .env(
            "OPTS",
            format!("delay_connect,trace_ftp,max_conns=1,{opts}"),
        )
        .env("FTPFS_PASSWORD", LOG_SECRET)
        .env("FTPFS_LOG", "info"));
    assert_eq!(out.stdout, b"hello\n");
}

/// What a daemon's log must say after [`mount_read_unmount`], and must not.
fn check_daemon_log(text: &str) {
    for want in [
        "mounted ftp://",
        "> USER test",
        "> PASS ****",
        "RETR /hello.txt",
        "unmounted",
    ] {
        assert!(text.contains(want), "no {want:?} in the log:\n{text}");
    }
    assert!(
        !text.contains(LOG_SECRET),
        "the password reached the log:\n{text}"
    );
}

/// Once in the background, the daemon logs to syslog (`/dev/log`) under `ftpfs[PID]`, and the
/// protocol trace there masks PASS as on stderr. The test owns `/dev/log`: it binds it when
/// no syslog daemon runs, and otherwise runs the mount in a private mount namespace with its
/// socket bound over the real one.
#[test]
fn daemon_logs_to_syslog() {
    use std::os::unix::net::UnixDatagram;
    let _devlog = devlog_lock();
    let server = log_server();
    let scratch = tempfile::tempdir().unwrap();
    let mnt = scratch.path().join("mnt");
    fs::create_dir(&mnt).unwrap();
    let devlog = Path::new("/dev/log");
    let private = fs::symlink_metadata(devlog).is_ok();
    let sock_path = if private {
        scratch.path().join("log")
    } else {
        devlog.to_path_buf()
    };
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    struct RemoveSocket(PathBuf);
    impl Drop for RemoveSocket {
        fn drop(&mut self) {
            let _ = fs::remove_file(&self.0);
        }
    }
    let _remove = RemoveSocket(sock_path.clone());
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    // Read the socket while the daemon runs, as a syslog daemon does: a datagram socket
    // queues only net.unix.max_dgram_qlen (often 10) messages, and a daemon whose log
    // messages are not read waits in send() for room.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let stop = std::sync::Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut messages = Vec::new();
            let mut buf = [0u8; 8192];
            loop {
                match sock.recv(&mut buf) {
                    Ok(n) => messages.push(String::from_utf8_lossy(&buf[..n]).into_owned()),
                    Err(_) if stop.load(std::sync::atomic::Ordering::Relaxed) => return messages,
                    Err(_) => {}
                }
            }
        })
    };
    mount_read_unmount(&server, &mnt, private.then_some(sock_path.as_path()), "");
    // The daemon logs "unmounted" as it exits; the reader keeps reading until then.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::time::Instant::now() < deadline
        && Command::new("pgrep")
            .args(["-f", &mnt.display().to_string()])
            .output()
            .is_ok_and(|o| o.status.success())
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let messages = reader.join().unwrap();
    let done = messages.iter().any(|m| m.contains("unmounted"));
    let all = messages.join("\n");
    assert!(done, "no \"unmounted\" message reached syslog; got:\n{all}");
    // Other daemons of the suite may log here too: keep ours, by pid.
    let pid = messages
        .iter()
        .find(|m| m.contains(&format!("on {}", mnt.display())))
        .and_then(|m| m.split("ftpfs[").nth(1))
        .and_then(|rest| rest.split(']').next())
        .unwrap_or_else(|| panic!("no \"mounted ... on MNT\" message with a pid:\n{all}"))
        .to_string();
    let ours: Vec<&String> = messages
        .iter()
        .filter(|m| m.contains(&format!("ftpfs[{pid}]:")))
        .collect();
    let ours_text = ours
        .iter()
        .map(|m| m.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    check_daemon_log(&ours_text);
    // <30> is daemon.info, <31> daemon.debug: the facility and levels are right.
    assert!(ours.iter().any(|m| m.starts_with("<30>")), "{ours_text}");
    assert!(ours.iter().any(|m| m.starts_with("<31>")), "{ours_text}");
    assert!(
        !all.contains(LOG_SECRET),
        "the password reached syslog:\n{all}"
    );
}

/// Without a syslog daemon (nothing listens on `/dev/log`), the daemon appends to
/// `ftpfs.log` in its cache directory, readable by its owner only, so that what it says about
/// failed uploads is not lost. Where a syslog daemon runs, the test hides it by binding
/// /dev/null over `/dev/log` in a private mount namespace.
#[test]
fn daemon_without_syslog_logs_to_a_file() {
    let _devlog = devlog_lock();
    let server = log_server();
    let scratch = tempfile::tempdir().unwrap();
    let mnt = scratch.path().join("mnt");
    fs::create_dir(&mnt).unwrap();
    let cache = scratch.path().join("cache");
    let hide = fs::symlink_metadata("/dev/log").is_ok();
    mount_read_unmount(
        &server,
        &mnt,
        hide.then_some(Path::new("/dev/null")),
        &format!("cache_dir={}", cache.display()),
    );
    let log = cache.join("ftpfs.log");
    let done = wait_until(Duration::from_secs(10), || {
        fs::read_to_string(&log).is_ok_and(|t| t.contains("unmounted"))
    });
    let text = fs::read_to_string(&log).unwrap_or_default();
    assert!(done, "no \"unmounted\" in {}:\n{text}", log.display());
    check_daemon_log(&text);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        fs::metadata(&log).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

/// `-o encoding=gbk`: GBK names on the server appear as UTF-8, and new names are written
/// in GBK; a name GBK cannot represent is refused with EILSEQ. Names that are not GBK are
/// shown raw and used raw: a UTF-8 name of odd length (common on mixed-encoding servers),
/// which must not be re-encoded into GBK on the way back, and a four-byte GB18030 sequence,
/// which the GBK decoder accepts but the GBK encoder cannot produce.
fn gbk_names(server: &Server) {
    let gbk_name: &[u8] = b"\xca\xb5\xd1\xe9.doc"; // 实验.doc in GBK
    let utf8_name = "实.doc"; // 7 bytes of UTF-8: not valid GBK
    let gb18030_name: &[u8] = b"\x81\x30\x81\x30.txt"; // U+0080, GB18030 only
    server.populate(|d| {
        fs::write(
            d.join(std::ffi::OsStr::from_bytes(gbk_name)),
            b"gbk content\n",
        )
        .unwrap();
        fs::create_dir(d.join(std::ffi::OsStr::from_bytes(b"\xd6\xd0\xce\xc4"))).unwrap();
        // 中文
        fs::write(d.join(utf8_name), b"utf-8 named\n").unwrap();
        fs::write(
            d.join(std::ffi::OsStr::from_bytes(gb18030_name)),
            b"gb18030 named\n",
        )
        .unwrap();
    });
    let m = mount_for(server, &["encoding=gbk"]);
    let mut names: Vec<Vec<u8>> = fs::read_dir(m.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().as_bytes().to_vec())
        .collect();
    names.sort();
    let mut want = vec![
        "中文".as_bytes().to_vec(),
        "实验.doc".as_bytes().to_vec(),
        utf8_name.as_bytes().to_vec(),
        gb18030_name.to_vec(),
    ];
    want.sort();
    assert_eq!(names, want, "{}", m.log());
    assert_eq!(fs::read(m.join("实验.doc")).unwrap(), b"gbk content\n");
    assert_eq!(
        fs::read(m.join(utf8_name)).unwrap(),
        b"utf-8 named\n",
        "{}",
        m.log()
    );
    assert_eq!(
        fs::read(m.join(std::ffi::OsStr::from_bytes(gb18030_name))).unwrap(),
        b"gb18030 named\n",
        "{}",
        m.log()
    );
    // Rewriting the raw UTF-8 name replaces that file, not a GBK namesake.
    fs::write(m.join(utf8_name), b"rewritten\n").unwrap();
    assert_eq!(
        fs::read(server.dir().join(utf8_name)).unwrap(),
        b"rewritten\n"
    );
    assert!(!server
        .dir()
        .join(std::ffi::OsStr::from_bytes(b"\xca\xb5.doc"))
        .exists());
    fs::write(m.join("中文/新文件.txt"), b"new\n").unwrap();
    let on_server = server.dir().join(std::ffi::OsStr::from_bytes(
        b"\xd6\xd0\xce\xc4/\xd0\xc2\xce\xc4\xbc\xfe.txt",
    ));
    assert_eq!(fs::read(on_server).unwrap(), b"new\n");
    let err = fs::write(m.join("smile😀.txt"), b"x").unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EILSEQ));
}
for_each_server_kind!(gbk_names, gbk_names);
