//! End-to-end read path: a real ftpfs mount of real vsftpd (LIST only), proftpd and pure-ftpd
//! (MLSD), in passive and active mode. Listings, names, sizes, times and bytes are compared
//! with the server's own directory.

mod common;

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

use common::*;
use rand::{Rng, SeedableRng};

/// Names every server must show exactly: spaces (leading, trailing, runs), a trailing dot,
/// UTF-8 from the seed document, a Latin-1 byte, a dot file, and glob characters that match
/// other names here (`hell?.txt` and `[h]ello.txt` match `hello.txt`, `*.txt` many).
fn awkward_names() -> Vec<Vec<u8>> {
    vec![
        b"hello.txt".to_vec(),
        b"two  spaces  inside.txt".to_vec(),
        b" leading space.txt".to_vec(),
        b"trail ".to_vec(),
        b"x.".to_vec(),
        "实验.doc".as_bytes().to_vec(),
        b"caf\xe9.txt".to_vec(),
        b".hidden".to_vec(),
        b"arrow -> not a link".to_vec(),
        b"*.txt".to_vec(),
        b"hell?.txt".to_vec(),
        b"[h]ello.txt".to_vec(),
    ]
}

/// Directories whose names the server would glob: listed from inside (`CWD`, then a bare
/// `MLSD`/`LIST`), they show their own entries, not those of the names they match.
const GLOB_DIRS: [&str; 3] = ["[s]ub dir", "su? dir", "*"];

/// Sets a file's mtime to a fixed second (2021-03-04 05:06:07 UTC).
fn set_old_mtime(path: &Path) -> i64 {
    const T: i64 = 1_614_834_367;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    let times = [
        libc::timespec {
            tv_sec: T as libc::time_t,
            tv_nsec: 0,
        },
        libc::timespec {
            tv_sec: T as libc::time_t,
            tv_nsec: 0,
        },
    ];
    // SAFETY: valid path and two timespecs.
    let rc = unsafe { libc::utimensat(libc::AT_FDCWD, c.as_ptr(), times.as_ptr(), 0) };
    assert_eq!(rc, 0, "utimensat {}", path.display());
    T
}

/// name → (is_dir, size) for a local directory.
fn snapshot(dir: &Path) -> BTreeMap<Vec<u8>, (bool, u64)> {
    fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read_dir {}: {e}", dir.display()))
        .map(|e| {
            let e = e.unwrap();
            let md = fs::symlink_metadata(e.path()).unwrap();
            (
                e.file_name().as_bytes().to_vec(),
                (md.is_dir(), if md.is_dir() { 0 } else { md.len() }),
            )
        })
        .collect()
}

fn populate_tree(server: &Server) -> i64 {
    server.populate(|dir| {
        for (i, name) in awkward_names().iter().enumerate() {
            let path = dir.join(OsStr::from_bytes(name));
            fs::write(
                &path,
                format!("file {i}: {}\n", name.escape_ascii()).repeat(i + 1),
            )
            .unwrap();
        }
        let sub = dir.join("sub dir");
        fs::create_dir(&sub).unwrap();
        fs::write(sub.join("inner.bin"), random_bytes(70_001, 7)).unwrap();
        fs::create_dir(sub.join("deeper")).unwrap();
        fs::write(sub.join("deeper").join("实验.doc"), b"deep\n").unwrap();
        fs::write(dir.join("empty"), b"").unwrap();
        for (i, name) in GLOB_DIRS.iter().enumerate() {
            fs::create_dir(dir.join(name)).unwrap();
            fs::write(dir.join(name).join(format!("in glob dir {i}")), name).unwrap();
        }
        set_old_mtime(&dir.join("hello.txt"))
    })
}

