//! Files open for writing: the shared per-inode state, the sequential fast path, the spool,
//! and uploads that either reach the server or fail loudly.
//!
//! Every handle that writes an inode (and every handle opened on it while it is being written)
//! shares one [`WriteFile`]. Its content is one of:
//! - `Remote`: nothing local; the content is the server's file of `size` bytes;
//! - `Streaming`: the sequential fast path. A new or truncated file written strictly in order
//!   streams straight into a STOR (of a temporary name, or of its own name when the file is
//!   not on the server yet), with no local copy;
//! - `Spool`: a local spool file (see `spool.rs`), for any other access pattern. A stream
//!   that sees a seek, a read or a truncate turns into a spool by finishing its upload and
//!   fetching it back, so nothing written is lost.
//!
//! A file this mount creates exists only here until its first upload (`absent`): `create`
//! sends nothing, listings keep showing it while it is open, and its first upload stores it
//! under its own name, since there is nothing on the server to protect; a failed first upload
//! deletes what it left. This halves the round trips of a new small file.
//!
//! Uploads happen on flush, fsync and release, only when something is dirty. An upload over
//! an existing file goes to a temporary name in the same directory, then RNFR/RNTO over the
//! target, so a failed upload never leaves a half-written file and never loses the old
//! content. Where the
//! server refuses to rename over an existing file, the target is deleted first and the
//! rename retried (the temporary file holds the complete new content meanwhile). Upload
//! errors are returned to that flush/fsync (and so to `close()`); the spool is kept on disk
//! and its path logged.
//!
//! Uploads are in `write/upload.rs`, size/time/mode changes in `write/setattr.rs`.
//!
//! Lock order: a file's lock (its [`FileCell`], granted in arrival order; see `write/order.rs`)
//! is taken before `inodes`, `cache` and `open_files` (which are held only briefly, never
//! across a network call, and never while waiting for a file's lock).
//!
//! Invariant: a [`FileCell`] is in `open_files` exactly while handles share it (except one a
//! failed upload left, which a new one replaces there), so every handle of an inode shares the
//! state later opens find. The count of handles changes only with `open_files` locked,
//! together with the map (`FileCell::add_handle`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use super::attr::Attr;
use super::handles::Handle;
use super::spool::Spool;
use super::{FtpFs, OpenMode};
use crate::error::FsError;
use crate::remote::client::WriteTransfer;
use crate::remote::{
    Entry, EntryKind, Name, RemoteError, RemoteErrorKind, RemotePath, TimePrecision,
};

mod order;
mod setattr;
mod upload;

use order::OpenFiles;
pub use order::{FileCell, FileGuard, AHEAD};

pub use setattr::{SetAttr, TimeSet};

/// Temporary upload names start with this, and listings hide them.
pub const TEMP_PREFIX: &[u8] = b".~ftpfs-";

/// Size of one chunk when uploading a spool.
const UPLOAD_CHUNK: usize = 1024 * 1024;

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Whether a listed name is one of our temporary upload names.
pub fn is_temp_name(name: &[u8]) -> bool {
    name.starts_with(TEMP_PREFIX)
}

/// A temporary name next to `path` for uploading it: `.~ftpfs-<pid>-<n>-<name>`, cut to fit
/// the 255-byte name limit.
pub(super) fn temp_path(path: &RemotePath) -> Result<RemotePath, FsError> {
    let (dir, name) = path.split().ok_or(FsError::IsADirectory)?;
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut bytes = TEMP_PREFIX.to_vec();
    bytes.extend_from_slice(format!("{}-{n}-", std::process::id()).as_bytes());
    let room = crate::remote::path::MAX_NAME_LEN.saturating_sub(bytes.len());
    bytes.extend_from_slice(&name.as_bytes()[..name.as_bytes().len().min(room)]);
    Ok(dir.join(&Name::new(&bytes)?))
}

pub enum Body {
    Remote {
        size: u64,
    },
    Streaming {
        upload: WriteTransfer,
        /// Where the bytes go: a temporary name, or the file's own name if `direct`.
        dest: RemotePath,
        /// The file was not on the server when the stream started (see `WriteFile::absent`).
        direct: bool,
        pos: u64,
    },
    Spool(Spool),
}

