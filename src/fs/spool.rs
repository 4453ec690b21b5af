//! The local spool file behind a file opened for writing.
//!
//! FTP cannot write at an offset, so a file being changed lives in a local file under the
//! cache directory until it is uploaded whole. A [`Spool`] knows which byte ranges were
//! written locally; the rest of the file's old content (`[0, remote_len)` of `source`) is
//! fetched only when something needs it: a read of an unwritten range, or an upload while
//! the written ranges do not cover the whole file. A file that is rewritten entirely is
//! never downloaded.
//!
//! Invariants: `len` is the logical size; bytes `[0, len)` of the local file are the file's
//! content wherever they are in `written` or beyond `remote_len`; `remote_len <= len`
//! unless a fetch is still owed (then the unwritten part of `[0, remote_len)` comes from
//! `source`). A spool whose upload failed is kept on disk ([`Spool::keep`]) and its path
//! logged, so nothing is lost.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::remote::RemotePath;

/// Sorted, disjoint, non-adjacent half-open ranges.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RangeSet(Vec<(u64, u64)>);

impl RangeSet {
    pub fn insert(&mut self, start: u64, end: u64) {
        if start >= end {
            return;
        }
        let (mut s, mut e) = (start, end);
        let mut out = Vec::with_capacity(self.0.len() + 1);
        for &(a, b) in &self.0 {
            if b < s || a > e {
                out.push((a, b));
            } else {
                s = s.min(a);
                e = e.max(b);
            }
        }
        out.push((s, e));
        out.sort_unstable();
        self.0 = out;
    }

    /// Drops everything at or beyond `len`.
    pub fn truncate(&mut self, len: u64) {
        self.0.retain(|&(a, _)| a < len);
        if let Some(last) = self.0.last_mut() {
            last.1 = last.1.min(len);
        }
    }

    /// Whether every byte of `[start, end)` is in the set.
    pub fn covers(&self, start: u64, end: u64) -> bool {
        start >= end || self.0.iter().any(|&(a, b)| a <= start && end <= b)
    }

    /// The parts of `[start, end)` not in the set.
    pub fn gaps(&self, start: u64, end: u64) -> Vec<(u64, u64)> {
        let mut gaps = Vec::new();
        let mut at = start;
        for &(a, b) in &self.0 {
            if b <= at {
                continue;
            }
            if a >= end {
                break;
            }
            if a > at {
                gaps.push((at, a.min(end)));
            }
            at = at.max(b);
            if at >= end {
                break;
            }
        }
        if at < end {
            gaps.push((at, end));
        }
        gaps
    }
}

/// Counts the bytes all spools of a mount hold, against the `cache_max` limit.
#[derive(Debug)]
pub struct SpoolBudget {
    used: AtomicU64,
    limit: u64,
}

impl SpoolBudget {
    pub fn new(limit: u64) -> Arc<SpoolBudget> {
        Arc::new(SpoolBudget {
            used: AtomicU64::new(0),
            limit,
        })
    }

    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    /// Moves this spool's charge from `old` to `new` bytes; fails when over the limit.
    fn recharge(&self, old: u64, new: u64) -> io::Result<()> {
        if new > old {
            let grow = new - old;
            let before = self.used.fetch_add(grow, Ordering::Relaxed);
            if before + grow > self.limit {
                self.used.fetch_sub(grow, Ordering::Relaxed);
                return Err(io::Error::from_raw_os_error(libc::ENOSPC));
            }
        } else {
            self.used.fetch_sub(old - new, Ordering::Relaxed);
        }
        Ok(())
    }
}

pub struct Spool {
    file: File,
    path: PathBuf,
    len: u64,
    /// Where the unfetched old content comes from, and how much of it matters.
    source: Option<RemotePath>,
    remote_len: u64,
    written: RangeSet,
    budget: Arc<SpoolBudget>,
    /// Bytes charged to the budget.
    charged: u64,
    kept: bool,
}

