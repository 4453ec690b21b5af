//! The fuser adapter: converts fuser's types, calls [`FtpFs`], and replies.
//!
//! This file and `mount.rs` are the only ones that import fuser. No logic lives here beyond
//! type conversion: every decision is made in `fs`. Failures go through `reply_error!`,
//! which logs once and answers with the errno from `FsError::errno`.
//!
//! Nothing here may panic: fuser runs these callbacks on its session threads, and a panic
//! would end the thread (with all of them gone, the mount hangs). Every handler therefore
//! runs under `guarded`, which contains a panic (a bug) to the one request: fuser answers
//! a reply dropped unsent with EIO.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use fuser::{
    AccessFlags, Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation,
    INodeNo, InitFlags, IoctlFlags, KernelConfig, LockOwner, OpenAccMode, OpenFlags, RenameFlags,
    ReplyAttr, ReplyCreate, ReplyData, ReplyDirectory, ReplyDirectoryPlus, ReplyEmpty, ReplyEntry,
    ReplyIoctl, ReplyOpen, ReplyStatfs, ReplyWrite, ReplyXattr, Request, TimeOrNow, WriteFlags,
};

use crate::error::FsError;
use crate::fs::attr::{Attr, BLOCK_SIZE};
use crate::fs::coherence::Notice;
use crate::fs::write::{SetAttr, TimeSet};
use crate::fs::{FtpFs, OpenMode};
use crate::remote::EntryKind;
use crate::stats;

mod inval;

pub use inval::PageInvalidator;
use inval::{Inval, INVALIDATE_WAIT, TO_EOF};

/// The filesystem as fuser sees it.
pub struct FuseAdapter {
    fs: Arc<FtpFs>,
    /// Kernel attribute and entry cache lifetime: the same as the directory cache's.
    ttl: Duration,
    /// Ranges written through direct I/O, whose cached pages other handles may still hold.
    stale: Sender<Inval>,
}

impl FuseAdapter {
    /// The adapter, and the receiving side of its page invalidations, to start once the
    /// session exists.
    pub fn new(fs: Arc<FtpFs>) -> (FuseAdapter, PageInvalidator) {
        let ttl = fs.config().dir_ttl;
        let (stale, rx) = std::sync::mpsc::channel();
        // What other clients changed (fs/coherence.rs) goes out on the invalidation thread.
        let notices = stale.clone();
        fs.set_notices(Box::new(move |notice| {
            let _ = notices.send(match notice {
                Notice::Entry { parent, name } => Inval::Entry(parent, name),
                Notice::Inode(ino) => Inval::Inode(ino),
            });
        }));
        (FuseAdapter { fs, ttl, stale }, PageInvalidator::new(rx))
    }
}

fn kind(k: EntryKind) -> FileType {
    match k {
        EntryKind::File => FileType::RegularFile,
        EntryKind::Dir => FileType::Directory,
        EntryKind::Symlink => FileType::Symlink,
        EntryKind::Fifo => FileType::NamedPipe,
        EntryKind::Socket => FileType::Socket,
        EntryKind::CharDevice => FileType::CharDevice,
        EntryKind::BlockDevice => FileType::BlockDevice,
    }
}

fn file_attr(a: &Attr) -> FileAttr {
    FileAttr {
        ino: INodeNo(a.ino),
        size: a.size,
        blocks: a.blocks(),
        atime: a.mtime,
        mtime: a.mtime,
        ctime: a.mtime,
        crtime: a.mtime,
        kind: kind(a.kind),
        perm: a.perm,
        nlink: a.nlink,
        uid: a.uid,
        gid: a.gid,
        rdev: 0,
        blksize: BLOCK_SIZE,
        flags: 0,
    }
}

/// Logs a failure once (debug for ordinary misses) and returns its errno.
fn errno(op: &str, detail: &dyn std::fmt::Display, err: &FsError) -> Errno {
    if err.is_expected() {
        log::debug!("{op} {detail}: {err}");
    } else {
        log::warn!("{op} {detail}: {err}");
    }
    Errno::from_i32(err.errno())
}

