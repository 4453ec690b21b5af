//! The Debian package, end to end: `contrib/package.sh` (cargo deb) packs the binary under
//! test, `dpkg -x` unpacks it into a scratch root, and the files are checked where dpkg would
//! put them: the binary, the man page (rendered by man(1) with warnings on), the completions,
//! the docs and examples, the `mount.ftpfs` / `mount.fuse.ftpfs` helper links, and the
//! control fields. Then, in a private mount namespace whose `/usr` has the package laid over
//! it (what `dpkg -i` would give, without touching the machine), `mount -t ftpfs` and
//! `mount -t fuse.ftpfs` mount a test server through `/sbin/mount.ftpfs` and the packaged
//! binary.
//!
//! The .deb is built once per test process with `cargo deb --no-build` from the binary cargo
//! built for the tests (a few seconds: no compilation); `FTPFS_DEB=path/to/ftpfs.deb` tests
//! a package built elsewhere instead. Needs cargo-deb, dpkg-dev (dpkg-shlibdeps), man-db and
//! unshare, which contrib/deps.sh installs.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use common::process::wait_child;
use common::*;

/// Longest `cargo deb --no-build` may take (it packs and compresses ~6 MB; no compilation).
const PACKAGE_TIMEOUT: Duration = Duration::from_secs(120);
/// Longest one mount-namespace script may take: two mounts, reads and unmounts.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(60);

/// The package, unpacked: the .deb and the scratch root `dpkg -x` filled.
struct Unpacked {
    deb: PathBuf,
    root: PathBuf,
    /// Holds `root` and the .deb until the test process ends.
    _dir: tempfile::TempDir,
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `cmd` to completion within `timeout`; panics with its output if it fails.
#[track_caller]
fn run(mut cmd: Command, timeout: Duration) -> Output {
    let what = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    let status = wait_child(&mut child, timeout);
    if status.is_none() {
        let _ = child.kill();
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        status.is_some_and(|s| s.success()),
        "{what}: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        status.map_or("timed out".to_string(), |s| s.to_string()),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Builds (or takes from `FTPFS_DEB`) the package and unpacks it, once per process.
fn unpacked() -> &'static Unpacked {
    static UNPACKED: OnceLock<Unpacked> = OnceLock::new();
    UNPACKED.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("ftpfs-package.")
            .tempdir()
            .unwrap();
        let deb = match std::env::var_os("FTPFS_DEB") {
            Some(deb) => PathBuf::from(deb),
            None => build_deb(dir.path()),
        };
        let root = dir.path().join("root");
        let mut x = Command::new("dpkg");
        x.arg("-x").arg(&deb).arg(&root);
        run(x, Duration::from_secs(30));
        Unpacked {
            deb,
            root,
            _dir: dir,
        }
    })
}

/// `contrib/package.sh --no-build`: packs the binary cargo built for these tests (the
/// target dir and profile are the ones `CARGO_BIN_EXE_ftpfs` lives in).
fn build_deb(out_dir: &Path) -> PathBuf {
    let bin = Path::new(ftpfs_bin());
    let profile_dir = bin.parent().unwrap();
    let target_dir = profile_dir.parent().unwrap();
    let profile = match profile_dir.file_name().unwrap().to_str().unwrap() {
        "debug" => "dev",
        other => other,
    };
    let mut cmd = Command::new(repo().join("contrib/package.sh"));
    cmd.current_dir(repo())
        .env("CARGO_TARGET_DIR", target_dir)
        .args(["--no-build", "--quiet", "--profile", profile, "--output"])
        .arg(out_dir);
    if let Some(cargo) = std::env::var_os("CARGO") {
        // The cargo running these tests, so cargo-deb sees the same toolchain.
        let dir = Path::new(&cargo).parent().unwrap().to_path_buf();
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut dirs = vec![dir];
        dirs.extend(std::env::split_paths(&path));
        cmd.env("PATH", std::env::join_paths(dirs).unwrap());
    }
    run(cmd, PACKAGE_TIMEOUT);
    let debs: Vec<PathBuf> = fs::read_dir(out_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "deb"))
        .collect();
    assert_eq!(debs.len(), 1, "expected one .deb in {}", out_dir.display());
    debs.into_iter().next().unwrap()
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
}

