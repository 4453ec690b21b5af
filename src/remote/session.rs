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
//! - every socket has a deadline, so no call can block forever;
//! - no command line is longer than the server takes: a path goes out absolute when its line
//!   fits, otherwise relative to the session's working directory (`route.rs` has the rule
//!   and the limit learned from the server). The working directory is known only after a
//!   CWD that succeeded, and trusted only while no session of the mount moved it since.

use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use suppaftp::{FtpError, Mode, Status};

use super::codec::NameCodec;
use super::ftp::{Client, Transfer};
use super::listing::{parse_listing, ListingFormat};
use super::pipeline::{Capability, Pipe, Pipelining};
use super::route::{line_len, route, Routes, Step};
use super::tls::TlsContext;
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
    /// Whether directories are listed over the control connection (`STAT dir`), learned
    /// once for all sessions (`session/stat.rs`).
    pub stat_listing: Arc<Capability>,
    /// Keep a passive data connection opened ahead on quick sessions (`session/preopen.rs`);
    /// `-o no_preopen` turns it off.
    pub preopen: bool,
    /// The server's line limit as learned, and the directories moved through this mount
    /// (`route.rs`), shared by all sessions.
    pub routes: Arc<Routes>,
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
    /// The directory we last changed into, to skip redundant CWDs, with the
    /// [`Routes::generation`] from before that change: `None` until a CWD succeeds, after a
    /// failed one, and when something may have changed it.
    cwd: Option<(RemotePath, u64)>,
    /// The control connection spoken to directly, for pipelined commands: plain FTP only,
    /// and only while the server is not known to mix them up.
    /// Shared with a quick transfer in progress (`session/quick.rs`), which reads its
    /// completion reply through it.
    pipe: Option<Arc<std::sync::Mutex<Pipe>>>,
    pipelining: Arc<Pipelining>,
    stat_listing: Arc<Capability>,
    routes: Arc<Routes>,
    /// Transfers go suppaftp's way (the server refused EPSV sent with its command).
    quick_off: bool,
    /// Open data connections ahead (`session/preopen.rs`; `-o no_preopen` turns it off).
    preopen: bool,
    /// Deadline for each read or write on a data connection.
    data_timeout: Duration,
    /// Deadline for connecting a data connection (quick transfers).
    connect_timeout: Duration,
    pub created: Instant,
}

