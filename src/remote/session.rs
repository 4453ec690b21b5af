//! One logged-in FTP control connection and the commands ftpfs sends on it.
//!
//! A [`Session`] wraps suppaftp's sync client. Connecting does the whole set-up: TCP connect
//! with a deadline, socket timeouts, login, `TYPE I`, `FEAT`, `OPTS UTF8 ON` when offered, and
//! the choice of data-connection mode. Every method takes and returns remote paths and
//! [`Entry`] values; nothing here knows about inodes.
//!
//! Rules this file follows (see docs/ARCHITECTURE.md):
//! - never call suppaftp's `abort()` (it desynchronises the control channel); a transfer is
//!   cancelled by dropping its stream, which closes the data socket and reads one reply;
//! - listings are read as raw bytes from the data stream and parsed by `listing.rs`, so
//!   non-UTF-8 names survive; commands use a byte-transparent encoding for the same reason;
//! - every socket has a deadline, so no call can block forever.

use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use suppaftp::{FtpError, Mode, Status};

use super::codec::NameCodec;
use super::ftp::{Client, Transfer};
use super::listing::{parse_listing, ListingFormat};
use super::pipeline::{greeting_refuses, Pipe, Pipelining};
use super::tls::{TlsContext, TlsMode};
use super::{Entry, RemoteError, RemoteErrorKind, RemotePath};

/// How data connections are opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataMode {
    /// EPSV, falling back to PASV when the server does not offer it (the default).
    ExtendedPassive,
    /// PASV only.
    Passive,
    /// PORT/EPRT: the server connects back to us.
    Active,
}

/// Everything needed to open a session. Built once from the validated `Config`.
#[derive(Clone)]
pub struct SessionConfig {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: String,
    pub data_mode: DataMode,
    /// Honour the address in a PASV reply instead of reusing the control connection's peer.
    pub use_pasv_address: bool,
    /// Deadline for establishing a TCP connection (control, passive data, active accept).
    pub connect_timeout: Duration,
    /// Deadline for each control-channel reply.
    pub reply_timeout: Duration,
    /// Deadline for each read or write on a data connection.
    pub data_timeout: Duration,
    /// FTPS settings; `None` for plain FTP.
    pub tls: Option<Arc<TlsContext>>,
    /// The server's file-name encoding when it is not UTF-8 (`-o encoding`).
    pub codec: Option<NameCodec>,
    /// Whether commands may be pipelined, learned once for all sessions (`pipeline.rs`).
    pub pipelining: Arc<Pipelining>,
}

impl std::fmt::Debug for SessionConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The password is never printed, not even in debug output.
        f.debug_struct("SessionConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("data_mode", &self.data_mode)
            .field("use_pasv_address", &self.use_pasv_address)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

/// What the server said it supports in its FEAT reply.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Features {
    pub mlsd: bool,
    pub size: bool,
    pub mdtm: bool,
    pub utf8: bool,
    pub epsv: bool,
    pub rest_stream: bool,
    pub mfmt: bool,
    pub tvfs: bool,
}

impl Features {
    fn from_feat(feat: &std::collections::HashMap<String, Option<String>>) -> Features {
        let has = |key: &str| feat.keys().any(|k| k.eq_ignore_ascii_case(key));
        let rest_stream = feat.iter().any(|(k, v)| {
            k.eq_ignore_ascii_case("REST")
                && v.as_deref()
                    .is_some_and(|v| v.trim().eq_ignore_ascii_case("STREAM"))
        });
        Features {
            mlsd: has("MLST") || has("MLSD"),
            size: has("SIZE"),
            mdtm: has("MDTM"),
            utf8: has("UTF8"),
            epsv: has("EPSV"),
            rest_stream,
            mfmt: has("MFMT"),
            tvfs: has("TVFS"),
        }
    }
}

/// Longest listing accepted from one MLSD/LIST, in bytes. A hostile or broken server cannot
/// make us buffer more than this (about a million entries).
const MAX_LISTING_BYTES: u64 = 128 * 1024 * 1024;

