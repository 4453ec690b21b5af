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
/// an install puts it. Link the binary under test as /usr/local/bin/ftpfs, unless a real
/// install is there (then that one is tested, and the test says so on failure).
fn install_for_mount() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let link = Path::new("/usr/local/bin/ftpfs");
        let ours = fs::read_link(link)
            .map(|t| t.to_string_lossy().contains("/target/"))
            .unwrap_or(false);
        if ours || !link.exists() {
            let _ = fs::remove_file(link);
            fs::create_dir_all("/usr/local/bin").unwrap();
            std::os::unix::fs::symlink(ftpfs_bin(), link).unwrap();
        }
    });
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

fn check_mount(mnt: &Path, server: &Server) {
    assert!(is_mounted(mnt), "not mounted");
    let fstype = common::process::mount_fstype(mnt);
    assert_eq!(fstype.as_deref(), Some("fuse.ftpfs"));
    assert_eq!(fs::read(mnt.join("hello.txt")).unwrap(), b"hello\n");
    let mounts = fs::read_to_string("/proc/self/mounts").unwrap();
    let line = mounts
        .lines()
        .find(|l| l.contains(mnt.to_str().unwrap()))
        .unwrap();
    assert!(
        !line.contains(&format!(":{}@", server.password())),
        "password in /proc/mounts: {line}"
    );
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

fn server() -> Server {
    let server = Server::start(ServerKind::Proftpd, ServerOptions::default());
    server.populate(|d| fs::write(d.join("hello.txt"), b"hello\n").unwrap());
    server
}

/// `mount -t fuse.ftpfs URL DIR -o ...` through mount.fuse3, with the options mount(8) and
/// systemd pass mixed in.
#[test]
fn mount_t_fuse_ftpfs() {
    let server = server();
    let bin = bin_dir();
    let mnt = tempfile::tempdir().unwrap();
    let _guard = Unmount(mnt.path().to_path_buf());
    run(Command::new("mount")
        .env("PATH", path_with(bin.path()))
        .args(["-t", "fuse.ftpfs", &server.url()])
        .arg(mnt.path())
        .args([
            "-o",
            "rw,nodev,nosuid,noatime,_netdev,x-systemd.automount,dir_cache_ttl=5,max_conns=2",
        ]));
    check_mount(mnt.path(), &server);
    umount_and_wait(mnt.path());
}

/// A scratch fstab line of type fuse.ftpfs, mounted with `mount -T FSTAB DIR`.
#[test]
fn scratch_fstab() {
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

/// `-o encoding=gbk`: GBK names on the server appear as UTF-8, and new names are written
/// in GBK; a name GBK cannot represent is refused with EILSEQ.
fn gbk_names(server: &Server) {
    let gbk_name: &[u8] = b"\xca\xb5\xd1\xe9.doc"; // 实验.doc in GBK
    server.populate(|d| {
        fs::write(
            d.join(std::ffi::OsStr::from_bytes(gbk_name)),
            b"gbk content\n",
        )
        .unwrap();
        fs::create_dir(d.join(std::ffi::OsStr::from_bytes(b"\xd6\xd0\xce\xc4"))).unwrap();
        // 中文
    });
    let m = mount_for(server, &["encoding=gbk"]);
    let mut names = dir_names(m.path());
    names.sort();
    assert_eq!(
        names,
        vec!["中文".to_string(), "实验.doc".to_string()],
        "{}",
        m.log()
    );
    assert_eq!(fs::read(m.join("实验.doc")).unwrap(), b"gbk content\n");
    fs::write(m.join("中文/新文件.txt"), b"new\n").unwrap();
    let on_server = server.dir().join(std::ffi::OsStr::from_bytes(
        b"\xd6\xd0\xce\xc4/\xd0\xc2\xce\xc4\xbc\xfe.txt",
    ));
    assert_eq!(fs::read(on_server).unwrap(), b"new\n");
    let err = fs::write(m.join("smile😀.txt"), b"x").unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EILSEQ));
}
for_each_server_kind!(gbk_names, gbk_names);
