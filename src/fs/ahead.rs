//! Read-ahead across files: when a small file is opened for reading, the next few small
//! files of its directory are downloaded in the background, so `cat *`, `grep -r`, `tar c`
//! or `cp -r` over many small files stop paying a transfer's round trips per file.
//!
//! - Which files: the [`AHEAD_FILES`] files after the one opened, in the listing's order
//!   (what `readdir` gives `tar`, `cp -r`, `grep -r`) and in name order (what a shell glob
//!   gives `cat *`), each at most [`AHEAD_FILE_MAX`] bytes, with an exact time.
//! - How: jobs on the look-ahead queue (`lister.rs`), run by its workers on spare sessions
//!   only (`Pool::try_checkout_spare`): never a reader's session, never while a request
//!   waits for one.
//! - Bounded: at most [`AHEAD_BYTES`] held; a file is held at most [`AHEAD_MAX_AGE`] (and
//!   never longer than `dir_cache_ttl`); one that is not opened by then is dropped unused.
//! - Never stale: only files whose time is at least two seconds old are held (a change in
//!   the same second, to the same size, could not be told apart), and the content is used
//!   only if the file's listed size and time when it is opened are the ones it had when it
//!   was downloaded, and only once.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use super::lister::Job;
use super::{lock, FtpFs};
use crate::remote::{Entry, EntryKind, Name, RemotePath, TimePrecision};

/// Files downloaded ahead after each small file opened (in each of the two orders).
pub const AHEAD_FILES: usize = 4;
/// Largest file downloaded ahead: small files are where a transfer's round trips dominate.
pub const AHEAD_FILE_MAX: u64 = 256 * 1024;
/// Most bytes held by files downloaded ahead and not opened yet.
pub const AHEAD_BYTES: u64 = 16 * 1024 * 1024;
/// Longest a file downloaded ahead is held (and so the most its content can lag behind the
/// server's): a walk opens the next files within a moment, or not at all.
pub const AHEAD_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(5);

/// A file downloaded ahead.
struct Held {
    size: u64,
    mtime: Option<SystemTime>,
    data: Arc<Vec<u8>>,
    at: Instant,
}

/// Files downloaded ahead, by path.
#[derive(Default)]
pub(super) struct AheadStore {
    held: HashMap<RemotePath, Held>,
    bytes: u64,
    /// Being downloaded now (the same file may be queued again meanwhile).
    fetching: std::collections::HashSet<RemotePath>,
}

impl AheadStore {
    fn drop_older_than(&mut self, ttl: std::time::Duration) {
        let bytes = &mut self.bytes;
        self.held.retain(|_, h| {
            let keep = h.at.elapsed() < ttl;
            if !keep {
                *bytes -= h.data.len() as u64;
            }
            keep
        });
    }
}

/// Whether `e` is a file worth downloading ahead.
fn small_file(e: &Entry) -> bool {
    e.kind == EntryKind::File
        && e.size > 0
        && e.size <= AHEAD_FILE_MAX
        && e.precision == TimePrecision::Exact
}

impl FtpFs {
    /// A small file `path` (listed as `entry`) was opened for reading: queue the next small
    /// files of its directory.
    pub(super) fn queue_read_ahead(&self, path: &RemotePath, entry: &Entry) {
        if self.cfg.prefetch_dirs == 0 || !small_file(entry) {
            return;
        }
        let Some((dir, name)) = path.split() else {
            return;
        };
        let Some(super::cache::Cached::Present(listing)) = lock(&self.cache).peek(&dir) else {
            return;
        };
        let entries = listing.entries();
        let mut by_name: Vec<&Entry> = entries.iter().collect();
        by_name.sort_by(|a, b| a.name.cmp(&b.name));
        let next = |list: &[&Entry]| -> Vec<Vec<u8>> {
            let at = list.iter().position(|e| e.name == name.as_bytes());
            at.map(|i| {
                list[i + 1..]
                    .iter()
                    .filter(|e| small_file(e))
                    .take(AHEAD_FILES)
                    .map(|e| e.name.clone())
                    .collect()
            })
            .unwrap_or_default()
        };
        let in_order: Vec<&Entry> = entries.iter().collect();
        let mut names = next(&in_order);
        for n in next(&by_name) {
            if !names.contains(&n) {
                names.push(n);
            }
        }
        let store = lock(&self.ahead);
        let jobs: Vec<Job> = names
            .iter()
            .filter_map(|n| Name::new(n).ok())
            .map(|n| dir.join(&n))
            .filter(|p| !store.held.contains_key(p))
            .map(Job::Read)
            .collect();
        drop(store);
        self.prefetch.push(jobs);
    }

    /// Downloads `path` ahead (a [`Job::Read`]); `false` when no session was spare.
    pub(super) fn read_ahead(&self, path: &RemotePath) -> bool {
        let Ok(entry) = self.entry(path) else {
            return true;
        };
        // A file changed in the second its time shows cannot be told from its next version
        // of the same size: only files older than that are held.
        let settled = entry
            .mtime
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age >= std::time::Duration::from_secs(2));
        if !small_file(&entry) || !settled || self.open_file_at(path) {
            return true;
        }
        {
            let mut store = lock(&self.ahead);
            store.drop_older_than(self.max_age());
            if store.held.contains_key(path)
                || store.fetching.contains(path)
                || store.bytes + entry.size > AHEAD_BYTES
            {
                return true;
            }
            store.fetching.insert(path.clone());
        }
        let downloaded = self
            .remote
            .download_spare(path, entry.size, self.cfg.data_timeout);
        lock(&self.ahead).fetching.remove(path);
        match downloaded {
            Ok(None) => false,
            Ok(Some(data)) if data.len() as u64 == entry.size => {
                crate::stats::add(&crate::stats::READ_AHEAD, 1);
                let mut store = lock(&self.ahead);
                if store.bytes + entry.size <= AHEAD_BYTES {
                    store.bytes += entry.size;
                    let held = Held {
                        size: entry.size,
                        mtime: entry.mtime,
                        data: Arc::new(data),
                        at: Instant::now(),
                    };
                    if let Some(old) = store.held.insert(path.clone(), held) {
                        store.bytes -= old.data.len() as u64;
                    }
                }
                true
            }
            Ok(Some(_)) => {
                // Not the listed size: it changed; the next open will find out.
                true
            }
            Err(e) => {
                log::debug!("reading {path} ahead: {e}");
                true
            }
        }
    }

    /// The content of `path` downloaded ahead, if it is still the file `entry` lists (same
    /// size and time). Taken: it serves one open.
    pub(super) fn take_read_ahead(&self, path: &RemotePath, entry: &Entry) -> Option<Arc<Vec<u8>>> {
        let mut store = lock(&self.ahead);
        let held = store.held.remove(path)?;
        store.bytes -= held.data.len() as u64;
        let fresh = held.at.elapsed() < self.max_age();
        (fresh && held.size == entry.size && held.mtime == entry.mtime && small_file(entry))
            .then_some(held.data)
    }

    fn max_age(&self) -> std::time::Duration {
        AHEAD_MAX_AGE.min(self.cfg.dir_ttl)
    }

    /// Whether a file is open for writing at `path` (its content is not the server's).
    fn open_file_at(&self, path: &RemotePath) -> bool {
        let ino = self.inodes_lock().known(path);
        ino.is_some_and(|ino| self.open_file(ino).is_some())
    }
}
