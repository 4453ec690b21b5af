//! Coherence with other clients of the same server: the server's word wins.
//!
//! The directory cache answers for `dir_cache_ttl`, so another client's change shows only
//! when a listing is fetched again. Three things keep that short and never contradictory:
//!
//! - **Contradictions** ([`FtpFs::contradicted`]): when a reply contradicts the cache (MKD says
//!   the name exists, RETR/DELE/RNFR say a listed name is not there, SIZE finds a name the
//!   listing lacks), the directory's listing is invalidated at once and the kernel is told to
//!   forget the name and the file's attributes and pages ([`Notice`]). The next access lists
//!   the directory again: one re-listing per contradiction, counted in the `contradictions`
//!   stat.
//! - **Short negative answers** ([`FtpFs::find_child`]): a name missing from a listing older
//!   than `negative_ttl` (1 s) makes the directory be listed again before the answer is "no
//!   such file": most misses are names about to be created, or just created elsewhere.
//! - **Revalidation** ([`FtpFs::compare_listings`]): a new listing of a directory is compared
//!   with the one it replaces; names that appeared, vanished or changed kind, size or time
//!   are told to the kernel, so it drops their entries, attributes and cached pages.
//!
//! - **Cached pages kept only while valid** ([`FtpFs::pages_still_valid`]): an open of a file
//!   whose listed size and exact time, and content version, are those it had when the kernel
//!   cached its pages asks the server (SIZE and MDTM, one round trip where pipelined) whether
//!   it is still so, close-to-open like NFS; only then are the pages kept (FOPEN_KEEP_CACHE),
//!   so a second `cat` of an unchanged file downloads nothing, and a changed one is never
//!   served from old pages.
//!
//! `fuse.rs` turns [`Notice`]s into the FUSE notify calls (`inval_entry`, `inval_inode`) on
//! its invalidation thread (`fuse/inval.rs`), never in the path of the request that caused
//! them.

use std::time::{SystemTime, UNIX_EPOCH};

use super::cache::Listing;
use super::{lock, FtpFs};
use crate::error::FsError;
use crate::remote::{Entry, Name, RemotePath};

/// What the kernel must forget (sent to `fuse.rs`; this layer knows no fuser).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// The name's dentry in directory `parent` (the name vanished, appeared or changed).
    Entry { parent: u64, name: Vec<u8> },
    /// The file's cached attributes and pages (its size or time changed).
    Inode(u64),
}

/// What a file was when the kernel cached its pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PagesOf {
    size: u64,
    mtime: Option<SystemTime>,
    version: u64,
}

/// Whole seconds since the epoch (MDTM's precision).
fn secs(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    }
}

/// Where notices go: set once by `fuse.rs`.
pub type NoticeSink = Box<dyn Fn(Notice) + Send + Sync>;

impl FtpFs {
    /// Sends kernel notices through `fuse.rs` (see [`Notice`]).
    pub fn set_notices(&self, sink: NoticeSink) {
        let _ = self.notices.set(sink);
    }

    fn notify(&self, notice: Notice) {
        if let Some(sink) = self.notices.get() {
            crate::stats::add(&crate::stats::NOTICES, 1);
            sink(notice);
        }
    }

    /// Tells the kernel to forget `name` in `dir` and, if it has one, that file's inode.
    fn forget_in_kernel(&self, dir: &RemotePath, name: &Name) {
        let (parent, child) = {
            let inodes = self.inodes_lock();
            (inodes.known(dir), inodes.known(&dir.join(name)))
        };
        if let Some(parent) = parent {
            self.notify(Notice::Entry {
                parent,
                name: name.as_bytes().to_vec(),
            });
        }
        if let Some(ino) = child {
            self.notify(Notice::Inode(ino));
        }
    }

    /// A server reply contradicted what the cache says about `path`: its directory's listing
    /// (and its own, if it is one) is invalid from now on, and the kernel forgets it.
    pub(super) fn contradicted(&self, path: &RemotePath) {
        let Some((dir, name)) = path.split() else {
            return;
        };
        log::debug!("the server contradicts the cached listing of {dir} about {path}");
        crate::stats::add(&crate::stats::CONTRADICTIONS, 1);
        {
            let mut cache = self.cache_lock();
            cache.invalidate(&dir);
            cache.invalidate(path);
        }
        self.forget_in_kernel(&dir, &name);
    }

    /// Checks a remote call's error against the cache: "not found" or "exists" about a path
    /// means the cache was wrong about it (see [`FtpFs::contradicted`]).
    pub(super) fn checked<T>(
        &self,
        path: &RemotePath,
        result: Result<T, crate::remote::RemoteError>,
    ) -> Result<T, FsError> {
        use crate::remote::RemoteErrorKind::{Exists, NotFound};
        if let Err(e) = &result {
            if matches!(e.kind, NotFound | Exists) {
                self.contradicted(path);
            }
        }
        result.map_err(FsError::from)
    }

