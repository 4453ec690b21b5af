//! Deep trees and silent servers (issue 16), end to end: no path is too long to reach, no
//! command line is longer than the server takes, and a server that ignores long lines costs
//! one reply deadline, not one per operation.
//!
//! Every server kind runs each body: vsftpd, pure-ftpd, and proftpd twice, with the harness's
//! configuration (proftpd's own default command buffer: lines of up to 4,102 bytes) and with
//! `CommandBufferSize 512` (a common setting, the one the issue was found with: longer lines
//! get no reply at all). The repository has no pjdfstest; [`posix_long_names`] runs the cases
//! of its `mkdir/02.t`, `mkdir/03.t`, `open/02.t`, `open/03.t`, `unlink/02.t` and
//! `unlink/03.t` (names of 255 and 256 bytes, paths of PATH_MAX - 1 and PATH_MAX bytes).
//! Results are compared with the server's disk (`server.dir()`), and every operation is timed:
//! none may take anywhere near a reply deadline.

mod common;

use std::ffi::CString;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::scripted::{mlsd_dir, mlsd_file, HostileServer, Script};
use common::shell::{diff_r, sh};
use common::*;

/// The most one operation may take: a few round trips on a loaded two-core machine, far
/// below the reply deadline (30 s by default).
const QUICK: Duration = Duration::from_secs(3);

/// The longest command line ftpfs sends, CRLF included (`remote::route::SAFE_LINE`).
const SAFE_LINE: usize = 510;

/// Runs `f`, failing the test if it took [`QUICK`] or longer.
fn timed<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let started = Instant::now();
    let result = f();
    let took = started.elapsed();
    assert!(took < QUICK, "{what} took {took:?}");
    result
}

/// The command lines `-o trace_ftp` logged.
fn traced(m: &Mount) -> Vec<String> {
    m.log()
        .lines()
        .filter_map(|l| l.split_once("ftpfs::ftp] > ").map(|(_, c)| c.to_string()))
        .collect()
}

/// No line ftpfs sent was longer than [`SAFE_LINE`], and some carried long paths.
fn assert_lines_fit(m: &Mount) {
    let lines = traced(m);
    let longest = lines.iter().map(|l| l.len() + 2).max().unwrap_or(0);
    assert!(longest > 250, "no long line traced: {longest}");
    for line in &lines {
        assert!(
            line.len() + 2 <= SAFE_LINE,
            "a line of {} bytes: {}...",
            line.len() + 2,
            &line[..80]
        );
    }
}

/// A directory name of `len` bytes for `level`.
fn name(level: usize, len: usize) -> String {
    format!("L{level:02}-{}", "x".repeat(len - 4))
}

/// The names in `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn errno_of<T: std::fmt::Debug>(what: &str, result: std::io::Result<T>) -> i32 {
    match result {
        Err(e) => e.raw_os_error().unwrap_or(0),
        Ok(v) => panic!("{what} succeeded: {v:?}"),
    }
}

/// Create, write, read (from a fresh mount), list, rename within and across directories,
/// truncate and delete, 12 directories deep with paths of 3,000 bytes.
fn deep_tree(server: &Server) {
    let started = Instant::now();
    let m = mount_for(server, &["trace_ftp"]);
    let mut dirs = Vec::new();
    let mut rel = PathBuf::new();
    for level in 0..12 {
        rel.push(name(level, 240));
        timed("mkdir", || fs::create_dir(m.join(&rel)).unwrap());
        dirs.push(rel.clone());
    }
    let (deepest, parent) = (&dirs[11], &dirs[10]);
    assert!(server.dir().join(deepest).is_dir());
    let file = deepest.join(format!("{}.bin", "f".repeat(100)));
    assert!(file.as_os_str().len() >= 2990, "{}", file.as_os_str().len());
    let data = random_bytes(300_000, 16);
    timed("write", || fs::write(m.join(&file), &data).unwrap());
    assert_eq!(fs::read(server.dir().join(&file)).unwrap(), data);

    // Read and list through a mount that has seen nothing yet.
    let fresh = mount_for(server, &["trace_ftp"]);
    assert_eq!(timed("read", || fs::read(fresh.join(&file)).unwrap()), data);
    let listed = timed("list", || listing(&fresh.join(deepest)));
    assert_eq!(listed, [file.file_name().unwrap().to_string_lossy()]);
    assert_lines_fit(&fresh);
    drop(fresh);

    let renamed = deepest.join("g".repeat(200));
    timed("rename", || {
        fs::rename(m.join(&file), m.join(&renamed)).unwrap()
    });
    assert!(!server.dir().join(&file).exists());
    assert_eq!(fs::read(server.dir().join(&renamed)).unwrap(), data);

    // Up one level, then down into a sibling of the deepest directory.
    let up = parent.join("moved up.bin");
    timed("rename up", || {
        fs::rename(m.join(&renamed), m.join(&up)).unwrap()
    });
    assert_eq!(fs::read(server.dir().join(&up)).unwrap(), data);
    let sibling = parent.join(name(99, 240));
    timed("mkdir", || fs::create_dir(m.join(&sibling)).unwrap());
    let down = sibling.join("moved down.bin");
    timed("rename down", || {
        fs::rename(m.join(&up), m.join(&down)).unwrap()
    });
    assert_eq!(fs::read(server.dir().join(&down)).unwrap(), data);
    assert!(!server.dir().join(&up).exists());

    let f = fs::OpenOptions::new()
        .write(true)
        .open(m.join(&down))
        .unwrap();
    timed("truncate", || f.set_len(1000).unwrap());
    drop(f);
    assert_eq!(fs::read(server.dir().join(&down)).unwrap(), &data[..1000]);
    assert_eq!(
        timed("stat", || fs::metadata(m.join(&down)).unwrap().len()),
        1000
    );

    timed("unlink", || fs::remove_file(m.join(&down)).unwrap());
    assert!(!server.dir().join(&down).exists());
    timed("rmdir", || fs::remove_dir(m.join(&sibling)).unwrap());
    for dir in dirs.iter().rev() {
        timed("rmdir", || fs::remove_dir(m.join(dir)).unwrap());
    }
    assert!(listing(server.dir()).is_empty());
    assert_lines_fit(&m);
    eprintln!("{}: deep_tree took {:?}", server.kind(), started.elapsed());
}

