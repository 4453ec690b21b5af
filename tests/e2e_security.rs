//! Security end to end: implicit FTPS, command injection through file names, passwords kept
//! out of logs and /proc/mounts, credential sources (password_file, netrc, FTPFS_PASSWORD,
//! password_stdin), symlinks that cannot point out of the mount, and access by other local
//! users (allow_other, default_permissions).

mod common;

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::process::{is_mounted, wait_child};
use common::*;

/// A foreground ftpfs started by hand (for a custom environment or stdin), unmounted and
/// stopped on drop.
struct Manual {
    child: Child,
    mnt: tempfile::TempDir,
    log: std::path::PathBuf,
}

impl Manual {
    fn start(
        url: &str,
        args: &[&str],
        env: &[(&str, &str)],
        stdin: Option<&str>,
    ) -> Result<Manual, String> {
        let mnt = tempfile::Builder::new()
            .prefix("ftpfs-sec.")
            .tempdir()
            .unwrap();
        // Not with_extension: the tempdir's random suffix is what keeps logs apart.
        let log = PathBuf::from(format!("{}.log", mnt.path().display()));
        let file = fs::File::create(&log).unwrap();
        let mut cmd = Command::new(ftpfs_bin());
        cmd.arg(url).arg(mnt.path()).arg("-f").args(args);
        cmd.env_remove("FTPFS_PASSWORD")
            .env_remove("RUST_LOG")
            .env("FTPFS_LOG", "trace");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        cmd.stdout(file.try_clone().unwrap()).stderr(file);
        let mut child = cmd.spawn().unwrap();
        if let Some(text) = stdin {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(text.as_bytes())
                .unwrap();
        }
        let mut exited = None;
        let ok = wait_until(Duration::from_secs(15), || {
            exited = child.try_wait().ok().flatten();
            exited.is_some() || is_mounted(mnt.path())
        });
        if exited.is_some() || !ok {
            let _ = child.kill();
            let _ = child.wait();
            let text = fs::read_to_string(&log).unwrap_or_default();
            let _ = fs::remove_file(&log);
            return Err(text);
        }
        Ok(Manual { child, mnt, log })
    }

    fn path(&self) -> &Path {
        self.mnt.path()
    }

    fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Manual {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.mnt.path())
            .status();
        let _ = self.child.kill();
        let _ = wait_child(&mut self.child, Duration::from_secs(10));
        let _ = fs::remove_file(&self.log);
    }
}

fn private_file(dir: &Path, name: &str, content: &str, mode: u32) -> std::path::PathBuf {
    let path = dir.join(name);
    fs::write(&path, content).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
    path
}

const SECRET: &str = "Sw0rdf1sh-42";

fn server_with_secret() -> Server {
    let server = Server::start(
        ServerKind::Proftpd,
        ServerOptions {
            password: SECRET.into(),
            ..Default::default()
        },
    );
    server.populate(|d| fs::write(d.join("hello.txt"), b"hello\n").unwrap());
    server
}

fn plain_url(server: &Server, user: Option<&str>) -> String {
    let user = user.map(|u| format!("{u}@")).unwrap_or_default();
    format!("ftp://{user}127.0.0.1:{}/", server.port())
}

/// The password appears in no log, even a full protocol trace, and not in /proc/mounts.
#[test]
fn password_is_never_logged_or_shown() {
    let server = server_with_secret();
    let m = Manual::start(
        &plain_url(&server, Some("test")),
        &[],
        &[("FTPFS_PASSWORD", SECRET)],
        None,
    )
    .unwrap();
    assert_eq!(fs::read(m.path().join("hello.txt")).unwrap(), b"hello\n");
    fs::write(m.path().join("new.txt"), b"x").unwrap();
    let log = m.log();
    assert!(
        log.contains("TRACE") || log.contains("DEBUG"),
        "no trace logging happened:\n{log}"
    );
    assert!(!log.contains(SECRET), "the password is in the log");
    assert_eq!(
        log.matches("PASS ").count(),
        log.matches("PASS ****").count(),
        "an unmasked PASS is in the log"
    );
    let mounts = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let line = mounts
        .lines()
        .find(|l| l.contains(m.path().to_str().unwrap()))
        .expect("mount not in mountinfo");
    assert!(
        line.contains(&format!("ftp://test@127.0.0.1:{}/", server.port())),
        "{line}"
    );
    assert!(!line.contains(SECRET), "{line}");
}

