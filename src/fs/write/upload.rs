//! Uploads: the content of a [`WriteFile`] reaches the server, or the error is kept for the
//! caller. A new file goes to its own name; a replacement to a temporary name renamed over
//! the target ([`FtpFs::rename_over`]), so a failure never leaves a half-written file. A
//! spool is kept on disk after a failure (its path is logged); a stream had no local copy.

use std::time::SystemTime;

use super::setattr::mtime_refused;
use super::*;

impl FtpFs {
    pub(super) fn sync_locked(&self, wf: &mut WriteFile) -> Result<(), FsError> {
        if let Some(e) = &wf.lost {
            return Err(e.clone());
        }
        if let Some(e) = wf.error.take() {
            return Err(e);
        }
        if !wf.dirty {
            return Ok(());
        }
        match self.upload(wf) {
            Ok(()) => {
                wf.failed = false;
                Ok(())
            }
            Err(e) => {
                wf.failed = true;
                let path = self
                    .path_of(wf.ino)
                    .map(|p| p.to_string())
                    .unwrap_or_default();
                if let Body::Spool(spool) = &mut wf.body {
                    let _ = spool.sync();
                    let partial = spool.missing(0, spool.size()).is_some();
                    let kept = spool.keep().to_path_buf();
                    if partial {
                        log::error!(
                            "upload of {path} failed ({e}); the bytes written to it are kept in {} (the parts never written there are unchanged on the server)",
                            kept.display()
                        );
                    } else {
                        log::error!(
                            "upload of {path} failed ({e}); its content is kept in {}",
                            kept.display()
                        );
                    }
                } else if wf.lost.is_none() {
                    log::error!("upload of {path} failed ({e})");
                }
                Err(e)
            }
        }
    }

    /// Sends the content to the server under a temporary name and renames it over the target.
    fn upload(&self, wf: &mut WriteFile) -> Result<(), FsError> {
        let linked = self.inodes_lock().linked_path(wf.ino).cloned();
        let Some(path) = linked else {
            // Unlinked (or replaced by a rename) while open: like a local filesystem, the
            // data goes with the name. A stream still under way is completed (so the server
            // is done with it) and, if it went to a temporary name, deleted; a stream into
            // the file's own name leaves it to whatever holds that name now.
            let body = std::mem::replace(&mut wf.body, Body::Remote { size: 0 });
            if let Body::Streaming {
                upload,
                dest,
                direct,
                ..
            } = body
            {
                let _ = upload.finish();
                if !direct {
                    let _ = self.remote.delete(&dest);
                }
            }
            if let Some(stale) = wf.stale_temp.take() {
                let _ = self.remote.delete(&stale);
            }
            wf.dirty = false;
            return Ok(());
        };
        let size = wf.size();
        self.drop_placeholder(wf, &path);
        // A file not on the server yet is stored under its own name: nothing to protect.
        let absent = wf.absent;
        let placeholder = absent && size == 0;
        let dest = |path: &RemotePath| {
            if absent {
                Ok(path.clone())
            } else {
                temp_path(path)
            }
        };
        // The stored file's time, where the session learned it with the upload's end.
        let stored;
        let dest = match std::mem::replace(&mut wf.body, Body::Remote { size }) {
            Body::Streaming { upload, dest, .. } => {
                match upload.finish_timed() {
                    Ok(t) => stored = t,
                    Err(e) => {
                        let _ = self.remote.delete(&dest);
                        return Err(self.stream_lost(wf, e.into()));
                    }
                }
                dest
            }
            Body::Remote { size } => {
                debug_assert_eq!(
                    size, 0,
                    "only a truncation to zero is dirty without a spool"
                );
                let dest = dest(&path)?;
                stored = self
                    .remote
                    .put(&dest, b"", self.cfg.data_timeout)
                    .map_err(|e| self.discard(&dest, e))?;
                dest
            }
            Body::Spool(mut spool) => {
                let dest = dest(&path)?;
                let result = match self.upload_spool(&mut spool, &dest) {
                    // The bytes are in the spool: send them again, over TLS 1.2, or on a new
                    // data connection when the server had dropped the one opened ahead (425).
                    Err(FsError::Remote(e))
                        if e.kind == RemoteErrorKind::TlsReuse || e.code == Some(425) =>
                    {
                        self.upload_spool(&mut spool, &dest)
                    }
                    other => other,
                };
                wf.body = Body::Spool(spool);
                stored = result?;
                dest
            }
        };
        if dest != path {
            // A temporary name, or the name a stream started under before a rename.
            self.rename_over(&dest, &path)?;
        }
        self.now_present(wf);
        wf.placeholder = placeholder;
        crate::stats::add(&crate::stats::UPLOADS, 1);
        crate::stats::add(&crate::stats::BYTES_UPLOADED, size);
        wf.dirty = false;
        if let Some(stale) = wf.stale_temp.take() {
            let _ = self.remote.delete(&stale);
        }
        self.after_upload(wf, &path, size, stored);
        // The content is stored; a time set while it was dirty that could not be applied
        // still fails this flush or fsync (close(2) of `cp -p`, say), never silently.
        wf.error.take().map_or(Ok(()), Err)
    }

