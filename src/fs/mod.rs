//! The filesystem: inodes, the directory cache, open handles and reads, in plain Rust types.
//!
//! [`FtpFs`] implements each filesystem operation as a method that takes inode numbers,
//! handle numbers and byte names, and returns `Result<_, FsError>`. It never sees a fuser
//! type (`fuse.rs` adapts), and never parses an FTP reply (`remote` does). It can therefore
//! be driven directly in tests.
//!
//! Locks, in the order they may be taken: a handle's `Mutex<Reader>` or a `WriteFile`, then
//! `inodes`, then `cache`, then `mtimes`, then `open_files` (each of the last four is held
//! only for map operations, never across a network call).

pub mod ahead;
pub mod attr;
pub mod cache;
pub mod coherence;
pub mod handles;
pub mod inode;
pub mod lister;
pub mod namespace;
pub mod reader;
pub mod renamed;
pub mod spool;
pub mod symlink;
pub mod write;

use std::collections::{HashMap, HashSet};
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, SystemTime};

use lru::LruCache;

use crate::error::FsError;
use crate::remote::client::Remote;
use crate::remote::session::Features;
use crate::remote::{Entry, EntryKind, Name, RemotePath, TimePrecision};
use attr::{Attr, Ownership};
use cache::{Cached, DirCache};
use handles::{DirHandle, DirItem, Handle, HandleTable, Reader, StreamLot};
use inode::{InodeTable, ROOT_INO};
use reader::ReadStream;
use spool::SpoolBudget;
use write::WriterHandle;

/// After a read timed out, further reads on the same handle fail at once for this long (the
/// kernel retries a failed read immediately; see SEMANTICS.md, failures).
const RETRY_AFTER_TIMEOUT: Duration = Duration::from_secs(2);

/// How many MDTM-refined modification times are remembered.
const MAX_REFINED_MTIMES: usize = 65536;

/// Everything the filesystem layer needs to know, from the validated configuration.
#[derive(Debug, Clone)]
pub struct FsConfig {
    /// The remote directory shown as the mount root.
    pub root: RemotePath,
    /// How long a directory listing answers lookups (`dir_cache_ttl`).
    pub dir_ttl: Duration,
    /// How long "no such directory" is remembered.
    pub negative_ttl: Duration,
    pub owner: Ownership,
    /// Deadline for each read on a data connection.
    pub data_timeout: Duration,
    /// Refine LIST's minute- or day-precision times with MDTM.
    pub refine_mtime: bool,
    /// Subdirectories of a directory being read that are listed ahead (0: none).
    pub prefetch_dirs: usize,
    /// Where spool files live (`cache_dir`/spool).
    pub spool_dir: PathBuf,
    /// Most bytes all spools together may hold.
    pub spool_max: u64,
    /// Refuse every change with EROFS (`-o ro`).
    pub read_only: bool,
}

/// An open file handle, and whether the kernel may keep the file's cached pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opened {
    pub fh: u64,
    pub keep_cache: bool,
}

/// How a file is opened, from the open flags.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpenMode {
    pub write: bool,
    pub truncate: bool,
    pub append: bool,
    /// The process (thread group) that opens for writing, 0 for a read-only open: see
    /// [`FtpFs::flush`].
    pub owner: u32,
}

/// Values for statfs. FTP has no way to ask for free space, so these are fixed, large and
/// self-consistent (the same choice as rclone and curlftpfs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatFs {
    pub blocks: u64,
    pub bfree: u64,
    pub bavail: u64,
    pub files: u64,
    pub ffree: u64,
    pub bsize: u32,
    pub namelen: u32,
}

/// A remote modification time refined with MDTM, valid while the listing still shows the
/// same coarse time and size.
#[derive(Clone, Copy)]
struct Refined {
    coarse: Option<SystemTime>,
    size: u64,
    exact: SystemTime,
}

