//! Namespace changes: mkdir (MKD), rmdir (RMD), unlink (DELE) and rename (RNFR/RNTO).
//!
//! Each one updates the directory cache and the inode table as soon as the server confirms,
//! so the next `ls`, `stat` or read sees the change without waiting for a TTL. Servers word
//! their 550 replies differently, so where the reply is ambiguous (vsftpd's "Remove directory
//! operation failed") the directory is listed to tell ENOTEMPTY from ENOENT or EACCES.

use std::time::SystemTime;

use super::attr::Attr;
use super::FtpFs;
use crate::error::FsError;
use crate::remote::{Entry, EntryKind, Name, RemoteErrorKind, RemotePath, TimePrecision};

impl FtpFs {
    /// Validates `name` and joins it to the directory `parent`.
    /// Also refuses every change on a read-only mount.
    fn child(&self, parent: u64, name: &[u8]) -> Result<(RemotePath, Name, RemotePath), FsError> {
        self.writable()?;
        let name = Name::new(name)?;
        let dir = self.path_of(parent)?;
        let path = dir.join(&name);
        Ok((dir, name, path))
    }

    pub fn mkdir(&self, parent: u64, name: &[u8], mode: u32) -> Result<Attr, FsError> {
        let (dir, name, path) = self.child(parent, name)?;
        if self.listing(&dir)?.get(name.as_bytes()).is_some() {
            return Err(FsError::Exists);
        }
        self.check_name_kept(&path)?;
        if let Err(e) = self.remote.mkdir(&path) {
            if e.breaks_session() {
                return Err(e.into());
            }
            // Servers word it differently ("550 Create directory operation failed"): if the
            // name is there after all, another client made it since our listing.
            self.contradicted(&path);
            return match self.listing(&dir)?.get(name.as_bytes()) {
                Some(_) => Err(FsError::Exists),
                None => Err(e.into()),
            };
        }
        // As for files: ask for an unusual mode, show it as unknown if the server refuses.
        let mode = mode & 0o7777;
        let mode = if mode == 0o755 || self.remote.chmod(&path, mode).is_err() {
            0
        } else {
            mode
        };
        self.cache_upsert(
            &dir,
            Entry {
                name: name.as_bytes().to_vec(),
                kind: EntryKind::Dir,
                size: 0,
                mtime: Some(SystemTime::now()),
                precision: TimePrecision::Exact,
                mode: (mode != 0).then_some(mode),
                link_target: None,
            },
        );
        self.cache_lock().insert(
            path.clone(),
            super::cache::Cached::Present(Default::default()),
        );
        let ino = self.inodes_lookup(&path);
        self.getattr(ino)
    }

    pub fn unlink(&self, parent: u64, name: &[u8]) -> Result<(), FsError> {
        let (dir, name, path) = self.child(parent, name)?;
        if self.find_child(&dir, &name)?.kind == EntryKind::Dir {
            return Err(FsError::IsADirectory);
        }
        // A file created here and not uploaded yet is not on the server (unless it is
        // streaming into its name: then it is, and is taken local first).
        self.detach_stream(&path)?;
        if !self.pending_paths().contains(&path) {
            let deleted = self.remote.delete(&path);
            self.checked(&path, deleted)?;
        }
        self.forget_path(&dir, &name, &path);
        Ok(())
    }

    pub fn rmdir(&self, parent: u64, name: &[u8]) -> Result<(), FsError> {
        let (dir, name, path) = self.child(parent, name)?;
        if self.find_child(&dir, &name)?.kind != EntryKind::Dir {
            return Err(FsError::NotADirectory);
        }
        if self.pending_paths().iter().any(|p| p.starts_with(&path)) {
            // Files created in it are still on their way to the server.
            return Err(FsError::NotEmpty);
        }
        if let Err(e) = self.remote.rmdir(&path) {
            if e.breaks_session() {
                return Err(e.into());
            }
            // Find out what the refusal meant.
            self.cache_lock().invalidate(&path);
            return match self.listing(&path) {
                Ok(l) if !l.entries().is_empty() => Err(FsError::NotEmpty),
                Err(FsError::NotFound) => Err(FsError::NotFound),
                _ if e.kind == RemoteErrorKind::NotFound => {
                    Err(FsError::Remote(crate::remote::RemoteError::new(
                        RemoteErrorKind::PermissionDenied,
                        e.to_string(),
                    )))
                }
                _ => Err(e.into()),
            };
        }
        self.forget_path(&dir, &name, &path);
        self.cache_lock().invalidate_tree(&path);
        Ok(())
    }