macro_rules! reply_error {
    ($reply:expr, $op:expr, $detail:expr, $err:expr) => {
        $reply.error(errno($op, &$detail, &$err))
    };
}

/// Setting this extended attribute on a directory lists it again at once
/// (`setfattr -n user.ftpfs.refresh DIR`); on a file, its directory.
const REFRESH_XATTR: &[u8] = b"user.ftpfs.refresh";

/// Counts one filesystem operation for the stats attribute.
/// Runs one request's handler, counting it. A panic (a bug: handlers return errors, never panic on bad
/// input) must not take the worker thread with it, or the mount would hang once every
/// thread died: it is caught and logged, and the request's reply, dropped unsent during the
/// unwinding, answers `EIO` (fuser's reply types do that on drop).
fn guarded(op: &str, handler: impl FnOnce()) {
    count_op();
    if let Err(panic) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(handler)) {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        log::error!("BUG: {op} panicked ({what}); the call got EIO and the mount goes on");
    }
}

fn count_op() {
    stats::add(&stats::OPERATIONS, 1);
}

fn show(name: &OsStr) -> String {
    name.as_bytes().escape_ascii().to_string()
}

fn open_mode(req: &Request, flags: OpenFlags) -> OpenMode {
    OpenMode {
        write: flags.acc_mode() != OpenAccMode::O_RDONLY,
        truncate: flags.0 & libc::O_TRUNC != 0,
        append: flags.0 & libc::O_APPEND != 0,
        // Only writers upload on flush; a read-only open (every file `grep` reads) skips /proc.
        owner: if flags.acc_mode() == OpenAccMode::O_RDONLY {
            0
        } else {
            process_of(req)
        },
    }
}