for_each_server_kind!(deep_tree_of_3000_byte_paths, deep_tree);

#[test]
fn deep_tree_of_3000_byte_paths_proftpd_512() {
    deep_tree(&Server::start(
        ServerKind::Proftpd,
        ServerOptions::proftpd_command_buffer(512),
    ));
}

/// A name of 255 bytes at depth 8 works like any other; one of 256 is refused at once.
fn name_255_at_depth_8(server: &Server) {
    let m = mount_for(server, &["trace_ftp"]);
    let dir: PathBuf = (0..8).map(|level| name(level, 100)).collect();
    timed("mkdir -p", || fs::create_dir_all(m.join(&dir)).unwrap());
    let (long, other, too_long) = ("n".repeat(255), "m".repeat(255), "n".repeat(256));

    timed("mkdir", || {
        fs::create_dir(m.join(&dir).join(&long)).unwrap()
    });
    assert!(server.dir().join(&dir).join(&long).is_dir());
    timed("rmdir", || {
        fs::remove_dir(m.join(&dir).join(&long)).unwrap()
    });
    assert!(!server.dir().join(&dir).join(&long).exists());

    let data = random_bytes(70_000, 255);
    let file = m.join(&dir).join(&long);
    timed("write", || fs::write(&file, &data).unwrap());
    assert_eq!(fs::read(server.dir().join(&dir).join(&long)).unwrap(), data);
    assert_eq!(timed("list", || listing(&m.join(&dir))), [long.as_str()]);
    let moved = m.join(&dir).join(&other);
    timed("rename", || fs::rename(&file, &moved).unwrap());
    assert_eq!(
        fs::read(server.dir().join(&dir).join(&other)).unwrap(),
        data
    );
    let f = fs::OpenOptions::new().write(true).open(&moved).unwrap();
    timed("truncate", || f.set_len(10).unwrap());
    drop(f);
    assert_eq!(
        fs::read(server.dir().join(&dir).join(&other)).unwrap(),
        &data[..10]
    );

    let refused = m.join(&dir).join(&too_long);
    let enametoolong = |what: &str, result: std::io::Result<()>| {
        assert_eq!(errno_of(what, result), libc::ENAMETOOLONG, "{what}");
    };
    timed("256", || {
        enametoolong("mkdir", fs::create_dir(&refused));
        enametoolong("create", fs::write(&refused, b"x"));
        enametoolong("rename", fs::rename(&moved, &refused));
        enametoolong("unlink", fs::remove_file(&refused));
        enametoolong("stat", fs::metadata(&refused).map(drop));
    });
    timed("unlink", || fs::remove_file(&moved).unwrap());
    assert!(listing(&server.dir().join(&dir)).is_empty());
    assert_lines_fit(&m);
}

for_each_server_kind!(names_of_255_bytes_at_depth_8, name_255_at_depth_8);