fn listing_and_bytes(server: &Server, mode_opts: &[&str]) {
    let old = populate_tree(server);
    let m = mount_for(server, mode_opts);
    // Listings match the server's directory, name for name (bytes), kind and size.
    for rel in ["", "sub dir", "sub dir/deeper"]
        .into_iter()
        .chain(GLOB_DIRS)
    {
        let want = snapshot(&server.dir().join(rel));
        let got = snapshot(&m.join(rel));
        assert_eq!(got, want, "listing of '{rel}' differs\n{}", m.log());
    }
    // Every file reads back with the same bytes, by name.
    for name in awkward_names() {
        let rel = OsStr::from_bytes(&name);
        let got =
            fs::read(m.join(rel)).unwrap_or_else(|e| panic!("read {:?}: {e}\n{}", rel, m.log()));
        assert_eq!(got, fs::read(server.dir().join(rel)).unwrap(), "{rel:?}");
    }
    assert_same_file(
        m.join("sub dir/inner.bin"),
        server.dir().join("sub dir/inner.bin"),
    );
    assert_eq!(
        fs::read(m.join("sub dir/deeper/实验.doc")).unwrap(),
        b"deep\n"
    );
    assert_eq!(fs::read(m.join("empty")).unwrap(), b"");
    // Exact mtime to the second: from MLSD, or from MDTM on LIST-only vsftpd.
    let md = fs::metadata(m.join("hello.txt")).unwrap();
    assert_eq!(md.mtime(), old, "mtime of hello.txt");
    // Owned by the mounting user.
    // SAFETY: getuid has no preconditions.
    assert_eq!(md.uid(), unsafe { libc::getuid() });
    // Misses are ENOENT, and bad names EINVAL before reaching the server.
    let err = fs::metadata(m.join("no such file")).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ENOENT));
    let err = fs::metadata(m.join("evil\r\nDELE hello.txt")).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EINVAL));
    assert!(server.dir().join("hello.txt").exists());
    // Shell tools: find (the same paths as on the server's disk), grep, tar.
    let find = |dir: &Path| {
        let out = std::process::Command::new("find")
            .arg(".")
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(out.status.success(), "find in {}", dir.display());
        let mut paths: Vec<Vec<u8>> = out
            .stdout
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(<[u8]>::to_vec)
            .collect();
        paths.sort();
        paths
    };
    let found = find(m.path());
    assert_eq!(
        found.len(),
        1 + awkward_names().len() + 4 + 1 + 2 * GLOB_DIRS.len(),
        "{found:?}"
    );
    assert_eq!(found, find(server.dir()), "find of the mount differs");
    let grep = std::process::Command::new("grep")
        .args(["-rl", "deep"])
        .arg(m.path())
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&grep.stdout).contains("deeper/实验.doc"));
    let tar_of = |dir: &Path| {
        let out = std::process::Command::new("tar")
            .args([
                "c",
                "--sort=name",
                "--mtime=@0",
                "--owner=0",
                "--group=0",
                "--numeric-owner",
                "--mode=644",
                "-f",
                "-",
                ".",
            ])
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "tar in {}: {}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        sha256_bytes(out.stdout)
    };
    assert_eq!(
        tar_of(m.path()),
        tar_of(server.dir()),
        "tar of the mount differs"
    );
}
e2e_matrix!(listings_names_and_bytes, listing_and_bytes);

fn large_file_and_random_offsets(server: &Server, mode_opts: &[&str]) {
    const SIZE: u64 = 100 * 1024 * 1024 + 12345;
    let want = server.populate(|dir| write_random_file(dir.join("big.bin"), SIZE, 42));
    let m = mount_for(server, mode_opts);
    assert_eq!(fs::metadata(m.join("big.bin")).unwrap().len(), SIZE);
    assert_eq!(
        sha256_file(m.join("big.bin")),
        want,
        "sha256 of a 100 MiB file\n{}",
        m.log()
    );
    // Random offsets: compare each chunk with the server's copy.
    let local = fs::read(server.dir().join("big.bin")).unwrap();
    let mut f = fs::File::open(m.join("big.bin")).unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    for i in 0..150 {
        let off = if i % 10 == 0 {
            SIZE - rng.gen_range(1..5000)
        } else {
            rng.gen_range(0..SIZE)
        };
        let len = rng.gen_range(1..300_000usize);
        f.seek(SeekFrom::Start(off)).unwrap();
        let mut buf = vec![0u8; len];
        let mut got = 0;
        while got < len {
            let n = f.read(&mut buf[got..]).unwrap();
            if n == 0 {
                break;
            }
            got += n;
        }
        let end = (off as usize + len).min(local.len());
        assert_eq!(
            &buf[..got],
            &local[off as usize..end],
            "read of {len} at {off}"
        );
    }
}
e2e_matrix!(large_file_and_random_offsets, large_file_and_random_offsets);

