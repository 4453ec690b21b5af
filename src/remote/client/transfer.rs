//! The transfers [`Remote`](super::Remote) hands out: an upload ([`WriteTransfer`]) or a
//! download ([`ReadTransfer`]) in progress, each holding the session it runs on until it is
//! finished or dropped.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use super::super::ftp::Transfer;
use super::super::pool::SessionGuard;
use super::super::{RemoteError, RemoteErrorKind, RemotePath};

/// A download in progress: the transfer and the session it runs on. Dropping it cancels the
/// transfer (closing the data socket, never sending ABOR) and returns the session to the pool.
pub struct ReadTransfer {
    // Field order matters: the transfer must be finalised before the session goes back.
    pub(super) transfer: Option<Transfer>,
    /// `None` only once dropped (a cancelled transfer's session is ended in the background).
    pub(super) guard: Option<SessionGuard>,
}

/// An upload in progress (STOR). Write the bytes, then [`WriteTransfer::finish`] to learn
/// whether the server stored them. If the server refuses or aborts the upload, whatever it
/// kept is deleted on the same session (after the server has finished with it), so uploads
/// only go to names that are the caller's alone: a temporary name, or a new file. Dropping
/// it unfinished ends the transfer; the caller deletes what the server kept.
pub struct WriteTransfer {
    pub(super) transfer: Option<Transfer>,
    pub(super) guard: SessionGuard,
    /// Where the bytes go.
    pub(super) dest: RemotePath,
    /// Counts uploads that completed over TLS 1.3 (see [`Remote::streaming_safe`]).
    pub(super) tls13_ok: Arc<AtomicU32>,
    /// A stream's place in [`Remote::try_open_stream`]'s count, given back on drop.
    pub(super) _stream: Option<StreamSlot>,
}

/// One of the streamed uploads [`Remote::try_open_stream`] counts; dropping it frees the place.
pub(super) struct StreamSlot(pub(super) Arc<AtomicUsize>);

impl Drop for StreamSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl WriteTransfer {
    pub fn write_all(&mut self, data: &[u8]) -> Result<(), RemoteError> {
        let Some(t) = self.transfer.as_mut() else {
            return Err(RemoteError::new(
                RemoteErrorKind::Connection,
                "upload already failed",
            ));
        };
        if let Err(e) = t.write_all(data) {
            let mut err = RemoteError::from_io(&e);
            // A server that gives up on an upload (disk full, quota, a write error) closes
            // the data connection and says why on the control connection: report that.
            if let Some(Err(reply)) = self.transfer.take().map(Transfer::finish) {
                if reply.code.is_some() {
                    err = reply;
                }
            }
            self.discard(&err);
            return Err(err);
        }
        Ok(())
    }

    /// After a failed upload: deletes what the server kept of it, on this session if it is
    /// still in step (the server has finished the transfer before it reads the DELE; another
    /// session could race its clean-up), and marks the session.
    fn discard(&mut self, err: &RemoteError) {
        if !err.breaks_session() {
            let dest = self.dest.clone();
            if let Err(e) = self.guard.run(|s| s.delete(&dest)) {
                log::debug!("deleting the failed upload {dest}: {e}");
            }
        }
        self.guard.failed(err);
    }

    pub fn finish(self) -> Result<(), RemoteError> {
        self.finish_timed().map(|_| ())
    }

    /// [`WriteTransfer::finish`], and then, where the session pipelines, the stored file's
    /// modification time (MDTM) asked in the same round trip as the next data connection
    /// opened ahead (`session/preopen.rs`). `Ok(None)`: the time was not asked. A failure
    /// after the upload completed is not the upload's: it is logged, and `Ok(None)`.
    pub fn finish_timed(mut self) -> Result<Option<SystemTime>, RemoteError> {
        self.finish_transfer()?;
        let dest = self.dest.clone();
        match self.guard.run(|s| s.after_store(&dest)) {
            Ok(t) => Ok(t),
            Err(e) => {
                log::debug!("after storing {dest}: {e}");
                Ok(None)
            }
        }
    }

    fn finish_transfer(&mut self) -> Result<(), RemoteError> {
        let Some(t) = self.transfer.take() else {
            return Err(RemoteError::new(
                RemoteErrorKind::Connection,
                "upload already failed",
            ));
        };
        let tls13 = t.is_tls13();
        let result = t.finish();
        match &result {
            Ok(()) if tls13 => {
                self.tls13_ok.fetch_add(1, Ordering::Relaxed);
            }
            Ok(()) => {}
            Err(e) => {
                if e.kind == RemoteErrorKind::TlsReuse {
                    self.guard.pool().downgrade_tls();
                }
                self.discard(e);
            }
        }
        result
    }
}

impl Drop for WriteTransfer {
    fn drop(&mut self) {
        if self.transfer.take().is_some() {
            self.guard.mark_suspect();
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
                if let Some(g) = self.guard.as_mut() {
                    g.failed(&err);
                }
                Err(err)
            }
        }
    }

    /// Completes the transfer after the last byte and checks the server's reply.
    pub fn finish(mut self) -> Result<(), RemoteError> {
        match self.transfer.take() {
            Some(t) => {
                let r = t.finish();
                if let (Err(e), Some(g)) = (&r, self.guard.as_mut()) {
                    g.failed(e);
                }
                r
            }
            None => Ok(()),
        }
    }
}

impl Drop for ReadTransfer {
    fn drop(&mut self) {
        let (Some(transfer), Some(mut guard)) = (self.transfer.take(), self.guard.take()) else {
            return;
        };
        // A transfer cancelled in the middle (a seek, a closed file): the server answers 426
        // or 226 once the data connection is closed, and the session is checked with NOOP
        // before anyone reuses it. Both cost round trips nobody needs to wait for: the reader
        // goes on with a new transfer on another session meanwhile.
        let end = move || {
            drop(transfer);
            // The check opens the next data connection ahead where the session does that.
            if let Err(e) = guard.run(|s| s.preopen_or_noop()) {
                log::debug!("session after a cancelled download: {e}");
            }
        };
        let spawned = std::thread::Builder::new()
            .name("ftpfs-cancel".into())
            .spawn(end);
        if let Err(e) = spawned {
            log::debug!("cannot end a cancelled download in the background: {e}");
        }
    }
}
