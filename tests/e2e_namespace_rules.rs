//! End-to-end namespace rules of docs/SEMANTICS.md that have no FTP command behind them: links
//! and device files cannot be created, `RENAME_EXCHANGE` is refused, a directory cannot move
//! into itself, and the rules of `chmod` and `chown`. Each case checks the errno the program
//! gets and that the server's directory is exactly as before (or as the allowed change left
//! it), so a refusal can never hide a half-done change.

mod common;

use std::ffi::CString;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use common::*;

fn c_path(path: &Path) -> CString {
    CString::new(path.as_os_str().as_bytes()).unwrap()
}

/// The errno of a libc call that returned `rc`, or 0 if it succeeded.
fn errno_of(rc: libc::c_int) -> i32 {
    if rc == 0 {
        0
    } else {
        std::io::Error::last_os_error().raw_os_error().unwrap()
    }
}

/// name → bytes (or `None` for a directory) of everything under `dir`, recursively.
fn tree(dir: &Path) -> Vec<(String, Option<Vec<u8>>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let path = e.unwrap().path();
            let rel = path.strip_prefix(dir).unwrap().display().to_string();
            let md = fs::symlink_metadata(&path).unwrap();
            if md.is_dir() {
                stack.push(path);
                out.push((rel, None));
            } else {
                out.push((rel, Some(fs::read(&path).unwrap())));
            }
        }
    }
    out.sort();
    out
}

/// `symlink` and `link` give EPERM and `mknod` (a FIFO, a device) ENOSYS: FTP has no command
/// for any of them. Nothing reaches the server, and the mount shows nothing new.
#[test]
fn links_and_device_files_cannot_be_created() {
    let server = Server::start(ServerKind::PureFtpd, ServerOptions::default());
    server.populate(|d| fs::write(d.join("target.txt"), b"target\n").unwrap());
    let before = tree(server.dir());
    // A long negative_ttl: the lookups of the new names before each call are answered by
    // the listing, so any command sent would come from the calls themselves.
    let m = mount_for(&server, &["negative_ttl=300", "dir_cache_ttl=300"]);
    assert_eq!(dir_names(m.path()), vec!["target.txt".to_string()]);
    let commands = m.stats()["ftp_commands"];

    let err = std::os::unix::fs::symlink("target.txt", m.join("sym")).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EPERM), "symlink: {err}");
    let err = fs::hard_link(m.join("target.txt"), m.join("hard")).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EPERM), "link: {err}");
    for (name, mode) in [
        ("fifo", libc::S_IFIFO | 0o644),
        ("dev", libc::S_IFCHR | 0o600),
    ] {
        // SAFETY: a valid NUL-terminated path; mknod has no memory preconditions.
        let rc = unsafe { libc::mknod(c_path(&m.join(name)).as_ptr(), mode, libc::makedev(1, 3)) };
        assert_eq!(errno_of(rc), libc::ENOSYS, "mknod {name}");
    }

    assert_eq!(
        dir_names(m.path()),
        vec!["target.txt".to_string()],
        "{}",
        m.log()
    );
    assert_eq!(tree(server.dir()), before);
    assert_eq!(
        m.stats()["ftp_commands"],
        commands,
        "commands were sent\n{}",
        m.log()
    );
}