pub struct FtpFs {
    remote: Remote,
    cfg: FsConfig,
    /// What the server supports; learned at mount, or on first use with `delay_connect`.
    features: OnceLock<Features>,
    inodes: Mutex<InodeTable>,
    cache: Mutex<DirCache>,
    mtimes: Mutex<LruCache<RemotePath, Refined>>,
    handles: HandleTable,
    lot: Arc<StreamLot>,
    /// Shared write state of every inode open for writing.
    open_files: Mutex<HashMap<u64, Arc<write::FileCell>>>,
    budget: Arc<SpoolBudget>,
    mounted_at: SystemTime,
    /// Which risky kinds of names the server keeps (see `renamed.rs`).
    name_checks: renamed::NameChecks,
    /// Files created here and not uploaded yet (`WriteFile::absent`): fresh listings lack
    /// them, so they are added while open.
    pending: Mutex<HashSet<u64>>,
    /// Listings being fetched, so each directory is listed once at a time (`lister.rs`).
    flights: lister::Flights,
    /// Subdirectories to list ahead of the caller (`lister.rs`).
    prefetch: Arc<lister::Prefetcher>,
    /// Whether listings carry exact times (see [`FtpFs::eager_times`]); decided once.
    eager: OnceLock<bool>,
    /// Where kernel cache notices go (`coherence.rs`; set by `fuse.rs`).
    notices: OnceLock<coherence::NoticeSink>,
    /// What each file was (size, time, content version) when the kernel last cached its
    /// pages: an open that finds it unchanged keeps them (`coherence.rs`).
    cached_pages: Mutex<LruCache<u64, coherence::PagesOf>>,
    /// Small files downloaded ahead of their open (`ahead.rs`).
    ahead: Mutex<ahead::AheadStore>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl FtpFs {
    /// Builds the filesystem on top of `remote`, whose server has `features`.
    /// `features` is `None` with `delay_connect`: they are learned on first use.
    pub fn new(remote: Remote, features: Option<Features>, cfg: FsConfig) -> FtpFs {
        // Every session may hold an idle reader's stream: a metadata call that finds none
        // free takes the least recently used one back (the reclaimer below). A cap below the
        // pool's size made as many parallel readers as sessions evict each other's streams
        // between reads: four `dd`s with max_conns=4 restarted RETR 51 times for 4 files.
        let lot = Arc::new(StreamLot::new(remote.pool().max_sessions()));
        let reclaim = Arc::clone(&lot);
        remote.set_reclaimer(Box::new(move || reclaim.evict_oldest()));
        FtpFs {
            remote,
            features: features.map(OnceLock::from).unwrap_or_default(),
            inodes: Mutex::new(InodeTable::new(cfg.root.clone())),
            cache: Mutex::new(DirCache::new(cfg.dir_ttl, cfg.negative_ttl)),
            mtimes: Mutex::new(LruCache::new(
                NonZeroUsize::new(MAX_REFINED_MTIMES).expect("constant is not zero"),
            )),
            handles: HandleTable::new(),
            lot,
            open_files: Mutex::new(HashMap::new()),
            budget: SpoolBudget::new(cfg.spool_max),
            mounted_at: SystemTime::now(),
            name_checks: renamed::NameChecks::default(),
            pending: Mutex::new(HashSet::new()),
            flights: lister::Flights::default(),
            prefetch: Arc::new(lister::Prefetcher::new(cfg.prefetch_dirs)),
            eager: OnceLock::new(),
            notices: OnceLock::new(),
            ahead: Mutex::new(ahead::AheadStore::default()),
            cached_pages: Mutex::new(LruCache::new(
                NonZeroUsize::new(MAX_REFINED_MTIMES).expect("constant is not zero"),
            )),
            cfg,
        }
    }

    /// The server's features, connecting first if nothing has yet (`delay_connect`).
    fn features(&self) -> Features {
        if let Some(f) = self.features.get() {
            return f.clone();
        }
        match self.remote.features() {
            Ok(f) => self.features.get_or_init(|| f).clone(),
            Err(e) => {
                log::debug!("features unknown ({e})");
                Features::default()
            }
        }
    }

    pub fn config(&self) -> &FsConfig {
        &self.cfg
    }

    pub fn remote(&self) -> &Remote {
        &self.remote
    }

    /// Fails with EROFS on a read-only mount.
    fn writable(&self) -> Result<(), FsError> {
        if self.cfg.read_only {
            Err(FsError::ReadOnly)
        } else {
            Ok(())
        }
    }

    fn path_of(&self, ino: u64) -> Result<RemotePath, FsError> {
        lock(&self.inodes).path(ino).cloned().ok_or(FsError::Stale)
    }

    fn inodes_lock(&self) -> MutexGuard<'_, InodeTable> {
        lock(&self.inodes)
    }