/// A URL password works but warns; the password still stays out of /proc/mounts.
#[test]
fn url_password_warns_and_is_hidden() {
    let server = server_with_secret();
    let url = format!("ftp://test:{SECRET}@127.0.0.1:{}/", server.port());
    let m = Manual::start(&url, &[], &[], None).unwrap();
    assert_eq!(fs::read(m.path().join("hello.txt")).unwrap(), b"hello\n");
    assert!(m.log().contains("password in the URL"), "{}", m.log());
    let mounts = fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(SECRET));
}

#[test]
fn password_file_must_be_private() {
    let server = server_with_secret();
    let dir = tempfile::tempdir().unwrap();
    let good = private_file(dir.path(), "pw", &format!("{SECRET}\n"), 0o600);
    let opt = format!("password_file={}", good.display());
    let m = Manual::start(&plain_url(&server, Some("test")), &["-o", &opt], &[], None).unwrap();
    assert_eq!(fs::read(m.path().join("hello.txt")).unwrap(), b"hello\n");
    drop(m);
    let open = private_file(dir.path(), "pw-open", &format!("{SECRET}\n"), 0o644);
    let opt = format!("password_file={}", open.display());
    let err = Manual::start(&plain_url(&server, Some("test")), &["-o", &opt], &[], None)
        .err()
        .expect("accepted a world-readable password file");
    assert!(err.contains("other users"), "{err}");
    assert!(!err.contains(SECRET));
}

#[test]
fn netrc_gives_user_and_password() {
    let server = server_with_secret();
    let home = tempfile::tempdir().unwrap();
    private_file(
        home.path(),
        ".netrc",
        &format!("machine 127.0.0.1 login test password {SECRET}\n"),
        0o600,
    );
    let home_s = home.path().to_str().unwrap();
    let m = Manual::start(&plain_url(&server, None), &[], &[("HOME", home_s)], None).unwrap();
    assert_eq!(fs::read(m.path().join("hello.txt")).unwrap(), b"hello\n");
    drop(m);
    // An explicit netrc=PATH, and its permission rule.
    let other = private_file(
        home.path(),
        "alt-netrc",
        &format!("default login test password {SECRET}\n"),
        0o640,
    );
    let opt = format!("netrc={}", other.display());
    let err = Manual::start(
        &plain_url(&server, None),
        &["-o", &opt],
        &[("HOME", "/nonexistent")],
        None,
    )
    .err()
    .expect("accepted a group-readable netrc");
    assert!(err.contains("other users"), "{err}");
    fs::set_permissions(&other, fs::Permissions::from_mode(0o600)).unwrap();
    let m = Manual::start(
        &plain_url(&server, None),
        &["-o", &opt],
        &[("HOME", "/nonexistent")],
        None,
    )
    .unwrap();
    assert_eq!(fs::read(m.path().join("hello.txt")).unwrap(), b"hello\n");
}

#[test]
fn password_from_stdin() {
    let server = server_with_secret();
    let m = Manual::start(
        &plain_url(&server, Some("test")),
        &["-o", "password_stdin"],
        &[],
        Some(&format!("{SECRET}\n")),
    )
    .unwrap();
    assert_eq!(fs::read(m.path().join("hello.txt")).unwrap(), b"hello\n");
}

/// Names carrying an FTP command are refused with EINVAL before anything reaches the wire.
fn injection(server: &Server) {
    server.populate(|d| fs::write(d.join("victim.txt"), b"still here\n").unwrap());
    let m = mount_for(server, &[]);
    let evil = "x\r\nDELE victim.txt";
    let einval =
        |r: std::io::Result<()>| assert_eq!(r.unwrap_err().raw_os_error(), Some(libc::EINVAL));
    einval(fs::write(m.join(evil), b"boom"));
    einval(fs::create_dir(m.join("d\nRMD /")));
    einval(fs::rename(m.join("victim.txt"), m.join(evil)));
    einval(fs::metadata(m.join("a\rb")).map(|_| ()));
    assert_eq!(
        fs::read(server.dir().join("victim.txt")).unwrap(),
        b"still here\n"
    );
    assert_eq!(dir_names(server.dir()), vec!["victim.txt".to_string()]);
}
for_each_server_kind!(crlf_injection, injection);