fn version_of(bin: &Path) -> String {
    let mut cmd = Command::new(bin);
    cmd.arg("--version");
    String::from_utf8(run(cmd, Duration::from_secs(10)).stdout).unwrap()
}

/// Every file is where Debian looks for it, with its mode; the binary is the one under test,
/// stripped; the control fields name fuse3.
#[test]
fn package_installs_every_file() {
    let pkg = unpacked();
    let root = &pkg.root;
    let files = [
        ("usr/bin/ftpfs", 0o755),
        ("usr/share/man/man1/ftpfs.1.gz", 0o644),
        ("usr/share/bash-completion/completions/ftpfs", 0o644),
        ("usr/share/zsh/vendor-completions/_ftpfs", 0o644),
        ("usr/share/fish/vendor_completions.d/ftpfs.fish", 0o644),
        ("usr/share/doc/ftpfs/copyright", 0o644),
        ("usr/share/doc/ftpfs/README.md", 0o644),
        ("usr/share/doc/ftpfs/CONFIGURATION.md", 0o644),
        ("usr/share/doc/ftpfs/SECURITY.md", 0o644),
        ("usr/share/doc/ftpfs/SEMANTICS.md", 0o644),
        ("usr/share/doc/ftpfs/TROUBLESHOOTING.md", 0o644),
        ("usr/share/doc/ftpfs/examples/fstab", 0o644),
        ("usr/share/doc/ftpfs/examples/systemd/mnt-ftp.mount", 0o644),
        (
            "usr/share/doc/ftpfs/examples/systemd/mnt-ftp.automount",
            0o644,
        ),
        ("usr/share/doc/ftpfs/examples/systemd/README.md", 0o644),
    ];
    for (rel, want) in files {
        let path = root.join(rel);
        assert!(path.is_file(), "{rel} is not in the package");
        assert_eq!(mode(&path), want, "{rel}: mode {:o}", mode(&path));
    }
    // Byte for byte what the source tree has.
    for (rel, src) in [
        (
            "usr/share/bash-completion/completions/ftpfs",
            "contrib/completions/ftpfs.bash",
        ),
        (
            "usr/share/zsh/vendor-completions/_ftpfs",
            "contrib/completions/_ftpfs",
        ),
        (
            "usr/share/doc/ftpfs/examples/fstab",
            "contrib/fstab.example",
        ),
    ] {
        assert!(
            fs::read(root.join(rel)).unwrap() == fs::read(repo().join(src)).unwrap(),
            "{rel} differs from {src}"
        );
    }

    // The binary is the one these tests built, without symbols.
    let bin = root.join("usr/bin/ftpfs");
    assert_eq!(version_of(&bin), version_of(Path::new(ftpfs_bin())));
    let mut file = Command::new("file");
    file.arg("-b").arg(&bin);
    if let Ok(out) = file.output() {
        let kind = String::from_utf8_lossy(&out.stdout);
        assert!(
            !out.status.success() || kind.contains("stripped") && !kind.contains("not stripped"),
            "usr/bin/ftpfs is not stripped: {kind}"
        );
    }
    let size = fs::metadata(&bin).unwrap().len();
    let deb_size = fs::metadata(&pkg.deb).unwrap().len();
    eprintln!(
        "usr/bin/ftpfs: {size} bytes; {}: {deb_size} bytes",
        pkg.deb.display()
    );
    assert!(
        size < 16 << 20,
        "usr/bin/ftpfs is {size} bytes: not stripped?"
    );

    let field = |name: &str| {
        let mut cmd = Command::new("dpkg-deb");
        cmd.arg("-f").arg(&pkg.deb).arg(name);
        String::from_utf8(run(cmd, Duration::from_secs(10)).stdout)
            .unwrap()
            .trim()
            .to_string()
    };
    assert_eq!(field("Package"), "ftpfs");
    let depends = field("Depends");
    assert!(
        depends.split(',').any(|d| d.trim().starts_with("fuse3")),
        "Depends: {depends}"
    );
    assert!(depends.contains("libc6"), "Depends: {depends}");
    assert!(
        field("Version").starts_with(env!("CARGO_PKG_VERSION")),
        "Version: {}",
        field("Version")
    );
}

