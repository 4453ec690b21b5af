//! The FTP side of ftpfs: remote paths, directory entries, reply classification,
//! sessions and the session pool.
//!
//! Nothing in this module knows about inodes, file handles or fuser. It speaks in
//! [`RemotePath`]s and [`Name`]s (raw bytes, validated once in `path.rs`) and returns
//! [`Entry`] values and [`RemoteError`]s. The filesystem layer (`crate::fs`) builds on it.

pub mod client;
pub mod codec;
pub mod ftp;
pub mod listing;
pub mod path;
pub mod pipeline;
pub mod pool;
pub mod reply;
pub mod route;
pub mod session;
pub mod tls;

use std::time::SystemTime;

pub use path::{Name, RemotePath};
pub use reply::{RemoteError, RemoteErrorKind};

/// What kind of object a listing line describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryKind {
    File,
    Dir,
    Symlink,
    Fifo,
    Socket,
    CharDevice,
    BlockDevice,
}

/// How precise a listing's modification time is.
///
/// MLSD and MDTM give seconds (`Exact`); a Unix `LIST` line gives minutes for recent
/// files (`Minute`) and only the day for older ones (`Day`); a DOS line gives minutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TimePrecision {
    Day,
    Minute,
    Exact,
}

/// One directory entry as the server described it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The name exactly as the server sent it (raw bytes, never decoded).
    pub name: Vec<u8>,
    pub kind: EntryKind,
    /// Size in bytes (0 when the listing gives none, e.g. for directories).
    pub size: u64,
    /// Modification time, when the listing carries one that parses.
    pub mtime: Option<SystemTime>,
    /// Precision of `mtime`.
    pub precision: TimePrecision,
    /// Permission bits (`0o7777` mask) when the listing gives them.
    pub mode: Option<u32>,
    /// Target of a symbolic link, raw bytes, when the listing gives it.
    pub link_target: Option<Vec<u8>>,
}
