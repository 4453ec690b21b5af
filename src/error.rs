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
pub const SERVER_ERRNOS: [i32; 13] = [
    libc::ENOENT,
    libc::ENAMETOOLONG,
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
                RemoteErrorKind::NameTooLong => libc::ENAMETOOLONG,
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
            || matches!(self, FsError::Remote(e) if matches!(e.kind, RemoteErrorKind::NotFound | RemoteErrorKind::NameTooLong))
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
    use std::collections::BTreeSet;

    /// docs/SEMANTICS.md's errno table, one arm per case: an exhaustive match with no
    /// wildcard, so a new variant does not compile until it has a row here. Each arm also
    /// returns its own line, so that [`errno_table`] can tell that every row was checked.
    fn documented(e: &FsError) -> (u32, i32) {
        use RemoteErrorKind as K;
        match e {
            FsError::NotFound => (line!(), libc::ENOENT),
            FsError::InvalidName(NameError::Empty) => (line!(), libc::EINVAL),
            FsError::InvalidName(NameError::Dot) => (line!(), libc::EINVAL),
            FsError::InvalidName(NameError::Slash) => (line!(), libc::EINVAL),
            FsError::InvalidName(NameError::ControlChar) => (line!(), libc::EINVAL),
            FsError::InvalidName(NameError::TooLong) => (line!(), libc::ENAMETOOLONG),
            FsError::Stale => (line!(), libc::ESTALE),
            FsError::NotADirectory => (line!(), libc::ENOTDIR),
            FsError::IsADirectory => (line!(), libc::EISDIR),
            FsError::ReadOnly => (line!(), libc::EROFS),
            FsError::NotPermitted => (line!(), libc::EPERM),
            FsError::Exists => (line!(), libc::EEXIST),
            FsError::NotEmpty => (line!(), libc::ENOTEMPTY),
            FsError::InvalidArgument(_) => (line!(), libc::EINVAL),
            FsError::NotSupported(_) => (line!(), libc::EOPNOTSUPP),
            FsError::Local(_) => (line!(), libc::EIO),
            FsError::Remote(r) => match r.kind {
                K::NotFound => (line!(), libc::ENOENT),
                K::PermissionDenied => (line!(), libc::EACCES),
                K::Auth => (line!(), libc::EACCES),
                K::BadName => (line!(), libc::EINVAL),
                K::Unencodable => (line!(), libc::EILSEQ),
                K::NameTooLong => (line!(), libc::ENAMETOOLONG),
                K::Exists => (line!(), libc::EEXIST),
                K::NotEmpty => (line!(), libc::ENOTEMPTY),
                K::NotADirectory => (line!(), libc::ENOTDIR),
                K::IsADirectory => (line!(), libc::EISDIR),
                K::NoSpace => (line!(), libc::ENOSPC),
                K::Quota => (line!(), libc::EDQUOT),
                K::NotSupported => (line!(), libc::EOPNOTSUPP),
                K::Timeout => (line!(), libc::ETIMEDOUT),
                K::Transient => (line!(), libc::EIO),
                K::Connection => (line!(), libc::EIO),
                K::Tls => (line!(), libc::EIO),
                K::TlsReuse => (line!(), libc::EIO),
                K::Protocol => (line!(), libc::EIO),
                K::Other => (line!(), libc::EIO),
            },
        }
    }

    /// One error of every case of [`documented`].
    fn samples() -> Vec<FsError> {
        use RemoteErrorKind as K;
        let mut all = vec![
            FsError::NotFound,
            FsError::InvalidName(NameError::Empty),
            FsError::InvalidName(NameError::Dot),
            FsError::InvalidName(NameError::Slash),
            FsError::InvalidName(NameError::ControlChar),
            FsError::InvalidName(NameError::TooLong),
            FsError::Stale,
            FsError::NotADirectory,
            FsError::IsADirectory,
            FsError::ReadOnly,
            FsError::NotPermitted,
            FsError::Exists,
            FsError::NotEmpty,
            FsError::InvalidArgument("x"),
            FsError::NotSupported("x"),
            FsError::Local("x".into()),
        ];
        all.extend(
            [
                K::NotFound,
                K::PermissionDenied,
                K::Auth,
                K::BadName,
                K::Unencodable,
                K::NameTooLong,
                K::Exists,
                K::NotEmpty,
                K::NotADirectory,
                K::IsADirectory,
                K::NoSpace,
                K::Quota,
                K::NotSupported,
                K::Timeout,
                K::Transient,
                K::Connection,
                K::Tls,
                K::TlsReuse,
                K::Protocol,
                K::Other,
            ]
            .map(|kind| FsError::from(RemoteError::new(kind, "x"))),
        );
        all
    }

    /// The arms of [`documented`], counted in this file's source.
    fn documented_rows() -> usize {
        let source = include_str!("error.rs");
        let start = source.find("fn documented(").expect("fn documented");
        let body = &source[start..];
        let end = body.find("\n    }\n").expect("end of fn documented");
        body[..end].matches("(line!(),").count()
    }

    /// Every variant gives the errno of docs/SEMANTICS.md's table, and every row of the
    /// table is checked.
    #[test]
    fn errno_table() {
        let mut rows = BTreeSet::new();
        let mut wrong = Vec::new();
        for e in samples() {
            let (row, want) = documented(&e);
            assert!(rows.insert(row), "two samples for row {row}: {e:?}");
            if e.errno() != want {
                wrong.push(format!("{e:?}: errno {} instead of {want}", e.errno()));
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
        assert_eq!(
            rows.len(),
            documented_rows(),
            "a row of the table has no sample"
        );
    }

    /// [`SERVER_ERRNOS`] is exactly what a server's failures map to: every remote kind but
    /// `Unencodable`, which is decided locally.
    #[test]
    fn server_failures_give_the_listed_errnos() {
        let from_server: BTreeSet<i32> = samples()
            .iter()
            .filter_map(|e| match e {
                FsError::Remote(r) if r.kind != RemoteErrorKind::Unencodable => Some(e.errno()),
                _ => None,
            })
            .collect();
        let listed: BTreeSet<i32> = SERVER_ERRNOS.iter().copied().collect();
        assert_eq!(
            listed.len(),
            SERVER_ERRNOS.len(),
            "SERVER_ERRNOS repeats one"
        );
        assert_eq!(from_server, listed);
    }

    /// Replies and I/O failures reach the table through their kinds (the classification
    /// itself is tested in `reply::tests`).
    #[test]
    fn replies_reach_the_table() {
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
    }
}