/// A long read holds one session; listings in parallel run on the other one, while the
/// read is paused in the middle of the file: the read needs one RETR for the whole file
/// (`downloads`), and each listing is one the server ran (`listings` grows), not the cache.
fn listing_during_long_read(server: &Server) {
    use std::sync::mpsc;
    const SIZE: u64 = 64 * 1024 * 1024;
    const LISTINGS: u64 = 3;
    let want = server.populate(|dir| {
        for i in 0..20 {
            fs::write(dir.join(format!("f{i}")), b"x").unwrap();
        }
        write_random_file(dir.join("big.bin"), SIZE, 3)
    });
    let m = mount_for(server, &["max_conns=2", "dir_cache_ttl=1"]);
    let mut f = fs::File::open(m.join("big.bin")).unwrap();
    // The reader reads 1 MiB whenever it is told to, then the rest when the channel closes.
    let (go, step) = mpsc::channel::<()>();
    let (done_tx, done) = mpsc::channel::<u64>();
    let reader = std::thread::spawn(move || {
        use sha2::{Digest, Sha256};
        let mut hash = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut total = 0u64;
        let mut read_mib = |hash: &mut Sha256, total: &mut u64| {
            f.read_exact(&mut buf).unwrap();
            hash.update(&buf);
            *total += buf.len() as u64;
        };
        while step.recv().is_ok() {
            read_mib(&mut hash, &mut total);
            done_tx.send(total).unwrap();
        }
        while total < SIZE {
            read_mib(&mut hash, &mut total);
        }
        format!("{:x}", hash.finalize())
    });
    let step_read = || {
        go.send(()).unwrap();
        done.recv_timeout(Duration::from_secs(60))
            .expect("a 1 MiB read did not return")
    };
    step_read(); // the transfer is open, and stays open between steps
    for round in 0..LISTINGS {
        let before = m.stats()["listings"];
        let listed = wait_until(Duration::from_secs(30), || {
            assert_eq!(dir_names(m.path()).len(), 21);
            m.stats()["listings"] > before
        });
        assert!(
            listed,
            "listing {round}: none reached the server\n{}",
            m.log()
        );
        let at = step_read();
        assert!(at < SIZE, "the read ended before the listings");
    }
    drop(go);
    assert_eq!(reader.join().unwrap(), want, "bytes of the long read");
    assert_eq!(
        m.stats()["downloads"],
        1,
        "the read was restarted: a listing took its session\n{}",
        m.log()
    );
}
for_each_server_kind!(listing_during_long_read, listing_during_long_read);

/// The server restarts under the mount: the very next calls reconnect by themselves, without
/// an error reaching the caller (every session in the pool died with the old server).
fn reconnects_after_server_restart(server: &mut Server) {
    server.populate(|dir| fs::write(dir.join("a.txt"), b"before\n").unwrap());
    let m = mount_for(server, &["dir_cache_ttl=1"]);
    assert_eq!(fs::read(m.join("a.txt")).unwrap(), b"before\n");
    let connects = m.stats()["connects"];
    server.restart();
    server.populate(|dir| fs::write(dir.join("b.txt"), b"after\n").unwrap());
    let first = fs::read(m.join("a.txt"));
    assert_eq!(
        first.as_deref().ok(),
        Some(&b"before\n"[..]),
        "first read after a server restart: {:?}\n{}",
        first.as_ref().err(),
        m.log()
    );
    // Waiting out the directory cache's TTL, so the new file is listed, is the point here.
    std::thread::sleep(Duration::from_millis(1200));
    let listed = fs::read(m.join("b.txt"));
    assert_eq!(
        listed.as_deref().ok(),
        Some(&b"after\n"[..]),
        "first listing after a server restart: {:?}\n{}",
        listed.as_ref().err(),
        m.log()
    );
    assert!(m.stats()["connects"] > connects, "no new session?");
}

#[test]
fn reconnects_after_restart_vsftpd() {
    reconnects_after_server_restart(&mut Server::start(
        ServerKind::Vsftpd,
        ServerOptions::default(),
    ));
}

#[test]
fn reconnects_after_restart_proftpd() {
    reconnects_after_server_restart(&mut Server::start(
        ServerKind::Proftpd,
        ServerOptions::default(),
    ));
}

#[test]
fn reconnects_after_restart_pure_ftpd() {
    reconnects_after_server_restart(&mut Server::start(
        ServerKind::PureFtpd,
        ServerOptions::default(),
    ));
}

/// Inode numbers stay the same for the life of the mount, also after the kernel forgot the
/// files (drop_caches makes it send FORGET; the `inodes` counter shows it did).
#[test]
fn inode_numbers_survive_forget() {
    let server = Server::start(ServerKind::PureFtpd, ServerOptions::default());
    server.populate(|d| {
        fs::create_dir(d.join("d")).unwrap();
        for i in 0..20 {
            fs::write(d.join(format!("d/f{i}")), b"x").unwrap();
        }
    });
    let m = mount_for(&server, &[]);
    let numbers = || -> Vec<u64> {
        (0..20)
            .map(|i| fs::metadata(m.join(format!("d/f{i}"))).unwrap().ino())
            .collect()
    };
    let before = numbers();
    assert!(m.stats()["inodes"] > 20);
    let forgotten = wait_until(Duration::from_secs(10), || {
        fs::write("/proc/sys/vm/drop_caches", "2").unwrap();
        m.stats()["inodes"] < 5
    });
    assert!(forgotten, "the kernel did not forget: {:?}", m.stats());
    assert_eq!(numbers(), before, "numbers changed after a forget");
}