/// The process (thread group id) of the thread that made a request: the kernel gives the
/// thread's id, and a program may open in one thread and close in another. Falls back to the
/// thread id when /proc cannot tell (the thread has gone, or lives in another pid namespace).
fn process_of(req: &Request) -> u32 {
    let tid = req.pid();
    std::fs::read_to_string(format!("/proc/{tid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("Tgid:"))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(tid)
}

impl Filesystem for FuseAdapter {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> std::io::Result<()> {
        count_op();
        // One listing answers readdir and every lookup in it: let the kernel ask for both
        // at once, when the listing's attributes are final.
        // FTP files carry no setuid bits or capabilities, so there is nothing to clear on a
        // write; without this the kernel asks getxattr("security.capability") before every
        // write request, doubling the requests of a sequential write.
        // O_TRUNC reaches open (which truncates the shared state) instead of coming as a
        // separate setattr without a handle, which would look like truncate(2) by path and be
        // uploaded at once: an empty upload before every overwrite.
        let mut wanted = InitFlags::FUSE_PARALLEL_DIROPS
            | InitFlags::FUSE_HANDLE_KILLPRIV_V2
            | InitFlags::FUSE_ATOMIC_O_TRUNC;
        if self.fs.listings_are_final() {
            wanted |= InitFlags::FUSE_DO_READDIRPLUS | InitFlags::FUSE_READDIRPLUS_AUTO;
        }
        if let Err(missing) = config.add_capabilities(wanted) {
            log::debug!("kernel lacks {missing:?}");
            let _ = config.add_capabilities(wanted & !missing);
        }
        let _ = config.set_max_readahead(1024 * 1024);
        Ok(())
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        guarded("lookup", || {
            match self.fs.lookup(parent.0, name.as_bytes()) {
                Ok(attr) => reply.entry(&self.ttl, &file_attr(&attr), Generation(0)),
                Err(e) => reply_error!(reply, "lookup", show(name), e),
            }
        });
    }

    fn forget(&self, _req: &Request, ino: INodeNo, nlookup: u64) {
        guarded("forget", || {
            self.fs.forget(ino.0, nlookup);
        });
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        guarded("getattr", || match self.fs.getattr(ino.0) {
            Ok(attr) => reply.attr(&self.ttl, &file_attr(&attr)),
            Err(e) => reply_error!(reply, "getattr", ino.0, e),
        });
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        _atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        guarded("setattr", || {
            log::debug!("setattr {} size {size:?} fh {fh:?}", ino.0);
            let change = SetAttr {
                size,
                by_path: fh.is_none(),
                mode,
                uid,
                gid,
                mtime: mtime.map(|t| match t {
                    TimeOrNow::Now => TimeSet::Now,
                    TimeOrNow::SpecificTime(t) => TimeSet::At(t),
                }),
            };
            match self.fs.setattr(ino.0, &change) {
                Ok(attr) => reply.attr(&self.ttl, &file_attr(&attr)),
                Err(e) => reply_error!(reply, "setattr", ino.0, e),
            }
        });
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        guarded("readlink", || match self.fs.readlink(ino.0) {
            Ok(target) => reply.data(&target),
            Err(e) => reply_error!(reply, "readlink", ino.0, e),
        });
    }

    fn mkdir(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        reply: ReplyEntry,
    ) {
        guarded("mkdir", || {
            match self.fs.mkdir(parent.0, name.as_bytes(), mode & !umask) {
                Ok(attr) => reply.entry(&self.ttl, &file_attr(&attr), Generation(0)),
                Err(e) => reply_error!(reply, "mkdir", show(name), e),
            }
        });
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        guarded("unlink", || {
            match self.fs.unlink(parent.0, name.as_bytes()) {
                Ok(()) => reply.ok(),
                Err(e) => reply_error!(reply, "unlink", show(name), e),
            }
        });
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        guarded("rmdir", || match self.fs.rmdir(parent.0, name.as_bytes()) {
            Ok(()) => reply.ok(),
            Err(e) => reply_error!(reply, "rmdir", show(name), e),
        });
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        guarded("rename", || {
            if flags.intersects(RenameFlags::RENAME_EXCHANGE | RenameFlags::RENAME_WHITEOUT) {
                return reply_error!(
                    reply,
                    "rename",
                    show(name),
                    FsError::NotSupported("rename flags")
                );
            }
            let noreplace = flags.contains(RenameFlags::RENAME_NOREPLACE);
            match self.fs.rename(
                parent.0,
                name.as_bytes(),
                newparent.0,
                newname.as_bytes(),
                noreplace,
            ) {
                Ok(()) => reply.ok(),
                Err(e) => reply_error!(reply, "rename", show(name), e),
            }
        });
    }

    fn open(&self, req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        guarded("open", || {
            log::debug!("open {} flags {:#o}", ino.0, flags.0);
            match self.fs.open(ino.0, open_mode(req, flags)) {
                Ok(o) if o.keep_cache => reply.opened(
                    FileHandle(o.fh),
                    open_flags(flags.0) | FopenFlags::FOPEN_KEEP_CACHE,
                ),
                Ok(o) => reply.opened(FileHandle(o.fh), open_flags(flags.0)),
                Err(e) => reply_error!(reply, "open", ino.0, e),
            }
        });
    }

    fn read(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        guarded("read", || {
            // Replied to from inside fs.read, while the bytes are in the stream's buffers.
            let mut reply = Some(reply);
            let result = self.fs.read(fh.0, offset, size, |data| {
                if let Some(reply) = reply.take() {
                    reply.data(data);
                }
            });
            if let (Err(e), Some(reply)) = (result, reply) {
                reply_error!(reply, "read", format_args!("{} at {offset}", ino.0), e);
            }
        });
    }

    fn write(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        guarded("write", || {
            log::trace!("write {} fh {} at {offset}+{}", ino.0, fh.0, data.len());
            // Pages of this file can be cached only through another open handle (every
            // open without FOPEN_KEEP_CACHE empties the cache, and a mapping keeps its
            // handle open); then the written range must be dropped before we answer, so
            // that a read after this write returns sees it.
            let drop_pages = open_flags(flags.0).contains(FopenFlags::FOPEN_DIRECT_IO)
                && self.fs.shared(ino.0, fh.0);
            // Otherwise a streamed write is answered as soon as it is accepted, before it is
            // sent: the writer then fills its next chunk while this one goes out.
            let mut reply = Some(reply);
            let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
            let mut early = || {
                if let Some(reply) = reply.take() {
                    reply.written(len);
                }
            };
            let ack = (!drop_pages).then_some(&mut early as &mut dyn FnMut());
            let result = self.fs.write(fh.0, offset, data, ack);
            match (reply.take(), result) {
                (Some(reply), Ok(n)) => {
                    if drop_pages {
                        // An append lands at our end of file, at or after `offset` (the kernel's
                        // idea of the size): drop everything from there on.
                        let end = if flags.0 & libc::O_APPEND != 0 {
                            TO_EOF
                        } else {
                            offset + u64::from(n)
                        };
                        let (done, dropped) = std::sync::mpsc::sync_channel(1);
                        if self
                            .stale
                            .send(Inval::Pages(ino.0, offset, end, done))
                            .is_ok()
                            && dropped.recv_timeout(INVALIDATE_WAIT).is_err()
                        {
                            log::debug!("write {}: stale pages not dropped yet", ino.0);
                        }
                    }
                    reply.written(n)
                }
                (Some(reply), Err(e)) => {
                    reply_error!(reply, "write", format_args!("{} at {offset}", ino.0), e)
                }
                (None, Ok(_)) => {}
                (None, Err(e)) => log::debug!(
                    "write {} at {offset}, answered early: {e} (reported to the next write, flush or fsync)",
                    ino.0
                ),
            }
        });
    }

    fn flush(
        &self,
        req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        _lo: LockOwner,
        reply: ReplyEmpty,
    ) {
        guarded("flush", || {
            log::debug!("flush {} fh {}", ino.0, fh.0);
            match self.fs.flush(fh.0, || process_of(req)) {
                Ok(()) => reply.ok(),
                Err(e) => reply_error!(reply, "flush", ino.0, e),
            }
        });
    }

    fn fsync(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        guarded("fsync", || {
            log::debug!("fsync {} fh {}", ino.0, fh.0);
            match self.fs.fsync(fh.0) {
                Ok(()) => reply.ok(),
                Err(e) => reply_error!(reply, "fsync", ino.0, e),
            }
        });
    }

    fn release(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        guarded("release", || {
            log::debug!("release {} fh {}", ino.0, fh.0);
            match self.fs.release(fh.0) {
                Ok(forgotten) => {
                    reply.ok();
                    if let Some((dir, name)) = forgotten {
                        let _ = self.stale.send(Inval::Entry(dir, name));
                    }
                }
                Err(e) => reply_error!(reply, "release", ino.0, e),
            }
        });
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        guarded("opendir", || match self.fs.opendir(ino.0) {
            Ok(fh) => reply.opened(FileHandle(fh), FopenFlags::empty()),
            Err(e) => reply_error!(reply, "opendir", ino.0, e),
        });
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        guarded("readdir", || {
            let result = self.fs.readdir(fh.0, offset, false, |item, next| {
                reply.add(
                    INodeNo(item.attr.ino),
                    next,
                    kind(item.kind),
                    OsStr::from_bytes(&item.name),
                )
            });
            match result {
                Ok(()) => reply.ok(),
                Err(e) => reply_error!(reply, "readdir", ino.0, e),
            }
        });
    }

    fn readdirplus(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectoryPlus,
    ) {
        guarded("readdirplus", || {
            let ttl = self.ttl;
            let result = self.fs.readdir(fh.0, offset, true, |item, next| {
                let attr = file_attr(&item.attr);
                reply.add(
                    INodeNo(item.attr.ino),
                    next,
                    OsStr::from_bytes(&item.name),
                    &ttl,
                    &attr,
                    Generation(0),
                )
            });
            match result {
                Ok(()) => reply.ok(),
                Err(e) => reply_error!(reply, "readdirplus", ino.0, e),
            }
        });
    }

    fn releasedir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        reply: ReplyEmpty,
    ) {
        guarded("releasedir", || {
            self.fs.releasedir(fh.0);
            reply.ok();
        });
    }

    /// The mount root answers [`stats::STATS_IOCTL`] with the counters (`ftpfs --stats`).
    /// Otherwise no file here is a terminal or takes device requests: `ENOTTY`, the answer a
    /// program asking `isatty` expects (Python asks on every `open`), without fuser's warning.
    fn ioctl(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _flags: IoctlFlags,
        cmd: u32,
        _in_data: &[u8],
        out_size: u32,
        reply: ReplyIoctl,
    ) {
        guarded("ioctl", || {
            if ino != INodeNo::ROOT || cmd != stats::STATS_IOCTL {
                return reply.error(Errno::ENOTTY);
            }
            let report = self.fs.stats_report();
            let n = report.len().min(out_size as usize);
            reply.ioctl(n as i32, &report.as_bytes()[..n]);
        });
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        guarded("statfs", || {
            let s = self.fs.statfs();
            reply.statfs(
                s.blocks, s.bfree, s.bavail, s.files, s.ffree, s.bsize, s.namelen, s.bsize,
            );
        });
    }

    /// FTP files have no extended attributes. ENOSYS, not ENODATA: the kernel then stops
    /// asking for the mount's lifetime, so `ls -l` no longer sends two requests per file
    /// (`stats.rs`).
    fn getxattr(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _name: &OsStr,
        _size: u32,
        reply: ReplyXattr,
    ) {
        guarded("getxattr", || reply.error(Errno::ENOSYS));
    }

    fn setxattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        name: &OsStr,
        _value: &[u8],
        _flags: i32,
        _position: u32,
        reply: ReplyEmpty,
    ) {
        guarded("setxattr", || {
            if name.as_bytes() != REFRESH_XATTR {
                return reply.error(Errno::ENOTSUP);
            }
            match self.fs.refresh(ino.0) {
                Ok(()) => reply.ok(),
                Err(e) => reply_error!(reply, "refresh", ino.0, e),
            }
        });
    }

    /// As getxattr: there are none, and the kernel need not ask again.
    fn listxattr(&self, _req: &Request, _ino: INodeNo, _size: u32, reply: ReplyXattr) {
        guarded("listxattr", || reply.error(Errno::ENOSYS));
    }

    fn access(&self, _req: &Request, _ino: INodeNo, _mask: AccessFlags, reply: ReplyEmpty) {
        guarded("access", || {
            // The server decides what this login may do; `default_permissions` adds local checks.
            reply.ok();
        });
    }

    fn create(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        flags: i32,
        reply: ReplyCreate,
    ) {
        guarded("create", || {
            let exclusive = flags & libc::O_EXCL != 0;
            let open = OpenMode {
                write: true,
                ..open_mode(req, OpenFlags(flags))
            };
            match self
                .fs
                .create(parent.0, name.as_bytes(), mode & !umask, exclusive, open)
            {
                Ok((attr, fh)) => reply.created(
                    &self.ttl,
                    &file_attr(&attr),
                    Generation(0),
                    FileHandle(fh),
                    open_flags(flags),
                ),
                Err(e) => reply_error!(reply, "create", show(name), e),
            }
        });
    }
}

/// Open flags for the kernel. A write-only handle bypasses the page cache (direct I/O): its
/// data goes from the writer's buffer to us in one copy, which more than doubles sequential
/// upload throughput, and a write-only handle can neither read nor map the file shared, so
/// nothing relies on the cache. Handles that can read keep the page cache (mmap, readahead).
fn open_flags(flags: i32) -> FopenFlags {
    if flags & libc::O_ACCMODE == libc::O_WRONLY {
        FopenFlags::FOPEN_DIRECT_IO
    } else {
        FopenFlags::empty()
    }
}

#[cfg(test)]
mod guard_tests {
    use super::guarded;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// Stands for a reply: dropped unsent, it answers (here: records that it was dropped).
    struct Reply<'a>(&'a AtomicBool);

    impl Drop for Reply<'_> {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    #[test]
    fn a_panicking_handler_is_contained_and_its_reply_dropped() {
        let answered = AtomicBool::new(false);
        let reply = Reply(&answered);
        guarded("test", move || {
            let _reply = reply;
            panic!("a bug");
        });
        assert!(answered.load(Ordering::SeqCst), "the reply was not dropped");
        let mut ran = false;
        guarded("test", || ran = true);
        assert!(ran);
    }
}
