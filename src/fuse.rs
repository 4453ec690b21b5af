//! The fuser adapter: converts fuser's types, calls [`FtpFs`], and replies.
//!
//! This file and `mount.rs` are the only ones that import fuser. No logic lives here beyond
//! type conversion: every decision is made in `fs`. Failures go through [`reply_error`],
//! which logs once and answers with the errno from `FsError::errno`.
//!
//! Nothing here may panic: fuser runs these callbacks on its session threads, and a panic
//! would take the mount down. Replies that are never sent are answered EIO by fuser.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use fuser::{
    Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo, InitFlags,
    KernelConfig, LockOwner, OpenAccMode, OpenFlags, RenameFlags, ReplyAttr, ReplyCreate,
    ReplyData, ReplyDirectory, ReplyDirectoryPlus, ReplyEmpty, ReplyEntry, ReplyOpen, ReplyStatfs,
    ReplyWrite, Request, TimeOrNow, WriteFlags,
};

use crate::error::FsError;
use crate::fs::attr::{Attr, BLOCK_SIZE};
use crate::fs::FtpFs;
use crate::remote::EntryKind;

/// The filesystem as fuser sees it.
pub struct FuseAdapter {
    fs: Arc<FtpFs>,
    /// Kernel attribute and entry cache lifetime: the same as the directory cache's.
    ttl: Duration,
}

impl FuseAdapter {
    pub fn new(fs: Arc<FtpFs>) -> FuseAdapter {
        let ttl = fs.config().dir_ttl;
        FuseAdapter { fs, ttl }
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

fn show(name: &OsStr) -> String {
    name.as_bytes().escape_ascii().to_string()
}

fn is_write(flags: OpenFlags) -> bool {
    flags.acc_mode() != OpenAccMode::O_RDONLY || flags.0 & libc::O_TRUNC != 0
}

impl Filesystem for FuseAdapter {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> std::io::Result<()> {
        // One listing answers readdir and every lookup in it: let the kernel ask for both
        // at once, when the listing's attributes are final.
        let mut wanted = InitFlags::FUSE_PARALLEL_DIROPS;
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
        match self.fs.lookup(parent.0, name.as_bytes()) {
            Ok(attr) => reply.entry(&self.ttl, &file_attr(&attr), Generation(0)),
            Err(e) => reply_error!(reply, "lookup", show(name), e),
        }
    }

    fn forget(&self, _req: &Request, ino: INodeNo, nlookup: u64) {
        self.fs.forget(ino.0, nlookup);
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        match self.fs.getattr(ino.0) {
            Ok(attr) => reply.attr(&self.ttl, &file_attr(&attr)),
            Err(e) => reply_error!(reply, "getattr", ino.0, e),
        }
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        _mode: Option<u32>,
        _uid: Option<u32>,
        _gid: Option<u32>,
        _size: Option<u64>,
        _atime: Option<TimeOrNow>,
        _mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        _fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        reply_error!(reply, "setattr", ino.0, FsError::ReadOnly);
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        match self.fs.readlink(ino.0) {
            Ok(target) => reply.data(&target),
            Err(e) => reply_error!(reply, "readlink", ino.0, e),
        }
    }

    fn mkdir(
        &self,
        _req: &Request,
        _p: INodeNo,
        name: &OsStr,
        _m: u32,
        _u: u32,
        reply: ReplyEntry,
    ) {
        reply_error!(reply, "mkdir", show(name), FsError::ReadOnly);
    }

    fn unlink(&self, _req: &Request, _parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        reply_error!(reply, "unlink", show(name), FsError::ReadOnly);
    }

    fn rmdir(&self, _req: &Request, _parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        reply_error!(reply, "rmdir", show(name), FsError::ReadOnly);
    }

    fn rename(
        &self,
        _req: &Request,
        _parent: INodeNo,
        name: &OsStr,
        _newparent: INodeNo,
        _newname: &OsStr,
        _flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        reply_error!(reply, "rename", show(name), FsError::ReadOnly);
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        match self.fs.open(ino.0, is_write(flags)) {
            Ok(fh) => reply.opened(FileHandle(fh), FopenFlags::empty()),
            Err(e) => reply_error!(reply, "open", ino.0, e),
        }
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
        match self.fs.read(fh.0, offset, size) {
            Ok(data) => reply.data(&data),
            Err(e) => reply_error!(reply, "read", format_args!("{} at {offset}", ino.0), e),
        }
    }

    fn write(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _offset: u64,
        _data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        reply_error!(reply, "write", ino.0, FsError::ReadOnly);
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
        match self.fs.release(fh.0) {
            Ok(()) => reply.ok(),
            Err(e) => reply_error!(reply, "release", ino.0, e),
        }
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        match self.fs.opendir(ino.0) {
            Ok(fh) => reply.opened(FileHandle(fh), FopenFlags::empty()),
            Err(e) => reply_error!(reply, "opendir", ino.0, e),
        }
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
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
    }

    fn readdirplus(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectoryPlus,
    ) {
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
    }

    fn releasedir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        reply: ReplyEmpty,
    ) {
        self.fs.releasedir(fh.0);
        reply.ok();
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        let s = self.fs.statfs();
        reply.statfs(
            s.blocks, s.bfree, s.bavail, s.files, s.ffree, s.bsize, s.namelen, s.bsize,
        );
    }

    fn create(
        &self,
        _req: &Request,
        _parent: INodeNo,
        name: &OsStr,
        _mode: u32,
        _umask: u32,
        _flags: i32,
        reply: ReplyCreate,
    ) {
        reply_error!(reply, "create", show(name), FsError::ReadOnly);
    }
}