/// A logged-in control connection.
pub struct Session {
    ftp: Box<dyn Client>,
    /// File-name translation (`-o encoding`).
    codec: Option<NameCodec>,
    /// TLS is on and TLS 1.3 was allowed for this session.
    tls13: bool,
    features: Features,
    mode: DataMode,
    /// The directory we last changed into, to skip redundant CWDs.
    cwd: Option<RemotePath>,
    /// The control connection spoken to directly, for pipelined commands: plain FTP only,
    /// and only while the server is not known to mix them up.
    pipe: Option<Pipe>,
    pipelining: Arc<Pipelining>,
    pub created: Instant,
}

fn ftp_err(err: FtpError) -> RemoteError {
    RemoteError::from_ftp(err)
}

/// [`ftp_err`] for a command about `paths` (see [`RemoteError::about`]).
fn about<'a>(paths: &'a [&'a str]) -> impl FnOnce(FtpError) -> RemoteError + 'a {
    move |err| RemoteError::from_ftp(err).about(paths)
}

/// A failed login as the user sees it: a refusal names the user. A refusal for the server's
/// connection limit (proftpd answers USER with "530 Sorry, the maximum number of clients...")
/// is not about the user and stays the server's reply, code included, so the pool can tell it
/// ([`RemoteError::is_connection_limit`]) and queue callers instead of failing them.
fn login_error(user: &str, err: RemoteError) -> RemoteError {
    if err.kind != RemoteErrorKind::Auth || err.is_connection_limit() {
        return err;
    }
    RemoteError::new(
        RemoteErrorKind::Auth,
        format!("login refused for user '{user}': {err}"),
    )
}

impl Session {
    /// Connects, logs in and prepares the session. Fails within `connect_timeout` (plus one
    /// reply deadline per command) when the server is unreachable or refuses the login.
    pub fn connect(cfg: &SessionConfig, tls12_only: bool) -> Result<Session, RemoteError> {
        let mut ftp = super::ftp::open(cfg, tls12_only)?;
        ftp.login(cfg.user.as_str(), cfg.password.as_str())
            .map_err(|e| login_error(&cfg.user, ftp_err(e)))?;
        ftp.binary().map_err(ftp_err)?;
        let features = match ftp.feat() {
            Ok(feat) => Features::from_feat(&feat),
            Err(FtpError::UnexpectedResponse(_)) => Features::default(),
            Err(e) => return Err(ftp_err(e)),
        };
        if features.utf8 && cfg.codec.is_none() {
            // Some servers answer 451 or 501; names are bytes to us either way.
            if let Err(e) = ftp.opts("UTF8", "ON") {
                let err = ftp_err(e);
                if err.breaks_session() {
                    return Err(err);
                }
                log::debug!("OPTS UTF8 ON refused: {err}");
            }
        }
        let mode = match cfg.data_mode {
            DataMode::ExtendedPassive if !features.epsv => DataMode::Passive,
            m => m,
        };
        let tls13 = cfg.tls.is_some() && !tls12_only;
        let pipe = match Session::open_pipe(ftp.as_ref(), cfg)? {
            Probed::Refused => {
                // The probe left this connection out of step: start again, one at a time.
                drop(ftp);
                return Session::connect(cfg, tls12_only);
            }
            Probed::Pipe(pipe) => pipe,
        };
        let mut session = Session {
            ftp,
            codec: cfg.codec.clone(),
            tls13,
            features,
            mode,
            cwd: None,
            pipe,
            pipelining: Arc::clone(&cfg.pipelining),
            created: Instant::now(),
        };
        session.apply_mode();
        log::debug!(
            "session to {}:{} ready: {:?}, mode {:?}",
            cfg.host,
            cfg.port,
            session.features,
            mode
        );
        Ok(session)
    }

    /// The direct line to the control connection, for plain FTP when pipelining is not
    /// known to fail. The first session of a mount probes the server (two NOOPs in one
    /// packet) and records the answer for all.
    fn open_pipe(ftp: &dyn Client, cfg: &SessionConfig) -> Result<Probed, RemoteError> {
        let plain = cfg.tls.as_ref().is_none_or(|t| t.mode == TlsMode::None);
        let p = &cfg.pipelining;
        if !plain || !(p.unknown() || p.works()) {
            return Ok(Probed::Pipe(None));
        }
        if let Some(greeting) = ftp.welcome().filter(|g| greeting_refuses(g)) {
            p.refuse(&format!(
                "the server's greeting ({}) is one that mixes up pipelined commands",
                greeting.trim()
            ));
            return Ok(Probed::Pipe(None));
        }
        let socket = ftp.control_socket().map_err(|e| RemoteError::from_io(&e))?;
        let mut pipe = Pipe::new(socket).map_err(|e| RemoteError::from_io(&e))?;
        if p.unknown() {
            if pipe.probe(cfg.reply_timeout)? {
                p.set_works();
            } else {
                p.refuse("the server answered only the first of two commands sent together");
                return Ok(Probed::Refused);
            }
        }
        Ok(Probed::Pipe(Some(pipe)))
    }

    /// Whether commands sent together go out pipelined on this session.
    pub fn pipelines(&self) -> bool {
        self.pipe.is_some() && self.pipelining.works()
    }

    /// The modification times of many files (MDTM), pipelined where the session can, one
    /// reply per path in order. The outer error means the session failed (drop it); an inner
    /// one is that file's reply (not found, say).
    pub fn mdtm_many(
        &mut self,
        paths: &[RemotePath],
    ) -> Result<Vec<Result<SystemTime, RemoteError>>, RemoteError> {
        if !self.pipelines() {
            let mut out = Vec::with_capacity(paths.len());
            for path in paths {
                match self.mdtm(path) {
                    Err(e) if e.breaks_session() => return Err(e),
                    r => out.push(r),
                }
            }
            return Ok(out);
        }
        let mut lines = Vec::with_capacity(paths.len());
        let mut wires = Vec::with_capacity(paths.len());
        for path in paths {
            let wire = self.wire(path)?;
            lines.push(format!("MDTM {wire}"));
            wires.push(wire);
        }
        let pipe = self.pipe.as_mut().expect("pipelines() checked it");
        let replies = pipe.batch(&lines)?;
        Ok(replies
            .iter()
            .zip(&wires)
            .map(|(reply, wire)| match reply.code {
                213 => parse_mdtm(reply.last_line()).ok_or_else(|| {
                    RemoteError::new(RemoteErrorKind::Protocol, "malformed MDTM reply")
                }),
                _ => Err(reply.error().about(&[wire])),
            })
            .collect())
    }

    /// The size and modification time of `path` (SIZE and MDTM), in one round trip where
    /// the session pipelines, else two.
    pub fn size_and_mtime(&mut self, path: &RemotePath) -> Result<(u64, SystemTime), RemoteError> {
        if !self.pipelines() {
            return Ok((self.size(path)?, self.mdtm(path)?));
        }
        let wire = self.wire(path)?;
        let pipe = self.pipe.as_mut().expect("pipelines() checked it");
        let replies = pipe.batch(&[format!("SIZE {wire}"), format!("MDTM {wire}")])?;
        let malformed = || RemoteError::new(RemoteErrorKind::Protocol, "malformed SIZE/MDTM reply");
        let (size, mdtm) = (&replies[0], &replies[1]);
        if size.code != 213 {
            return Err(size.error().about(&[&wire]));
        }
        if mdtm.code != 213 {
            return Err(mdtm.error().about(&[&wire]));
        }
        let size = std::str::from_utf8(size.last_line())
            .ok()
            .and_then(|t| t.trim().parse().ok())
            .ok_or_else(malformed)?;
        Ok((size, parse_mdtm(mdtm.last_line()).ok_or_else(malformed)?))
    }

    fn apply_mode(&mut self) {
        match self.mode {
            DataMode::ExtendedPassive => self.ftp.set_mode(Mode::ExtendedPassive),
            DataMode::Passive => self.ftp.set_mode(Mode::Passive),
            DataMode::Active => self.ftp.set_mode(Mode::Active),
        }
    }

    /// `path` as sent on the wire: encoded with `-o encoding` if set, each byte then mapped
    /// to the char suppaftp's byte-transparent encoding turns back into that byte.
    fn wire(&self, path: &RemotePath) -> Result<String, RemoteError> {
        match &self.codec {
            None => Ok(path.wire()),
            Some(codec) => codec
                .encode_path(path)
                .map(|bytes| bytes.iter().map(|&b| char::from(b)).collect())
                .ok_or_else(|| {
                    RemoteError::new(
                        RemoteErrorKind::Unencodable,
                        format!("{path} cannot be written in the server's encoding"),
                    )
                }),
        }
    }

    /// Whether this session may use TLS 1.3 on its data connections.
    pub fn is_tls13(&self) -> bool {
        self.tls13
    }

    pub fn features(&self) -> &Features {
        &self.features
    }

    /// Runs a data command; if EPSV turns out not to work, falls back to PASV once.
    fn open_data<T>(
        &mut self,
        mut open: impl FnMut(&mut dyn Client) -> Result<T, FtpError>,
    ) -> Result<T, RemoteError> {
        match open(self.ftp.as_mut()) {
            Ok(t) => Ok(t),
            Err(FtpError::UnexpectedResponse(r))
                if self.tls13
                    && matches!(r.status.code(), 0 | 425 | 522)
                    && (r.status.code() != 0 || r.body.starts_with(b"522")) =>
            {
                // Servers that insist on TLS session reuse refuse rustls's TLS 1.3 data
                // connections (see tls.rs): the caller switches the pool to TLS 1.2.
                Err(RemoteError {
                    kind: RemoteErrorKind::TlsReuse,
                    code: Some(r.status.code()),
                    message: String::from_utf8_lossy(&r.body).trim().to_string(),
                })
            }
            Err(FtpError::UnexpectedResponse(r))
                if self.mode == DataMode::ExtendedPassive
                    && matches!(r.status.code(), 500..=502) =>
            {
                log::info!("server refused EPSV ({}); using PASV", r.status.code());
                self.mode = DataMode::Passive;
                self.apply_mode();
                open(self.ftp.as_mut()).map_err(ftp_err)
            }
            Err(e) => Err(ftp_err(e)),
        }
    }

    /// Changes into `dir` unless already there.
    fn cwd(&mut self, dir: &RemotePath) -> Result<(), RemoteError> {
        if self.cwd.as_ref() == Some(dir) {
            return Ok(());
        }
        self.cwd = None;
        let wire = self.wire(dir)?;
        self.ftp.cwd(&wire).map_err(about(&[&wire]))?;
        self.cwd = Some(dir.clone());
        Ok(())
    }

    /// Lists `dir`: MLSD when the server offers it, otherwise `LIST -a`. The listing is run
    /// from inside the directory, so no path argument is subject to the server's globbing or
    /// option parsing. Lines that do not parse are logged and skipped.
    pub fn list(&mut self, dir: &RemotePath) -> Result<Vec<Entry>, RemoteError> {
        let format = if self.features.mlsd {
            ListingFormat::Mlsd
        } else {
            ListingFormat::List
        };
        self.list_as(dir, format)
    }

    /// Lists `dir` with the given command: `MLSD`, or `LIST -a` (which also carries symlink
    /// targets that some servers leave out of MLSD).
    pub fn list_as(
        &mut self,
        dir: &RemotePath,
        format: ListingFormat,
    ) -> Result<Vec<Entry>, RemoteError> {
        self.cwd(dir)?;
        let cmd = match format {
            ListingFormat::Mlsd => "MLSD",
            ListingFormat::List => "LIST -a",
        };
        let expected = [Status::AboutToSend, Status::AlreadyOpen];
        let mut stream = self.open_data(|ftp| ftp.data_command(cmd, &expected))?;
        let mut data = Vec::new();
        let read = (&mut stream)
            .take(MAX_LISTING_BYTES + 1)
            .read_to_end(&mut data);
        if let Err(e) = read {
            drop(stream);
            return Err(RemoteError::from_io(&e));
        }
        if data.len() as u64 > MAX_LISTING_BYTES {
            drop(stream);
            return Err(RemoteError::new(
                RemoteErrorKind::Protocol,
                format!("listing of {dir} exceeds {MAX_LISTING_BYTES} bytes"),
            ));
        }
        stream.finish_boxed().map_err(ftp_err)?;
        let (mut entries, bad) = parse_listing(&data, format, SystemTime::now());
        if let Some(codec) = &self.codec {
            codec.decode_listing(dir, &mut entries);
        }
        for err in bad {
            log::warn!("listing of {dir}: skipped a line that does not parse: {err}");
        }
        Ok(entries)
    }

    /// Starts downloading `path` from byte `offset` (RETR, preceded by REST when non-zero).
    pub fn retr(
        &mut self,
        path: &RemotePath,
        offset: u64,
        data_timeout: Duration,
    ) -> Result<Transfer, RemoteError> {
        let wire = self.wire(path)?;
        let offset = usize::try_from(offset).map_err(|_| {
            RemoteError::new(RemoteErrorKind::Other, "offset does not fit this platform")
        })?;
        let stream = self
            .open_data(|ftp| ftp.retr(&wire, offset))
            .map_err(|e| e.about(&[&wire]))?;
        Transfer::new(stream, data_timeout, self.tls13)
    }

    /// Starts uploading to `path` (STOR), replacing what is there.
    pub fn stor(
        &mut self,
        path: &RemotePath,
        data_timeout: Duration,
    ) -> Result<Transfer, RemoteError> {
        let wire = self.wire(path)?;
        let stream = self
            .open_data(|ftp| ftp.stor(&wire))
            .map_err(|e| e.about(&[&wire]))?;
        Transfer::new(stream, data_timeout, self.tls13)
    }

    /// Creates a directory (MKD).
    pub fn mkdir(&mut self, path: &RemotePath) -> Result<(), RemoteError> {
        let wire = self.wire(path)?;
        self.ftp.mkdir(&wire).map_err(about(&[&wire]))
    }

    /// Removes an empty directory (RMD).
    pub fn rmdir(&mut self, path: &RemotePath) -> Result<(), RemoteError> {
        if self.cwd.as_ref().is_some_and(|c| c.starts_with(path)) {
            // Some servers refuse to remove the current directory.
            self.cwd = None;
            let _ = self.ftp.cwd("/");
        }
        let wire = self.wire(path)?;
        self.ftp.rmdir(&wire).map_err(about(&[&wire]))?;
        self.forget(path);
        Ok(())
    }

    /// Deletes a file (DELE).
    pub fn delete(&mut self, path: &RemotePath) -> Result<(), RemoteError> {
        let wire = self.wire(path)?;
        self.ftp.rm(&wire).map_err(about(&[&wire]))?;
        self.forget(path);
        Ok(())
    }

    /// Renames (RNFR + RNTO).
    pub fn rename(&mut self, from: &RemotePath, to: &RemotePath) -> Result<(), RemoteError> {
        if self.cwd.as_ref().is_some_and(|c| c.starts_with(from)) {
            self.cwd = None;
        }
        let (from_wire, to_wire) = (self.wire(from)?, self.wire(to)?);
        self.ftp
            .rename(&from_wire, &to_wire)
            .map_err(about(&[&from_wire, &to_wire]))?;
        self.forget(from);
        Ok(())
    }

    /// After `path` was removed or renamed away: drop what the codec recorded about it.
    fn forget(&self, path: &RemotePath) {
        if let Some(codec) = &self.codec {
            codec.forget(path);
        }
    }

    /// Sets the modification time with `verb` (`MFMT`, or vsftpd's `MDTM` with two arguments).
    pub fn set_mtime(
        &mut self,
        verb: &str,
        path: &RemotePath,
        mtime: SystemTime,
    ) -> Result<(), RemoteError> {
        let secs = match mtime.duration_since(SystemTime::UNIX_EPOCH) {
            Ok(d) => d.as_secs() as i64,
            Err(e) => -(e.duration().as_secs() as i64),
        };
        let stamp = chrono::DateTime::from_timestamp(secs, 0)
            .ok_or_else(|| RemoteError::new(RemoteErrorKind::Other, "time out of range"))?
            .format("%Y%m%d%H%M%S");
        let wire = self.wire(path)?;
        self.ftp
            .command(&format!("{verb} {stamp} {wire}"), &[Status::File])
            .map_err(about(&[&wire]))
    }

    /// Changes permission bits with `SITE CHMOD`.
    pub fn chmod(&mut self, path: &RemotePath, mode: u32) -> Result<(), RemoteError> {
        let wire = self.wire(path)?;
        self.ftp
            .site(&format!("CHMOD {:o} {wire}", mode & 0o7777))
            .map_err(about(&[&wire]))
    }

    /// The exact size of `path` in bytes (SIZE).
    pub fn size(&mut self, path: &RemotePath) -> Result<u64, RemoteError> {
        let wire = self.wire(path)?;
        self.ftp
            .size(&wire)
            .map(|s| s as u64)
            .map_err(about(&[&wire]))
    }

    /// The modification time of `path` (MDTM, UTC, second precision).
    pub fn mdtm(&mut self, path: &RemotePath) -> Result<SystemTime, RemoteError> {
        let wire = self.wire(path)?;
        let t = self.ftp.mdtm(&wire).map_err(about(&[&wire]))?;
        Ok(system_time(t))
    }

    /// Checks that the session is alive and in sync.
    pub fn noop(&mut self) -> Result<(), RemoteError> {
        self.ftp.noop().map_err(ftp_err)
    }

    /// Says goodbye, best effort (used when closing idle sessions).
    pub fn quit(mut self) {
        let _ = self.ftp.quit();
    }
}

/// What [`Session::open_pipe`] found.
enum Probed {
    /// Use this line for pipelined commands (`None`: send them one at a time).
    Pipe(Option<Pipe>),
    /// The server dropped a pipelined command: this connection is out of step.
    Refused,
}

fn system_time(t: chrono::NaiveDateTime) -> SystemTime {
    let secs = t.and_utc().timestamp();
    if secs >= 0 {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs as u64)
    } else {
        SystemTime::UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs())
    }
}