pub struct WriteFile {
    pub ino: u64,
    body: Body,
    /// Local content differs from the server's.
    dirty: bool,
    /// A failure to report at the next flush or fsync.
    error: Option<FsError>,
    /// A modification time set while dirty, applied after the upload; `true` if it was an
    /// explicit time (whose failure is reported), not "now".
    pending_mtime: Option<(SystemTime, bool)>,
    /// Time of the last local change (shown until the upload tells the real one).
    mtime: SystemTime,
    /// A temporary file on the server that a converted stream left behind.
    stale_temp: Option<RemotePath>,
    /// Permission bits to give the file after an upload (which the server creates with its
    /// own umask): those of the file it replaces, or the latest chmod while open.
    mode: Option<u32>,
    /// The last upload failed: the server still has the old content, which is what the
    /// mount shows again; handles that are still open keep this state and may retry.
    failed: bool,
    /// Created by this mount and not uploaded yet: the server has no such file.
    absent: bool,
    /// The server's file is the empty one this state stored when it was new: a close before
    /// any write does that (`touch`; `dd`, which opens its output and closes a duplicate
    /// descriptor before it writes). There is nothing in it to protect, so the next upload
    /// deletes it and stores the file under its own name, as for an absent file, instead of
    /// a temporary name renamed over it (which costs more round trips, and on some server
    /// filesystems a flush of the whole file to disk before the rename is answered).
    placeholder: bool,
    /// A stream failed: the bytes it carried existed nowhere else, so this state has nothing
    /// left to upload, and every later write, read, flush and fsync through it fails with
    /// this error (the server keeps what it had). New opens start afresh.
    lost: Option<FsError>,
}

impl WriteFile {
    /// Clean state for a file whose content is `size` bytes on the server.
    fn new(ino: u64, size: u64, mode: Option<u32>) -> WriteFile {
        WriteFile {
            ino,
            body: Body::Remote { size },
            dirty: false,
            error: None,
            pending_mtime: None,
            mtime: SystemTime::now(),
            stale_temp: None,
            mode,
            failed: false,
            absent: false,
            placeholder: false,
            lost: None,
        }
    }

    pub fn size(&self) -> u64 {
        match &self.body {
            Body::Remote { size } => *size,
            Body::Streaming { pos, .. } => *pos,
            Body::Spool(s) => s.size(),
        }
    }

    pub fn mtime(&self) -> SystemTime {
        self.pending_mtime.map_or(self.mtime, |(t, _)| t)
    }
}

/// The per-handle part: which shared file, and how it was opened.
pub struct WriterHandle {
    pub file: Arc<FileCell>,
    pub append: bool,
    /// The process that opened the handle (its flush uploads; see `FtpFs::flush`).
    pub owner: u32,
}

pub fn lock_file(f: &FileCell) -> FileGuard<'_> {
    f.lock()
}

fn local(e: std::io::Error) -> FsError {
    match e.raw_os_error() {
        Some(libc::ENOSPC) => FsError::Remote(RemoteError::new(
            RemoteErrorKind::NoSpace,
            "the spool cache is full (cache_max_mb)",
        )),
        _ => FsError::Local(e.to_string()),
    }
}

impl FtpFs {
    /// The map of open files, locked (briefly: never across a network call, and never
    /// while waiting for a file's lock).
    fn files_lock(&self) -> std::sync::MutexGuard<'_, OpenFiles> {
        self.open_files.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The shared write state of `ino`, creating it (with `size` bytes on the server) if
    /// no handle has it yet. Counts one more handle on it (see [`FileCell::add_handle`]).
    fn attach(&self, ino: u64, size: u64, old_mode: Option<u32>) -> Arc<FileCell> {
        let fresh = || Arc::new(FileCell::new(WriteFile::new(ino, size, old_mode)));
        let file = {
            let mut files = self.files_lock();
            let file = Arc::clone(files.entry(ino).or_insert_with(fresh));
            file.add_handle(&mut files);
            file
        };
        // The file's lock is taken with the map let go: an upload may hold it for long.
        let (failed, absent) = {
            let wf = lock_file(&file);
            (wf.failed, wf.absent)
        };
        if !failed {
            return file;
        }
        // A failed upload's state is not inherited: start again from the server's file
        // (or, for a file never uploaded, from nothing). The handles still open on the
        // failed state keep it.
        let new = fresh();
        if absent {
            let mut wf = lock_file(&new);
            wf.absent = true;
            wf.dirty = true;
        }
        let mut files = self.files_lock();
        file.drop_handle(ino, &mut files);
        let new = match files.get(&ino) {
            // Another open replaced it meanwhile: share that one.
            Some(other) if !Arc::ptr_eq(other, &file) => Arc::clone(other),
            _ => {
                files.insert(ino, Arc::clone(&new));
                new
            }
        };
        new.add_handle(&mut files);
        new
    }

