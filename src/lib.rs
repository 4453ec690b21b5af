//! ftpfs: mount a remote FTP server as a local directory, through FUSE.
//!
//! The crate is layered; arrows point from caller to callee:
//!
//! ```text
//! main.rs -> cli (raw args) -> config (validated) -> mount -> fuse -> fs -> remote
//! ```
//!
//! - [`remote`] speaks FTP: paths and names as bytes, reply classification, sessions, the
//!   session pool and the listing parsers. It never mentions an inode.
//! - [`fs`] is the filesystem: the inode table, the directory cache, open handles and read
//!   streams. Its methods return plain values and [`error::FsError`], so it can be driven
//!   without a kernel.
//! - [`fuse`] adapts fuser's callbacks to [`fs`]; [`mount`] owns the process lifecycle
//!   (background start, signals, unmount). Only these two (and `fuse`'s submodule) import
//!   fuser.
//!
//! See docs/ARCHITECTURE.md for the paths a request takes and docs/SEMANTICS.md for the
//! behaviour users can rely on.

pub mod cli;
pub mod config;
pub mod credentials;
pub mod error;
pub mod fs;
pub mod fuse;
pub mod logging;
pub mod mount;
pub mod remote;
pub mod stats;

pub use config::Config;

/// Mounts according to `config` and serves until unmounted. The error is one line for the
/// user.
pub fn run(config: Config) -> Result<(), String> {
    mount::run(config)
}
