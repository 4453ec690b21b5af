//! The remote operations the filesystem uses, with the pool and retry policy applied.
//!
//! [`Remote`] checks a session out of the pool for each operation. Idempotent operations
//! (LIST/MLSD, SIZE, MDTM, starting a RETR) are retried on a fresh session, with a short
//! backoff, when they fail in a way that may be transient (a dropped connection, a timeout,
//! 421/425/426). Anything that changes the server is never retried blindly.

use std::sync::atomic::{AtomicU32, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use super::listing::ListingFormat;
use super::pool::{Pool, SessionGuard};
use super::session::{Features, Session};
use super::tls::TlsVersions;
use super::{Entry, Name, RemoteError, RemoteErrorKind, RemotePath};

/// Uploads that must succeed over TLS 1.3 before an upload may stream without a local copy.
/// Servers that refuse TLS 1.3 data connections do so after two to four of them.
const TLS13_PROOF: u32 = 8;

/// SITE CHMOD refusals in a row after which [`Remote::restore_mode`] stops asking.
const CHMOD_GIVE_UP: u8 = 3;

const MTIME_UNKNOWN: u8 = 0;
const MTIME_MFMT: u8 = 1;
const MTIME_MDTM: u8 = 2;
const MTIME_NONE: u8 = 3;

/// How often a caller waiting for a session looks for an idle reader to take it from.
const RECLAIM_POLL: Duration = Duration::from_millis(50);

/// First backoff between retries; doubled each time up to [`MAX_BACKOFF`].
const BACKOFF: Duration = Duration::from_millis(100);
/// Longest pause between two retries, so a server that comes back is noticed quickly.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// The filesystem's handle on the server.
pub struct Remote {
    pool: Arc<Pool>,
    budget: Duration,
    /// Uploads completed over TLS 1.3 so far.
    tls13_ok: Arc<AtomicU32>,
    /// How modification times are set: one of the `MTIME_*` values, learned on first use.
    mtime_method: AtomicU8,
    /// Called when the pool has no free session: frees one held by an idle reader, if any.
    reclaimer: OnceLock<Reclaimer>,
    /// Streamed uploads in progress (see [`Remote::try_open_stream`]).
    streams: Arc<AtomicUsize>,
    /// SITE CHMODs refused in a row after uploads (not implemented, or not allowed to this
    /// login); at [`CHMOD_GIVE_UP`], modes are no longer restored.
    chmod_refusals: AtomicU8,
}

/// Fewest MDTMs of one listing that are split over two sessions ([`Remote::mdtm_split`]).
const SPLIT_MDTMS: usize = 2 * super::pipeline::WINDOW_LINES;

/// Who a remote call is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Urgency {
    /// A request someone waits for: takes any session, waiting for one if need be.
    User,
    /// Look-ahead: only a spare session, never waiting (see [`Pool::try_checkout_spare`]).
    Spare,
}

/// A listing with the exact times fetched for some of its entries (by index).
#[derive(Debug)]
pub struct Listed {
    pub entries: Vec<Entry>,
    pub exact: Vec<(usize, SystemTime)>,
}

/// Frees one session held by someone idle; returns whether it did.
pub type Reclaimer = Box<dyn Fn() -> bool + Send + Sync>;