/// Absolute and escaping symlink targets are shown relative to the mount.
#[test]
fn symlinks_cannot_point_out_of_the_mount() {
    let server = Server::start(ServerKind::Vsftpd, ServerOptions::default());
    server.populate(|d| {
        fs::create_dir(d.join("sub")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", d.join("sub/abs")).unwrap();
        std::os::unix::fs::symlink("../../../../../../etc/passwd", d.join("sub/climb")).unwrap();
        std::os::unix::fs::symlink("../sub/ok", d.join("sub/inside")).unwrap();
    });
    let m = mount_for(&server, &[]);
    assert_eq!(
        fs::read_link(m.join("sub/abs")).unwrap(),
        Path::new("../etc/passwd")
    );
    assert_eq!(
        fs::read_link(m.join("sub/climb")).unwrap(),
        Path::new("../etc/passwd")
    );
    assert_eq!(
        fs::read_link(m.join("sub/inside")).unwrap(),
        Path::new("../sub/ok")
    );
    // Following them stays inside the mount, where there is no etc/passwd: ENOENT, not
    // the host's file and not some other failure.
    for link in ["sub/abs", "sub/climb"] {
        let err = fs::read(m.join(link)).expect_err("read the host's /etc/passwd");
        assert_eq!(err.raw_os_error(), Some(libc::ENOENT), "{link}: {err}");
    }
}

/// Implicit FTPS where the server offers it (vsftpd, proftpd).
fn implicit(server: &Server) {
    server.populate(|d| fs::write(d.join("i.txt"), b"implicit\n").unwrap());
    let url = server
        .url()
        .replacen("ftp://", "ftps://", 1)
        .replacen("127.0.0.1", "localhost", 1);
    let ca = format!("cafile={}", server.ca_pem_path().display());
    let m = Mount::new(&url, &["tls=implicit", &ca]);
    assert_eq!(fs::read(m.join("i.txt")).unwrap(), b"implicit\n");
    fs::write(m.join("up.txt"), b"uploaded\n").unwrap();
    assert_eq!(
        fs::read(server.dir().join("up.txt")).unwrap(),
        b"uploaded\n"
    );
    for i in 0..30 {
        fs::write(m.join(format!("n{i}")), format!("{i}")).unwrap();
    }
    assert_eq!(dir_names(server.dir()).len(), 32);
}

#[test]
fn implicit_ftps_vsftpd() {
    implicit(&Server::start(
        ServerKind::Vsftpd,
        ServerOptions::implicit_tls(),
    ));
}

#[test]
fn implicit_ftps_proftpd() {
    implicit(&Server::start(
        ServerKind::Proftpd,
        ServerOptions::implicit_tls(),
    ));
}

/// `-o trace_ftp` shows the FTP commands, with the password masked, at the default level.
#[test]
fn trace_ftp_masks_the_password() {
    let server = server_with_secret();
    let m = Manual::start(
        &plain_url(&server, Some("test")),
        &["-o", "trace_ftp"],
        &[("FTPFS_PASSWORD", SECRET), ("FTPFS_LOG", "warn")],
        None,
    )
    .unwrap();
    assert_eq!(fs::read(m.path().join("hello.txt")).unwrap(), b"hello\n");
    let log = m.log();
    assert!(log.contains("> USER test\n"), "{log}");
    assert!(log.contains("> PASS ****\n"), "{log}");
    assert!(log.contains("RETR /hello.txt"), "{log}");
    assert!(!log.contains(SECRET));
}

/// The uid and gid of `nobody`, the other local user of the access tests.
fn nobody() -> (u32, u32) {
    // SAFETY: getpwnam with a NUL-terminated name; the record is read before any other call.
    let pw = unsafe { libc::getpwnam(c"nobody".as_ptr()) };
    assert!(!pw.is_null(), "no user 'nobody' on this system");
    // SAFETY: pw is non-null and points to getpwnam's static record.
    unsafe { ((*pw).pw_uid, (*pw).pw_gid) }
}

/// Runs `cmd args` as `nobody` (no supplementary groups). Returns stdout if it succeeded,
/// else stderr. Panics if it does not finish within 20 s (a hung FUSE request).
fn as_nobody(cmd: &str, args: &[&Path]) -> Result<String, String> {
    use std::io::Read;
    use std::os::unix::process::CommandExt;
    let (uid, gid) = nobody();
    // Root dropping to another uid: std clears the supplementary groups too.
    let mut child = Command::new(cmd)
        .args(args)
        .uid(uid)
        .gid(gid)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let Some(status) = wait_child(&mut child, Duration::from_secs(20)) else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("{cmd} {args:?} as nobody did not finish within 20 s");
    };
    let mut out = String::new();
    let pipe: &mut dyn Read = if status.success() {
        child.stdout.as_mut().unwrap()
    } else {
        child.stderr.as_mut().unwrap()
    };
    pipe.read_to_string(&mut out).unwrap();
    if status.success() {
        Ok(out)
    } else {
        Err(out)
    }
}

