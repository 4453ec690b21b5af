//! The integration-test harness shared by every `tests/*.rs` file (`mod common;`).
//!
//! * [`Server`]: a real vsftpd, proftpd or pure-ftpd on 127.0.0.1 with a private root
//!   ([`server`]). [`Server::url`] is a writable directory; [`Server::dir`] is the same directory
//!   on the local disk.
//! * [`Mount`]: the real `ftpfs` binary mounted on a tempdir ([`mount`]); [`mount_for`].
//! * [`for_each_server!`] / [`e2e_matrix!`]: one test body run against every server kind and
//!   data mode (passive, active). [`for_each_server_kind!`]: every server kind only.
//! * [`curl`]: an independent FTP client for cross-checks.
//! * [`delay`]: a long link (a delay proxy for control and passive data connections).
//! * Helpers: [`sha256_file`], [`sha256_bytes`], [`wait_until`], [`write_random_file`],
//!   [`random_bytes`].
//!
//! The tests need root (the servers chroot), /dev/fuse and the servers installed by
//! `contrib/deps.sh`. When something is missing they panic and say what; they never skip.
//! Each test file uses a subset of this module, hence `allow(dead_code)`.
#![allow(dead_code)]

pub mod curl;
pub mod delay;
pub mod mount;
pub mod process;
pub mod scripted;
pub mod server;
pub mod shell;
pub mod tls;

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

// Not every test file uses every re-export.
#[allow(unused_imports)]
pub use mount::{assert_one_error_line, ftpfs_bin, ftpfs_command, mount_failure, mount_for, Mount};
#[allow(unused_imports)]
pub use process::wait_until;
#[allow(unused_imports)]
pub use server::{chown_tree, Server, ServerKind, ServerOptions};

/// How the data connections are made. The options are what ftpfs gets for each mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataMode {
    /// ftpfs's default (no option).
    Passive,
    /// `-o active`.
    Active,
}

impl DataMode {
    pub const ALL: [DataMode; 2] = [DataMode::Passive, DataMode::Active];

    /// The ftpfs `-o` options that select this mode.
    pub fn opts(self) -> &'static [&'static str] {
        match self {
            DataMode::Passive => &[],
            DataMode::Active => &["active"],
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            DataMode::Passive => "passive",
            DataMode::Active => "active",
        }
    }
}

/// Starts a `kind` server with `options` and runs `body(&server, mode.opts())`. The server is
/// stopped afterwards; if `body` panics, the server's log is printed.
pub fn run_case<F>(kind: ServerKind, mode: DataMode, options: ServerOptions, body: F)
where
    F: FnOnce(&Server, &[&str]),
{
    let server = Server::start(kind, options);
    body(&server, mode.opts());
}

/// Defines a module `$name` with one `#[test]` per server kind and data mode:
/// `$name::vsftpd_passive`, `$name::vsftpd_active`, `$name::proftpd_passive`, ... (6 tests).
/// `cargo test $name` runs them all, `cargo test vsftpd_active` one column.
///
/// ```ignore
/// for_each_server!(copy_small_file, |server: &Server, mode_opts: &[&str]| {
///     let m = mount_for(server, mode_opts);
///     ...
/// });
/// for_each_server!(overwrite, ServerOptions::extra(&["max_per_ip=2"]), my_body_fn);
/// ```
/// The body is a closure or a function `fn(&Server, &[&str])`; it is resolved inside the
/// generated module, which does `use super::*`. The optional middle argument is the
/// [`ServerOptions`] expression (default: `ServerOptions::default()`).
#[macro_export]
macro_rules! for_each_server {
    ($name:ident, $body:expr $(,)?) => {
        $crate::for_each_server!($name, $crate::common::ServerOptions::default(), $body);
    };
    ($name:ident, $options:expr, $body:expr $(,)?) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            $crate::for_each_server!(@case $options, $body, vsftpd_passive, Vsftpd, Passive);
            $crate::for_each_server!(@case $options, $body, vsftpd_active, Vsftpd, Active);
            $crate::for_each_server!(@case $options, $body, proftpd_passive, Proftpd, Passive);
            $crate::for_each_server!(@case $options, $body, proftpd_active, Proftpd, Active);
            $crate::for_each_server!(@case $options, $body, pure_ftpd_passive, PureFtpd, Passive);
            $crate::for_each_server!(@case $options, $body, pure_ftpd_active, PureFtpd, Active);
        }
    };
    (@case $options:expr, $body:expr, $test:ident, $kind:ident, $mode:ident) => {
        #[test]
        fn $test() {
            $crate::common::run_case(
                $crate::common::ServerKind::$kind,
                $crate::common::DataMode::$mode,
                $options,
                $body,
            );
        }
    };
}

