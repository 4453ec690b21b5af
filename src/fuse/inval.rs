//! The invalidation thread: what the kernel must drop from its caches, told through fuser's
//! notify calls (`inval_entry`, `inval_inode`) off the request threads.
//!
//! Two sources feed it: ranges of a file written through a direct-I/O handle while another
//! handle may hold its pages (`fuse.rs`'s `write`), and what other clients changed on the
//! server ([`Notice`](crate::fs::coherence::Notice)s from `fs/coherence.rs`). A notification
//! waits for the page locks that a read in flight holds until a session thread answers it,
//! so it must never run on a session thread: it would wait for itself. What queued up
//! meanwhile is merged into one notification per inode. This module decides nothing: what to
//! drop is decided in `fs` and `fuse.rs`; it only delivers, and tells a waiting writer when
//! its range is gone.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::sync::mpsc::{Receiver, SyncSender};
use std::time::Duration;

use fuser::INodeNo;

/// The end of an invalidated range that runs to the end of the file.
pub(super) const TO_EOF: u64 = u64::MAX;

/// What the invalidation thread tells the kernel to drop.
pub(super) enum Inval {
    /// A range of a file whose cached pages are stale: inode, start, end (or [`TO_EOF`]), and
    /// whom to tell once they are dropped.
    Pages(u64, u64, u64, SyncSender<()>),
    /// A name that does not exist after all (a new file whose upload failed), cached with
    /// the entry lifetime, or one another client changed: directory inode and name.
    Entry(u64, Vec<u8>),
    /// A file another client changed: its cached attributes and pages.
    Inode(u64),
}

/// How long a write waits for its stale pages to be dropped before it answers anyway. Only a
/// read in flight on the same pages holds the drop up, and it is answered by another session
/// thread; the bound makes sure a writer can never hang on it.
pub(super) const INVALIDATE_WAIT: Duration = Duration::from_millis(200);

/// Drops the kernel's cached pages of ranges written through a direct-I/O (write-only)
/// handle: such writes bypass the page cache, so a reader that opened the file earlier would
/// otherwise keep reading the old bytes (or zeros past the old end, for `tail -f`). Linux 6.6
/// and later drop them by themselves on a direct write; older kernels (Debian 12 runs 6.1)
/// need this. Runs on its own thread: a notification waits for page locks, which a read in
/// flight holds until a session thread answers it.
pub struct PageInvalidator {
    rx: Receiver<Inval>,
}

impl PageInvalidator {
    /// The receiving side of the adapter's channel; nothing runs before [`Self::start`].
    pub(super) fn new(rx: Receiver<Inval>) -> PageInvalidator {
        PageInvalidator { rx }
    }

    /// Starts the thread; it ends when the adapter (the sending side) is dropped.
    pub fn start(self, notifier: fuser::Notifier) {
        let spawned = std::thread::Builder::new()
            .name("ftpfs-inval".into())
            .spawn(move || {
                while let Ok(first) = self.rx.recv() {
                    // Merge what has queued up meanwhile: one notification per inode.
                    let mut ranges: std::collections::HashMap<u64, (u64, u64)> =
                        std::collections::HashMap::new();
                    let mut waiting = Vec::new();
                    let mut entries = Vec::new();
                    for inval in std::iter::once(first).chain(self.rx.try_iter()) {
                        match inval {
                            Inval::Pages(ino, start, end, done) => {
                                let r = ranges.entry(ino).or_insert((start, end));
                                *r = (r.0.min(start), r.1.max(end));
                                waiting.push(done);
                            }
                            Inval::Entry(dir, name) => entries.push((dir, name)),
                            Inval::Inode(ino) => {
                                ranges.insert(ino, (0, TO_EOF));
                            }
                        }
                    }
                    for (dir, name) in entries {
                        if let Err(e) = notifier.inval_entry(INodeNo(dir), OsStr::from_bytes(&name))
                        {
                            log::debug!("invalidating entry {} in {dir}: {e}", name.escape_ascii());
                        }
                    }
                    for (ino, (start, end)) in ranges {
                        // A length of 0 means "to the end of the file" to the kernel.
                        let len = if end == TO_EOF { 0 } else { end - start };
                        let (off, len) = (start as i64, len as i64);
                        log::trace!("inval {ino} {off}+{len}");
                        if let Err(e) = notifier.inval_inode(INodeNo(ino), off, len) {
                            // ENOENT: the kernel has forgotten the inode, and its pages.
                            log::debug!("invalidating pages of {ino}: {e}");
                        }
                    }
                    for done in waiting {
                        let _ = done.try_send(());
                    }
                }
            });
        if let Err(e) = spawned {
            log::warn!("cannot start the page invalidation thread: {e}");
        }
    }
}