    /// The write state of `ino` if some handle has it open.
    pub(super) fn open_file(&self, ino: u64) -> Option<Arc<FileCell>> {
        let file = self.files_lock().get(&ino).cloned()?;
        let failed = lock_file(&file).failed;
        (!failed).then_some(file)
    }

    /// Opens `ino` (a regular file whose listing entry is `entry`) for writing, or for
    /// reading while it is being written.
    pub(super) fn open_writer(
        &self,
        ino: u64,
        entry: &Entry,
        mode: OpenMode,
    ) -> Result<u64, FsError> {
        let file = self.attach(ino, entry.size, entry.mode);
        if mode.truncate && mode.write {
            let mut wf = lock_file(&file);
            if let Err(e) = self.truncate_locked(&mut wf, 0) {
                drop(wf);
                file.drop_handle(ino, &mut self.files_lock());
                return Err(e);
            }
        }
        Ok(self.handles.insert(
            Handle::Writer(WriterHandle {
                file,
                append: mode.append,
                owner: mode.owner,
            }),
            Some(ino),
        ))
    }

    /// Creates `name` in `parent`, locally: the file reaches the server with its first
    /// upload (at the latest when it is closed, even if nothing was written). Returns its
    /// attributes and an open handle.
    /// If the name turns out to exist on the server after all (created by another client
    /// since the listing this mount knows), it is opened as `open` says: truncated only
    /// with `O_TRUNC`, appended to with `O_APPEND`.
    pub fn create(
        &self,
        parent: u64,
        name: &[u8],
        mode: u32,
        exclusive: bool,
        open: OpenMode,
    ) -> Result<(Attr, u64), FsError> {
        self.writable()?;
        let name = Name::new(name)?;
        let dir = self.path_of(parent)?;
        let path = dir.join(&name);
        let mut existing = match self.find_child(&dir, &name) {
            Ok(e) => Some(e),
            Err(FsError::NotFound) => None,
            Err(e) => return Err(e),
        };
        // A listing younger than `negative_ttl` is trusted for the name's absence, as a
        // lookup trusts it (a round trip per new file saved); an older one, or any with
        // `negative_ttl=0`, is checked with SIZE.
        let fresh = self
            .cache_lock()
            .age(&dir)
            .is_some_and(|age| age < self.cfg.negative_ttl);
        if existing.is_none() && !fresh && self.features().size && self.remote.size(&path).is_ok() {
            // Another client created it since the listing this mount holds: storing an empty
            // file now would destroy theirs. Look again, and open what is there.
            self.contradicted(&path);
            existing = self.listing(&dir)?.get(name.as_bytes()).cloned();
        }
        if let Some(existing) = existing {
            if exclusive {
                return Err(FsError::Exists);
            }
            if existing.kind == EntryKind::Dir {
                return Err(FsError::IsADirectory);
            }
            let ino = self.inodes_lookup(&path);
            let fh = self.open_writer(ino, &existing, open)?;
            return Ok((self.getattr(ino)?, fh));
        }
        self.check_name_kept(&path)?;
        // The server picks the new file's mode (its umask). The requested one, when it is not
        // the usual 0644, is set after the first upload; if the server will not, the mode is
        // shown as unknown from then on.
        let mode = mode & 0o7777;
        let mode = (mode != 0o644).then_some(mode);
        let entry = Entry {
            name: name.as_bytes().to_vec(),
            kind: EntryKind::File,
            size: 0,
            mtime: Some(SystemTime::now()),
            precision: TimePrecision::Exact,
            mode,
            link_target: None,
        };
        self.cache_upsert(&dir, entry.clone());
        let ino = self.inodes_lookup(&path);
        let fh = self.open_writer(ino, &entry, open)?;
        if let Some(file) = self.open_file(ino) {
            let mut wf = lock_file(&file);
            wf.absent = true;
            wf.dirty = true;
            self.pending_lock().insert(ino);
        }
        Ok((self.getattr(ino)?, fh))
    }