impl Remote {
    /// `budget` is the `timeout` option: the longest one call may wait, retries included.
    pub fn new(pool: Arc<Pool>, budget: Duration) -> Remote {
        Remote {
            budget,
            pool,
            tls13_ok: Arc::new(AtomicU32::new(0)),
            mtime_method: AtomicU8::new(MTIME_UNKNOWN),
            reclaimer: OnceLock::new(),
            chmod_refusals: AtomicU8::new(0),
            streams: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Installs the function that frees an idle reader's session when the pool is full.
    pub fn set_reclaimer(&self, reclaimer: Reclaimer) {
        let _ = self.reclaimer.set(reclaimer);
    }

    /// A session: a free one, else one reclaimed from an idle reader, else the next one
    /// returned to the pool, waiting up to the pool's deadline. Idle readers are asked again
    /// while waiting: a reader that was busy a moment ago may be idle now.
    fn checkout(&self) -> Result<SessionGuard, RemoteError> {
        let deadline = Instant::now() + self.pool.wait_timeout();
        if let Some(guard) = self.pool.try_checkout()? {
            return Ok(guard);
        }
        // From here on look-ahead work leaves the sessions to us.
        let _waiting = self.pool.waiting();
        loop {
            if let Some(guard) = self.pool.try_checkout()? {
                return Ok(guard);
            }
            if self.reclaimer.get().is_some_and(|reclaim| reclaim()) {
                continue;
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(RemoteError::new(
                    RemoteErrorKind::Timeout,
                    format!("no free FTP session after {:?}", self.pool.wait_timeout()),
                ));
            }
            self.pool
                .wait_for_return((deadline - now).min(RECLAIM_POLL));
        }
    }

    pub fn pool(&self) -> &Arc<Pool> {
        &self.pool
    }

    /// What the server supports, connecting a first session if none has yet.
    pub fn features(&self) -> Result<Features, RemoteError> {
        match self.pool.features() {
            Some(f) => Ok(f),
            None => self.probe(),
        }
    }

    /// Runs `attempt` until it succeeds, fails for good, or the retry window (the first half
    /// of the `timeout` budget) is over; transient failures are retried with backoff on a
    /// fresh session. An attempt itself is bounded by the socket deadlines (half the budget).
    fn retrying<T>(
        &self,
        what: &dyn std::fmt::Display,
        mut attempt: impl FnMut() -> Result<T, RemoteError>,
    ) -> Result<T, RemoteError> {
        let clock = WallClock(Instant::now());
        retry(self.budget, what, &clock, || {
            let result = attempt();
            self.note_tls(&result);
            result
        })
    }

    /// Runs an idempotent operation, retrying transient failures on a fresh session.
    fn idempotent<T>(
        &self,
        what: &dyn std::fmt::Display,
        mut op: impl FnMut(&mut Session) -> Result<T, RemoteError>,
    ) -> Result<T, RemoteError> {
        self.retrying(what, || {
            self.checkout().and_then(|mut guard| guard.run(&mut op))
        })
    }

    /// Lists a directory (MLSD or LIST -a).
    pub fn list(&self, dir: &RemotePath) -> Result<Vec<Entry>, RemoteError> {
        self.idempotent(&format_args!("listing {dir}"), |s| s.list(dir))
    }

    /// Whether commands are sent pipelined (plain FTP, and the server keeps them apart).
    pub fn pipelines(&self) -> bool {
        self.pool.config().pipelining.works()
    }

    /// Lists directories on one session and, on servers whose listings give coarse times,
    /// fetches the exact time of each entry `refine` picks (MDTM, pipelined: a few round trips
    /// for all of them). Where the server lists over the control connection
    /// (`session/stat.rs`) the directories are listed together, in one round trip. One result
    /// per directory; the outer error is the session's (or, for one directory, its own).
    /// `Urgency::Spare` is look-ahead work: it runs only on a spare session
    /// ([`Pool::try_checkout_spare`]), is not retried, and gives `Ok(None)` when there is none.
    pub fn list_many(
        &self,
        dirs: &[RemotePath],
        urgency: Urgency,
        refine: &dyn Fn(&RemotePath, &Entry) -> bool,
    ) -> Result<Option<Vec<Result<Listed, RemoteError>>>, RemoteError> {
        let op = |s: &mut Session| -> Result<Vec<Result<Listed, RemoteError>>, RemoteError> {
            let mut lists = Vec::with_capacity(dirs.len());
            for (dir, stat) in dirs.iter().zip(s.stat_listings(dirs)?) {
                match stat {
                    Some(entries) => lists.push(Ok(entries)),
                    None => match s.list(dir) {
                        // One directory's error is retried like any request's.
                        Err(e) if e.breaks_session() || dirs.len() == 1 => return Err(e),
                        listed => lists.push(listed),
                    },
                }
            }
            let mut picked = Vec::new();
            let mut paths = Vec::new();
            for (d, (dir, listed)) in dirs.iter().zip(&lists).enumerate() {
                for (i, e) in listed.iter().flatten().enumerate() {
                    if let Some(name) = refine(dir, e).then(|| Name::new(&e.name).ok()).flatten() {
                        picked.push((d, i));
                        paths.push(dir.join(&name));
                    }
                }
            }
            let mut exact = vec![Vec::new(); dirs.len()];
            if !paths.is_empty() {
                crate::stats::add(&crate::stats::MDTM_REFINEMENTS, paths.len() as u64);
                let times = self.mdtm_split(s, &paths)?;
                for (((d, i), t), path) in picked.into_iter().zip(times).zip(&paths) {
                    match t {
                        Ok(t) => exact[d].push((i, t)),
                        Err(e) => log::debug!("MDTM {path}: {e}"),
                    }
                }
            }
            Ok(lists
                .into_iter()
                .zip(exact)
                .map(|(listed, exact)| listed.map(|entries| Listed { entries, exact }))
                .collect())
        };
        let what = match dirs {
            [dir] => format!("listing {dir}"),
            _ => format!("listing {} directories", dirs.len()),
        };
        match urgency {
            Urgency::User => self.idempotent(&what, op).map(Some),
            Urgency::Spare => match self.pool.try_checkout_spare()? {
                Some(mut guard) => guard.run(op).map(Some),
                None => Ok(None),
            },
        }
    }

    /// The MDTMs of `paths`, on `s`; when there are many and a spare session is free, the
    /// second half goes on that one at the same time: the server answers on two processes
    /// (vsftpd forks one per session), and at a distance each session's window carries half.
    /// An error of the spare session's is that session's own: its half is asked again on `s`.
    fn mdtm_split(
        &self,
        s: &mut Session,
        paths: &[RemotePath],
    ) -> Result<Vec<Result<SystemTime, RemoteError>>, RemoteError> {
        if paths.len() < SPLIT_MDTMS || !s.pipelines() {
            return s.mdtm_many(paths);
        }
        let Some(mut other) = self.pool.try_checkout_spare()? else {
            return s.mdtm_many(paths);
        };
        let (first, second) = paths.split_at(paths.len() / 2);
        let (mine, theirs) = std::thread::scope(|scope| {
            let theirs = scope.spawn(move || other.run(|o| o.mdtm_many(second)));
            let mine = s.mdtm_many(first);
            (mine, theirs.join())
        });
        let mut times = mine?;
        match theirs {
            Ok(Ok(t)) => times.extend(t),
            Ok(Err(e)) => {
                log::debug!("MDTMs on a second session: {e}; asking on the first");
                times.extend(s.mdtm_many(second)?);
            }
            Err(_) => times.extend(s.mdtm_many(second)?),
        }
        Ok(times)
    }

    /// Whether several directories are best listed together on one session: the server
    /// lists over the control connection (`session/stat.rs`).
    pub fn lists_together(&self) -> bool {
        let cfg = self.pool.config();
        cfg.pipelining.works()
            && cfg.stat_listing.usable()
            && self.pool.features().is_some_and(|f| !f.mlsd)
    }

    /// Lists a directory with `LIST -a` whatever the server offers (for symlink targets).
    pub fn list_unix(&self, dir: &RemotePath) -> Result<Vec<Entry>, RemoteError> {
        self.idempotent(&format_args!("LIST {dir}"), |s| {
            s.list_as(dir, ListingFormat::List)
        })
    }

    pub fn size(&self, path: &RemotePath) -> Result<u64, RemoteError> {
        self.idempotent(&format_args!("SIZE {path}"), |s| s.size(path))
    }

    /// SIZE and MDTM of `path`, pipelined where the server allows (one round trip).
    pub fn size_and_mtime(&self, path: &RemotePath) -> Result<(u64, SystemTime), RemoteError> {
        self.idempotent(&format_args!("SIZE/MDTM {path}"), |s| {
            s.size_and_mtime(path)
        })
    }

    pub fn mdtm(&self, path: &RemotePath) -> Result<SystemTime, RemoteError> {
        self.idempotent(&format_args!("MDTM {path}"), |s| s.mdtm(path))
    }

    /// Runs one command that changes the server. Never retried: the first attempt may have
    /// taken effect even if its reply was lost.
    fn mutate<T>(
        &self,
        op: impl FnOnce(&mut Session) -> Result<T, RemoteError>,
    ) -> Result<T, RemoteError> {
        self.checkout()?.run(op)
    }

    pub fn mkdir(&self, path: &RemotePath) -> Result<(), RemoteError> {
        self.mutate(|s| s.mkdir(path))
    }

    pub fn rmdir(&self, path: &RemotePath) -> Result<(), RemoteError> {
        self.mutate(|s| s.rmdir(path))
    }

    pub fn delete(&self, path: &RemotePath) -> Result<(), RemoteError> {
        self.mutate(|s| s.delete(path))
    }

    pub fn rename(&self, from: &RemotePath, to: &RemotePath) -> Result<(), RemoteError> {
        self.mutate(|s| s.rename(from, to))
    }

    pub fn chmod(&self, path: &RemotePath, mode: u32) -> Result<(), RemoteError> {
        self.mutate(|s| s.chmod(path, mode))
    }

    /// Gives a freshly uploaded file the permission bits it had (or was given while open):
    /// the server created it with its own umask. Stops trying, for the life of the mount,
    /// once the server has refused SITE CHMOD `CHMOD_GIVE_UP` times in a row (one refusal
    /// may be about one file; several mean the command or this login).
    pub fn restore_mode(&self, path: &RemotePath, mode: u32) -> Result<(), RemoteError> {
        if self.chmod_refusals.load(Ordering::Relaxed) >= CHMOD_GIVE_UP {
            return Err(RemoteError::new(
                RemoteErrorKind::NotSupported,
                "the server refused SITE CHMOD before",
            ));
        }
        let result = self.chmod(path, mode);
        match &result {
            Ok(()) => self.chmod_refusals.store(0, Ordering::Relaxed),
            Err(e)
                if matches!(
                    e.kind,
                    RemoteErrorKind::NotSupported | RemoteErrorKind::PermissionDenied
                ) =>
            {
                self.chmod_refusals.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => {}
        }
        result
    }

    /// Sets a modification time: MFMT when FEAT offers it, otherwise vsftpd's two-argument
    /// MDTM, which is tried once and remembered. `NotSupported` when the server has neither.
    pub fn set_mtime(&self, path: &RemotePath, mtime: SystemTime) -> Result<(), RemoteError> {
        let method = self.mtime_method.load(Ordering::Relaxed);
        let verb = match method {
            MTIME_MFMT => "MFMT",
            MTIME_MDTM => "MDTM",
            MTIME_NONE => {
                return Err(RemoteError::new(
                    RemoteErrorKind::NotSupported,
                    "the server cannot set modification times (no MFMT or MDTM-write)",
                ))
            }
            _ if self.features()?.mfmt => {
                self.mtime_method.store(MTIME_MFMT, Ordering::Relaxed);
                "MFMT"
            }
            _ => "MDTM",
        };
        let result = self.mutate(|s| s.set_mtime(verb, path, mtime));
        if method == MTIME_UNKNOWN && verb == "MDTM" {
            match &result {
                Ok(()) => self.mtime_method.store(MTIME_MDTM, Ordering::Relaxed),
                Err(e) if e.kind == RemoteErrorKind::NotSupported => {
                    self.mtime_method.store(MTIME_NONE, Ordering::Relaxed)
                }
                // A server without MDTM-write (vsftpd with `mdtm_write=NO`, most others) takes
                // the time for part of the name and answers 550. If the file itself has an
                // MDTM, the write form is what it refused.
                Err(e) if e.code.is_some_and(|c| c >= 500) && self.mdtm(path).is_ok() => {
                    self.mtime_method.store(MTIME_NONE, Ordering::Relaxed);
                    return Err(RemoteError::new(
                        RemoteErrorKind::NotSupported,
                        format!("the server cannot set modification times ({e})"),
                    ));
                }
                Err(_) => {}
            }
        }
        result
    }

    /// Whether the server is known to be unable to set modification times (see
    /// [`Remote::set_mtime`]); `false` while that is still unknown.
    pub fn cannot_set_mtime(&self) -> bool {
        self.mtime_method.load(Ordering::Relaxed) == MTIME_NONE
    }

    /// Starts an upload to `path` (STOR). Not retried.
    /// Uploads `data` (small: an empty file) to `path`, once more if the server refused a
    /// TLS 1.3 data connection (the bytes are at hand, so this is safe). Returns the stored
    /// file's time where the session learned it ([`WriteTransfer::finish_timed`]).
    pub fn put(
        &self,
        path: &RemotePath,
        data: &[u8],
        data_timeout: Duration,
    ) -> Result<Option<SystemTime>, RemoteError> {
        let once = || {
            let mut upload = self.open_write(path, data_timeout)?;
            upload.write_all(data)?;
            upload.finish_timed()
        };
        match once() {
            Err(e) if e.kind == RemoteErrorKind::TlsReuse => once(),
            other => other,
        }
    }

    /// Whether an upload may stream straight from the writer (no local copy to retry
    /// from): always over plain FTP and TLS 1.2; over TLS 1.3 only once enough uploads went
    /// through to show the server does not refuse TLS 1.3 data connections.
    pub fn streaming_safe(&self) -> bool {
        match self.pool.config().tls.as_ref() {
            None => true,
            Some(tls) => {
                tls.versions != TlsVersions::Auto
                    || self.pool.is_tls12_only()
                    || self.tls13_ok.load(Ordering::Relaxed) >= TLS13_PROOF
            }
        }
    }

    /// Switches the pool to TLS 1.2 when the server refused a TLS 1.3 data connection.
    fn note_tls<T>(&self, result: &Result<T, RemoteError>) {
        if matches!(result, Err(e) if e.kind == RemoteErrorKind::TlsReuse) {
            self.pool.downgrade_tls();
        }
    }

    pub fn open_write(
        &self,
        path: &RemotePath,
        data_timeout: Duration,
    ) -> Result<WriteTransfer, RemoteError> {
        let started = self.start_write(path, data_timeout, None)?;
        started.ok_or_else(|| RemoteError::new(RemoteErrorKind::Other, "no session for STOR"))
    }

    /// Starts an upload that will stay open while a program writes (the sequential fast
    /// path), if a session is free right now and at least one would be left for everything
    /// else: a stream holds its session until the file is closed, so streams alone must
    /// never take them all (a program writing more files at once than there are sessions
    /// would wait for itself). `Ok(None)` otherwise: the caller keeps a local copy instead.
    pub fn try_open_stream(
        &self,
        path: &RemotePath,
        data_timeout: Duration,
    ) -> Result<Option<WriteTransfer>, RemoteError> {
        let max = self.pool.max_sessions();
        let admitted = self
            .streams
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n + 1 < max).then_some(n + 1)
            })
            .is_ok();
        if !admitted {
            return Ok(None);
        }
        self.start_write(
            path,
            data_timeout,
            Some(StreamSlot(Arc::clone(&self.streams))),
        )
    }

