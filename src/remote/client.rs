//! The remote operations the filesystem uses, with the pool and retry policy applied.
//!
//! [`Remote`] checks a session out of the pool for each operation. Idempotent operations
//! (LIST/MLSD, SIZE, MDTM, starting a RETR) are retried on a fresh session, with a short
//! backoff, when they fail in a way that may be transient (a dropped connection, a timeout,
//! 421/425/426). Anything that changes the server is never retried blindly.

use std::io::Read;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use super::pool::{Pool, SessionGuard};
use super::session::{Features, Session, Transfer};
use super::{Entry, RemoteError, RemotePath};

/// How many times an idempotent operation is retried after a transient failure.
const RETRIES: u32 = 2;
/// First backoff between retries; doubled each time.
const BACKOFF: Duration = Duration::from_millis(100);

/// The filesystem's handle on the server.
pub struct Remote {
    pool: Arc<Pool>,
    /// Called when the pool has no free session: frees one held by an idle reader, if any.
    reclaimer: OnceLock<Reclaimer>,
}

/// Frees one session held by someone idle; returns whether it did.
pub type Reclaimer = Box<dyn Fn() -> bool + Send + Sync>;

/// A download in progress: the transfer and the session it runs on. Dropping it cancels the
/// transfer (closing the data socket, never sending ABOR) and returns the session to the pool.
pub struct ReadTransfer {
    // Field order matters: the transfer must be finalised before the session goes back.
    transfer: Option<Transfer>,
    guard: SessionGuard,
}

impl Remote {
    pub fn new(pool: Arc<Pool>) -> Remote {
        Remote {
            pool,
            reclaimer: OnceLock::new(),
        }
    }

    /// Installs the function that frees an idle reader's session when the pool is full.
    pub fn set_reclaimer(&self, reclaimer: Reclaimer) {
        let _ = self.reclaimer.set(reclaimer);
    }

    /// A session: a free one, else one reclaimed from an idle reader, else the next one
    /// returned to the pool (waiting up to the pool's deadline).
    fn checkout(&self) -> Result<SessionGuard, RemoteError> {
        if let Some(guard) = self.pool.try_checkout()? {
            return Ok(guard);
        }
        if let Some(reclaim) = self.reclaimer.get() {
            while reclaim() {
                if let Some(guard) = self.pool.try_checkout()? {
                    return Ok(guard);
                }
            }
        }
        self.pool.checkout()
    }

    pub fn pool(&self) -> &Arc<Pool> {
        &self.pool
    }

    pub fn features(&self) -> Result<Features, RemoteError> {
        self.pool.features()
    }

    /// Runs an idempotent operation, retrying transient failures on a fresh session.
    fn idempotent<T>(
        &self,
        what: &dyn std::fmt::Display,
        mut op: impl FnMut(&mut Session) -> Result<T, RemoteError>,
    ) -> Result<T, RemoteError> {
        let mut attempt = 0;
        loop {
            let result = self.checkout().and_then(|mut guard| guard.run(&mut op));
            match result {
                Err(e) if e.is_retryable() && attempt < RETRIES => {
                    log::debug!("{what}: {e}; retrying");
                    std::thread::sleep(BACKOFF * 2u32.pow(attempt));
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// Lists a directory (MLSD or LIST -a).
    pub fn list(&self, dir: &RemotePath) -> Result<Vec<Entry>, RemoteError> {
        self.idempotent(&format_args!("listing {dir}"), |s| s.list(dir))
    }

    pub fn size(&self, path: &RemotePath) -> Result<u64, RemoteError> {
        self.idempotent(&format_args!("SIZE {path}"), |s| s.size(path))
    }

    pub fn mdtm(&self, path: &RemotePath) -> Result<SystemTime, RemoteError> {
        self.idempotent(&format_args!("MDTM {path}"), |s| s.mdtm(path))
    }

    /// Checks that a session can be opened (used at mount time to report a bad host,
    /// port or password at once).
    pub fn probe(&self) -> Result<Features, RemoteError> {
        let mut guard = self.checkout()?;
        guard.run(|s| Ok(s.features().clone()))
    }

    /// Starts downloading `path` at `offset`, on a session of its own.
    pub fn open_read(
        &self,
        path: &RemotePath,
        offset: u64,
        data_timeout: Duration,
    ) -> Result<ReadTransfer, RemoteError> {
        let mut attempt = 0;
        loop {
            let result = self.checkout().and_then(|mut guard| {
                let transfer = guard.run(|s| s.retr(path, offset, data_timeout))?;
                Ok(ReadTransfer {
                    transfer: Some(transfer),
                    guard,
                })
            });
            match result {
                Err(e) if e.is_retryable() && attempt < RETRIES => {
                    log::debug!("RETR {path} at {offset}: {e}; retrying");
                    std::thread::sleep(BACKOFF * 2u32.pow(attempt));
                    attempt += 1;
                }
                other => return other,
            }
        }
    }
}

impl ReadTransfer {
    /// Reads the next bytes of the file; `Ok(0)` at the end.
    pub fn read(&mut self, buf: &mut [u8]) -> Result<usize, RemoteError> {
        let Some(t) = self.transfer.as_mut() else {
            return Ok(0);
        };
        match t.read(buf) {
            Ok(n) => Ok(n),
            Err(e) => {
                let err = RemoteError::from_io(&e);
                // The data socket broke: the control channel state is unknown.
                self.transfer = None;
                self.guard.failed(&err);
                Err(err)
            }
        }
    }

    /// Completes the transfer after the last byte and checks the server's reply.
    pub fn finish(mut self) -> Result<(), RemoteError> {
        match self.transfer.take() {
            Some(t) => {
                let r = t.finish();
                if let Err(e) = &r {
                    self.guard.failed(e);
                }
                r
            }
            None => Ok(()),
        }
    }
}

impl Drop for ReadTransfer {
    fn drop(&mut self) {
        if self.transfer.take().is_some() {
            // A transfer cancelled in the middle: the server answers 426 or 226, which the
            // drop has just read; check the session with NOOP before anyone reuses it.
            self.guard.mark_suspect();
        }
    }
}