/// The end-to-end matrix: the same as [`for_each_server!`].
#[macro_export]
macro_rules! e2e_matrix {
    ($($args:tt)*) => {
        $crate::for_each_server!($($args)*);
    };
}

/// Defines a module `$name` with one `#[test]` per server kind (`$name::vsftpd`,
/// `$name::proftpd`, `$name::pure_ftpd`), for tests where the data mode does not matter. The
/// body is `fn(&Server)` or a closure `|server: &Server| ...`; options as in
/// [`for_each_server!`].
#[macro_export]
macro_rules! for_each_server_kind {
    ($name:ident, $body:expr $(,)?) => {
        $crate::for_each_server_kind!($name, $crate::common::ServerOptions::default(), $body);
    };
    ($name:ident, $options:expr, $body:expr $(,)?) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            $crate::for_each_server_kind!(@case $options, $body, vsftpd, Vsftpd);
            $crate::for_each_server_kind!(@case $options, $body, proftpd, Proftpd);
            $crate::for_each_server_kind!(@case $options, $body, pure_ftpd, PureFtpd);
        }
    };
    (@case $options:expr, $body:expr, $test:ident, $kind:ident) => {
        #[test]
        fn $test() {
            let server =
                $crate::common::Server::start($crate::common::ServerKind::$kind, $options);
            ($body)(&server);
        }
    };
}

/// Panics unless the tests can run servers of these kinds: root, the binaries, user `ftp`,
/// openssl. The message names what is missing and says to run contrib/deps.sh.
pub fn require_environment(kinds: &[ServerKind]) {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    assert!(
        euid == 0,
        "the ftpfs integration tests must run as root (the FTP servers chroot and change user); \
         euid is {euid}"
    );
    let mut missing = Vec::new();
    for kind in kinds {
        let bin = kind.binary();
        if !bin.is_file() {
            missing.push(format!("{kind} ({})", bin.display()));
        }
        if *kind == ServerKind::PureFtpd {
            let pw = server::servers_dir().join("pure-ftpd/usr/bin/pure-pw");
            if !pw.is_file() {
                missing.push(format!("pure-pw ({})", pw.display()));
            }
        }
    }
    for tool in ["openssl", "curl", "getent"] {
        if !in_path(tool) {
            missing.push(format!("the `{tool}` command"));
        }
    }
    assert!(
        missing.is_empty(),
        "missing test dependencies: {}. Run contrib/deps.sh (as root) to install them.",
        missing.join(", ")
    );
    server::ftp_ids(); // panics with its own message if user ftp is missing
}

/// Panics unless /dev/fuse exists (and we are root, which mounting as done here needs).
pub fn require_fuse() {
    assert!(
        Path::new("/dev/fuse").exists(),
        "/dev/fuse is missing: load the fuse module (modprobe fuse) or give the container the \
         device (--device /dev/fuse --cap-add SYS_ADMIN); see contrib/deps.sh"
    );
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    assert!(
        euid == 0,
        "the ftpfs mount tests must run as root; euid is {euid}"
    );
}

fn in_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|p| p.join(tool).is_file()))
        .unwrap_or(false)
}

