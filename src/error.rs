//! The one error type the filesystem returns, and its errno table.
//!
//! Every failure that reaches the kernel is an [`FsError`]; [`FsError::errno`] is the single
//! place that decides the errno, as one exhaustive match. docs/SEMANTICS.md prints the same
//! table; keep them in step.

use std::fmt;

use crate::remote::path::NameError;
use crate::remote::{RemoteError, RemoteErrorKind};

#[derive(Debug, Clone)]
pub enum FsError {
    /// No such file or directory (a lookup miss is normal and logged at debug level only).
    NotFound,
    /// The name is not valid on the wire (CR, LF, NUL, too long, `.`/`..`).
    InvalidName(NameError),
    /// The inode or file handle is not known (stale after a forget or a release).
    Stale,
    /// The operation needs a directory and got something else.
    NotADirectory,
    /// The operation needs a file and got a directory.
    IsADirectory,
    /// The mount or the operation is read-only.
    ReadOnly,
    /// The operation is not permitted (chown to another owner, chmod refused, symlink).
    NotPermitted,
    /// The name already exists (O_EXCL, RENAME_NOREPLACE).
    Exists,
    /// The directory is not empty.
    NotEmpty,
    /// The request makes no sense for this object (readlink of a file, a directory moved
    /// into itself).
    InvalidArgument(&'static str),
    /// ftpfs does not implement this (e.g. hard links).
    NotSupported(&'static str),
    /// A local I/O problem (spool file, cache directory).
    Local(String),
    /// The server refused or failed the operation.
    Remote(RemoteError),
}

/// The errnos docs/SEMANTICS.md's table gives for a failure the server caused (its replies,
/// its connections): what a fuzz target may see come out of [`FsError::errno`] for a
/// [`RemoteError`]. (`EILSEQ` is not here: it is a local name the server's encoding cannot
/// write, before anything reaches the server.)
pub const SERVER_ERRNOS: [i32; 12] = [
    libc::ENOENT,
    libc::EACCES,
    libc::EINVAL,
    libc::EEXIST,
    libc::ENOTEMPTY,
    libc::ENOTDIR,
    libc::EISDIR,
    libc::ENOSPC,
    libc::EDQUOT,
    libc::EOPNOTSUPP,
    libc::ETIMEDOUT,
    libc::EIO,
];

impl FsError {
    /// The errno reported to the kernel. One exhaustive match, no wildcard.
    pub fn errno(&self) -> i32 {
        match self {
            FsError::NotFound => libc::ENOENT,
            FsError::InvalidName(NameError::TooLong) => libc::ENAMETOOLONG,
            FsError::InvalidName(
                NameError::Empty | NameError::Dot | NameError::Slash | NameError::ControlChar,
            ) => libc::EINVAL,
            FsError::Stale => libc::ESTALE,
            FsError::NotADirectory => libc::ENOTDIR,
            FsError::IsADirectory => libc::EISDIR,
            FsError::ReadOnly => libc::EROFS,
            FsError::NotPermitted => libc::EPERM,
            FsError::Exists => libc::EEXIST,
            FsError::NotEmpty => libc::ENOTEMPTY,
            FsError::InvalidArgument(_) => libc::EINVAL,
            FsError::NotSupported(_) => libc::EOPNOTSUPP,
            FsError::Local(_) => libc::EIO,
            FsError::Remote(e) => match e.kind {
                RemoteErrorKind::NotFound => libc::ENOENT,
                RemoteErrorKind::PermissionDenied => libc::EACCES,
                RemoteErrorKind::Auth => libc::EACCES,
                RemoteErrorKind::BadName => libc::EINVAL,
                RemoteErrorKind::Unencodable => libc::EILSEQ,
                RemoteErrorKind::Exists => libc::EEXIST,
                RemoteErrorKind::NotEmpty => libc::ENOTEMPTY,
                RemoteErrorKind::NotADirectory => libc::ENOTDIR,
                RemoteErrorKind::IsADirectory => libc::EISDIR,
                RemoteErrorKind::NoSpace => libc::ENOSPC,
                RemoteErrorKind::Quota => libc::EDQUOT,
                RemoteErrorKind::NotSupported => libc::EOPNOTSUPP,
                RemoteErrorKind::Timeout => libc::ETIMEDOUT,
                RemoteErrorKind::Transient => libc::EIO,
                RemoteErrorKind::Connection => libc::EIO,
                RemoteErrorKind::Tls => libc::EIO,
                RemoteErrorKind::TlsReuse => libc::EIO,
                RemoteErrorKind::Protocol => libc::EIO,
                RemoteErrorKind::Other => libc::EIO,
            },
        }
    }

    /// Whether this is an ordinary miss (not worth a warning in the log).
    pub fn is_expected(&self) -> bool {
        matches!(self, FsError::NotFound | FsError::InvalidName(_))
            || matches!(self, FsError::Remote(e) if e.kind == RemoteErrorKind::NotFound)
    }
}

impl From<RemoteError> for FsError {
    fn from(e: RemoteError) -> FsError {
        FsError::Remote(e)
    }
}

impl From<NameError> for FsError {
    fn from(e: NameError) -> FsError {
        FsError::InvalidName(e)
    }
}

impl fmt::Display for FsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FsError::NotFound => f.write_str("no such file or directory"),
            FsError::InvalidName(e) => write!(f, "invalid name: {e}"),
            FsError::Stale => f.write_str("stale inode or file handle"),
            FsError::NotADirectory => f.write_str("not a directory"),
            FsError::IsADirectory => f.write_str("is a directory"),
            FsError::ReadOnly => f.write_str("read-only"),
            FsError::NotPermitted => f.write_str("operation not permitted"),
            FsError::Exists => f.write_str("file exists"),
            FsError::NotEmpty => f.write_str("directory not empty"),
            FsError::InvalidArgument(what) => write!(f, "invalid argument: {what}"),
            FsError::NotSupported(what) => write!(f, "not supported: {what}"),
            FsError::Local(msg) => write!(f, "local I/O error: {msg}"),
            FsError::Remote(e) => write!(f, "server: {e}"),
        }
    }
}