static SPOOL_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A file-name-safe rendering of `name` for spool file names (recovery is easier when the
/// spool's name says what it holds).
fn safe_name(name: &[u8]) -> String {
    let s: String = String::from_utf8_lossy(name)
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(80)
        .collect();
    if s.is_empty() {
        "file".into()
    } else {
        s
    }
}

impl Spool {
    /// The server's path for the old content moved (a rename of the file or of a directory
    /// above it): fetch from the new one.
    pub fn rebase_source(&mut self, from: &RemotePath, to: &RemotePath) {
        if let Some(source) = &mut self.source {
            if source.starts_with(from) {
                *source = source.rebase(from, to);
            }
        }
    }

    /// A new spool in `dir` for a file named `name` whose current content is `remote_len`
    /// bytes at `source` (`None` for a new or truncated file).
    pub fn create(
        dir: &Path,
        name: &[u8],
        source: Option<(RemotePath, u64)>,
        budget: Arc<SpoolBudget>,
    ) -> io::Result<Spool> {
        std::fs::create_dir_all(dir)?;
        let n = SPOOL_COUNTER.fetch_add(1, Ordering::Relaxed);
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let path = dir.join(format!(
            "{stamp}-{}-{n}-{}",
            std::process::id(),
            safe_name(name)
        ));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)?;
        let (source, remote_len) = match source {
            Some((p, len)) if len > 0 => (Some(p), len),
            _ => (None, 0),
        };
        let mut spool = Spool {
            file,
            path,
            len: 0,
            source,
            remote_len,
            written: RangeSet::default(),
            budget,
            charged: 0,
            kept: false,
        };
        spool.set_len(remote_len)?;
        Ok(spool)
    }

    pub fn size(&self) -> u64 {
        self.len
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn set_len(&mut self, len: u64) -> io::Result<()> {
        self.budget.recharge(self.charged, len)?;
        self.charged = len;
        self.file.set_len(len)?;
        self.len = len;
        Ok(())
    }

    /// Writes `data` at `offset`, growing the file (with a hole) as needed.
    pub fn write(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        let end = offset + data.len() as u64;
        if end > self.len {
            self.set_len(end)?;
        }
        self.file.write_all_at(data, offset)?;
        if self.source.is_some() {
            self.written.insert(offset, end);
        }
        Ok(())
    }

    /// Sets the size; the old content beyond `len` will never be fetched.
    pub fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.set_len(len)?;
        self.remote_len = self.remote_len.min(len);
        self.written.truncate(len);
        if self.remote_len == 0 {
            self.source = None;
        }
        Ok(())
    }

    /// The remote file whose content is still owed for `[start, end)`, if any.
    pub fn missing(&self, start: u64, end: u64) -> Option<&RemotePath> {
        let source = self.source.as_ref()?;
        let end = end.min(self.remote_len);
        (!self.written.covers(start, end)).then_some(source)
    }

    /// Stores a chunk of the old content at `offset`, except where it was overwritten.
    pub fn fill(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        let end = (offset + data.len() as u64).min(self.remote_len);
        for (a, b) in self.written.gaps(offset, end) {
            let slice = &data[(a - offset) as usize..(b - offset) as usize];
            self.file.write_all_at(slice, a)?;
        }
        Ok(())
    }

    /// Marks the old content as fully fetched.
    pub fn filled(&mut self) {
        self.source = None;
        self.remote_len = 0;
        self.written = RangeSet::default();
    }

    /// Reads up to `size` bytes at `offset` (the caller fetched what was missing first).
    pub fn read(&self, offset: u64, size: usize) -> io::Result<Vec<u8>> {
        let end = (offset + size as u64).min(self.len);
        if offset >= end {
            return Ok(Vec::new());
        }
        let mut buf = vec![0u8; (end - offset) as usize];
        self.file.read_exact_at(&mut buf, offset)?;
        Ok(buf)
    }

    /// Flushes the local file to disk, so a kept spool survives a crash.
    pub fn sync(&self) -> io::Result<()> {
        self.file.sync_data()
    }

    /// Keeps the file on disk when the spool is dropped (after a failed upload).
    pub fn keep(&mut self) -> &Path {
        self.kept = true;
        &self.path
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        let _ = self.budget.recharge(self.charged, 0);
        if !self.kept {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_set_merges_and_finds_gaps() {
        let mut r = RangeSet::default();
        r.insert(10, 20);
        r.insert(30, 40);
        r.insert(20, 25);
        assert_eq!(r.0, vec![(10, 25), (30, 40)]);
        assert!(r.covers(12, 25));
        assert!(!r.covers(12, 26));
        assert_eq!(r.gaps(0, 50), vec![(0, 10), (25, 30), (40, 50)]);
        assert_eq!(r.gaps(12, 35), vec![(25, 30)]);
        r.insert(0, 100);
        assert_eq!(r.0, vec![(0, 100)]);
        r.truncate(50);
        assert_eq!(r.0, vec![(0, 50)]);
    }

    #[test]
    fn unwritten_old_content_is_fetched_around_local_writes() {
        let dir = tempfile::tempdir().unwrap();
        let budget = SpoolBudget::new(1 << 20);
        let src = RemotePath::parse(b"/f").unwrap();
        let mut s =
            Spool::create(dir.path(), b"f", Some((src.clone(), 10)), budget.clone()).unwrap();
        s.write(2, b"XY").unwrap();
        assert_eq!(s.missing(2, 4), None, "the written range needs nothing");
        assert_eq!(s.missing(0, 4), Some(&src));
        s.fill(0, b"0123456789").unwrap();
        s.filled();
        assert_eq!(s.read(0, 100).unwrap(), b"01XY456789");
        s.truncate(3).unwrap();
        s.write(5, b"Z").unwrap();
        assert_eq!(s.read(0, 100).unwrap(), b"01X\0\0Z");
        assert_eq!(budget.used(), 6);
        let path = s.path().to_path_buf();
        drop(s);
        assert!(!path.exists());
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn whole_rewrites_need_no_fetch_and_budget_is_enforced() {
        let dir = tempfile::tempdir().unwrap();
        let budget = SpoolBudget::new(8);
        let src = RemotePath::parse(b"/f").unwrap();
        let mut s = Spool::create(dir.path(), b"f", Some((src, 4)), budget).unwrap();
        s.write(0, b"abcd").unwrap();
        assert_eq!(s.missing(0, 4), None);
        let err = s.write(4, b"123456789").unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENOSPC));
        let mut kept = s;
        let path = kept.keep().to_path_buf();
        drop(kept);
        assert!(path.exists(), "a kept spool stays on disk");
    }
}