/// `mount -t ftpfs` runs /sbin/mount.ftpfs, and `-t fuse.ftpfs` /sbin/mount.fuse.ftpfs: the
/// package ships both in /usr/sbin (which is /sbin on merged-/usr Debian), as relative links
/// to the binary; started under those names, ftpfs takes mount(8)'s helper arguments.
#[test]
fn mount_helpers_link_to_the_binary() {
    let root = &unpacked().root;
    // mount(8) looks in /sbin; the package's /usr/sbin is that directory here.
    assert_eq!(
        fs::canonicalize("/sbin").unwrap(),
        Path::new("/usr/sbin"),
        "/sbin is not /usr/sbin: this is not a merged-/usr system, and mount(8) would not \
         find the package's helpers"
    );
    let bin = root.join("usr/bin/ftpfs");
    for helper in ["mount.ftpfs", "mount.fuse.ftpfs"] {
        let link = root.join("usr/sbin").join(helper);
        assert_eq!(
            fs::read_link(&link).unwrap_or_else(|e| panic!("{helper}: {e}")),
            Path::new("../bin/ftpfs"),
            "{helper}"
        );
        assert_eq!(
            fs::canonicalize(&link).unwrap(),
            fs::canonicalize(&bin).unwrap()
        );
        // The helper convention: -f is mount's "fake" (check, do not mount), -n and -t are
        // dropped. Nothing listens on the port: success means no connection was tried.
        let mnt = tempfile::tempdir().unwrap();
        let port = common::process::ephemeral_port();
        let mut cmd = Command::new(&link);
        cmd.arg(format!("ftp://127.0.0.1:{port}/"))
            .arg(mnt.path())
            .args(["-f", "-n", "-o", "rw,_netdev,max_conns=2", "-t", "ftpfs"])
            .env_remove("FTPFS_LOG");
        let out = run(cmd, Duration::from_secs(10));
        assert!(
            out.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// man(1) renders the installed page with every warning on, and groff's own warnings are
/// silent too; the page shows the option spellings --help shows.
#[test]
fn man_page_renders_without_warnings() {
    let page = unpacked().root.join("usr/share/man/man1/ftpfs.1.gz");
    let mut man = Command::new("man");
    man.args(["--warnings", "-l"])
        .arg(&page)
        .env("MANWIDTH", "80")
        .env("MANPAGER", "cat")
        .env("PAGER", "cat")
        .env_remove("MANOPT");
    let out = run(man, Duration::from_secs(30));
    let text = String::from_utf8_lossy(&out.stdout);
    let warnings = String::from_utf8_lossy(&out.stderr);
    assert!(
        warnings.trim().is_empty(),
        "man printed warnings:\n{warnings}"
    );
    for needle in [
        "MOUNT OPTIONS",
        "--read-only",
        "-o max_conns=N",
        "mount.ftpfs",
    ] {
        assert!(
            text.contains(needle),
            "the rendered page lacks {needle}:\n{text}"
        );
    }
    // groff -ww (all warnings) on the page itself.
    let script = format!(
        "zcat -- '{}' | groff -ww -man -Tutf8 -z 2>&1",
        page.display()
    );
    let mut groff = Command::new("sh");
    groff.arg("-c").arg(script);
    let out = run(groff, Duration::from_secs(30));
    let warnings = String::from_utf8_lossy(&out.stdout);
    assert!(warnings.trim().is_empty(), "groff -ww:\n{warnings}");
}

/// What `dpkg -i` gives, without installing anything on this machine: in a private mount
/// namespace, the package's /usr is laid over /usr (overlayfs, read-only), so that mount(8)
/// finds /sbin/mount.ftpfs and runs the packaged /usr/bin/ftpfs. `mount -t ftpfs` and
/// `mount -t fuse.ftpfs` each mount the test server, a file is read through the mount, and
/// `umount` ends the daemon. The namespace and everything in it go away with the script.
#[test]
fn installed_package_mounts_with_mount_t_ftpfs() {
    let root = &unpacked().root;
    let server = Server::start(ServerKind::Vsftpd, ServerOptions::default());
    server.populate(|d| fs::write(d.join("ready.txt"), b"served by ftpfs\n").unwrap());
    let scratch = tempfile::Builder::new()
        .prefix("ftpfs-package-mnt.")
        .tempdir()
        .unwrap();
    let mnt = scratch.path().join("mnt");
    fs::create_dir(&mnt).unwrap();
    let script = r#"
set -eu
usr=$1 url=$2 mnt=$3 err=$3.stderr
trap 'umount -l "$mnt" 2>/dev/null || true' EXIT
mount -t overlay ftpfs-package -o "lowerdir=$usr:/usr" /usr
echo "helper: $(readlink -f /sbin/mount.ftpfs)"
for type in ftpfs fuse.ftpfs; do
    mount -t "$type" "$url" "$mnt" -o _netdev,max_conns=2 2>"$err" || {
        cat "$err" >&2; exit 1; }
    sed "s/^/$type stderr: /" "$err"
    echo "$type fstype: $(findmnt -n -o FSTYPE --mountpoint "$mnt")"
    echo "$type read: $(cat "$mnt/ready.txt")"
    # The daemon: mount(8) ran the helper as /sbin/mount.TYPE SOURCE TARGET ...
    pid=$(pgrep -f "^/sbin/mount\.$type .*$mnt" || true)
    [ -n "$pid" ] || { echo "$type: no /sbin/mount.$type process"; exit 1; }
    umount "$mnt"
    for _ in $(seq 100); do
        kill -0 $pid 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 $pid 2>/dev/null; then echo "$type: daemon $pid outlived umount"; exit 1; fi
    echo "$type unmounted"
done
"#;
    let mut cmd = Command::new("timeout");
    cmd.arg("-k")
        .arg("5")
        .arg(SCRIPT_TIMEOUT.as_secs().to_string())
        .args(["unshare", "--mount", "--propagation", "private", "sh", "-c"])
        .arg(script)
        .arg("sh")
        .arg(root.join("usr"))
        .arg(server.url())
        .arg(&mnt)
        .env_remove("FTPFS_LOG")
        .env_remove("RUST_LOG");
    let out = run(cmd, SCRIPT_TIMEOUT + Duration::from_secs(10));
    let text = String::from_utf8_lossy(&out.stdout);
    eprintln!("{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.contains(&"helper: /usr/bin/ftpfs"), "{text}");
    for ty in ["ftpfs", "fuse.ftpfs"] {
        assert!(
            lines.contains(&format!("{ty} fstype: fuse.ftpfs").as_str()),
            "{text}"
        );
        assert!(
            lines.contains(&format!("{ty} read: served by ftpfs").as_str()),
            "{text}"
        );
        assert!(
            lines.contains(&format!("{ty} unmounted").as_str()),
            "{text}"
        );
        // Whatever ftpfs said on the terminal is in the console's one-line form.
        for l in lines
            .iter()
            .filter_map(|l| l.strip_prefix(&format!("{ty} stderr: ")))
        {
            assert!(
                l.starts_with("ftpfs: warning: ") || l.starts_with("ftpfs: error: "),
                "{ty}: {l}\n{text}"
            );
        }
    }
    assert!(!common::process::is_mounted(&mnt));
}
