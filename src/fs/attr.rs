//! File attributes as the filesystem layer sees them, and how they are derived from a
//! listing entry.
//!
//! [`Attr`] is a plain value; `fuse.rs` converts it to fuser's `FileAttr`. Ownership is the
//! mounting user's (or `uid=`/`gid=`); permissions come from the listing, or from `umask=`
//! when given, or from sensible defaults when the server says nothing.

use std::time::SystemTime;

use crate::remote::{Entry, EntryKind};

/// Block size reported in `st_blksize` and used to compute `st_blocks`.
pub const BLOCK_SIZE: u32 = 4096;

/// Who owns every file on the mount, and how permissions are derived.
#[derive(Debug, Clone, Copy)]
pub struct Ownership {
    pub uid: u32,
    pub gid: u32,
    /// When set, permissions are `0777`/`0666` minus this mask instead of the server's bits.
    pub umask: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attr {
    pub ino: u64,
    pub size: u64,
    pub kind: EntryKind,
    /// Permission bits (`0o7777`).
    pub perm: u16,
    pub mtime: SystemTime,
    pub nlink: u32,
    pub uid: u32,
    pub gid: u32,
}

impl Attr {
    /// Attributes of the mount root, which the server never lists.
    pub fn root(ino: u64, own: &Ownership, mtime: SystemTime) -> Attr {
        Attr {
            ino,
            size: 0,
            kind: EntryKind::Dir,
            perm: permissions(EntryKind::Dir, None, own),
            mtime,
            nlink: 2,
            uid: own.uid,
            gid: own.gid,
        }
    }

    /// Attributes of a listed entry. `mtime` overrides the listing's (after an MDTM refinement).
    pub fn from_entry(ino: u64, entry: &Entry, own: &Ownership, mtime: Option<SystemTime>) -> Attr {
        let size = match entry.kind {
            EntryKind::Symlink => entry.link_target.as_ref().map_or(0, |t| t.len() as u64),
            EntryKind::File => entry.size,
            _ => 0,
        };
        Attr {
            ino,
            size,
            kind: entry.kind,
            perm: permissions(entry.kind, entry.mode, own),
            mtime: mtime.or(entry.mtime).unwrap_or(SystemTime::UNIX_EPOCH),
            nlink: if entry.kind == EntryKind::Dir { 2 } else { 1 },
            uid: own.uid,
            gid: own.gid,
        }
    }

    /// Blocks of 512 bytes, as `st_blocks` counts them.
    pub fn blocks(&self) -> u64 {
        self.size.div_ceil(512)
    }
}

/// The permission bits shown for an entry.
fn permissions(kind: EntryKind, server_mode: Option<u32>, own: &Ownership) -> u16 {
    let bits = match (own.umask, server_mode) {
        (Some(umask), mode) => {
            let executable = mode.is_some_and(|m| m & 0o111 != 0);
            let base = if kind == EntryKind::Dir || kind == EntryKind::Symlink || executable {
                0o777
            } else {
                0o666
            };
            base & !umask
        }
        (None, Some(mode)) => mode & 0o7777,
        (None, None) => match kind {
            EntryKind::Dir => 0o755,
            EntryKind::Symlink => 0o777,
            _ => 0o644,
        },
    };
    (bits & 0o7777) as u16
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote::TimePrecision;

    fn entry(kind: EntryKind, mode: Option<u32>) -> Entry {
        Entry {
            name: b"x".to_vec(),
            kind,
            size: 1234,
            mtime: Some(SystemTime::UNIX_EPOCH),
            precision: TimePrecision::Exact,
            mode,
            link_target: None,
        }
    }

    #[test]
    fn permissions_follow_server_then_umask() {
        let own = Ownership {
            uid: 1,
            gid: 2,
            umask: None,
        };
        let a = Attr::from_entry(5, &entry(EntryKind::File, Some(0o600)), &own, None);
        assert_eq!((a.perm, a.uid, a.gid, a.size), (0o600, 1, 2, 1234));
        let a = Attr::from_entry(5, &entry(EntryKind::Dir, None), &own, None);
        assert_eq!((a.perm, a.size, a.nlink), (0o755, 0, 2));
        let masked = Ownership {
            uid: 1,
            gid: 2,
            umask: Some(0o027),
        };
        assert_eq!(
            Attr::from_entry(5, &entry(EntryKind::File, Some(0o644)), &masked, None).perm,
            0o640
        );
        assert_eq!(
            Attr::from_entry(5, &entry(EntryKind::File, Some(0o755)), &masked, None).perm,
            0o750
        );
        assert_eq!(
            Attr::from_entry(5, &entry(EntryKind::Dir, None), &masked, None).perm,
            0o750
        );
    }

    #[test]
    fn symlink_size_is_target_length() {
        let own = Ownership {
            uid: 0,
            gid: 0,
            umask: None,
        };
        let mut e = entry(EntryKind::Symlink, None);
        e.link_target = Some(b"target/file".to_vec());
        assert_eq!(Attr::from_entry(9, &e, &own, None).size, 11);
    }
}