/// The time in an MDTM reply's text (`YYYYMMDDHHMMSS`, optionally `.fff`, UTC), read as
/// suppaftp reads it: the first fourteen digits standing alone; fractions are dropped.
fn parse_mdtm(text: &[u8]) -> Option<SystemTime> {
    let text = std::str::from_utf8(text).ok()?.trim();
    let digits = text.get(..14)?;
    if !digits.bytes().all(|b| b.is_ascii_digit())
        || text
            .as_bytes()
            .get(14)
            .is_some_and(u8::is_ascii_alphanumeric)
    {
        return None;
    }
    chrono::NaiveDateTime::parse_from_str(digits, "%Y%m%d%H%M%S")
        .ok()
        .map(system_time)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mdtm_reply_times() {
        let t = |s: u64| Some(SystemTime::UNIX_EPOCH + Duration::from_secs(s));
        assert_eq!(parse_mdtm(b"20261207175245"), t(1_796_665_965));
        assert_eq!(parse_mdtm(b"20261207175245.891"), t(1_796_665_965));
        assert_eq!(parse_mdtm(b" 19700101000001 "), t(1));
        assert_eq!(parse_mdtm(b"2026120717524"), None);
        assert_eq!(parse_mdtm(b"202612071752456"), None);
        assert_eq!(parse_mdtm(b"20261307175245"), None);
    }

    #[test]
    fn a_login_refused_for_the_connection_limit_stays_a_connection_limit() {
        let proftpd = RemoteError::from_reply(
            530,
            "Sorry, the maximum number of clients (2) from your host are already connected.".into(),
        );
        let err = login_error("alice", proftpd);
        assert!(err.is_connection_limit(), "{err:?}");
        assert_eq!((err.kind, err.code), (RemoteErrorKind::Auth, Some(530)));

        // A wrong password names the user, and a user called "max" is not a limit.
        let wrong = RemoteError::from_reply(530, "Login incorrect.".into());
        let err = login_error("max", wrong);
        assert_eq!(err.kind, RemoteErrorKind::Auth);
        assert_eq!(
            err.to_string(),
            "login refused for user 'max': 530 Login incorrect."
        );
        assert!(!err.is_connection_limit());

        // Anything but a refusal is left alone.
        let timeout = RemoteError::new(RemoteErrorKind::Timeout, "timed out");
        assert_eq!(login_error("alice", timeout).message, "timed out");
    }

    #[test]
    fn features_from_feat_reply() {
        let mut feat = std::collections::HashMap::new();
        for (k, v) in [
            ("MLST", Some("type*;size*;modify*;")),
            ("SIZE", None),
            ("MDTM", None),
            ("UTF8", None),
            ("EPSV", None),
            ("REST", Some("STREAM")),
            ("TVFS", None),
        ] {
            feat.insert(k.to_string(), v.map(str::to_string));
        }
        let f = Features::from_feat(&feat);
        assert!(f.mlsd && f.size && f.mdtm && f.utf8 && f.epsv && f.rest_stream && f.tvfs);
        assert!(!f.mfmt);
        assert_eq!(
            Features::from_feat(&Default::default()),
            Features::default()
        );
    }
}
