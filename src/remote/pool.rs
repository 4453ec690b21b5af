//! A bounded pool of FTP sessions.
//!
//! FTP runs one transfer per control connection, so parallel filesystem operations need
//! several sessions. [`Pool::try_checkout`] hands out a [`SessionGuard`]; dropping the guard returns
//! the session. At most `max_conns` sessions exist at once; callers beyond that wait, with a
//! deadline, for one to come back ([`Pool::wait_for_return`]; `Remote::checkout` in
//! `client.rs` does the waiting).
//!
//! Health rules:
//! - a guard whose operation failed with a session-breaking error ([`RemoteError::breaks_session`])
//!   drops its session instead of returning it;
//! - a session that saw any other error but a permanent refusal (5xx), or had a transfer
//!   cancelled, or sat idle for more than a few seconds, is checked with NOOP before it is
//!   handed out again;
//! - a session whose control connection has something to say while idle (a `421 Timeout`,
//!   EOF) is dropped when it would be handed out, which costs no round trip
//!   ([`Session::still_open`]);
//! - sessions idle longer than `idle_timeout` are closed (servers drop idle clients anyway);
//! - new sessions are opened on demand, so a dropped connection is replaced by the next call.
//! - a server that refuses a session for its connection limit
//!   ([`RemoteError::is_connection_limit`]) lowers the pool's size to the
//!   sessions that exist; [`LIMIT_RETRY`] later, a caller that would wait tries one more.
//!
//! Locking: `state` is the only lock. It is never held across a network call.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::session::{Features, Session, SessionConfig};
use super::{RemoteError, RemoteErrorKind};

/// A session idle for longer than this is checked with NOOP before use: the server may have
/// closed it (idle timeout, restart), and a command that changes the server must not be the
/// one to find out, because it cannot be retried blindly.
const CHECK_AFTER_IDLE: Duration = Duration::from_secs(3);

struct Idle {
    session: Session,
    since: Instant,
    /// Needs a NOOP check before reuse.
    suspect: bool,
}

/// After the server refused a session for being over its connection limit, the pool keeps to
/// the sessions it has; once this long has passed, a caller that would wait tries one more
/// (another client may have left since).
pub const LIMIT_RETRY: Duration = Duration::from_secs(30);

struct PoolState {
    /// When the server last refused a session for its connection limit.
    limited_at: Option<Instant>,
    idle: Vec<Idle>,
    /// Sessions that exist: idle, checked out, or being connected.
    live: usize,
}

/// The pool. Shared as `Arc<Pool>` so guards can outlive a single call (a read stream keeps
/// its session between reads).
pub struct Pool {
    cfg: SessionConfig,
    /// The most sessions allowed: `max_conns`, lowered when the server says it allows fewer
    /// (and raised again, one at a time, after [`LIMIT_RETRY`]).
    limit: AtomicUsize,
    /// `max_conns`.
    max: usize,
    idle_timeout: Duration,
    /// How long a caller may wait for a free session.
    wait_timeout: Duration,
    state: Mutex<PoolState>,
    returned: Condvar,
    features: Mutex<Option<Features>>,
    /// Set once the server refused TLS 1.3 data connections: new sessions use TLS 1.2.
    tls12_only: AtomicBool,
    /// Control connections opened so far (reconnects show up here).
    connects: AtomicU64,
    /// The most sessions that were ever alive at once: connections beyond that many
    /// replaced lost ones.
    peak: AtomicUsize,
    /// Callers waiting for a session right now ([`Pool::waiting`]): while there are any,
    /// look-ahead work takes no session ([`Pool::try_checkout_spare`]).
    waiting: AtomicUsize,
}

/// A checked-out session. Use it through [`SessionGuard::run`], which tells the pool whether
/// the session can be reused after an error.
pub struct SessionGuard {
    pool: Arc<Pool>,
    session: Option<Session>,
    suspect: bool,
}