    fn cache_lock(&self) -> MutexGuard<'_, DirCache> {
        lock(&self.cache)
    }

    /// The inode of `path`, with one more kernel reference.
    fn inodes_lookup(&self, path: &RemotePath) -> u64 {
        lock(&self.inodes).lookup(path)
    }

    /// Adds or replaces `entry` in the cached listing of `dir` after our own change.
    fn cache_upsert(&self, dir: &RemotePath, entry: Entry) {
        lock(&self.cache).upsert(dir, entry);
    }

    /// Changes the cached entry of `path`, if its directory is cached.
    fn update_entry(&self, path: &RemotePath, change: impl FnOnce(&mut Entry)) {
        let Some((dir, name)) = path.split() else {
            return;
        };
        let mut cache = lock(&self.cache);
        if let Some(Cached::Present(listing)) = cache.peek(&dir) {
            if let Some(mut entry) = listing.get(name.as_bytes()).cloned() {
                change(&mut entry);
                cache.upsert(&dir, entry);
            }
        }
    }

    /// Rewrites the link targets of a listing of `dir` so they resolve inside the mount
    /// (see symlink.rs).
    fn contain_links(&self, dir: &RemotePath, entries: &mut [Entry]) {
        let root = self.cfg.root.as_bytes();
        let below = if self.cfg.root.is_root() {
            &dir.as_bytes()[1..]
        } else {
            dir.as_bytes().get(root.len()..).unwrap_or_default()
        };
        let link_dir: Vec<&[u8]> = below
            .split(|&b| b == b'/')
            .filter(|p| !p.is_empty())
            .collect();
        for e in entries.iter_mut() {
            if let Some(target) = e.link_target.as_mut() {
                *target = symlink::contain(root, &link_dir, target);
            }
        }
    }

    /// The listing entry for `path` (which is not the root).
    fn entry(&self, path: &RemotePath) -> Result<Entry, FsError> {
        let (parent, name) = path.split().ok_or(FsError::IsADirectory)?;
        let listing = self.listing(&parent)?;
        listing
            .get(name.as_bytes())
            .cloned()
            .ok_or(FsError::NotFound)
    }

    /// Attributes for a listed entry, with the mtime refined by MDTM when the listing's is
    /// coarse (LIST gives minutes or days) and the server supports MDTM.
    fn attr_of(&self, ino: u64, path: &RemotePath, entry: &Entry, refine: bool) -> Attr {
        let mut mtime = None;
        if entry.kind == EntryKind::File && entry.precision < TimePrecision::Exact {
            match self.known_mtime(path, entry) {
                Some(exact) => mtime = Some(exact),
                _ if refine
                    && self.cfg.refine_mtime
                    && self.features().mdtm
                    && !self.eager_times() =>
                {
                    crate::stats::add(&crate::stats::MDTM_REFINEMENTS, 1);
                    match self.remote.mdtm(path) {
                        Ok(exact) => {
                            mtime = Some(exact);
                            let r = Refined {
                                coarse: entry.mtime,
                                size: entry.size,
                                exact,
                            };
                            lock(&self.mtimes).put(path.clone(), r);
                        }
                        Err(e) => log::debug!("MDTM {path}: {e}"),
                    }
                }
                _ => {}
            }
        }
        let attr = Attr::from_entry(ino, entry, &self.cfg.owner, mtime);
        self.with_open_state(attr)
    }

    /// Size and time of a file open for writing come from its local state, not the listing.
    fn with_open_state(&self, mut attr: Attr) -> Attr {
        if let Some(file) = self.open_file(attr.ino) {
            let wf = write::lock_file(&file);
            attr.size = wf.size();
            attr.mtime = wf.mtime();
        }
        attr
    }

    /// Whether a listing alone gives final attributes. When it does not (LIST-only servers,
    /// whose times are refined with MDTM on lookup), readdirplus must stay off: attributes
    /// handed out with a listing would disagree with the refined ones from a later getattr,
    /// and tools such as tar would report "file changed as we read it".
    pub fn listings_are_final(&self) -> bool {
        match self.features.get() {
            Some(f) => f.mlsd || !self.cfg.refine_mtime || !f.mdtm || self.eager_times(),
            // Not connected yet (delay_connect): assume the worst.
            None => !self.cfg.refine_mtime,
        }
    }

    pub(super) fn pending_lock(&self) -> MutexGuard<'_, HashSet<u64>> {
        lock(&self.pending)
    }

    /// The paths of the files created here and not uploaded yet (unlinked ones have none).
    pub(super) fn pending_paths(&self) -> Vec<RemotePath> {
        let inos: Vec<u64> = self.pending_lock().iter().copied().collect();
        let inodes = self.inodes_lock();
        inos.into_iter()
            .filter_map(|ino| inodes.linked_path(ino).cloned())
            .collect()
    }

    /// Adds to a fresh listing of `dir` the files created in it and not uploaded yet (the
    /// server does not know them; their size and time come from their open state).
    fn add_pending(&self, dir: &RemotePath, entries: &mut Vec<Entry>) {
        for path in self.pending_paths() {
            let Some((parent, name)) = path.split() else {
                continue;
            };
            if parent != *dir || entries.iter().any(|e| e.name == name.as_bytes()) {
                continue;
            }
            entries.push(Entry {
                name: name.as_bytes().to_vec(),
                kind: EntryKind::File,
                size: 0,
                mtime: Some(SystemTime::now()),
                precision: TimePrecision::Exact,
                mode: None,
                link_target: None,
            });
        }
    }

    /// Lists the mount root once, so a wrong path in the URL fails the mount. The listing is
    /// not kept: what another client changes after the mount shows at once.
    pub fn check_root(&self) -> Result<(), FsError> {
        self.listing(&self.cfg.root)?;
        self.cache_lock().invalidate(&self.cfg.root);
        Ok(())
    }

    fn root_attr(&self) -> Attr {
        Attr::root(ROOT_INO, &self.cfg.owner, self.mounted_at)
    }

    /// Looks `name` up in directory `parent`. On success the kernel holds one more reference
    /// to the returned inode.
    pub fn lookup(&self, parent: u64, name: &[u8]) -> Result<Attr, FsError> {
        let name = Name::new(name)?;
        let dir = self.path_of(parent)?;
        let entry = self.find_child(&dir, &name)?;
        let path = dir.join(&name);
        let ino = lock(&self.inodes).lookup(&path);
        Ok(self.attr_of(ino, &path, &entry, true))
    }

    /// The kernel dropped `nlookup` references to `ino`.
    pub fn forget(&self, ino: u64, nlookup: u64) {
        lock(&self.inodes).forget(ino, nlookup);
    }

    pub fn getattr(&self, ino: u64) -> Result<Attr, FsError> {
        if ino == ROOT_INO {
            return Ok(self.root_attr());
        }
        let path = self.path_of(ino)?;
        let entry = self.entry(&path)?;
        Ok(self.attr_of(ino, &path, &entry, true))
    }

    pub fn readlink(&self, ino: u64) -> Result<Vec<u8>, FsError> {
        let path = self.path_of(ino)?;
        let entry = self.entry(&path)?;
        match (entry.kind, entry.link_target) {
            (EntryKind::Symlink, Some(target)) => Ok(target),
            (EntryKind::Symlink, None) => {
                // proftpd and pure-ftpd leave link targets out of MLSD; LIST has them.
                let (dir, name) = path.split().ok_or(FsError::Stale)?;
                let mut entries = self.remote.list_unix(&dir)?;
                self.contain_links(&dir, &mut entries);
                entries
                    .into_iter()
                    .find(|e| e.name == name.as_bytes())
                    .and_then(|e| e.link_target)
                    .ok_or(FsError::NotSupported(
                        "the server does not show this link's target",
                    ))
            }
            _ => Err(FsError::InvalidArgument("not a symbolic link")),
        }
    }

    /// Opens a directory: snapshots its entries (with `.` and `..`) so readdir offsets stay
    /// stable.
    /// Opens a directory. It is listed at its first readdir, not here: opening alone (as
    /// `ftpfs --stats` does with the root) costs no listing.
    pub fn opendir(&self, ino: u64) -> Result<u64, FsError> {
        if self.getattr(ino)?.kind != EntryKind::Dir {
            return Err(FsError::NotADirectory);
        }
        Ok(self.handles.insert(Handle::Dir(DirHandle::new(ino)), None))
    }

    /// The entries of directory `ino`, `.` and `..` first, from its listing; queues its
    /// subdirectories to be listed ahead.
    fn dir_items(&self, ino: u64) -> Result<Vec<DirItem>, FsError> {
        let dir = self.path_of(ino)?;
        let self_attr = self.getattr(ino)?;
        if self_attr.kind != EntryKind::Dir {
            return Err(FsError::NotADirectory);
        }
        let listing = self.listing(&dir)?;
        self.prefetch_children(&dir, &listing);
        let mut items = Vec::with_capacity(listing.entries().len() + 2);
        items.push(DirItem {
            name: b".".to_vec(),
            kind: EntryKind::Dir,
            attr: self_attr.clone(),
        });
        items.push(DirItem {
            name: b"..".to_vec(),
            kind: EntryKind::Dir,
            attr: self_attr,
        });
        {
            let mut inodes = lock(&self.inodes);
            for entry in listing.entries() {
                let Ok(name) = Name::new(&entry.name) else {
                    log::warn!(
                        "{dir}: skipping a name that cannot be used: {:?}",
                        entry.name.escape_ascii().to_string()
                    );
                    continue;
                };
                let path = dir.join(&name);
                let ino = inodes.ino_for(&path);
                let mtime = self.known_mtime(&path, entry);
                let attr = Attr::from_entry(ino, entry, &self.cfg.owner, mtime);
                items.push(DirItem {
                    name: entry.name.clone(),
                    kind: entry.kind,
                    attr,
                });
            }
        }
        Ok(items)
    }

    pub fn readdir(
        &self,
        fh: u64,
        offset: u64,
        plus: bool,
        mut add: impl FnMut(&DirItem, u64) -> bool,
    ) -> Result<(), FsError> {
        let handle = self.handles.get(fh).ok_or(FsError::Stale)?;
        let Handle::Dir(dir) = &*handle else {
            return Err(FsError::Stale);
        };
        let items = match dir.items.get() {
            Some(items) => items,
            None => {
                let listed = self.dir_items(dir.ino)?;
                dir.items.get_or_init(|| listed)
            }
        };
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        for (i, item) in items.iter().enumerate().skip(start) {
            if add(item, i as u64 + 1) {
                break;
            }
            if plus && i >= 2 {
                lock(&self.inodes).add_lookup(item.attr.ino);
            }
        }
        Ok(())
    }

    pub fn releasedir(&self, fh: u64) {
        self.handles.remove(fh);
    }

    /// Opens a file. Writers (and readers of a file being written) share the inode's write
    /// state; plain readers get a read stream.
    /// Opens a file. `keep_cache` in the answer says that the kernel's cached pages of it
    /// are still valid (see [`FtpFs::pages_still_valid`]).
    pub fn open(&self, ino: u64, mode: OpenMode) -> Result<Opened, FsError> {
        let path = self.path_of(ino)?;
        if ino == ROOT_INO {
            return Err(FsError::IsADirectory);
        }
        let mut entry = self.entry(&path)?;
        match entry.kind {
            EntryKind::Dir => return Err(FsError::IsADirectory),
            EntryKind::File => {}
            _ => return Err(FsError::NotSupported("only regular files can be opened")),
        }
        if mode.write {
            self.writable()?;
        }
        if mode.write || self.open_file(ino).is_some() {
            self.forget_pages(ino);
            return self.open_writer(ino, &entry, mode).map(|fh| Opened {
                fh,
                keep_cache: false,
            });
        }
        let keep_cache = self.pages_still_valid(ino, &path, &mut entry)?;
        let preloaded = match keep_cache {
            true => None,
            false => self.take_read_ahead(&path, &entry),
        };
        if preloaded.is_some() {
            crate::stats::add(&crate::stats::READ_AHEAD_USED, 1);
        }
        self.queue_read_ahead(&path, &entry);
        let reader = Reader {
            preloaded,
            ino,
            version: lock(&self.inodes).version(ino),
            path,
            size: entry.size,
            stream: ReadStream::new(),
            timed_out: None,
        };
        let fh = self
            .handles
            .insert(Handle::Reader(Box::new(Mutex::new(reader))), Some(ino));
        Ok(Opened { fh, keep_cache })
    }

    /// Reads up to `size` bytes at `offset` from an open file and hands them to `deliver`
    /// (which replies to the kernel), while they are still in the read stream's buffers: a
    /// read aligned to them is not copied. `deliver` is called only on success.
    pub fn read<R>(
        &self,
        fh: u64,
        offset: u64,
        size: u32,
        deliver: impl FnOnce(&[u8]) -> R,
    ) -> Result<R, FsError> {
        let handle = self.handles.get(fh).ok_or(FsError::Stale)?;
        fn owned<R>(data: Vec<u8>, deliver: impl FnOnce(&[u8]) -> R) -> R {
            crate::stats::add(&crate::stats::BYTES_READ, data.len() as u64);
            deliver(&data)
        }
        if let Handle::Writer(w) = &*handle {
            return self
                .read_writer(&w.file, offset, size)
                .map(|d| owned(d, deliver));
        }
        let mut reader = handle.reader().ok_or(FsError::IsADirectory)?;
        // Written through another handle since this one opened: read what the writer has
        // (like a local file), and after its upload start over on the new content.
        if let Some(file) = self.open_file(reader.ino) {
            drop(reader);
            return self
                .read_writer(&file, offset, size)
                .map(|d| owned(d, deliver));
        }
        let version = lock(&self.inodes).version(reader.ino);
        if version != reader.version {
            let size = self.entry(&reader.path)?.size;
            reader.stream = ReadStream::new();
            reader.preloaded = None;
            reader.size = size;
            reader.version = version;
        }
        if let Some(data) = &reader.preloaded {
            let start = (offset as usize).min(data.len());
            let end = start.saturating_add(size as usize).min(data.len());
            crate::stats::add(&crate::stats::BYTES_READ, (end - start) as u64);
            return Ok(deliver(&data[start..end]));
        }
        self.lot.unpark(fh);
        if let Some((at, err)) = &reader.timed_out {
            if at.elapsed() < RETRY_AFTER_TIMEOUT {
                return Err(err.clone());
            }
        }
        let Reader {
            path,
            size: file_size,
            stream,
            timed_out,
            ..
        } = &mut *reader;
        let open = |at: u64| {
            crate::stats::add(&crate::stats::DOWNLOADS, 1);
            self.remote.open_read(path, at, self.cfg.data_timeout)
        };
        // The reply is written while the stream (and so its buffers) is held.
        let result = stream
            .read(&open, offset, size as usize, *file_size)
            .map(|data| {
                crate::stats::add(&crate::stats::BYTES_READ, data.len() as u64);
                deliver(&data)
            });
        let result = self.checked(path, result);
        *timed_out = match &result {
            Err(e) if e.errno() == libc::ETIMEDOUT => Some((std::time::Instant::now(), e.clone())),
            _ => None,
        };
        let evict = if stream.has_transfer() {
            self.lot.park(fh, &handle)
        } else {
            None
        };
        drop(reader);
        if let Some(other) = evict {
            handles::evict(&other);
        }
        result
    }

    /// Closes an open file: ends its transfer, or uploads what is dirty (errors are logged
    /// and the spool kept; close() got them from flush already). Returns the directory inode
    /// and name of a new file that never reached the server and is now forgotten: the
    /// kernel's cached entry for it should go too.
    pub fn release(&self, fh: u64) -> Result<Option<(u64, Vec<u8>)>, FsError> {
        self.lot.unpark(fh);
        let mut forgotten = None;
        if let Some(handle) = self.handles.remove(fh) {
            if let Handle::Writer(WriterHandle { file, .. }) = &*handle {
                forgotten = self.release_writer(file);
            }
        }
        Ok(forgotten.map(|(dir, name)| (dir, name.as_bytes().to_vec())))
    }

    /// flush, sent for every close() of a descriptor: uploads now if dirty and reports the
    /// result, when the closing process (`closer`) is the one that opened the handle. Other
    /// processes hold the descriptor by inheritance: a forked child closing its copy (or
    /// exec closing it) must not upload a file its parent is still writing, which would
    /// upload a growing file again at every child's exit. Their flush leaves the data dirty
    /// for the owner's close() or, at the latest, the release of the last descriptor.
    /// `closer` is asked only for handles that write.
    pub fn flush(&self, fh: u64, closer: impl FnOnce() -> u32) -> Result<(), FsError> {
        if let Some(Handle::Writer(w)) = self.handles.get(fh).as_deref() {
            let closer = closer();
            if w.owner != closer {
                log::debug!("flush of handle {fh} by process {closer} (opened by {}): upload left to the owner", w.owner);
                return Ok(());
            }
        }
        self.fsync(fh)
    }

    /// Whether a handle other than `fh` is open on `ino` (one that may have file pages in
    /// the kernel's cache).
    pub fn shared(&self, ino: u64, fh: u64) -> bool {
        self.handles.others_on(ino, fh)
    }

    /// fsync: upload now if dirty and report the result. Read-only handles have nothing to
    /// do.
    pub fn fsync(&self, fh: u64) -> Result<(), FsError> {
        match self.handles.get(fh).as_deref() {
            Some(Handle::Writer(w)) => self.sync_file(&w.file),
            Some(_) => Ok(()),
            None => Err(FsError::Stale),
        }
    }

    pub fn statfs(&self) -> StatFs {
        // 1 PiB of 4 KiB blocks, all free; a million free inodes.
        let blocks = (1u64 << 50) / u64::from(attr::BLOCK_SIZE);
        StatFs {
            blocks,
            bfree: blocks,
            bavail: blocks,
            files: 1_000_000,
            ffree: 1_000_000,
            bsize: attr::BLOCK_SIZE,
            namelen: crate::remote::path::MAX_NAME_LEN as u32,
        }
    }

    /// The mount's counters as `name value` lines (the `user.ftpfs.stats` attribute).
    pub fn stats_report(&self) -> String {
        use crate::stats::{self, get};
        let (hits, misses) = {
            let c = lock(&self.cache);
            (c.hits, c.misses)
        };
        let pool = self.remote.pool();
        let rows: [(&str, u64); 35] = [
            ("operations", get(&stats::OPERATIONS)),
            ("ftp_commands", get(&stats::COMMANDS)),
            ("pipelined_commands", get(&stats::PIPELINED)),
            ("stat_listings", get(&stats::STAT_LISTINGS)),
            ("bytes_read", get(&stats::BYTES_READ)),
            ("bytes_written", get(&stats::BYTES_WRITTEN)),
            ("bytes_uploaded", get(&stats::BYTES_UPLOADED)),
            ("uploads", get(&stats::UPLOADS)),
            ("listings", get(&stats::LISTINGS)),
            ("contradictions", get(&stats::CONTRADICTIONS)),
            ("negative_relistings", get(&stats::NEGATIVE_RELISTINGS)),
            ("refreshes", get(&stats::REFRESHES)),
            ("kernel_notices", get(&stats::NOTICES)),
            ("pages_kept", get(&stats::PAGES_KEPT)),
            ("read_ahead_files", get(&stats::READ_AHEAD)),
            ("read_ahead_used", get(&stats::READ_AHEAD_USED)),
            ("prefetched_listings", get(&stats::PREFETCHED_LISTINGS)),
            ("prefetch_queued", self.prefetch_queued() as u64),
            ("downloads", get(&stats::DOWNLOADS)),
            ("preopened", get(&stats::PREOPENED)),
            ("preopened_used", get(&stats::PREOPENED_USED)),
            ("preopened_stale", get(&stats::PREOPENED_STALE)),
            ("mdtm_refinements", get(&stats::MDTM_REFINEMENTS)),
            ("tls13_transfers", get(&stats::TLS13_TRANSFERS)),
            ("tls12_transfers", get(&stats::TLS12_TRANSFERS)),
            ("cache_hits", hits),
            ("cache_misses", misses),
            ("sessions_live", pool.live() as u64),
            ("sessions_max", pool.max_sessions() as u64),
            ("sessions_peak", pool.peak() as u64),
            ("connects", pool.connects()),
            ("reconnects", pool.reconnects()),
            ("inodes", lock(&self.inodes).count() as u64),
            ("open_handles", self.handles.count() as u64),
            ("spool_bytes", self.budget.used()),
        ];
        rows.iter().map(|(k, v)| format!("{k} {v}\n")).collect()
    }
}