/// statfs (`df`, `stat -f`): FTP cannot tell free space, so the mount reports a fixed, sane
/// geometry (1 PiB of 4 KiB blocks, all free; a million inodes; 255-byte names) that lets
/// `cp` and installers proceed, and `df` answers at once.
#[test]
fn statfs_is_sane() {
    let server = Server::start(ServerKind::PureFtpd, ServerOptions::default());
    let m = mount_for(&server, &[]);
    let out = std::process::Command::new("stat")
        .args(["-f", "-c", "%S %b %f %a %c %d %l"])
        .arg(m.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let blocks = (1u64 << 50) / 4096;
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("4096 {blocks} {blocks} {blocks} 1000000 1000000 255")
    );
    let df = std::process::Command::new("df")
        .args(["-B1", "--output=size,avail"])
        .arg(m.path())
        .output()
        .unwrap();
    let df = String::from_utf8_lossy(&df.stdout).into_owned();
    let last = df.lines().last().unwrap_or_default().to_string();
    let fields: Vec<&str> = last.split_whitespace().collect();
    assert_eq!(fields, vec!["1125899906842624"; 2], "{df}");
}

/// `-o ro`: reads work, every change fails with EROFS and nothing reaches the server.
#[test]
fn read_only_mount_refuses_changes() {
    let server = Server::start(ServerKind::PureFtpd, ServerOptions::default());
    server.populate(|d| fs::write(d.join("a.txt"), b"keep\n").unwrap());
    let m = mount_for(&server, &["ro"]);
    assert_eq!(fs::read(m.join("a.txt")).unwrap(), b"keep\n");
    let erofs =
        |r: std::io::Result<()>| assert_eq!(r.unwrap_err().raw_os_error(), Some(libc::EROFS));
    erofs(fs::write(m.join("a.txt"), b"changed"));
    erofs(fs::write(m.join("new.txt"), b"x"));
    erofs(fs::create_dir(m.join("d")));
    erofs(fs::remove_file(m.join("a.txt")));
    erofs(fs::rename(m.join("a.txt"), m.join("b.txt")));
    assert_eq!(fs::read(server.dir().join("a.txt")).unwrap(), b"keep\n");
    assert_eq!(dir_names(server.dir()), vec!["a.txt".to_string()]);
}

/// Symlinks listed by the server answer readlink, from MLSD or, where MLSD leaves the target
/// out (proftpd, pure-ftpd), from LIST.
fn symlinks(server: &Server) {
    server.populate(|d| {
        fs::write(d.join("target.txt"), b"pointed at\n").unwrap();
        std::os::unix::fs::symlink("target.txt", d.join("link")).unwrap();
        // Not dangling: proftpd's MLSD leaves dangling links out altogether.
        fs::create_dir(d.join("sub dir")).unwrap();
        fs::write(d.join("sub dir/x y"), b"deep\n").unwrap();
        std::os::unix::fs::symlink("sub dir/x y", d.join("spaced link")).unwrap();
    });
    let m = mount_for(server, &[]);
    let md = fs::symlink_metadata(m.join("link")).unwrap();
    assert!(
        md.file_type().is_symlink(),
        "not shown as a symlink\n{}",
        m.log()
    );
    assert_eq!(
        fs::read_link(m.join("link")).unwrap(),
        Path::new("target.txt")
    );
    assert_eq!(
        fs::read_link(m.join("spaced link")).unwrap(),
        Path::new("sub dir/x y")
    );
    assert_eq!(fs::read(m.join("link")).unwrap(), b"pointed at\n");
    let err = fs::read_link(m.join("target.txt")).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EINVAL));
}
for_each_server_kind!(symlinks, symlinks);

/// Offsets past 4 GiB: a sparse 5 GiB file with markers, read at REST offsets above 2^32.
fn files_over_4_gib(server: &Server) {
    const SIZE: u64 = 5 << 30;
    let marks = [
        (0u64, b"start"),
        ((4 << 30) + 12345, b"above"),
        (SIZE - 5, b"finis"),
    ];
    server.populate(|d| {
        let f = fs::File::create(d.join("huge.bin")).unwrap();
        f.set_len(SIZE).unwrap();
        use std::os::unix::fs::FileExt;
        for (off, mark) in marks {
            f.write_all_at(mark, off).unwrap();
        }
    });
    let m = mount_for(server, &[]);
    assert_eq!(fs::metadata(m.join("huge.bin")).unwrap().len(), SIZE);
    let mut f = fs::File::open(m.join("huge.bin")).unwrap();
    for (off, mark) in marks.iter().rev() {
        f.seek(SeekFrom::Start(*off)).unwrap();
        let mut buf = [0u8; 5];
        f.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, *mark, "at offset {off}\n{}", m.log());
    }
}
for_each_server_kind!(files_over_4_gib, files_over_4_gib);