    /// STOR on a session: any (waiting for one) for a plain upload, only one free now for
    /// a stream (`slot`).
    fn start_write(
        &self,
        path: &RemotePath,
        data_timeout: Duration,
        mut slot: Option<StreamSlot>,
    ) -> Result<Option<WriteTransfer>, RemoteError> {
        loop {
            let mut guard = match slot {
                None => self.checkout()?,
                Some(_) => match self.checkout_now()? {
                    Some(guard) => guard,
                    None => return Ok(None),
                },
            };
            match guard.run(|s| s.stor(path, data_timeout)) {
                Ok(transfer) => {
                    return Ok(Some(WriteTransfer {
                        transfer: Some(transfer),
                        guard,
                        dest: path.clone(),
                        tls13_ok: Arc::clone(&self.tls13_ok),
                        _stream: slot.take(),
                    }))
                }
                // Refused before any byte was sent: safe to try again over TLS 1.2.
                Err(e) if e.kind == RemoteErrorKind::TlsReuse => {
                    drop(guard);
                    self.pool.downgrade_tls();
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// A session that is free now (or held by an idle reader), without waiting.
    fn checkout_now(&self) -> Result<Option<SessionGuard>, RemoteError> {
        if let Some(guard) = self.pool.try_checkout()? {
            return Ok(Some(guard));
        }
        if self.reclaimer.get().is_some_and(|reclaim| reclaim()) {
            return self.pool.try_checkout();
        }
        Ok(None)
    }

    /// Checks that a session can be opened (used at mount time to report a bad host,
    /// port or password at once).
    pub fn probe(&self) -> Result<Features, RemoteError> {
        let mut guard = self.checkout()?;
        guard.run(|s| Ok(s.features().clone()))
    }

    /// Downloads all of a small file (`size` bytes as listed) on a spare session, for
    /// read-ahead: `Ok(None)` when no session is spare. Not retried. At most `size + 1`
    /// bytes are read, so a file that grew is noticed without reading it all.
    pub fn download_spare(
        &self,
        path: &RemotePath,
        size: u64,
        data_timeout: Duration,
    ) -> Result<Option<Vec<u8>>, RemoteError> {
        let Some(mut guard) = self.pool.try_checkout_spare()? else {
            return Ok(None);
        };
        crate::stats::add(&crate::stats::DOWNLOADS, 1);
        let transfer = guard.run(|s| s.retr(path, 0, data_timeout))?;
        let mut reader = ReadTransfer {
            transfer: Some(transfer),
            guard: Some(guard),
        };
        let mut data = Vec::with_capacity(size as usize);
        let mut buf = vec![0u8; 64 * 1024];
        while (data.len() as u64) <= size {
            match reader.read(&mut buf)? {
                0 => break,
                n => data.extend_from_slice(&buf[..n]),
            }
        }
        if data.len() as u64 > size {
            return Ok(Some(data));
        }
        reader.finish()?;
        Ok(Some(data))
    }

    /// Starts downloading `path` at `offset`, on a session of its own.
    pub fn open_read(
        &self,
        path: &RemotePath,
        offset: u64,
        data_timeout: Duration,
    ) -> Result<ReadTransfer, RemoteError> {
        self.retrying(&format_args!("RETR {path} at {offset}"), || {
            let mut guard = self.checkout()?;
            let transfer = guard.run(|s| s.retr(path, offset, data_timeout))?;
            Ok(ReadTransfer {
                transfer: Some(transfer),
                guard: Some(guard),
            })
        })
    }
}

/// Time as the retry loop sees it: how long since the first attempt started, and a way to
/// wait. [`WallClock`] in [`Remote`]; tests use a simulated one, so they need no sleeps.
trait Clock {
    fn elapsed(&self) -> Duration;
    fn sleep(&self, pause: Duration);
}

/// The real clock, started when the first attempt is.
struct WallClock(Instant);

impl Clock for WallClock {
    fn elapsed(&self) -> Duration {
        self.0.elapsed()
    }

    fn sleep(&self, pause: Duration) {
        std::thread::sleep(pause);
    }
}

/// The retry policy of [`Remote`]'s idempotent operations: runs `attempt` until it succeeds
/// or fails in a way that is not retryable ([`RemoteError::is_retryable`]), returning that
/// result at once; a retryable failure is tried again after a pause of [`BACKOFF`], doubled
/// each time up to [`MAX_BACKOFF`], as long as the pause ends within the first half of
/// `budget` (counted from the first attempt). Otherwise the last failure is returned.
fn retry<T>(
    budget: Duration,
    what: &dyn std::fmt::Display,
    clock: &dyn Clock,
    mut attempt: impl FnMut() -> Result<T, RemoteError>,
) -> Result<T, RemoteError> {
    let mut backoff = BACKOFF;
    loop {
        match attempt() {
            Err(e) if e.is_retryable() && clock.elapsed() + backoff < budget / 2 => {
                log::debug!("{what}: {e}; retrying in {backoff:?}");
                clock.sleep(backoff);
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
            other => return other,
        }
    }
}

mod transfer;
use transfer::StreamSlot;
pub use transfer::{ReadTransfer, WriteTransfer};

#[cfg(test)]
mod tests;