/// `cp -r` of a generated tree whose paths run from 100 to 2,000 bytes, then `diff -r`
/// against the server's copy.
fn cp_r_deep(server: &Server) {
    let src = tempfile::tempdir().unwrap();
    let tree = src.path().join("tree");
    let mut dir = tree.clone();
    let mut files = 0;
    for level in 0..20 {
        dir.push(name(level, 95));
        fs::create_dir_all(&dir).unwrap();
        for i in 0..2 {
            let len = (level * 7919 + i * 104_729) % 20_000;
            fs::write(
                dir.join(format!("file {i} {}", "y".repeat(50))),
                random_bytes(len, (level * 2 + i) as u64),
            )
            .unwrap();
            files += 1;
        }
    }
    let longest = dir.strip_prefix(&tree).unwrap().as_os_str().len();
    assert!((1900..2100).contains(&longest), "{longest}");
    let m = mount_for(server, &[]);
    let started = Instant::now();
    sh(
        src.path(),
        &format!("cp -r tree '{}'", m.join("copy").display()),
    );
    eprintln!(
        "{}: cp -r of {files} files took {:?}",
        server.kind(),
        started.elapsed()
    );
    diff_r(&tree, &server.dir().join("copy"));
    diff_r(&tree, &m.join("copy"));
}

for_each_server_kind!(cp_r_of_a_deep_tree, cp_r_deep);

/// `mkdirat`, `openat(O_CREAT)` and `unlinkat` relative to `dir`, as pjdfstest calls them.
struct At(std::fs::File);

impl At {
    fn open(dir: &Path) -> At {
        At(fs::File::open(dir).unwrap())
    }

    fn check(rc: libc::c_int) -> std::io::Result<()> {
        if rc < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }

    fn mkdir(&self, path: &str) -> std::io::Result<()> {
        use std::os::fd::AsRawFd;
        let c = CString::new(path).unwrap();
        // SAFETY: a valid directory descriptor and a NUL-terminated path.
        Self::check(unsafe { libc::mkdirat(self.0.as_raw_fd(), c.as_ptr(), 0o755) })
    }

    fn create(&self, path: &str) -> std::io::Result<()> {
        use std::os::fd::AsRawFd;
        let c = CString::new(path).unwrap();
        // SAFETY: as above; the descriptor returned is closed at once.
        let fd = unsafe {
            libc::openat(
                self.0.as_raw_fd(),
                c.as_ptr(),
                libc::O_CREAT | libc::O_WRONLY,
                0o644,
            )
        };
        Self::check(fd)?;
        // SAFETY: fd is ours and open.
        unsafe { libc::close(fd) };
        Ok(())
    }

    fn unlink(&self, path: &str, dir: bool) -> std::io::Result<()> {
        use std::os::fd::AsRawFd;
        let c = CString::new(path).unwrap();
        let flags = if dir { libc::AT_REMOVEDIR } else { 0 };
        // SAFETY: as above.
        Self::check(unsafe { libc::unlinkat(self.0.as_raw_fd(), c.as_ptr(), flags) })
    }
}

/// pjdfstest's long-name cases: names of NAME_MAX (255) bytes work and of 256 fail with
/// ENAMETOOLONG (`*/02.t`); relative paths of PATH_MAX - 1 (4095) bytes work and of PATH_MAX
/// fail (`*/03.t`), for mkdir, open(O_CREAT) and unlink. Paths that long put the server's
/// own paths past 4,096 bytes: vsftpd works relative to its working directory and manages;
/// proftpd refuses, and pure-ftpd refuses the file (at once, which is what is checked there).
fn posix_long_names(server: &Server) {
    let started = Instant::now();
    let m = mount_for(server, &["trace_ftp"]);
    fs::create_dir(m.join("p")).unwrap();
    let at = At::open(&m.join("p"));
    let (n255, n256) = ("a".repeat(255), "a".repeat(256));
    let name_max = || {
        at.mkdir(&n255).unwrap();
        at.unlink(&n255, true).unwrap();
        assert_eq!(errno_of("mkdir 256", at.mkdir(&n256)), libc::ENAMETOOLONG);
        at.create(&n255).unwrap();
        at.unlink(&n255, false).unwrap();
        assert_eq!(errno_of("open 256", at.create(&n256)), libc::ENAMETOOLONG);
        assert_eq!(
            errno_of("unlink 256", at.unlink(&n256, false)),
            libc::ENAMETOOLONG
        );
    };
    timed("NAME_MAX cases", name_max);
    assert!(listing(&server.dir().join("p")).is_empty());

    // 16 names of 255 bytes and their 15 slashes: 4,095 bytes.
    let parts: Vec<String> = (0..16).map(|i| format!("{i:x}").repeat(255)).collect();
    for k in 1..16 {
        timed("mkdir", || at.mkdir(&parts[..k].join("/")).unwrap());
    }
    let path_max_1 = parts.join("/");
    assert_eq!(path_max_1.len(), 4095);
    let too_long = format!("{path_max_1}b");
    let path_max = || {
        at.mkdir(&path_max_1)?;
        at.unlink(&path_max_1, true)?;
        at.create(&path_max_1)?;
        at.unlink(&path_max_1, false)
    };
    let result = timed("PATH_MAX - 1 cases", path_max);
    assert_eq!(
        errno_of("mkdir PATH_MAX", at.mkdir(&too_long)),
        libc::ENAMETOOLONG
    );
    assert_eq!(
        errno_of("open PATH_MAX", at.create(&too_long)),
        libc::ENAMETOOLONG
    );
    match (server.kind(), result) {
        (_, Ok(())) => {}
        // proftpd resolves every path to an absolute one of its own, and gives up past its
        // PATH_MAX (4,096 bytes, the chroot's path included): its refusal, at once.
        // pure-ftpd makes and removes the directory, but not the file.
        (kind @ (ServerKind::Proftpd | ServerKind::PureFtpd), Err(e)) => {
            eprintln!("{kind}: PATH_MAX - 1: {e}")
        }
        (kind, Err(e)) => {
            let log = m.log();
            let tail: Vec<&str> = log.lines().rev().take(12).collect();
            panic!(
                "{kind}: a path of PATH_MAX - 1 bytes: {e}\n{}",
                tail.join("\n")
            )
        }
    }
    for k in (1..16).rev() {
        timed("rmdir", || at.unlink(&parts[..k].join("/"), true).unwrap());
    }
    assert!(listing(&server.dir().join("p")).is_empty());
    eprintln!(
        "{}: the long-name battery took {:?}",
        server.kind(),
        started.elapsed()
    );
}