/// A number from the environment (decimal, or hex with `0x`), for test knobs such as a seed
/// or an operation count; `None` if unset. A value that is not a number fails the test.
pub fn env_number(name: &str) -> Option<u64> {
    let s = std::env::var(name).ok()?;
    let s = s.trim();
    let v = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => s.parse(),
    };
    Some(v.unwrap_or_else(|e| panic!("{name}={s:?} is not a number: {e}")))
}

/// An operation count from the environment (`FSX_OPS`, `NAMES_OPS`), or `default` if unset.
/// Zero fails the test: a run of no operations would pass without testing anything.
pub fn env_op_count(name: &str, default: usize) -> usize {
    match env_number(name) {
        None => default,
        Some(0) => panic!("{name}=0 would run no operations: give a positive count"),
        Some(n) => usize::try_from(n).unwrap_or_else(|_| panic!("{name}={n} is too large")),
    }
}

/// Lowercase hex SHA-256 of a file's contents (streamed; fine for large files).
pub fn sha256_file(path: impl AsRef<Path>) -> String {
    let path = path.as_ref();
    let mut f = File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f
            .read(&mut buf)
            .unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    hex(&hasher.finalize())
}

/// Lowercase hex SHA-256 of `data`.
pub fn sha256_bytes(data: impl AsRef<[u8]>) -> String {
    hex(&Sha256::digest(data.as_ref()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Deterministic pseudo-random bytes (SplitMix64): the same `seed` gives the same stream, so
/// `random_bytes(n, s)` equals the contents `write_random_file(_, n, s)` writes.
pub struct RandomStream {
    state: u64,
}

impl RandomStream {
    pub fn new(seed: u64) -> Self {
        RandomStream {
            state: seed ^ 0x6a09_e667_f3bc_c909,
        }
    }

    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Fills `buf`. Consecutive calls continue the stream only if every earlier buffer's length
    /// was a multiple of 8.
    pub fn fill(&mut self, buf: &mut [u8]) {
        let mut chunks = buf.chunks_exact_mut(8);
        for c in &mut chunks {
            c.copy_from_slice(&self.next_u64().to_le_bytes());
        }
        let rest = chunks.into_remainder();
        if !rest.is_empty() {
            let v = self.next_u64().to_le_bytes();
            rest.copy_from_slice(&v[..rest.len()]);
        }
    }
}

/// `len` deterministic pseudo-random bytes for `seed`.
pub fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut v = vec![0u8; len];
    RandomStream::new(seed).fill(&mut v);
    v
}

/// Writes `len` deterministic pseudo-random bytes for `seed` to `path` (creating or truncating
/// it) at several hundred MiB/s; returns the SHA-256 of what was written.
pub fn write_random_file(path: impl AsRef<Path>, len: u64, seed: u64) -> String {
    let path = path.as_ref();
    let mut f = io::BufWriter::with_capacity(
        1 << 20,
        File::create(path).unwrap_or_else(|e| panic!("create {}: {e}", path.display())),
    );
    let mut rng = RandomStream::new(seed);
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut left = len;
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        rng.fill(&mut buf[..n]);
        hasher.update(&buf[..n]);
        f.write_all(&buf[..n])
            .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        left -= n as u64;
    }
    f.flush()
        .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    hex(&hasher.finalize())
}

/// Asserts that two files have the same contents, reporting sizes and hashes if not.
pub fn assert_same_file(a: impl AsRef<Path>, b: impl AsRef<Path>) {
    let (a, b) = (a.as_ref(), b.as_ref());
    let (ha, hb) = (sha256_file(a), sha256_file(b));
    if ha != hb {
        let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        panic!(
            "files differ:\n  {} ({} bytes, sha256 {ha})\n  {} ({} bytes, sha256 {hb})",
            a.display(),
            size(a),
            b.display(),
            size(b)
        );
    }
}

/// The names in a directory, sorted (panics if it cannot be read).
pub fn dir_names(path: impl AsRef<Path>) -> Vec<String> {
    let path = path.as_ref();
    let mut names: Vec<String> = std::fs::read_dir(path)
        .unwrap_or_else(|e| panic!("read_dir {}: {e}", path.display()))
        .map(|e| {
            e.expect("read_dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}