impl Pool {
    pub fn new(
        cfg: SessionConfig,
        max: usize,
        idle_timeout: Duration,
        wait_timeout: Duration,
    ) -> Arc<Pool> {
        Arc::new(Pool {
            cfg,
            limit: AtomicUsize::new(max.max(1)),
            max: max.max(1),
            connects: AtomicU64::new(0),
            peak: AtomicUsize::new(0),
            waiting: AtomicUsize::new(0),
            idle_timeout,
            wait_timeout,
            state: Mutex::new(PoolState {
                limited_at: None,
                idle: Vec::new(),
                live: 0,
            }),
            returned: Condvar::new(),
            features: Mutex::new(None),
            tls12_only: AtomicBool::new(false),
        })
    }

    pub fn config(&self) -> &SessionConfig {
        &self.cfg
    }

    pub fn max_sessions(&self) -> usize {
        self.limit.load(Ordering::Relaxed)
    }

    fn lock(&self) -> MutexGuard<'_, PoolState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What the server supports, as seen by the first session; `None` before any connected.
    pub fn features(&self) -> Option<Features> {
        self.features
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn wait_timeout(&self) -> Duration {
        self.wait_timeout
    }

    /// Waits up to `max` for a session to be returned (or to stop existing).
    pub fn wait_for_return(&self, max: Duration) {
        let state = self.lock();
        if state.idle.is_empty() && state.live >= self.max_sessions() {
            let _ = self
                .returned
                .wait_timeout(state, max)
                .unwrap_or_else(|p| p.into_inner());
        }
    }

    /// A free session (or a new one, below `max_conns`), never waiting: `Ok(None)` when every
    /// session is busy.
    pub fn try_checkout(self: &Arc<Self>) -> Result<Option<SessionGuard>, RemoteError> {
        self.checkout_leaving(0)
    }

    /// [`Pool::try_checkout`], taking an idle session only if more than `leave` are idle.
    fn checkout_leaving(
        self: &Arc<Self>,
        leave: usize,
    ) -> Result<Option<SessionGuard>, RemoteError> {
        loop {
            let mut state = self.lock();
            // Most recently used first: its connection is the least likely to have timed out.
            let idle = match state.idle.len() > leave {
                true => state.idle.pop(),
                false => None,
            };
            if let Some(idle) = idle {
                drop(state);
                let Idle {
                    mut session,
                    since,
                    suspect,
                } = idle;
                if since.elapsed() > self.idle_timeout {
                    log::debug!("closing a session idle for {:?}", since.elapsed());
                    self.forget_one();
                    session.quit();
                    continue;
                }
                if !session.still_open() {
                    // The server closed it while idle (its idle timer): a new one, without
                    // a round trip spent on finding out.
                    self.forget_one();
                    continue;
                }
                if suspect || since.elapsed() > CHECK_AFTER_IDLE {
                    if let Err(e) = session.noop() {
                        log::debug!("pooled session failed its NOOP check ({e}); reconnecting");
                        self.forget_one();
                        continue;
                    }
                }
                return Ok(Some(self.guard(session)));
            }
            if state.live >= self.max_sessions() {
                let retry = state.live < self.max
                    && state.limited_at.is_some_and(|t| t.elapsed() >= LIMIT_RETRY);
                if !retry {
                    return Ok(None);
                }
                // Another client may have left: try one more session. A refusal lowers
                // the limit again and restarts the wait.
                state.limited_at = Some(Instant::now());
                let limit = self.limit.fetch_add(1, Ordering::Relaxed) + 1;
                log::info!("trying {limit} session(s) again after the server's connection limit");
            }
            state.live += 1;
            self.peak.fetch_max(state.live, Ordering::Relaxed);
            drop(state);
            self.connects.fetch_add(1, Ordering::Relaxed);
            let known = self.features();
            let tls12_only = self.tls12_only.load(Ordering::Relaxed);
            return match Session::connect(&self.cfg, tls12_only, known.as_ref()) {
                Err(e) if e.is_connection_limit() => {
                    self.lock().limited_at = Some(Instant::now());
                    self.forget_one();
                    let live = self.live();
                    if live == 0 {
                        return Err(e);
                    }
                    // The server allows only the sessions we already have: use those, and
                    // queue callers for them, instead of failing.
                    if self.limit.swap(live, Ordering::Relaxed) > live {
                        log::info!(
                            "the server allows {live} session(s) ({e}); using at most that many"
                        );
                    }
                    Ok(None)
                }
                Ok(session) => {
                    let mut f = self.features.lock().unwrap_or_else(|p| p.into_inner());
                    if f.is_none() {
                        *f = Some(session.features().clone());
                    }
                    Ok(Some(self.guard(session)))
                }
                Err(e) => {
                    self.forget_one();
                    Err(e)
                }
            };
        }
    }

    /// A session for look-ahead work (listing a directory before anyone asks for it): only
    /// when no caller is waiting for one, and one is free (or can be opened). Never waits,
    /// never takes a reader's session, and never the last idle one: it logs in its own
    /// instead, so a request that comes meanwhile finds a logged-in session at once rather
    /// than waiting for a login. The look-ahead workers are one fewer than the pool's
    /// sessions (`fs/lister.rs`), and once a caller waits no look-ahead starts: a request is
    /// delayed by at most the one exchange a look-ahead is in.
    pub fn try_checkout_spare(self: &Arc<Self>) -> Result<Option<SessionGuard>, RemoteError> {
        if self.waiting.load(Ordering::SeqCst) > 0 {
            return Ok(None);
        }
        {
            let state = self.lock();
            let busy = state.live - state.idle.len();
            if busy >= self.max_sessions() {
                return Ok(None);
            }
        }
        self.checkout_leaving(1)
    }

    /// Counts a caller as waiting for a session until the returned value is dropped.
    pub fn waiting(&self) -> Waiting<'_> {
        self.waiting.fetch_add(1, Ordering::SeqCst);
        Waiting(&self.waiting)
    }