impl std::error::Error for FsError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_failures_give_the_listed_errnos() {
        use RemoteErrorKind::*;
        for kind in [
            NotFound,
            PermissionDenied,
            Auth,
            BadName,
            Exists,
            NotEmpty,
            NotADirectory,
            IsADirectory,
            NoSpace,
            Quota,
            NotSupported,
            Timeout,
            Transient,
            Connection,
            Tls,
            TlsReuse,
            Protocol,
            Other,
        ] {
            let errno = FsError::from(RemoteError::new(kind, "x")).errno();
            assert!(SERVER_ERRNOS.contains(&errno), "{kind:?} gives {errno}");
        }
    }

    #[test]
    fn errno_table() {
        let remote =
            |code: u32, text: &str| FsError::from(RemoteError::from_reply(code, text.into()));
        assert_eq!(
            remote(550, "No such file or directory").errno(),
            libc::ENOENT
        );
        assert_eq!(remote(550, "Permission denied").errno(), libc::EACCES);
        assert_eq!(remote(530, "Login incorrect").errno(), libc::EACCES);
        assert_eq!(remote(552, "Quota exceeded").errno(), libc::EDQUOT);
        assert_eq!(
            remote(452, "Insufficient storage space").errno(),
            libc::ENOSPC
        );
        assert_eq!(remote(550, "Directory not empty").errno(), libc::ENOTEMPTY);
        assert_eq!(remote(421, "Timeout").errno(), libc::EIO);
        let timeout = RemoteError::from_io(&std::io::Error::from(std::io::ErrorKind::WouldBlock));
        assert_eq!(FsError::from(timeout).errno(), libc::ETIMEDOUT);
        assert_eq!(FsError::from(NameError::ControlChar).errno(), libc::EINVAL);
        assert_eq!(
            FsError::from(NameError::TooLong).errno(),
            libc::ENAMETOOLONG
        );
        assert_eq!(FsError::ReadOnly.errno(), libc::EROFS);
    }
}