    /// The shared state behind a writer handle, and whether it was opened O_APPEND.
    fn writer(&self, fh: u64) -> Result<(Arc<FileCell>, bool), FsError> {
        match self.handles.get(fh).as_deref() {
            Some(Handle::Writer(w)) => Ok((Arc::clone(&w.file), w.append)),
            _ => Err(FsError::Stale),
        }
    }

    /// Writes `data` at `offset` (at the end for O_APPEND handles). Returns bytes written.
    ///
    /// `ack`, if given, is called at most once, when a write to a stream has been accepted
    /// and before its bytes are sent: the caller may then answer the kernel at once, so that
    /// the writer prepares its next chunk while this one goes out (the data must stay valid
    /// until this returns). After an early answer an error is still returned here, and also
    /// kept for the next write, flush or fsync, which report it (see `WriteFile::lost`).
    pub fn write(
        &self,
        fh: u64,
        offset: u64,
        data: &[u8],
        mut ack: Option<&mut dyn FnMut()>,
    ) -> Result<u32, FsError> {
        let (file, append) = self.writer(fh)?;
        // A chunk that continues the stream behind chunks still queued is answered now and
        // sent in its turn (see `order.rs`).
        let queued = match ack.as_mut() {
            Some(answer) if !append => file
                .queue_chunk(offset, data.len() as u64)
                .inspect(|_| answer()),
            _ => None,
        };
        let mut wf = match queued {
            Some(ticket) => {
                ack = None;
                ticket.wait()
            }
            None => lock_file(&file),
        };
        if let Some(e) = wf.lost.as_ref().or(wf.error.as_ref()) {
            return Err(e.clone());
        }
        let offset = if append { wf.size() } else { offset };
        let offered = ack.is_some();
        let result = self.write_locked(&mut wf, offset, data, &mut ack);
        if result.is_ok() || (offered && ack.is_none()) {
            crate::stats::add(&crate::stats::BYTES_WRITTEN, data.len() as u64);
        }
        if let Err(e) = &result {
            wf.error.get_or_insert_with(|| e.clone());
        }
        result.map(|()| data.len() as u32)
    }

    fn write_locked(
        &self,
        wf: &mut FileGuard,
        offset: u64,
        data: &[u8],
        ack: &mut Option<&mut dyn FnMut()>,
    ) -> Result<(), FsError> {
        let cell = wf.cell();
        let wf: &mut WriteFile = wf;
        wf.mtime = SystemTime::now();
        let fresh = match &wf.body {
            Body::Streaming { pos, .. } if *pos == offset => false,
            Body::Remote { size: 0 }
                if offset == 0 && cell.handles() == 1 && self.remote.streaming_safe() =>
            {
                if !self.start_stream(wf)? {
                    return self.write_spooled(wf, offset, data);
                }
                true
            }
            _ => return self.write_spooled(wf, offset, data),
        };
        let Body::Streaming {
            upload, pos, dest, ..
        } = &mut wf.body
        else {
            unreachable!("matched above");
        };
        *pos += data.len() as u64;
        let was_dirty = std::mem::replace(&mut wf.dirty, true);
        let acked = ack.take().map(|ack| ack()).is_some();
        if acked {
            cell.stream_continues_at(*pos);
        }
        if let Err(e) = upload.write_all(data) {
            cell.stream_stops();
            let dest = dest.clone();
            if fresh && !acked {
                // Nothing of this file was accepted yet: the error is this write's alone.
                wf.body = Body::Remote { size: 0 };
                wf.dirty = was_dirty;
                let _ = self.remote.delete(&dest);
                return Err(e.into());
            }
            let err = self.stream_lost(wf, e.into());
            let _ = self.remote.delete(&dest);
            return Err(err);
        }
        Ok(())
    }