    /// Sends the spool's content to `dest` (deleted again if the upload fails).
    /// Returns the stored file's time where the session learned it with the upload's end.
    fn upload_spool(
        &self,
        spool: &mut Spool,
        dest: &RemotePath,
    ) -> Result<Option<SystemTime>, FsError> {
        self.fetch(spool, 0, spool.size())?;
        let mut upload = self
            .remote
            .open_write(dest, self.cfg.data_timeout)
            .map_err(|e| self.discard(dest, e))?;
        let mut at = 0;
        let result = (|| {
            while at < spool.size() {
                let chunk = spool.read(at, UPLOAD_CHUNK).map_err(local)?;
                upload.write_all(&chunk)?;
                at += chunk.len() as u64;
            }
            upload.finish_timed().map_err(FsError::from)
        })();
        if result.is_err() {
            let _ = self.remote.delete(dest);
        }
        result
    }

    /// A stream failed (`e`): its bytes were never kept locally, so there is nothing left to
    /// upload. Uploading what remains (nothing, or a file of zeros) would replace the
    /// server's file with garbage; instead this state stays failed, and the server keeps
    /// what it had. The caller has deleted what the stream left on the server.
    pub(super) fn stream_lost(&self, wf: &mut WriteFile, e: FsError) -> FsError {
        // Ends the dead transfer.
        wf.body = Body::Remote { size: 0 };
        wf.dirty = false;
        wf.failed = true;
        let path = self
            .path_of(wf.ino)
            .map(|p| p.to_string())
            .unwrap_or_default();
        log::error!(
            "upload of {path} failed ({e}); it was streamed without a local copy, so the writing program gets the error and the server keeps what it had"
        );
        wf.lost = Some(e.clone());
        e
    }

    /// After a failed STOR to `dest` (ours alone: a temporary name, or the name of a file
    /// not on the server before), deletes whatever the server made of it, and returns the error.
    pub(super) fn discard(&self, dest: &RemotePath, e: RemoteError) -> RemoteError {
        let _ = self.remote.delete(dest);
        e
    }

    /// The file has reached the server: later uploads replace it safely.
    pub(super) fn now_present(&self, wf: &mut WriteFile) {
        if wf.absent {
            wf.absent = false;
            self.pending_lock().remove(&wf.ino);
        }
    }

    /// Before an upload: deletes the empty placeholder this state stored (see
    /// `WriteFile::placeholder`), so that the upload goes to the file's own name. If the
    /// server refuses, the upload replaces it like any other file.
    pub(super) fn drop_placeholder(&self, wf: &mut WriteFile, path: &RemotePath) {
        if std::mem::take(&mut wf.placeholder) {
            match self.remote.delete(path) {
                Ok(()) => {
                    wf.absent = true;
                    self.pending_lock().insert(wf.ino);
                }
                Err(e) => log::debug!("deleting the empty {path} before its upload: {e}"),
            }
        }
    }