    /// The entry `name` of directory `dir`: from the cached listing, or, when the name is not
    /// in it and the listing is older than `negative_ttl`, from a new listing. So "no such
    /// file" is never older than `negative_ttl`, while names that exist are answered from the
    /// cache for `dir_cache_ttl`.
    pub(super) fn find_child(&self, dir: &RemotePath, name: &Name) -> Result<Entry, FsError> {
        let listing = self.listing(dir)?;
        if let Some(e) = listing.get(name.as_bytes()) {
            return Ok(e.clone());
        }
        if self
            .cache_lock()
            .expire_if_older(dir, self.cfg.negative_ttl)
        {
            crate::stats::add(&crate::stats::NEGATIVE_RELISTINGS, 1);
        }
        self.listing(dir)?
            .get(name.as_bytes())
            .cloned()
            .ok_or(FsError::NotFound)
    }

    /// Compares a new listing of `dir` with the one it replaces and tells the kernel about
    /// every name that appeared, vanished or changed (kind, size or time).
    pub(super) fn compare_listings(&self, dir: &RemotePath, old: &Listing, new: &Listing) {
        if self.notices.get().is_none() {
            return;
        }
        let changed =
            |a: &Entry, b: &Entry| a.kind != b.kind || a.size != b.size || a.mtime != b.mtime;
        let mut names: Vec<&[u8]> = Vec::new();
        for e in new.entries() {
            match old.get(&e.name) {
                Some(o) if !changed(o, e) => {}
                _ => names.push(&e.name),
            }
        }
        for e in old.entries() {
            if new.get(&e.name).is_none() {
                names.push(&e.name);
            }
        }
        for name in names {
            if let Ok(name) = Name::new(name) {
                self.forget_in_kernel(dir, &name);
            }
        }
    }

    /// Whether the kernel's cached pages of file `ino` (at `path`, listed as `entry`) are still
    /// its content, for a read-only open. Only a file whose time is exact, and that this mount
    /// has not changed since, can qualify; the server is then asked (SIZE, MDTM) whether size
    /// and time are still the listed ones. If they are not, that is a contradiction: `entry`
    /// is updated from a new listing and the pages are dropped.
    pub(super) fn pages_still_valid(
        &self,
        ino: u64,
        path: &RemotePath,
        entry: &mut Entry,
    ) -> Result<bool, FsError> {
        use crate::remote::TimePrecision;
        let now = PagesOf {
            size: entry.size,
            mtime: entry.mtime,
            version: self.inodes_lock().version(ino),
        };
        let before = lock(&self.cached_pages).put(ino, now);
        // Files this mount has written are left out: their pages meet writes through other
        // handles, direct I/O and uploads; the content version alone is not worth that risk.
        if before != Some(now) || entry.precision != TimePrecision::Exact || now.version != 0 {
            return Ok(false);
        }
        let Some(listed) = entry.mtime else {
            return Ok(false);
        };
        // FTP times have whole seconds: a file rewritten with the same size in the second
        // its time shows cannot be told apart. Keep pages only of files older than that.
        if secs(listed) + 1 >= secs(SystemTime::now()) {
            return Ok(false);
        }
        match self.remote.size_and_mtime(path) {
            Ok((size, mtime)) if size == entry.size && secs(mtime) == secs(listed) => {
                crate::stats::add(&crate::stats::PAGES_KEPT, 1);
                Ok(true)
            }
            Ok(_) => {
                self.contradicted(path);
                *entry = self.entry(path)?;
                self.forget_pages(ino);
                Ok(false)
            }
            Err(e) => {
                self.forget_pages(ino);
                if e.kind == crate::remote::RemoteErrorKind::NotFound {
                    self.contradicted(path);
                    return Err(FsError::NotFound);
                }
                // Could not ask: read it anew.
                log::debug!("SIZE/MDTM {path}: {e}");
                Ok(false)
            }
        }
    }

    /// The kernel's pages of `ino` are not known to be valid (opened for writing, changed).
    pub(super) fn forget_pages(&self, ino: u64) {
        lock(&self.cached_pages).pop(&ino);
    }

    /// Lists directory `ino` again now, whatever the cache holds, and tells the kernel what
    /// changed (`setfattr -n user.ftpfs.refresh DIR`). On a file, its directory is listed.
    pub fn refresh(&self, ino: u64) -> Result<(), FsError> {
        let path = self.path_of(ino)?;
        let is_dir = ino == super::inode::ROOT_INO
            || self.entry(&path)?.kind == crate::remote::EntryKind::Dir;
        let dir = match is_dir {
            true => path,
            false => path.split().map(|(d, _)| d).ok_or(FsError::Stale)?,
        };
        crate::stats::add(&crate::stats::REFRESHES, 1);
        self.cache_lock().invalidate(&dir);
        self.listing(&dir).map(|_| ())
    }
}
