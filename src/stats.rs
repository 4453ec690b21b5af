//! Process-wide counters for a running mount, and how they are read: `ftpfs --stats
//! MOUNTPOINT` asks the mount with an ioctl on its root ([`STATS_IOCTL`], answered in
//! `fuse.rs`) and prints them.
//!
//! An ioctl, not an extended attribute: `ls -l` asks every file for two attributes
//! (`security.selinux`, `system.posix_acl_access`), and as long as the filesystem answers
//! getxattr at all, the kernel sends each of those to the daemon: 200,000 requests for a
//! directory of 100,000 files, most of `ls -l`'s time. ftpfs answers getxattr with ENOSYS,
//! which the kernel remembers for the mount, so they stop.
//!
//! One ftpfs process serves one mount, so plain atomics are enough. Any layer may count
//! here; nothing reads these for decisions.

use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// Longest report the ioctl carries (the most a restricted FUSE ioctl may return).
pub const STATS_MAX: usize = (1 << 14) - 1;

/// The ioctl on the mount root that returns the counters: `_IOR('F', 0x53, [u8; STATS_MAX])`.
/// Its result is the report's length.
pub const STATS_IOCTL: u32 = (2 << 30) | ((STATS_MAX as u32) << 16) | ((b'F' as u32) << 8) | 0x53;

/// The counters of the mount at `mountpoint`, as `name value` lines.
pub fn read_from(mountpoint: &Path) -> io::Result<String> {
    let dir = std::fs::File::open(mountpoint)?;
    let mut buf = vec![0u8; STATS_MAX];
    // SAFETY: the buffer is as long as the ioctl's encoded size, the most the kernel writes.
    let n = unsafe { libc::ioctl(dir.as_raw_fd(), STATS_IOCTL as _, buf.as_mut_ptr()) };
    if n < 0 {
        let e = io::Error::last_os_error();
        return Err(match e.raw_os_error() {
            Some(libc::ENOTTY) | Some(libc::EINVAL) => io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} is not the root of an ftpfs mount", mountpoint.display()),
            ),
            _ => e,
        });
    }
    buf.truncate((n as usize).min(STATS_MAX));
    String::from_utf8(buf).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Filesystem operations served (every FUSE request that reached ftpfs).
pub static OPERATIONS: AtomicU64 = AtomicU64::new(0);
/// FTP command lines sent on control connections: every line the server receives, login
/// (USER, PASS), TLS set-up, EPSV/PASV/PORT/EPRT before a transfer, REST, RNFR/RNTO and QUIT
/// included, so it matches a server's own command log and the `-o trace_ftp` lines one for
/// one. Counted where suppaftp encodes each line (`remote::ftp::CountingEncoding`).
pub static COMMANDS: AtomicU64 = AtomicU64::new(0);
/// Of those, lines sent before the reply to the one ahead of them had arrived (pipelined,
/// `remote/pipeline.rs`): the round trips saved.
pub static PIPELINED: AtomicU64 = AtomicU64::new(0);
/// Directories listed with STAT over the control connection (`session/stat.rs`).
pub static STAT_LISTINGS: AtomicU64 = AtomicU64::new(0);
/// Bytes returned by reads.
pub static BYTES_READ: AtomicU64 = AtomicU64::new(0);
/// Bytes accepted by writes.
pub static BYTES_WRITTEN: AtomicU64 = AtomicU64::new(0);
/// Bytes sent to the server by uploads.
pub static BYTES_UPLOADED: AtomicU64 = AtomicU64::new(0);
/// Directory listings fetched from the server.
pub static LISTINGS: AtomicU64 = AtomicU64::new(0);
/// Of those, listings fetched ahead of the caller (look-ahead, `fs/lister.rs`).
pub static PREFETCHED_LISTINGS: AtomicU64 = AtomicU64::new(0);
/// Server replies that contradicted the cache (a listed name not found, an unlisted one
/// found): each invalidates one directory's listing (`fs/coherence.rs`).
pub static CONTRADICTIONS: AtomicU64 = AtomicU64::new(0);
/// Listings fetched again because a name was missing from one older than `negative_ttl`.
pub static NEGATIVE_RELISTINGS: AtomicU64 = AtomicU64::new(0);
/// Explicit refreshes (`setfattr -n user.ftpfs.refresh DIR`).
pub static REFRESHES: AtomicU64 = AtomicU64::new(0);
/// Kernel cache notifications sent (entries and inodes other clients changed).
pub static NOTICES: AtomicU64 = AtomicU64::new(0);
/// Opens that kept the kernel's cached pages of an unchanged file (FOPEN_KEEP_CACHE).
pub static PAGES_KEPT: AtomicU64 = AtomicU64::new(0);
/// Transfers (downloads, uploads, listings) set up in one round trip (`session/quick.rs`).
pub static QUICK_TRANSFERS: AtomicU64 = AtomicU64::new(0);
/// Data connections opened ahead on idle sessions (`session/preopen.rs`) ...
pub static PREOPENED: AtomicU64 = AtomicU64::new(0);
/// ... transfers that used one (no EPSV of their own) ...
pub static PREOPENED_USED: AtomicU64 = AtomicU64::new(0);
/// ... and ones found closed or refused by the server, replaced without an error.
pub static PREOPENED_STALE: AtomicU64 = AtomicU64::new(0);
/// Small files downloaded ahead of their open (`fs/ahead.rs`) ...
pub static READ_AHEAD: AtomicU64 = AtomicU64::new(0);
/// ... and opens served from them.
pub static READ_AHEAD_USED: AtomicU64 = AtomicU64::new(0);
/// Downloads started (RETR, with or without REST).
pub static DOWNLOADS: AtomicU64 = AtomicU64::new(0);
/// LIST times refined with MDTM.
pub static MDTM_REFINEMENTS: AtomicU64 = AtomicU64::new(0);
/// Uploads completed (temporary file renamed over the target).
pub static UPLOADS: AtomicU64 = AtomicU64::new(0);
/// Data transfers (listings, downloads, uploads) completed over TLS 1.3 ...
pub static TLS13_TRANSFERS: AtomicU64 = AtomicU64::new(0);
/// ... and over TLS 1.2 (for servers that refuse TLS 1.3 data connections, or `tls_version`).
pub static TLS12_TRANSFERS: AtomicU64 = AtomicU64::new(0);

pub fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

pub fn get(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}