    fn guard(self: &Arc<Self>, session: Session) -> SessionGuard {
        SessionGuard {
            pool: Arc::clone(self),
            session: Some(session),
            suspect: false,
        }
    }

    /// One session stopped existing; wake a waiter so it can open a new one.
    fn forget_one(&self) {
        let mut state = self.lock();
        state.live = state.live.saturating_sub(1);
        drop(state);
        self.returned.notify_one();
    }

    fn put_back(&self, session: Session, suspect: bool) {
        if session.is_tls13() && self.tls12_only.load(Ordering::Relaxed) {
            self.forget_one();
            session.quit();
            return;
        }
        let mut state = self.lock();
        state.idle.push(Idle {
            session,
            since: Instant::now(),
            suspect,
        });
        drop(state);
        self.returned.notify_one();
    }

    /// Closes sessions that have been idle longer than the idle timeout. Called periodically.
    pub fn reap_idle(&self) {
        let mut stale = Vec::new();
        {
            let mut state = self.lock();
            let mut i = 0;
            while i < state.idle.len() {
                if state.idle[i].since.elapsed() > self.idle_timeout {
                    stale.push(state.idle.swap_remove(i).session);
                } else {
                    i += 1;
                }
            }
            state.live -= stale.len();
        }
        if !stale.is_empty() {
            log::debug!("closing {} idle session(s)", stale.len());
            self.returned.notify_all();
        }
        for s in stale {
            s.quit();
        }
    }

    /// Switches the pool to TLS 1.2 for the rest of the mount and closes the idle TLS 1.3
    /// sessions (the server refused a TLS 1.3 data connection; see tls.rs).
    pub fn downgrade_tls(&self) {
        if self.tls12_only.swap(true, Ordering::Relaxed) {
            return;
        }
        log::info!("the server requires TLS session reuse on data connections, which fails with TLS 1.3; using TLS 1.2 from now on");
        let idle: Vec<Idle> = {
            let mut state = self.lock();
            let idle: Vec<Idle> = state.idle.drain(..).collect();
            state.live -= idle.len();
            idle
        };
        self.returned.notify_all();
        for i in idle {
            i.session.quit();
        }
    }

    /// The most sessions that were alive at once.
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    /// Control connections opened since the mount (the first one included).
    pub fn connects(&self) -> u64 {
        self.connects.load(Ordering::Relaxed)
    }