/// `nobody` lists the mount and reads `hello.txt` through it.
fn nobody_reads(m: &Mount) {
    assert_eq!(as_nobody("ls", &[m.path()]), Ok("hello.txt\n".into()));
    assert_eq!(
        as_nobody("cat", &[&m.join("hello.txt")]),
        Ok("hello\n".into())
    );
}

/// Mounts `server` with `opts` and lets other users reach the mountpoint (the harness makes
/// its parent directory private to root).
fn mount_for_others(server: &Server, opts: &[&str]) -> Mount {
    let m = mount_for(server, opts);
    let parent = m.path().parent().unwrap();
    fs::set_permissions(parent, fs::Permissions::from_mode(0o755)).unwrap();
    m
}

/// Other local users (here `nobody`, with root mounting): without `allow_other` they are
/// refused; with it they list and read as the mount's FTP identity, whatever mode bits are
/// shown; with `default_permissions` too, the kernel checks those bits, so a `umask` that
/// hides the read bits refuses them the read.
#[test]
fn allow_other_and_default_permissions() {
    let server = Server::start(ServerKind::Proftpd, ServerOptions::default());
    server.populate(|d| fs::write(d.join("hello.txt"), b"hello\n").unwrap());
    let denied = |r: Result<String, String>, what: &str| {
        let err = r.expect_err(what);
        assert!(err.contains("Permission denied"), "{what}: {err}");
    };

    // Only the mounting user.
    let m = mount_for_others(&server, &[]);
    assert_eq!(fs::read(m.join("hello.txt")).unwrap(), b"hello\n");
    denied(as_nobody("ls", &[m.path()]), "ls without allow_other");
    denied(
        as_nobody("cat", &[&m.join("hello.txt")]),
        "cat without allow_other",
    );
    drop(m);

    // allow_other: every local user acts with the mount's FTP identity; the mode bits shown
    // (0600, owned by root, with umask=066) are not checked.
    let m = mount_for_others(&server, &["allow_other", "umask=066"]);
    let mode = fs::metadata(m.join("hello.txt"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    nobody_reads(&m);
    drop(m);

    // allow_other + default_permissions: the kernel checks the mode bits shown.
    let m = mount_for_others(
        &server,
        &["allow_other", "default_permissions", "umask=022"],
    );
    nobody_reads(&m);
    drop(m);
    let m = mount_for_others(
        &server,
        &["allow_other", "default_permissions", "umask=066"],
    );
    // The directory is 0711: nobody may look a name up, but not read the file (0600).
    assert_eq!(
        as_nobody(
            "stat",
            &[Path::new("-c"), Path::new("%a"), &m.join("hello.txt")]
        ),
        Ok("600\n".into())
    );
    denied(
        as_nobody("cat", &[&m.join("hello.txt")]),
        "cat with default_permissions and umask=066",
    );
    // The mounting user (root) still reads it.
    assert_eq!(fs::read(m.join("hello.txt")).unwrap(), b"hello\n");
}