fn ftp_err(err: FtpError) -> RemoteError {
    RemoteError::from_ftp(err)
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
    ///
    /// `known` is what the server offers, as an earlier session of the mount read it: with
    /// it, and pipelining known to work, the login's commands are written together
    /// (`session/login.rs`).
    pub fn connect(
        cfg: &SessionConfig,
        tls12_only: bool,
        known: Option<&Features>,
    ) -> Result<Session, RemoteError> {
        let mut ftp = super::ftp::open(cfg, tls12_only)?;
        let (features, pipe) = match known.filter(|_| login::can_login_together(cfg)) {
            Some(features) => {
                let pipe = login::login_together(ftp.as_ref(), cfg, features)?;
                (features.clone(), Some(pipe))
            }
            None => {
                let features = Session::login_one_at_a_time(ftp.as_mut(), cfg)?;
                match Session::open_pipe(ftp.as_ref(), cfg)? {
                    Probed::Refused => {
                        // The probe left this connection out of step: start again, one at a
                        // time.
                        drop(ftp);
                        return Session::connect(cfg, tls12_only, None);
                    }
                    Probed::Pipe(pipe) => (features, pipe),
                }
            }
        };
        let pipe = pipe.map(|p| Arc::new(std::sync::Mutex::new(p)));
        let mode = match cfg.data_mode {
            DataMode::ExtendedPassive if !features.epsv => DataMode::Passive,
            m => m,
        };
        let tls13 = cfg.tls.is_some() && !tls12_only;
        let mut session = Session {
            ftp,
            codec: cfg.codec.clone(),
            tls13,
            features,
            mode,
            cwd: None,
            pipe,
            pipelining: Arc::clone(&cfg.pipelining),
            stat_listing: Arc::clone(&cfg.stat_listing),
            routes: Arc::clone(&cfg.routes),
            quick_off: false,
            preopen: cfg.preopen,
            data_timeout: cfg.data_timeout,
            connect_timeout: cfg.connect_timeout,
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

    /// USER, PASS, TYPE I, FEAT and OPTS UTF8 ON, one at a time; returns the features.
    fn login_one_at_a_time(
        ftp: &mut dyn Client,
        cfg: &SessionConfig,
    ) -> Result<Features, RemoteError> {
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
        Ok(features)
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

    /// `path` as sent, and its names as sent (one per name of `path`).
    fn wire_names(&self, path: &RemotePath) -> Result<(String, Vec<String>), RemoteError> {
        let wire = self.wire(path)?;
        let names: Vec<String> = wire
            .split('/')
            .filter(|n| !n.is_empty())
            .map(str::to_string)
            .collect();
        if names.len() != path.depth() {
            return Err(RemoteError::new(
                RemoteErrorKind::Unencodable,
                format!("{path} does not keep its names in the server's encoding"),
            ));
        }
        Ok((wire, names))
    }

    /// The working directory, if known and not moved since by any session of the mount.
    fn known_cwd(&mut self) -> Option<RemotePath> {
        let (dir, since) = self.cwd.as_ref()?;
        if self.routes.unmoved_since(dir, *since) {
            Some(dir.clone())
        } else {
            self.cwd = None;
            None
        }
    }

    /// Changes into `dir` unless already there: one absolute CWD when its line fits,
    /// otherwise the route `route.rs` plans (relative steps, or CDUPs and steps).
    fn enter(&mut self, dir: &RemotePath) -> Result<(), RemoteError> {
        let from = self.known_cwd();
        if from.as_ref() == Some(dir) {
            return Ok(());
        }
        let (_, wire) = self.wire_names(dir)?;
        let budget = self.routes.budget();
        let steps = route(from.as_ref(), dir, &wire, budget).ok_or_else(|| {
            let longest = wire.iter().map(|n| line_len(&format!("CWD {n}"))).max();
            too_long(dir, longest.unwrap_or(0), budget)
        })?;
        let generation = self.routes.generation();
        self.cwd = None;
        let mut at = from;
        for step in steps {
            match step {
                Step::Up => {
                    let expected = [Status::CommandOk, Status::RequestedFileActionOk];
                    self.send(line_len("CDUP"), &[], |ftp| ftp.command("CDUP", &expected))?;
                    at = at.map(|p| p.ancestor(p.depth().saturating_sub(1)));
                }
                Step::Cwd { arg, depth } => {
                    let len = line_len(&format!("CWD {arg}"));
                    self.send(len, &[&arg], |ftp| ftp.cwd(&arg))?;
                    at = Some(dir.ancestor(depth));
                }
            }
        }
        debug_assert_eq!(at.as_ref(), Some(dir));
        self.cwd = at.map(|p| (p, generation));
        Ok(())
    }

    /// The argument for a command `prefix` + path about `path`: the absolute path when the
    /// line fits the budget; otherwise, after changing into the parent directory, the last
    /// name (refused at once if even that does not fit). Returns the argument, the line's
    /// length, and the absolute path as sent (replies may echo either).
    fn target(
        &mut self,
        prefix: &str,
        path: &RemotePath,
    ) -> Result<(String, usize, String), RemoteError> {
        let (absolute, names) = self.wire_names(path)?;
        let budget = self.routes.budget();
        let len = line_len(&format!("{prefix}{absolute}"));
        let Some(name) = names.last().filter(|_| len > budget) else {
            return Ok((absolute.clone(), len, absolute));
        };
        let len = line_len(&format!("{prefix}{name}"));
        if len > budget {
            return Err(too_long(path, len, budget));
        }
        let name = name.clone();
        self.enter(&path.ancestor(names.len() - 1))?;
        Ok((name, len, absolute))
    }

    /// Runs one exchange whose command line is `len` bytes, classifying a failure with
    /// `paths` (as sent) left out of the reply's text, and learning from it ([`heard`]).
    ///
    /// [`heard`]: Session::heard
    fn send<T>(
        &mut self,
        len: usize,
        paths: &[&str],
        exchange: impl FnOnce(&mut dyn Client) -> Result<T, FtpError>,
    ) -> Result<T, RemoteError> {
        let result = exchange(self.ftp.as_mut()).map_err(|e| ftp_err(e).about(paths));
        self.heard(len, result)
    }

    /// What a line of `len` bytes got tells the server's line limit (`route.rs`): a reply of
    /// any kind is an answer; a deadline or a "line too long" may be the limit. The error of
    /// a limit just learned says so.
    fn heard<T>(&self, len: usize, result: Result<T, RemoteError>) -> Result<T, RemoteError> {
        let err = match result {
            Ok(t) => {
                self.routes.answered(len);
                return Ok(t);
            }
            Err(e) => e,
        };
        match (err.kind, err.code) {
            (RemoteErrorKind::Timeout, _) if self.routes.silent(len) => Err(RemoteError::new(
                RemoteErrorKind::Timeout,
                format!("the server did not answer a command line of {len} bytes (it ignores long lines)"),
            )),
            (RemoteErrorKind::NameTooLong, Some(500 | 501)) => {
                self.routes.refused(len);
                Err(err)
            }
            (_, Some(_)) => {
                self.routes.answered(len);
                Err(err)
            }
            _ => Err(err),
        }
    }

    /// Lists `dir`: MLSD when the server offers it, otherwise `LIST -a`. The listing is run
    /// from inside the directory, so no path argument is subject to the server's globbing or
    /// option parsing. Lines that do not parse are logged and skipped.
    /// Directories too deep for the server's MLSD (`route.rs`) are listed with LIST.
    pub fn list(&mut self, dir: &RemotePath) -> Result<Vec<Entry>, RemoteError> {
        let depth = dir.as_bytes().len();
        if !self.features.mlsd || !self.routes.mlsd_fits(depth) {
            return self.list_as(dir, ListingFormat::List);
        }
        let listed = self.list_as(dir, ListingFormat::Mlsd);
        match &listed {
            Ok(_) => self.routes.mlsd_worked(depth),
            Err(e) if e.kind == RemoteErrorKind::Connection => {
                self.routes.mlsd_broke(depth);
            }
            Err(_) => {}
        }
        listed
    }

    /// Lists `dir` with the given command: `MLSD`, or `LIST -a` (which also carries symlink
    /// targets that some servers leave out of MLSD).
    pub fn list_as(
        &mut self,
        dir: &RemotePath,
        format: ListingFormat,
    ) -> Result<Vec<Entry>, RemoteError> {
        let cmd = match format {
            ListingFormat::Mlsd => "MLSD",
            ListingFormat::List => "LIST -a",
        };
        let quick = match self.quick() {
            true => self.quick_listing(dir, cmd)?,
            false => None,
        };
        let mut stream = match quick {
            Some(stream) => stream,
            None => {
                self.enter(dir)?;
                let expected = [Status::AboutToSend, Status::AlreadyOpen];
                self.open_data(|ftp| ftp.data_command(cmd, &expected))?
            }
        };
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
        Ok(self.entries_of(dir, &data, format))
    }

    /// The entries of `dir` in a listing's bytes, names decoded. Lines that do not parse
    /// are logged and skipped.
    fn entries_of(&self, dir: &RemotePath, data: &[u8], format: ListingFormat) -> Vec<Entry> {
        let (mut entries, bad) = parse_listing(data, format, SystemTime::now());
        if let Some(codec) = &self.codec {
            codec.decode_listing(dir, &mut entries);
        }
        for err in bad {
            log::warn!("listing of {dir}: skipped a line that does not parse: {err}");
        }
        entries
    }

    /// Starts downloading `path` from byte `offset` (RETR, preceded by REST when non-zero).
    pub fn retr(
        &mut self,
        path: &RemotePath,
        offset: u64,
        data_timeout: Duration,
    ) -> Result<Transfer, RemoteError> {
        let offset = usize::try_from(offset).map_err(|_| {
            RemoteError::new(RemoteErrorKind::Other, "offset does not fit this platform")
        })?;
        let (arg, len, abs) = self.target("RETR ", path)?;
        if self.quick() {
            let setup: Vec<String> = (offset > 0)
                .then(|| format!("REST {offset}"))
                .into_iter()
                .collect();
            let started = self
                .quick_transfer(&[], &setup, &format!("RETR {arg}"), Direction::Download)
                .map_err(|e| e.about(&[&arg, &abs]));
            if let Some(stream) = self.heard(len, started)? {
                return Transfer::new(stream, data_timeout, false);
            }
        }
        let stream = self
            .open_data(|ftp| ftp.retr(&arg, offset))
            .map_err(|e| e.about(&[&arg, &abs]));
        Transfer::new(self.heard(len, stream)?, data_timeout, self.tls13)
    }

    /// Starts uploading to `path` (STOR), replacing what is there.
    pub fn stor(
        &mut self,
        path: &RemotePath,
        data_timeout: Duration,
    ) -> Result<Transfer, RemoteError> {
        let (arg, len, abs) = self.target("STOR ", path)?;
        if self.quick() {
            let started = self
                .quick_transfer(&[], &[], &format!("STOR {arg}"), Direction::Upload)
                .map_err(|e| e.about(&[&arg, &abs]));
            if let Some(stream) = self.heard(len, started)? {
                return Transfer::new(stream, data_timeout, false);
            }
        }
        let stream = self
            .open_data(|ftp| ftp.stor(&arg))
            .map_err(|e| e.about(&[&arg, &abs]));
        Transfer::new(self.heard(len, stream)?, data_timeout, self.tls13)
    }

    /// Creates a directory (MKD).
    pub fn mkdir(&mut self, path: &RemotePath) -> Result<(), RemoteError> {
        let (arg, len, abs) = self.target("MKD ", path)?;
        self.send(len, &[&arg, &abs], |ftp| ftp.mkdir(&arg))
    }

    /// Removes an empty directory (RMD).
    pub fn rmdir(&mut self, path: &RemotePath) -> Result<(), RemoteError> {
        if self.known_cwd().is_some_and(|c| c.starts_with(path)) {
            // Some servers refuse to remove the current directory.
            self.cwd = None;
            let generation = self.routes.generation();
            match self.send(line_len("CWD /"), &[], |ftp| ftp.cwd("/")) {
                Ok(()) => self.cwd = Some((RemotePath::root(), generation)),
                Err(e) if e.breaks_session() => return Err(e),
                Err(_) => {}
            }
        }
        let (arg, len, abs) = self.target("RMD ", path)?;
        self.send(len, &[&arg, &abs], |ftp| ftp.rmdir(&arg))?;
        self.routes.moved(&[path]);
        self.forget(path);
        Ok(())
    }

    /// Deletes a file (DELE).
    pub fn delete(&mut self, path: &RemotePath) -> Result<(), RemoteError> {
        let (arg, len, abs) = self.target("DELE ", path)?;
        self.send(len, &[&arg, &abs], |ftp| ftp.rm(&arg))?;
        self.forget(path);
        Ok(())
    }

    /// Renames (RNFR + RNTO): absolute paths when both lines fit; otherwise from the two
    /// paths' deepest common directory, with the paths relative to it (refused at once when
    /// those do not fit either). Servers forget RNFR at a CWD, so the directory is entered
    /// first.
    pub fn rename(&mut self, from: &RemotePath, to: &RemotePath) -> Result<(), RemoteError> {
        let (from_abs, from_names) = self.wire_names(from)?;
        let (to_abs, to_names) = self.wire_names(to)?;
        let budget = self.routes.budget();
        let fits = |prefix: &str, arg: &str| line_len(&format!("{prefix}{arg}")) <= budget;
        let (from_arg, to_arg) = if fits("RNFR ", &from_abs) && fits("RNTO ", &to_abs) {
            (from_abs.clone(), to_abs.clone())
        } else {
            // The common directory of the two parents, so that neither path is empty.
            let common = from
                .common_depth(to)
                .min(from_names.len().saturating_sub(1))
                .min(to_names.len().saturating_sub(1));
            let (from_rel, to_rel) = (from_names[common..].join("/"), to_names[common..].join("/"));
            for (prefix, arg, path) in [("RNFR ", &from_rel, from), ("RNTO ", &to_rel, to)] {
                if !fits(prefix, arg) {
                    return Err(too_long(path, line_len(&format!("{prefix}{arg}")), budget));
                }
            }
            self.enter(&from.ancestor(common))?;
            (from_rel, to_rel)
        };
        let len = line_len(&format!("RNFR {from_arg}")).max(line_len(&format!("RNTO {to_arg}")));
        let paths = [
            from_arg.as_str(),
            to_arg.as_str(),
            from_abs.as_str(),
            to_abs.as_str(),
        ];
        self.send(len, &paths, |ftp| ftp.rename(&from_arg, &to_arg))?;
        self.routes.moved(&[from, to]);
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
        let prefix = format!("{verb} {stamp} ");
        let (arg, len, abs) = self.target(&prefix, path)?;
        self.send(len, &[&arg, &abs], |ftp| {
            ftp.command(&format!("{prefix}{arg}"), &[Status::File])
        })
    }

    /// Changes permission bits with `SITE CHMOD`.
    pub fn chmod(&mut self, path: &RemotePath, mode: u32) -> Result<(), RemoteError> {
        let mode = format!("{:o}", mode & 0o7777);
        let (arg, len, abs) = self.target(&format!("SITE CHMOD {mode} "), path)?;
        self.send(len, &[&arg, &abs], |ftp| {
            ftp.site(&format!("CHMOD {mode} {arg}"))
        })
    }

    /// The exact size of `path` in bytes (SIZE).
    pub fn size(&mut self, path: &RemotePath) -> Result<u64, RemoteError> {
        let (arg, len, abs) = self.target("SIZE ", path)?;
        self.send(len, &[&arg, &abs], |ftp| ftp.size(&arg))
            .map(|s| s as u64)
    }

    /// The modification time of `path` (MDTM, UTC, second precision).
    pub fn mdtm(&mut self, path: &RemotePath) -> Result<SystemTime, RemoteError> {
        let (arg, len, abs) = self.target("MDTM ", path)?;
        let t = self.send(len, &[&arg, &abs], |ftp| ftp.mdtm(&arg))?;
        Ok(system_time(t))
    }

    /// Checks that the session is alive and in sync.
    pub fn noop(&mut self) -> Result<(), RemoteError> {
        if self.pipe.is_some() && self.pipe_lock().is_broken() {
            return Err(RemoteError::new(
                RemoteErrorKind::Protocol,
                "a pipelined exchange on this session failed half way",
            ));
        }
        self.ftp.noop().map_err(ftp_err)
    }

    /// Says goodbye, best effort (used when closing idle sessions).
    pub fn quit(mut self) {
        let _ = self.ftp.quit();
    }
}

/// A path whose command line would be `len` bytes, more than the `budget` the server takes.
fn too_long(path: &RemotePath, len: usize, budget: usize) -> RemoteError {
    RemoteError::new(
        RemoteErrorKind::NameTooLong,
        format!(
            "{path}: its command would be {len} bytes, more than the {budget} the server takes"
        ),
    )
}

mod batch;
mod login;
mod preopen;
mod quick;
mod stat;
use batch::{system_time, Probed};
use quick::Direction;
pub use stat::{stat_listing, STAT_BATCH};
#[cfg(test)]
mod tests;