    /// Connections opened to replace sessions that were lost (dropped by the server, failed,
    /// or closed when idle): those beyond the most that were ever alive at once.
    pub fn reconnects(&self) -> u64 {
        self.connects()
            .saturating_sub(self.peak.load(Ordering::Relaxed) as u64)
    }

    /// Sends NOOP on sessions idle for at least `every`, so the server's idle timeout does not
    /// close them (`keepalive`). Sessions that fail it are dropped.
    pub fn keepalive(&self, every: Duration) {
        let due: Vec<Idle> = {
            let mut state = self.lock();
            let (due, keep): (Vec<Idle>, Vec<Idle>) = state
                .idle
                .drain(..)
                .partition(|i| i.since.elapsed() >= every);
            state.idle = keep;
            due
        };
        for mut idle in due {
            match idle.session.noop() {
                Ok(()) => {
                    idle.since = Instant::now();
                    let mut state = self.lock();
                    state.idle.push(idle);
                    drop(state);
                    self.returned.notify_one();
                }
                Err(e) => {
                    log::debug!("keep-alive NOOP failed ({e}); dropping the session");
                    self.forget_one();
                }
            }
        }
    }

    pub fn is_tls12_only(&self) -> bool {
        self.tls12_only.load(Ordering::Relaxed)
    }

    /// Number of sessions that exist right now (idle or in use).
    pub fn live(&self) -> usize {
        self.lock().live
    }
}

