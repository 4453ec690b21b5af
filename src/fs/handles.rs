//! Open file and directory handles, and the lot where idle read streams are parked.
//!
//! Handle numbers are monotonic and never reused. A handle is one of:
//! - `Reader`: a file opened for reading, with its [`ReadStream`];
//! - `Writer`: a file open for writing (see `write.rs`), sharing one state per inode;
//! - `Dir`: a directory opened for readdir, with a snapshot of its entries, taken at the
//!   first readdir, so that readdir offsets stay valid while the directory changes. Opening
//!   alone lists nothing (`ftpfs --stats` opens the root for its ioctl).
//!
//! An open file's read stream holds an FTP session between reads. So that open files cannot
//! starve the pool, at most `cap` streams stay parked at once, and the pool can reclaim the
//! least recently used one when it has no session to give ([`StreamLot::evict_oldest`]).
//!
//! Lock order: `HandleTable::map` and `StreamLot::parked` are leaf locks, never held while
//! taking another. A handle's own `Mutex<Reader>` may be held while taking either of them.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use super::attr::Attr;
use super::reader::ReadStream;
use super::write::WriterHandle;
use crate::remote::{EntryKind, RemotePath};

/// One directory entry as readdir returns it.
#[derive(Debug, Clone)]
pub struct DirItem {
    pub name: Vec<u8>,
    pub kind: EntryKind,
    pub attr: Attr,
}

pub struct Reader {
    /// The whole file, downloaded ahead of this open (`ahead.rs`): reads are served from
    /// it, with no transfer.
    pub preloaded: Option<std::sync::Arc<Vec<u8>>>,
    pub ino: u64,
    pub path: RemotePath,
    /// Size when opened (or when `version` last changed); reads are clamped to it.
    pub size: u64,
    /// The inode's content version that `size` and `stream` belong to.
    pub version: u64,
    pub stream: ReadStream,
    /// When the last read timed out, and how: the kernel retries a failed read at once, and
    /// that retry must not wait out the whole budget a second time.
    pub timed_out: Option<(std::time::Instant, crate::error::FsError)>,
}

pub enum Handle {
    Reader(Box<Mutex<Reader>>),
    /// A file open for writing, or opened while another handle writes it.
    Writer(WriterHandle),
    Dir(DirHandle),
}

/// An open directory: its inode, and its entries once the first readdir listed them.
pub struct DirHandle {
    pub ino: u64,
    pub items: std::sync::OnceLock<Vec<DirItem>>,
}

impl DirHandle {
    pub fn new(ino: u64) -> DirHandle {
        DirHandle {
            ino,
            items: std::sync::OnceLock::new(),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Handle {
    /// Locks a reader handle (recovering from a poisoned lock: the stream state is
    /// still consistent because every mutation is a single assignment).
    pub fn reader(&self) -> Option<MutexGuard<'_, Reader>> {
        match self {
            Handle::Reader(m) => Some(lock(m)),
            Handle::Writer(_) | Handle::Dir(_) => None,
        }
    }
}

/// A handle, and the inode of its file (none for a directory).
type Slot = (Arc<Handle>, Option<u64>);

pub struct HandleTable {
    /// Handle number → its slot.
    map: Mutex<HashMap<u64, Slot>>,
    next: AtomicU64,
}

impl HandleTable {
    pub fn new() -> HandleTable {
        HandleTable {
            map: Mutex::new(HashMap::new()),
            next: AtomicU64::new(1),
        }
    }

    /// Adds a handle on the file `ino` (`None` for a directory) and returns its number.
    pub fn insert(&self, handle: Handle, ino: Option<u64>) -> u64 {
        let fh = self.next.fetch_add(1, Ordering::Relaxed);
        lock(&self.map).insert(fh, (Arc::new(handle), ino));
        fh
    }

    pub fn get(&self, fh: u64) -> Option<Arc<Handle>> {
        lock(&self.map).get(&fh).map(|(h, _)| Arc::clone(h))
    }

    pub fn remove(&self, fh: u64) -> Option<Arc<Handle>> {
        lock(&self.map).remove(&fh).map(|(h, _)| h)
    }

    /// Whether a handle other than `fh` is open on the file `ino`.
    pub fn others_on(&self, ino: u64, fh: u64) -> bool {
        lock(&self.map)
            .iter()
            .any(|(&other, &(_, i))| other != fh && i == Some(ino))
    }

    pub fn count(&self) -> usize {
        lock(&self.map).len()
    }
}

impl Default for HandleTable {
    fn default() -> Self {
        HandleTable::new()
    }
}

/// Read streams that hold a session while their file is idle, oldest first.
pub struct StreamLot {
    parked: Mutex<VecDeque<(u64, Weak<Handle>)>>,
    cap: usize,
}

impl StreamLot {
    pub fn new(cap: usize) -> StreamLot {
        StreamLot {
            parked: Mutex::new(VecDeque::new()),
            cap: cap.max(1),
        }
    }

    /// Notes that `fh` is in use (not idle).
    pub fn unpark(&self, fh: u64) {
        lock(&self.parked).retain(|(f, _)| *f != fh);
    }

    /// Notes that `fh` holds a stream and is idle. Returns a handle to evict when the lot is
    /// over capacity; the caller evicts it after releasing its own locks.
    pub fn park(&self, fh: u64, handle: &Arc<Handle>) -> Option<Arc<Handle>> {
        let mut parked = lock(&self.parked);
        parked.retain(|(f, _)| *f != fh);
        parked.push_back((fh, Arc::downgrade(handle)));
        if parked.len() > self.cap {
            return parked.pop_front().and_then(|(_, w)| w.upgrade());
        }
        None
    }

    /// Releases the session of the least recently used idle stream. Returns whether one was
    /// released. Streams whose handle is busy right now are skipped.
    pub fn evict_oldest(&self) -> bool {
        loop {
            let Some((_, weak)) = lock(&self.parked).pop_front() else {
                return false;
            };
            if let Some(handle) = weak.upgrade() {
                if evict(&handle) {
                    return true;
                }
            }
        }
    }
}

/// Releases a parked stream's transfer, if its handle is not in use.
pub fn evict(handle: &Handle) -> bool {
    if let Handle::Reader(m) = handle {
        if let Ok(mut reader) = m.try_lock() {
            let had = reader.stream.has_transfer();
            reader.stream.release_transfer();
            return had;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn others_on_counts_file_handles_but_not_the_asker_or_directories() {
        let t = HandleTable::new();
        let dir = t.insert(Handle::Dir(DirHandle::new(1)), None);
        let first = t.insert(Handle::Dir(DirHandle::new(1)), Some(7));
        assert!(!t.others_on(7, first), "alone on the file");
        let second = t.insert(Handle::Dir(DirHandle::new(1)), Some(7));
        assert!(t.others_on(7, first));
        assert!(t.others_on(7, second));
        assert!(!t.others_on(8, first));
        t.remove(second);
        assert!(!t.others_on(7, first));
        assert!(t.get(dir).is_some());
        assert_eq!(t.count(), 2);
    }
}