    /// Removes `path` from its parent's listing and from the inode table's names.
    fn forget_path(&self, dir: &RemotePath, name: &Name, path: &RemotePath) {
        self.cache_lock().remove(dir, name.as_bytes());
        self.inodes_lock().unlink(path);
    }

    /// Renames, replacing an existing target file as POSIX rename does. `noreplace` is
    /// RENAME_NOREPLACE.
    pub fn rename(
        &self,
        parent: u64,
        name: &[u8],
        newparent: u64,
        newname: &[u8],
        noreplace: bool,
    ) -> Result<(), FsError> {
        let (dir, name, from) = self.child(parent, name)?;
        let (newdir, newname, to) = self.child(newparent, newname)?;
        let entry = self.find_child(&dir, &name)?;
        let target = self.listing(&newdir)?.get(newname.as_bytes()).cloned();
        if target.is_none() && noreplace && self.features().size && self.remote.size(&to).is_ok() {
            // Another client created the target since the listing this mount holds.
            self.contradicted(&to);
            return Err(FsError::Exists);
        }
        if from == to {
            return Ok(());
        }
        if to.starts_with(&from) {
            return Err(FsError::InvalidArgument(
                "a directory cannot move into itself",
            ));
        }
        if let Some(t) = &target {
            if noreplace {
                return Err(FsError::Exists);
            }
            match (entry.kind == EntryKind::Dir, t.kind == EntryKind::Dir) {
                (false, true) => return Err(FsError::IsADirectory),
                (true, false) => return Err(FsError::NotADirectory),
                _ => {}
            }
        }
        if target.is_none() {
            self.check_name_kept(&to)?;
        }
        if target.is_some() {
            // A file created here may be streaming into the target's name: finish that
            // first, or the server could complete it over what is renamed there.
            self.detach_stream(&to)?;
        }
        // A new file streaming into its own name is on the server under that name: finish
        // the stream, so the rename below moves it there (otherwise the name it is stored
        // under would be free here while still in use on the server).
        self.detach_stream(&from)?;
        if self.pending_paths().contains(&from) {
            if target.is_none() {
                // Not on the server yet: it will be stored under its new name.
                self.moved(&dir, &name, &newdir, &newname, entry, &from, &to);
                return Ok(());
            }
            // Replacing a file on the server: store this one first, then rename it over.
            self.sync_path(&from)?;
        }
        // What moves is what the listing says now (an upload just above may have changed it).
        let entry = self
            .listing(&dir)?
            .get(name.as_bytes())
            .cloned()
            .unwrap_or(entry);
        if let Err(first) = self.remote.rename(&from, &to) {
            if first.breaks_session() {
                return Err(first.into());
            }
            // Some servers refuse to rename over an existing file: replace it explicitly.
            match &target {
                Some(t) if t.kind != EntryKind::Dir => {
                    self.remote
                        .delete(&to)
                        .map_err(|_| FsError::from(first.clone()))?;
                    self.remote.rename(&from, &to)?;
                }
                Some(_) => {
                    // An empty target directory: remove it, then rename.
                    self.remote.rmdir(&to).map_err(|_| FsError::NotEmpty)?;
                    self.remote.rename(&from, &to)?;
                }
                None => return self.checked(&from, Err(first)),
            }
        }
        self.rebase_sources(&from, &to);
        self.moved(&dir, &name, &newdir, &newname, entry, &from, &to);
        Ok(())
    }

    /// Updates the cache and the inode table after a rename.
    #[allow(clippy::too_many_arguments)]
    fn moved(
        &self,
        dir: &RemotePath,
        name: &Name,
        newdir: &RemotePath,
        newname: &Name,
        mut entry: Entry,
        from: &RemotePath,
        to: &RemotePath,
    ) {
        entry.name = newname.as_bytes().to_vec();
        let is_dir = entry.kind == EntryKind::Dir;
        {
            let mut cache = self.cache_lock();
            cache.remove(dir, name.as_bytes());
            cache.upsert(newdir, entry);
            if is_dir {
                cache.invalidate_tree(from);
                cache.invalidate_tree(to);
            }
        }
        self.inodes_lock().rename(from, to);
    }
}