/// A caller waiting for a session (see [`Pool::waiting`]).
pub struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl SessionGuard {
    /// Records that an operation on this session failed. Session-breaking errors make the
    /// pool drop the session; others make it check the session with NOOP before reuse.
    pub fn failed(&mut self, err: &RemoteError) {
        if err.breaks_session() {
            if self.session.take().is_some() {
                self.pool.forget_one();
            }
        } else if err.code.is_none_or(|c| c < 500) {
            // A permanent refusal (5xx: no such file, permission...) is one reply to one
            // command: the session is in step, and a NOOP check would cost a round trip for
            // nothing (a new file's SIZE answers 550 every time). Anything else is checked.
            self.suspect = true;
        }
    }

    pub fn pool(&self) -> &Arc<Pool> {
        &self.pool
    }

    /// Marks the session as needing a NOOP check (e.g. after a cancelled transfer).
    pub fn mark_suspect(&mut self) {
        self.suspect = true;
    }

    /// Runs `op` on the session, recording a failure with [`SessionGuard::failed`].
    pub fn run<T>(
        &mut self,
        op: impl FnOnce(&mut Session) -> Result<T, RemoteError>,
    ) -> Result<T, RemoteError> {
        let session = self.session.as_mut().ok_or_else(|| {
            RemoteError::new(RemoteErrorKind::Connection, "the FTP session was closed")
        })?;
        let result = op(session);
        if let Err(e) = &result {
            self.failed(e);
        }
        result
    }
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        if let Some(session) = self.session.take() {
            self.pool.put_back(session, self.suspect);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Write};
    use std::net::{TcpListener, TcpStream};
    use std::thread;

    use super::*;
    use crate::remote::session::DataMode;

    /// Generous for loopback; only a broken test waits this long.
    const DEADLINE: Duration = Duration::from_secs(5);

    fn config(port: u16) -> SessionConfig {
        SessionConfig {
            host: "127.0.0.1".into(),
            port,
            user: "test".into(),
            password: "secret".into(),
            data_mode: DataMode::ExtendedPassive,
            use_pasv_address: false,
            connect_timeout: DEADLINE,
            reply_timeout: DEADLINE,
            data_timeout: DEADLINE,
            tls: None,
            codec: None,
            pipelining: Arc::new(crate::remote::pipeline::Pipelining::new(false)),
            stat_listing: Arc::new(crate::remote::pipeline::Capability::named("test", false)),
            preopen: true,
            routes: Arc::default(),
        }
    }

    /// Reads one command line and answers it with `reply`.
    fn answer(conn: &mut BufReader<TcpStream>, reply: &str) {
        let mut line = String::new();
        conn.read_line(&mut line).expect("command");
        conn.get_mut().write_all(reply.as_bytes()).expect("reply");
    }

    /// A server on loopback that logs the first connection in and refuses the second one with
    /// `refusal` (a greeting, or a reply to USER), like a server whose limit is one session.
    /// The first connection is held until ftpfs closes it.
    fn one_session_server(refusal: &'static str, at_login: bool) -> (u16, thread::JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = thread::spawn(move || {
            let (first, _) = listener.accept().unwrap();
            first.set_read_timeout(Some(DEADLINE)).unwrap();
            let mut first = BufReader::new(first);
            first.get_mut().write_all(b"220 ready\r\n").unwrap();
            answer(&mut first, "331 Password required\r\n");
            answer(&mut first, "230 Logged in\r\n");
            answer(&mut first, "200 Type set to I\r\n");
            answer(&mut first, "211-Features:\r\n SIZE\r\n211 End\r\n");

            let (second, _) = listener.accept().unwrap();
            second.set_read_timeout(Some(DEADLINE)).unwrap();
            let mut second = BufReader::new(second);
            if at_login {
                second.get_mut().write_all(b"220 ready\r\n").unwrap();
                answer(&mut second, refusal);
            } else {
                second.get_mut().write_all(refusal.as_bytes()).unwrap();
            }
            drop(second);
            // Until ftpfs closes the session (EOF) or the deadline passes.
            let _ = first.read_line(&mut String::new());
        });
        (port, server)
    }

    /// proftpd refuses USER with 530 over MaxClientsPerHost; vsftpd and pure-ftpd send 421
    /// instead of a greeting. Either way the pool keeps to the one session it has: the caller
    /// gets no error, only "none free" (it waits for that session), and the limit is 1.
    #[test]
    fn a_refusal_for_the_connection_limit_lowers_the_pool_size() {
        for (refusal, at_login) in [
            (
                "530 Sorry, the maximum number of clients (1) from your host are already connected.\r\n",
                true,
            ),
            ("421 There are too many connections from your internet address.\r\n", false),
        ] {
            let (port, server) = one_session_server(refusal, at_login);
            let pool = Pool::new(config(port), 4, DEADLINE, DEADLINE);
            let first = pool.try_checkout().expect("first session").expect("a session");
            assert_eq!(pool.max_sessions(), 4);
            let second = pool.try_checkout();
            assert!(
                matches!(second, Ok(None)),
                "{refusal:?} gave {:?}",
                second.map(|g| g.is_some())
            );
            assert_eq!(pool.max_sessions(), 1, "{refusal:?}");
            assert_eq!(pool.live(), 1);
            // With the limit reached, the pool does not even try another connection.
            assert!(matches!(pool.try_checkout(), Ok(None)));
            assert_eq!(pool.connects(), 2);
            drop(first);
            // The session that exists is handed out again.
            assert!(pool.try_checkout().expect("checkout").is_some());
            drop(pool);
            server.join().unwrap();
        }
    }

    /// An ordinary refusal (a wrong password) is an error for the caller, and the pool's size
    /// stays as configured.
    #[test]
    fn a_wrong_password_is_an_error_not_a_limit() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = thread::spawn(move || {
            let (conn, _) = listener.accept().unwrap();
            conn.set_read_timeout(Some(DEADLINE)).unwrap();
            let mut conn = BufReader::new(conn);
            conn.get_mut().write_all(b"220 ready\r\n").unwrap();
            answer(&mut conn, "331 Password required\r\n");
            answer(&mut conn, "530 Login incorrect.\r\n");
        });
        let pool = Pool::new(config(port), 4, DEADLINE, DEADLINE);
        let err = pool.try_checkout().err().expect("refused");
        assert_eq!(err.kind, RemoteErrorKind::Auth);
        assert_eq!(pool.max_sessions(), 4);
        assert_eq!(pool.live(), 0);
        server.join().unwrap();
    }
}