    /// Starts streaming `wf` (empty on the server, or absent) into a STOR of its own name
    /// (if it is not on the server yet) or of a temporary one. Returns false if it cannot
    /// stream: it was unlinked while open (its bytes go nowhere, so they stay local), or no
    /// session is free (a local copy is uploaded at close instead).
    fn start_stream(&self, wf: &mut WriteFile) -> Result<bool, FsError> {
        let linked = self.inodes_lock().linked_path(wf.ino).cloned();
        let Some(path) = linked else {
            return Ok(false);
        };
        self.drop_placeholder(wf, &path);
        let direct = wf.absent;
        let dest = if direct { path } else { temp_path(&path)? };
        let stream = self.remote.try_open_stream(&dest, self.cfg.data_timeout);
        let Some(upload) = stream.map_err(|e| self.discard(&dest, e))? else {
            return Ok(false);
        };
        wf.body = Body::Streaming {
            upload,
            dest,
            direct,
            pos: 0,
        };
        Ok(true)
    }

    fn write_spooled(&self, wf: &mut WriteFile, offset: u64, data: &[u8]) -> Result<(), FsError> {
        let spool = self.spool_of(wf)?;
        spool.write(offset, data).map_err(local)?;
        wf.dirty = true;
        Ok(())
    }

    /// Makes sure `wf` has a spool (converting a stream or a remote body) and returns it.
    fn spool_of<'a>(&self, wf: &'a mut WriteFile) -> Result<&'a mut Spool, FsError> {
        if !matches!(wf.body, Body::Spool(_)) {
            let path = self.path_of(wf.ino)?;
            let name = path
                .split()
                .map(|(_, n)| n.as_bytes().to_vec())
                .unwrap_or_default();
            let source = match std::mem::replace(&mut wf.body, Body::Remote { size: 0 }) {
                Body::Remote { size } => Some((path, size)),
                Body::Streaming {
                    upload,
                    dest,
                    direct,
                    pos,
                } => {
                    // Finish what was streamed; the spool fetches it back when needed.
                    if let Err(e) = upload.finish() {
                        let _ = self.remote.delete(&dest);
                        return Err(self.stream_lost(wf, e.into()));
                    }
                    if direct && dest == path {
                        // The file is on the server now, under its own name.
                        self.now_present(wf);
                    } else if let Some(older) = wf.stale_temp.replace(dest.clone()) {
                        // An earlier stream's leftover: nothing refers to it any more.
                        let _ = self.remote.delete(&older);
                    }
                    Some((dest, pos))
                }
                Body::Spool(_) => unreachable!("checked above"),
            };
            let spool = Spool::create(&self.cfg.spool_dir, &name, source, Arc::clone(&self.budget))
                .map_err(local)?;
            wf.body = Body::Spool(spool);
        }
        match &mut wf.body {
            Body::Spool(s) => Ok(s),
            _ => Err(FsError::Local("spool missing".into())),
        }
    }

    /// Fetches the old content the spool still owes for `[start, end)`.
    fn fetch(&self, spool: &mut Spool, start: u64, end: u64) -> Result<(), FsError> {
        let Some(source) = spool.missing(start, end).cloned() else {
            return Ok(());
        };
        let mut download = self.remote.open_read(&source, 0, self.cfg.data_timeout)?;
        let mut buf = vec![0u8; UPLOAD_CHUNK];
        let mut at = 0u64;
        loop {
            let n = download.read(&mut buf)?;
            if n == 0 {
                break;
            }
            spool.fill(at, &buf[..n]).map_err(local)?;
            at += n as u64;
        }
        download.finish()?;
        spool.filled();
        Ok(())
    }

    /// Reads from a file open for writing (or read while written): from the spool, fetching
    /// the old content first if needed.
    pub(super) fn read_writer(
        &self,
        file: &FileCell,
        offset: u64,
        size: u32,
    ) -> Result<Vec<u8>, FsError> {
        let mut wf = lock_file(file);
        if let Some(e) = &wf.lost {
            return Err(e.clone());
        }
        if let Body::Remote { size: len } = wf.body {
            if offset >= len {
                return Ok(Vec::new());
            }
        }
        let spool = self.spool_of(&mut wf)?;
        let end = offset.saturating_add(u64::from(size));
        self.fetch(spool, offset, end)?;
        spool.read(offset, size as usize).map_err(local)
    }

    /// Sets the size of an open file.
    fn truncate_locked(&self, wf: &mut WriteFile, size: u64) -> Result<(), FsError> {
        if let Some(e) = &wf.lost {
            return Err(e.clone());
        }
        if wf.size() == size && !matches!(wf.body, Body::Streaming { .. }) {
            return Ok(());
        }
        if size == 0 && !matches!(wf.body, Body::Streaming { .. }) {
            // Nothing of the old content matters: no fetch, and the fast path stays open.
            wf.body = Body::Remote { size: 0 };
            if let Some(stale) = wf.stale_temp.take() {
                let _ = self.remote.delete(&stale);
            }
        } else {
            self.spool_of(wf)?.truncate(size).map_err(local)?;
        }
        wf.dirty = true;
        wf.mtime = SystemTime::now();
        Ok(())
    }

    /// Before `path` is unlinked: a file created here may be streaming into its own name on
    /// the server. End that stream and take its content local (the handles keep working on
    /// it, as on an unlinked local file), so the DELE that follows leaves nothing behind.
    pub(super) fn detach_stream(&self, path: &RemotePath) -> Result<(), FsError> {
        if let Some(file) = self.pending_file(path) {
            let mut wf = lock_file(&file);
            if matches!(wf.body, Body::Streaming { .. }) {
                let spool = self.spool_of(&mut wf)?;
                let size = spool.size();
                self.fetch(spool, 0, size)?;
            }
        }
        Ok(())
    }

    /// The open state of the file created here at `path` and not uploaded yet, if any.
    fn pending_file(&self, path: &RemotePath) -> Option<Arc<FileCell>> {
        let inos: Vec<u64> = self.pending_lock().iter().copied().collect();
        let ino = inos
            .into_iter()
            .find(|&ino| self.inodes_lock().linked_path(ino) == Some(path))?;
        self.open_file(ino)
    }

    /// Every file open for writing, as of now (the map is not locked while they are used).
    fn open_files_now(&self) -> Vec<Arc<FileCell>> {
        self.files_lock().values().cloned().collect()
    }

    /// After `from` was renamed to `to` on the server: open files whose old content is still
    /// to be fetched from below `from` fetch it from below `to`.
    pub(super) fn rebase_sources(&self, from: &RemotePath, to: &RemotePath) {
        for file in self.open_files_now() {
            if let Body::Spool(spool) = &mut lock_file(&file).body {
                spool.rebase_source(from, to);
            }
        }
    }

    /// Uploads now the file created at `path` and not on the server yet, if it is open.
    pub(super) fn sync_path(&self, path: &RemotePath) -> Result<(), FsError> {
        match self.pending_file(path) {
            Some(file) => self.sync_file(&file),
            None => Ok(()),
        }
    }

    /// Uploads the file if dirty (flush, fsync). Reports a pending error once.
    pub(super) fn sync_file(&self, file: &FileCell) -> Result<(), FsError> {
        self.sync_locked(&mut lock_file(file))
    }

    /// Closes a writer handle: uploads if dirty (the error is logged; the spool is kept),
    /// and drops the shared state with the last handle. Returns the directory (inode) and
    /// name of a file that never reached the server and is now forgotten, whose entry the
    /// kernel may still cache.
    pub(super) fn release_writer(&self, file: &Arc<FileCell>) -> Option<(u64, Name)> {
        let mut wf = lock_file(file);
        if wf.dirty || wf.error.is_some() {
            if let Err(e) = self.sync_locked(&mut wf) {
                log::warn!("closing {}: {e}", wf.ino);
            }
        }
        let ino = wf.ino;
        // Counted down and taken out of the map in one step, under the map's lock (the file's
        // is held, which comes first in the lock order): an open that attaches meanwhile
        // either finds the state still in the map and keeps it there, or finds it gone and
        // starts a new one that every later open shares. See `FileCell::add_handle`.
        let last = file.drop_handle(ino, &mut self.files_lock());
        let mut forgotten = None;
        if last && wf.absent {
            // Never stored (its upload failed, and the error was reported): it does not
            // exist on the server, so the mount stops showing it.
            self.pending_lock().remove(&ino);
            let linked = self.inodes_lock().linked_path(ino).cloned();
            if let Some((dir, name)) = linked.and_then(|p| p.split()) {
                self.cache_lock().remove(&dir, name.as_bytes());
                self.inodes_lock().unlink(&dir.join(&name));
                forgotten = Some((self.inodes_lock().ino_for(&dir), name));
            }
        }
        forgotten
    }
}

#[cfg(test)]
mod tests;