    /// RNFR/RNTO `temp` over `target`; if the server will not replace an existing file that
    /// way, deletes the target and renames again.
    fn rename_over(&self, temp: &RemotePath, target: &RemotePath) -> Result<(), FsError> {
        let first = match self.remote.rename(temp, target) {
            Ok(()) => return Ok(()),
            Err(e) if e.breaks_session() => return Err(e.into()),
            Err(e) => e,
        };
        if self
            .remote
            .size(temp)
            .is_err_and(|e| e.kind == RemoteErrorKind::NotFound)
        {
            // The upload is not where it was sent: a directory above it was renamed while it
            // ran (the file moved with it), so it now sits next to the target. Never delete
            // the target for a source that is not there.
            let moved = match (temp.split(), target.split()) {
                (Some((_, name)), Some((dir, _))) => Some(dir.join(&name)),
                _ => None,
            };
            return match moved {
                Some(moved) if moved == *target => Ok(()),
                Some(moved) if moved != *temp && self.remote.size(&moved).is_ok() => {
                    self.rename_over(&moved, target)
                }
                _ => Err(first.into()),
            };
        }
        log::debug!("rename over {target} refused ({first}); deleting it first");
        match self.remote.delete(target) {
            Ok(()) => {}
            Err(e) if e.kind == RemoteErrorKind::NotFound => {}
            Err(_) => {
                let _ = self.remote.delete(temp);
                return Err(first.into());
            }
        }
        self.remote.rename(temp, target).map_err(|e| {
            log::error!("{target} was deleted for replacement but the rename failed ({e}); the new content is on the server as {temp}");
            e.into()
        })
    }

    /// Updates the cache after a successful upload, and applies a pending mtime and the old
    /// permission bits. An explicit time the server refused is left in `wf.error`.
    /// `stored`: the file's time as the server gave it at the upload's end, if it did.
    fn after_upload(
        &self,
        wf: &mut WriteFile,
        path: &RemotePath,
        size: u64,
        stored: Option<SystemTime>,
    ) {
        if let Some(mode) = wf.mode {
            if let Err(e) = self.remote.restore_mode(path, mode) {
                log::debug!("restoring mode {mode:o} on {path}: {e}");
                // The server's umask decided: unknown.
                wf.mode = None;
            }
        }
        let mut mtime = None;
        if let Some((t, explicit)) = wf.pending_mtime.take() {
            match self.remote.set_mtime(path, t) {
                Ok(()) => mtime = Some(t),
                Err(e) if explicit => {
                    log::warn!("setting the modification time of {path}: {e}");
                    wf.error = Some(mtime_refused(e));
                }
                Err(e) => log::debug!("setting the modification time of {path}: {e}"),
            }
        }
        if mtime.is_none() && self.features().mdtm {
            mtime = match stored {
                Some(t) => Some(t),
                None => self.remote.mdtm(path).ok(),
            };
        }
        let mtime = mtime.unwrap_or_else(SystemTime::now);
        wf.mtime = mtime;
        self.inodes_lock().bump_version(wf.ino);
        if let Some((dir, name)) = path.split() {
            self.cache_upsert(
                &dir,
                Entry {
                    name: name.as_bytes().to_vec(),
                    kind: EntryKind::File,
                    size,
                    mtime: Some(mtime),
                    precision: TimePrecision::Exact,
                    mode: wf.mode,
                    link_target: None,
                },
            );
        }
    }

    /// Uploads every file that is still open with unsaved changes (at shutdown, when the
    /// mount goes away while programs hold files open). A failure is logged with the path
    /// of the kept spool, as for any upload. Returns how many uploads failed.
    pub fn sync_all(&self) -> usize {
        let mut failed = 0;
        for file in self.open_files_now() {
            let mut wf = lock_file(&file);
            if wf.dirty || wf.error.is_some() {
                log::info!("uploading {} before exiting: it is still open", wf.ino);
                if self.sync_locked(&mut wf).is_err() {
                    failed += 1;
                }
            }
        }
        failed
    }
}
