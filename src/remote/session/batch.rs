//! The session's pipelined exchanges (`pipeline.rs`): the probe that decides whether a
//! mount pipelines, a directory's MDTMs in one batch, and SIZE with MDTM in one round trip.
//! Each falls back to one command at a time where the session cannot pipeline.

use std::time::{Duration, SystemTime};

use super::super::ftp::Client;
use super::super::pipeline::{greeting_refuses, Pipe};
use super::super::route::line_len;
use super::super::tls::TlsMode;
use super::{too_long, Session, SessionConfig};
use crate::remote::{RemoteError, RemoteErrorKind, RemotePath};

impl Session {
    /// The direct line to the control connection, for plain FTP when pipelining is not
    /// known to fail. The first session of a mount probes the server (two NOOPs in one
    /// packet) and records the answer for all.
    pub(super) fn open_pipe(ftp: &dyn Client, cfg: &SessionConfig) -> Result<Probed, RemoteError> {
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

    /// The direct line, locked. Only called where [`Session::pipelines`] said yes.
    pub(super) fn pipe_lock(&self) -> std::sync::MutexGuard<'_, Pipe> {
        self.pipe
            .as_ref()
            .expect("pipelines() checked it")
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// The modification times of many files (MDTM), pipelined where the session can, one
    /// reply per path in order. The outer error means the session failed (drop it); an inner
    /// one is that file's reply (not found, say). Paths too long to send absolute are sent
    /// relative to their directory, when they share one.
    pub fn mdtm_many(
        &mut self,
        paths: &[RemotePath],
    ) -> Result<Vec<Result<SystemTime, RemoteError>>, RemoteError> {
        let budget = self.routes.budget();
        let mut args = Vec::with_capacity(paths.len());
        for path in paths {
            args.push(self.wire(path)?);
        }
        let long = args.iter().any(|a| line_len(&format!("MDTM {a}")) > budget);
        let parent = paths
            .first()
            .and_then(RemotePath::split)
            .map(|(dir, _)| dir);
        let one_dir = parent.as_ref().is_some_and(|dir| {
            paths
                .iter()
                .all(|p| p.split().is_some_and(|(d, _)| &d == dir))
        });
        if !self.pipelines() || (long && !one_dir) {
            let mut out = Vec::with_capacity(paths.len());
            for path in paths {
                match self.mdtm(path) {
                    Err(e) if e.breaks_session() => return Err(e),
                    r => out.push(r),
                }
            }
            return Ok(out);
        }
        if long {
            self.enter(parent.as_ref().expect("one_dir has a parent"))?;
            for arg in &mut args {
                let name = arg.rsplit('/').next().unwrap_or_default().to_string();
                *arg = name;
            }
        }
        // Each line that fits is sent; one that does not (a name too long for a server that
        // showed a small limit) is that file's error.
        let fits: Vec<bool> = args
            .iter()
            .map(|a| line_len(&format!("MDTM {a}")) <= budget)
            .collect();
        let lines: Vec<String> = args
            .iter()
            .zip(&fits)
            .filter(|(_, fits)| **fits)
            .map(|(a, _)| format!("MDTM {a}"))
            .collect();
        let longest = lines.iter().map(|l| line_len(l)).max().unwrap_or(0);
        let batch = self.pipe_lock().batch(&lines);
        let mut replies = self.heard(longest, batch)?.into_iter();
        Ok(paths
            .iter()
            .zip(args.iter().zip(fits))
            .map(|(path, (arg, fits))| {
                if !fits {
                    return Err(too_long(path, line_len(&format!("MDTM {arg}")), budget));
                }
                let reply = replies.next().ok_or_else(|| {
                    RemoteError::new(RemoteErrorKind::Protocol, "missing MDTM reply")
                })?;
                match reply.code {
                    213 => parse_mdtm(reply.last_line()).ok_or_else(|| {
                        RemoteError::new(RemoteErrorKind::Protocol, "malformed MDTM reply")
                    }),
                    _ => Err(reply.error().about(&[arg])),
                }
            })
            .collect())
    }

    /// The size and modification time of `path` (SIZE and MDTM), in one round trip where
    /// the session pipelines, else two.
    pub fn size_and_mtime(&mut self, path: &RemotePath) -> Result<(u64, SystemTime), RemoteError> {
        if !self.pipelines() {
            return Ok((self.size(path)?, self.mdtm(path)?));
        }
        // Absolute when the line fits, else relative to the entered directory (`route.rs`).
        let (arg, len, abs) = self.target("SIZE ", path)?;
        let batch = self
            .pipe_lock()
            .batch(&[format!("SIZE {arg}"), format!("MDTM {arg}")]);
        let replies = self.heard(len, batch)?;
        let malformed = || RemoteError::new(RemoteErrorKind::Protocol, "malformed SIZE/MDTM reply");
        let (size, mdtm) = (&replies[0], &replies[1]);
        if size.code != 213 {
            return Err(size.error().about(&[&arg, &abs]));
        }
        if mdtm.code != 213 {
            return Err(mdtm.error().about(&[&arg, &abs]));
        }
        let size = std::str::from_utf8(size.last_line())
            .ok()
            .and_then(|t| t.trim().parse().ok())
            .ok_or_else(malformed)?;
        Ok((size, parse_mdtm(mdtm.last_line()).ok_or_else(malformed)?))
    }
}

/// What [`Session::open_pipe`] found.
pub(super) enum Probed {
    /// Use this line for pipelined commands (`None`: send them one at a time).
    Pipe(Option<Pipe>),
    /// The server dropped a pipelined command: this connection is out of step.
    Refused,
}

pub(super) fn system_time(t: chrono::NaiveDateTime) -> SystemTime {
    let secs = t.and_utc().timestamp();
    if secs >= 0 {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs as u64)
    } else {
        SystemTime::UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs())
    }
}

/// The time in an MDTM reply's text (`YYYYMMDDHHMMSS`, optionally `.fff`, UTC), read as
/// suppaftp reads it: the first fourteen digits standing alone; fractions are dropped.
pub(super) fn parse_mdtm(text: &[u8]) -> Option<SystemTime> {
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