/// `renameat2(RENAME_EXCHANGE)` is refused (EOPNOTSUPP, or EINVAL where the kernel answers
/// for ftpfs) and a directory moved into itself gives EINVAL; neither changes anything.
#[test]
fn rename_exchange_and_moves_into_itself_are_refused() {
    let server = Server::start(ServerKind::PureFtpd, ServerOptions::default());
    server.populate(|d| {
        fs::write(d.join("a"), b"a\n").unwrap();
        fs::write(d.join("b"), b"b\n").unwrap();
        fs::create_dir_all(d.join("dir/sub")).unwrap();
        fs::write(d.join("dir/sub/f"), b"f\n").unwrap();
    });
    let before = tree(server.dir());
    let m = mount_for(&server, &[]);

    // SAFETY: valid NUL-terminated paths; renameat2 has no memory preconditions.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            c_path(&m.join("a")).as_ptr(),
            libc::AT_FDCWD,
            c_path(&m.join("b")).as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    let errno = errno_of(rc);
    assert!(
        errno == libc::EOPNOTSUPP || errno == libc::EINVAL,
        "RENAME_EXCHANGE: errno {errno}\n{}",
        m.log()
    );
    for into in ["dir/sub/dir", "dir/dir"] {
        let err = fs::rename(m.join("dir"), m.join(into)).unwrap_err();
        assert_eq!(
            err.raw_os_error(),
            Some(libc::EINVAL),
            "dir into {into}: {err}"
        );
    }

    assert_eq!(fs::read(m.join("a")).unwrap(), b"a\n");
    assert_eq!(fs::read(m.join("b")).unwrap(), b"b\n");
    assert_eq!(fs::read(m.join("dir/sub/f")).unwrap(), b"f\n");
    assert_eq!(tree(server.dir()), before);
}

/// The `SITE CHMOD` commands in vsftpd's protocol log.
fn site_chmods(server: &Server) -> usize {
    fs::read_to_string(server.state_dir().join("vsftpd.log"))
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("FTP command: ") && l.to_ascii_uppercase().contains("SITE CHMOD"))
        .count()
}

/// chmod sends `SITE CHMOD` (proftpd: the server's file gets the mode); where the server
/// refuses (vsftpd never lets anonymous users chmod) it gives EPERM and the mode stays; a
/// chmod to the mode already shown sends nothing, so it succeeds even there. chown to anyone
/// but the mount's owner gives EPERM; to the owner it is a no-op.
#[test]
fn chmod_and_chown_rules() {
    let uid = fs::metadata("/proc/self").unwrap().uid();
    // proftpd lets its user chmod.
    let server = Server::start(ServerKind::Proftpd, ServerOptions::default());
    server.populate(|d| fs::write(d.join("f"), b"f\n").unwrap());
    let m = mount_for(&server, &[]);
    fs::set_permissions(m.join("f"), fs::Permissions::from_mode(0o640)).unwrap();
    let server_mode = fs::metadata(server.dir().join("f")).unwrap().mode() & 0o777;
    assert_eq!(server_mode, 0o640, "{}", m.log());
    assert_eq!(fs::metadata(m.join("f")).unwrap().mode() & 0o777, 0o640);
    drop(m);
    drop(server);

    // vsftpd refuses every chmod.
    let server = Server::start(ServerKind::Vsftpd, ServerOptions::default());
    server.populate(|d| {
        fs::write(d.join("f"), b"f\n").unwrap();
        fs::set_permissions(d.join("f"), fs::Permissions::from_mode(0o644)).unwrap();
    });
    let m = mount_for(&server, &[]);
    let shown = fs::metadata(m.join("f")).unwrap().mode() & 0o777;
    assert_eq!(shown, 0o644);
    let err = fs::set_permissions(m.join("f"), fs::Permissions::from_mode(0o600)).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EPERM), "{err}\n{}", m.log());
    assert_eq!(
        site_chmods(&server),
        1,
        "the refused chmod was not sent once"
    );
    assert_eq!(fs::metadata(m.join("f")).unwrap().mode() & 0o777, 0o644);
    assert_eq!(
        fs::metadata(server.dir().join("f")).unwrap().mode() & 0o777,
        0o644
    );
    // The mode already shown: nothing to send, so nothing to refuse.
    fs::set_permissions(m.join("f"), fs::Permissions::from_mode(0o644)).unwrap();
    assert_eq!(site_chmods(&server), 1, "a no-op chmod was sent");

    let err = std::os::unix::fs::chown(m.join("f"), Some(uid + 12345), None).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EPERM), "chown: {err}");
    std::os::unix::fs::chown(m.join("f"), Some(uid), None).unwrap();
    assert_eq!(fs::metadata(m.join("f")).unwrap().uid(), uid);
    assert_eq!(fs::read(server.dir().join("f")).unwrap(), b"f\n");
}
