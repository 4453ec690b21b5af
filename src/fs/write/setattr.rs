//! Metadata changes on files: `truncate`/`ftruncate`, `utimens` and `chmod`/`chown`
//! (setattr), on open files (through their shared [`WriteFile`]) and on closed ones.

use std::time::SystemTime;

use super::*;

impl FtpFs {
    /// Changes size, times and permissions (truncate, utimens, chmod, chown).
    pub fn setattr(&self, ino: u64, change: &SetAttr) -> Result<Attr, FsError> {
        self.writable()?;
        let path = self.path_of(ino)?;
        if change.uid.is_some_and(|u| u != self.cfg.owner.uid)
            || change.gid.is_some_and(|g| g != self.cfg.owner.gid)
        {
            // FTP has no way to give a file away.
            return Err(FsError::NotPermitted);
        }
        if let Some(size) = change.size {
            self.truncate(ino, size, change.by_path)?;
        }
        if let Some(mode) = change
            .mode
            .filter(|m| m & 0o7777 != u32::from(self.getattr(ino).map(|a| a.perm).unwrap_or(0)))
        {
            let open = self.open_file(ino);
            if !open.as_ref().is_some_and(|f| lock_file(f).absent) {
                self.remote.chmod(&path, mode).map_err(|e| {
                    log::debug!("SITE CHMOD {path}: {e}");
                    FsError::NotPermitted
                })?;
            }
            self.update_entry(&path, |e| e.mode = Some(mode & 0o7777));
            if let Some(file) = open {
                // An upload still to come replaces (or creates) the file: it must carry the
                // new mode too.
                lock_file(&file).mode = Some(mode & 0o7777);
            }
        }
        if let Some(t) = change.mtime {
            self.set_mtime(ino, &path, t)?;
        }
        self.getattr(ino)
    }

    fn truncate(&self, ino: u64, size: u64, by_path: bool) -> Result<(), FsError> {
        if let Some(file) = self.open_file(ino) {
            // Open (maybe only by a process that inherited a descriptor): change the shared
            // state; by path, also upload now, since the caller may hold no handle whose
            // close would.
            let mut wf = lock_file(&file);
            self.truncate_locked(&mut wf, size)?;
            return if by_path {
                self.sync_locked(&mut wf)
            } else {
                Ok(())
            };
        }
        // Not open: open, truncate and upload at once (truncate(1), `> file` without O_TRUNC).
        let path = self.path_of(ino)?;
        let entry = self.entry(&path)?;
        if entry.kind != EntryKind::File {
            return Err(FsError::IsADirectory);
        }
        let file = self.attach(ino, entry.size, entry.mode);
        let result = {
            let mut wf = lock_file(&file);
            self.truncate_locked(&mut wf, size)
                .and_then(|()| self.sync_locked(&mut wf))
        };
        self.release_writer(&file);
        result
    }

    fn set_mtime(&self, ino: u64, path: &RemotePath, t: TimeSet) -> Result<(), FsError> {
        let when = match t {
            TimeSet::Now => SystemTime::now(),
            TimeSet::At(t) => t,
        };
        let explicit = matches!(t, TimeSet::At(_));
        let open = self.open_file(ino);
        if let Some(file) = &open {
            let mut wf = lock_file(file);
            if wf.dirty {
                if explicit && self.remote.cannot_set_mtime() {
                    return Err(FsError::NotSupported("setting modification times"));
                }
                // Applied after the upload, which would otherwise reset it; an explicit time
                // the server refuses then fails the flush.
                wf.pending_mtime = Some((when, explicit));
                return Ok(());
            }
        }
        match self.remote.set_mtime(path, when) {
            Ok(()) => {
                if let Some(file) = &open {
                    lock_file(file).mtime = when;
                }
                self.update_entry(path, |e| {
                    e.mtime = Some(when);
                    e.precision = TimePrecision::Exact;
                });
                Ok(())
            }
            // "Now" is what the server records on its own after our last change.
            Err(e) if e.kind == RemoteErrorKind::NotSupported && matches!(t, TimeSet::Now) => {
                Ok(())
            }
            Err(e) if e.breaks_session() => Err(e.into()),
            Err(e) => {
                let is_dir = self
                    .entry(path)
                    .map(|en| en.kind == EntryKind::Dir)
                    .unwrap_or(false);
                if is_dir {
                    // Servers such as vsftpd cannot set a directory's time, which changes with
                    // every entry anyway; refusing would fail every `tar x` and `rsync -t`.
                    // Documented in SEMANTICS.md.
                    log::info!("the server cannot set the time of directory {path} ({e}); ignored");
                    Ok(())
                } else {
                    Err(mtime_refused(e))
                }
            }
        }
    }
}

/// The error for a modification time the server refused on a file that exists (we just
/// resolved it): a 550 there means "not allowed", not "no such file".
pub(super) fn mtime_refused(e: crate::remote::RemoteError) -> FsError {
    if e.kind == RemoteErrorKind::NotFound {
        FsError::NotPermitted
    } else {
        e.into()
    }
}

/// A requested modification time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeSet {
    Now,
    At(SystemTime),
}

/// What setattr asks to change.
#[derive(Debug, Clone, Default)]
pub struct SetAttr {
    pub size: Option<u64>,
    /// The change names the file by path (truncate(2)), not through an open handle
    /// (ftruncate(2)): a new size is then uploaded at once, as when nothing has it open.
    pub by_path: bool,
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub mtime: Option<TimeSet>,
}