for_each_server_kind!(posix_long_name_battery, posix_long_names);

#[test]
fn posix_long_name_battery_proftpd_512() {
    posix_long_names(&Server::start(
        ServerKind::Proftpd,
        ServerOptions::proftpd_command_buffer(512),
    ));
}

/// A server that never answers lines over 200 bytes (as proftpd does over its
/// `CommandBufferSize`): the first operation that needs such a line waits one reply deadline,
/// and everything after succeeds, or fails with ENAMETOOLONG, at once.
#[test]
fn a_server_silent_about_long_lines_costs_one_deadline() {
    // Four levels of 60-byte names: `CWD /d0/d1/d2/d3` is 249 bytes.
    let names: Vec<String> = (0..4).map(|i| format!("d{i}-{}", "x".repeat(57))).collect();
    let long_name = "z".repeat(245);
    let mut script = Script::mlsd(&[&mlsd_dir(&names[0])]);
    // Each level but the last also holds an empty directory `e<level>-...` of 60 bytes.
    let others: Vec<String> = (0..4).map(|i| format!("e{i}-{}", "x".repeat(57))).collect();
    let mut dir = String::new();
    for (i, n) in names.iter().enumerate() {
        dir = format!("{dir}/{n}");
        let listing = match names.get(i + 1) {
            Some(next) => {
                script = script.listing(&format!("{dir}/{}", others[i]), Vec::new());
                format!("{}\r\n{}\r\n", mlsd_dir(next), mlsd_dir(&others[i]))
            }
            None => [
                mlsd_file("a.txt", 5),
                mlsd_file("b.txt", 5),
                mlsd_file(&long_name, 5),
            ]
            .map(|l| l + "\r\n")
            .concat(),
        };
        script = script.listing(&dir, listing.into_bytes());
    }
    for file in ["a.txt", "b.txt", long_name.as_str()] {
        script = script.file(&format!("{dir}/{file}"), b"hello".to_vec());
    }
    script.max_line = Some(200);
    let server = HostileServer::start(script);
    let reply_timeout = Duration::from_secs(4);
    let m = Mount::new(&server.url(), &["reply_timeout=4", "trace_ftp"]);
    let deep = m.join(names.join("/"));

    // The listing of the deepest directory is the first line over 200 bytes: one deadline.
    let started = Instant::now();
    let first = fs::read(deep.join("a.txt"));
    let took = started.elapsed();
    assert!(
        took < reply_timeout + QUICK,
        "the first operation took {took:?}: {first:?}\n{}",
        server.commands()
    );
    eprintln!("the first over-long operation took {took:?}: {first:?}");

    // From now on lines of 249 bytes or more go relative, or are refused.
    assert_eq!(
        timed("read", || fs::read(deep.join("a.txt")).unwrap()),
        b"hello"
    );
    assert_eq!(
        timed("read", || fs::read(deep.join("b.txt")).unwrap()),
        b"hello"
    );
    let refused = timed("read", || fs::read(deep.join(&long_name)));
    assert_eq!(errno_of("a 245-byte name", refused), libc::ENAMETOOLONG);
    // A directory next to the deepest one: `CWD /d0/d1/d2/e2` would be 249 bytes too.
    let sibling = m.join(names[..3].join("/")).join(&others[2]);
    assert!(timed("list", || listing(&sibling)).is_empty());
    let log = server.commands();
    let ignored = log.lines().filter(|l| l.starts_with("ignored")).count();
    assert_eq!(ignored, 1, "{log}");
}
