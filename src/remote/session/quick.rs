//! Quick transfers: a data connection set up in one round trip, on a plain control
//! connection that pipelines.
//!
//! suppaftp sends EPSV and waits for its reply, connects, sends REST and waits, sends the
//! transfer command and waits for the 150: four round trips before the first byte of a
//! ranged RETR, three for a listing. Here EPSV, REST and the transfer command are written
//! together (vsftpd, proftpd and pure-ftpd queue them, and a RETR waits for its data
//! connection: docs of the WAN measurements, "EPSV+RETR in one write"); the data connection
//! is made as soon as the 229 arrives, and the first bytes follow about one round trip later.
//! An upload does not wait for its 150 either: that reply is read when the upload ends, with
//! the 226. (Half-closing a download's data socket at once would save proftpd's lingering
//! close a round trip, but a RETR so treated once stalled without a byte in the suite; not
//! done.)
//!
//! Where the session holds a data connection opened ahead (`preopen.rs`), the EPSV is left
//! out: the transfer command goes on that connection, and the transfer costs about one round
//! trip.
//!
//! Nothing is sent while a transfer is under way: its completion reply is read (through the
//! same [`Pipe`], shared with the [`QuickTransfer`]) before the session is used again. If an
//! exchange fails half way, the pipe is marked broken and the session is dropped rather than
//! reused out of step. Where the server refuses EPSV, the session falls back to suppaftp's
//! way (and PASV) for good.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use suppaftp::types::Response;
use suppaftp::{FtpError, Status};

use super::super::ftp::DataTransfer;
use super::super::pipeline::{Pipe, Reply};
use super::super::route::line_len;
use super::preopen;
use super::{DataMode, Session};
use crate::remote::{RemoteError, RemoteErrorKind, RemotePath};

/// Which way the bytes go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Direction {
    Download,
    Upload,
}

fn lock(pipe: &Mutex<Pipe>) -> MutexGuard<'_, Pipe> {
    pipe.lock().unwrap_or_else(|p| p.into_inner())
}

/// How long a download whose last byte has come waits for the data connection's end before
/// its session pipelines an EPSV (`preopen.rs`): the server closes right behind its last
/// byte, so this only runs out on a file that grew (a byte instead of the end) or a server
/// that holds the connection open, and then no data connection is opened ahead.
const EOF_WAIT: Duration = Duration::from_secs(1);

/// The port in a 229 reply: `(|||port|)`.
pub(super) fn epsv_port(reply: &Reply) -> Option<u16> {
    let text = std::str::from_utf8(reply.last_line()).ok()?;
    let inner = text.split('(').nth(1)?.split(')').next()?;
    let mut parts = inner.split('|');
    // "", "", "", "port", ""
    parts.nth(3)?.parse().ok()
}

impl Session {
    /// Whether transfers on this session go the quick way.
    pub(super) fn quick(&self) -> bool {
        self.pipelines() && self.mode == DataMode::ExtendedPassive && !self.quick_off
    }

    /// Starts a transfer the quick way: the `before` lines (CWD), EPSV, the `setup` lines
    /// (REST) and `command` written together. `Ok(None)`: the server refused EPSV (the
    /// session has read every reply and will use suppaftp's way from now on). A failed
    /// `before` or `setup` line cancels the transfer and is its error.
    pub(super) fn quick_transfer(
        &mut self,
        before: &[String],
        setup: &[String],
        command: &str,
        direction: Direction,
    ) -> Result<Option<Box<dyn DataTransfer>>, RemoteError> {
        let control = Arc::clone(self.pipe.as_ref().expect("quick() checked the pipe"));
        let mut pipe = lock(&control);
        if let Some(data) = preopen::take_usable(&mut pipe, self.connect_timeout) {
            drop(pipe);
            return self.quick_on(data, before, setup, command, direction);
        }
        let mut lines: Vec<String> = before.to_vec();
        lines.push("EPSV".to_string());
        lines.extend(setup.iter().cloned());
        lines.push(command.to_string());
        pipe.send(&lines)?;
        let mut setup_err = None;
        answered(&mut pipe, before.len(), &[2], &mut setup_err)?;
        let lines = &lines[before.len()..];
        let epsv = pipe.reply()?;
        let port = match (epsv.code, epsv_port(&epsv)) {
            (229, Some(port)) => port,
            (229, None) => {
                pipe.set_broken();
                return Err(RemoteError::new(
                    RemoteErrorKind::Protocol,
                    "malformed EPSV reply",
                ));
            }
            _ => {
                // The rest went out with no data connection to use: read their refusals.
                for _ in 1..lines.len() {
                    pipe.reply()?;
                }
                log::info!("server refused EPSV ({}); using PASV", epsv.code);
                self.quick_off = true;
                self.mode = DataMode::Passive;
                self.apply_mode();
                return match setup_err {
                    Some(e) => Err(e),
                    None => Ok(None),
                };
            }
        };
        let peer = pipe.peer().map_err(|e| RemoteError::from_io(&e))?.ip();
        let data =
            match TcpStream::connect_timeout(&SocketAddr::new(peer, port), self.connect_timeout) {
                Ok(d) => d,
                Err(e) => {
                    // The server may have refused the command already: proftpd closes the
                    // passive port when it does. Its reply says why, and keeps us in step.
                    let mut refusal = None;
                    for _ in 1..lines.len() {
                        match pipe.reply() {
                            Ok(r) if r.code >= 400 => {
                                refusal.get_or_insert(r);
                            }
                            Ok(_) => {}
                            Err(_) => break,
                        }
                    }
                    return match refusal {
                        Some(r) if !pipe.is_broken() => Err(r.error()),
                        _ => {
                            // It waits for the connection we could not make.
                            pipe.set_broken();
                            Err(RemoteError::from_io(&e))
                        }
                    };
                }
            };
        answered(&mut pipe, setup.len(), &[2, 3], &mut setup_err)?;
        match self.begin(pipe, &control, data, direction, setup_err)? {
            Begun::Started(transfer) => Ok(Some(transfer)),
            Begun::Refused(r) => Err(r.error()),
        }
    }

    /// A transfer's start once its data connection is made and the lines before its command
    /// are answered: an upload goes at once (its 150, or refusal, is read with the completion
    /// reply); a download reads its 150 first. A failed `before` or `setup` line is the
    /// error; a refused command with none is [`Begun::Refused`].
    fn begin(
        &self,
        mut pipe: MutexGuard<'_, Pipe>,
        control: &Arc<Mutex<Pipe>>,
        data: TcpStream,
        direction: Direction,
        setup_err: Option<RemoteError>,
    ) -> Result<Begun, RemoteError> {
        let io_err = |e: io::Error| RemoteError::from_io(&e);
        data.set_read_timeout(Some(self.data_timeout))
            .map_err(io_err)?;
        data.set_write_timeout(Some(self.data_timeout))
            .map_err(io_err)?;
        crate::stats::add(&crate::stats::QUICK_TRANSFERS, 1);
        let ahead = self.preopens().then_some(self.connect_timeout);
        let control = Arc::clone(control);
        if direction == Direction::Upload && setup_err.is_none() {
            drop(pipe);
            return Ok(Begun::Started(Box::new(QuickTransfer::new(
                data, control, direction, true, ahead,
            ))));
        }
        // On an error from here the data socket is simply closed: no transfer to end.
        let r = pipe.reply()?;
        if !matches!(r.code, 125 | 150) {
            return match setup_err {
                Some(e) => Err(e),
                None => Ok(Begun::Refused(r)),
            };
        }
        drop(pipe);
        let transfer = QuickTransfer::new(data, control, direction, false, ahead);
        if let Some(e) = setup_err {
            // It started, but not where it should (REST refused): cancel it.
            drop(transfer);
            return Err(e);
        }
        Ok(Begun::Started(Box::new(transfer)))
    }
}

impl Session {
    /// A quick transfer on the data connection opened ahead (`preopen.rs`): the `before` and
    /// `setup` lines and `command` written together, with no EPSV. A transfer command refused
    /// with 425 or 426 (the server no longer had that connection) is sent again at once the
    /// ordinary way, with a fresh EPSV.
    fn quick_on(
        &mut self,
        data: TcpStream,
        before: &[String],
        setup: &[String],
        command: &str,
        direction: Direction,
    ) -> Result<Option<Box<dyn DataTransfer>>, RemoteError> {
        let control = Arc::clone(self.pipe.as_ref().expect("quick() checked the pipe"));
        let mut pipe = lock(&control);
        let mut lines: Vec<String> = before.to_vec();
        lines.extend(setup.iter().cloned());
        lines.push(command.to_string());
        pipe.send(&lines)?;
        let mut setup_err = None;
        answered(&mut pipe, before.len(), &[2], &mut setup_err)?;
        answered(&mut pipe, setup.len(), &[2, 3], &mut setup_err)?;
        crate::stats::add(&crate::stats::PREOPENED_USED, 1);
        match self.begin(pipe, &control, data, direction, setup_err)? {
            Begun::Started(transfer) => Ok(Some(transfer)),
            Begun::Refused(r) if matches!(r.code, 425 | 426) => {
                log::debug!(
                    "a data connection opened ahead was refused ({}); opening anew",
                    r.code
                );
                crate::stats::add(&crate::stats::PREOPENED_STALE, 1);
                self.quick_transfer(before, setup, command, direction)
            }
            Begun::Refused(r) => Err(r.error()),
        }
    }
}

/// How a transfer command was answered ([`Session::begin`]).
enum Begun {
    Started(Box<dyn DataTransfer>),
    /// Refused, with nothing else wrong: the reply.
    Refused(Reply),
}

/// Reads the replies to `n` lines sent ahead of a transfer command; the first whose class
/// (first digit) is not in `ok` becomes `err`, unless it holds one already.
fn answered(
    pipe: &mut Pipe,
    n: usize,
    ok: &[u32],
    err: &mut Option<RemoteError>,
) -> Result<(), RemoteError> {
    for _ in 0..n {
        let r = pipe.reply()?;
        if !ok.contains(&(r.code / 100)) {
            err.get_or_insert_with(|| r.error());
        }
    }
    Ok(())
}

impl Session {
    /// A listing the quick way: when the session is elsewhere and one absolute CWD of a
    /// length the server has answered before fits the line limit, the CWD goes out with EPSV
    /// and the listing command, so a directory costs about two round trips. A CWD that fails cancels the listing (it would list the
    /// old directory) and is its error.
    pub(super) fn quick_listing(
        &mut self,
        dir: &RemotePath,
        cmd: &str,
    ) -> Result<Option<Box<dyn DataTransfer>>, RemoteError> {
        let (absolute, _) = self.wire_names(dir)?;
        let cwd = format!("CWD {absolute}");
        let len = line_len(&cwd);
        if self.known_cwd().as_ref() == Some(dir)
            || len > self.routes.budget()
            || !self.routes.proven(len)
        {
            self.enter(dir)?;
            return self.quick_transfer(&[], &[], cmd, Direction::Download);
        }
        let generation = self.routes.generation();
        self.cwd = None;
        let started = self.quick_transfer(&[cwd], &[], cmd, Direction::Download);
        let started = self.heard(len, started.map_err(|e| e.about(&[&absolute])))?;
        if started.is_some() {
            self.cwd = Some((dir.clone(), generation));
        }
        Ok(started)
    }
}

/// A transfer started the quick way: its data socket, and the control line its completion
/// reply is read from.
pub(super) struct QuickTransfer {
    data: Option<TcpStream>,
    control: Arc<Mutex<Pipe>>,
    /// The 150 has not been read yet (an upload).
    preliminary: bool,
    direction: Direction,
    /// The data connection's end was read.
    eof: bool,
    /// Open a data connection ahead when this download ends (`preopen.rs`), connecting
    /// within this deadline.
    ahead: Option<Duration>,
}

/// A reply as suppaftp reports an unexpected one, so [`Transfer`](super::super::ftp::Transfer)
/// classifies it like any other.
fn unexpected(r: Reply) -> FtpError {
    FtpError::UnexpectedResponse(Response::new(Status::from(r.code), r.text))
}

impl QuickTransfer {
    fn new(
        data: TcpStream,
        control: Arc<Mutex<Pipe>>,
        direction: Direction,
        preliminary: bool,
        ahead: Option<Duration>,
    ) -> QuickTransfer {
        QuickTransfer {
            data: Some(data),
            control,
            preliminary,
            direction,
            eof: false,
            ahead,
        }
    }

    /// Whether the data connection has reached its end: seen, or seen within [`EOF_WAIT`].
    fn at_eof(&mut self) -> bool {
        if self.eof {
            return true;
        }
        let Some(d) = self.data.as_mut() else {
            return false;
        };
        if d.set_read_timeout(Some(EOF_WAIT)).is_err() {
            return false;
        }
        matches!(d.read(&mut [0u8; 1]), Ok(0))
    }

    /// Ends a download whose data connection reached its end, with an EPSV written at once
    /// behind it (the server has left its transfer loop and queues it), so that its 229
    /// comes with the completion reply and a data connection is opened ahead.
    fn end_and_open(&mut self, timeout: Duration) -> Result<Reply, RemoteError> {
        self.data = None;
        let mut pipe = lock(&self.control);
        pipe.send(&["EPSV".to_string()])?;
        let (a, b) = (pipe.reply()?, pipe.reply()?);
        // A server that answered the EPSV before the transfer's end (proftpd acts on commands
        // during a transfer: 229, or 450 "transfer in progress") is understood too.
        let (completion, epsv) = match (a.code, b.code) {
            (229, _) | (450, 226 | 250) => (b, a),
            _ => (a, b),
        };
        preopen::connect_ahead(&mut pipe, &epsv, timeout);
        Ok(completion)
    }

    /// Closes the data connection and reads the replies that end the transfer. The
    /// completion reply, or the first reply that is not one step towards it.
    fn end(&mut self) -> Result<Reply, RemoteError> {
        self.data = None;
        let mut pipe = lock(&self.control);
        if std::mem::take(&mut self.preliminary) {
            let r = pipe.reply()?;
            if !matches!(r.code, 125 | 150) {
                return Ok(r);
            }
        }
        pipe.reply()
    }
}

impl Read for QuickTransfer {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.data.as_mut() {
            Some(d) => {
                let n = d.read(buf)?;
                self.eof |= n == 0 && !buf.is_empty();
                Ok(n)
            }
            None => Ok(0),
        }
    }
}

impl Write for QuickTransfer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.data.as_mut() {
            Some(d) => d.write(buf),
            None => Err(io::Error::new(io::ErrorKind::BrokenPipe, "transfer ended")),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl DataTransfer for QuickTransfer {
    fn finish_boxed(mut self: Box<Self>) -> Result<(), FtpError> {
        let ended = match self.ahead.take() {
            Some(timeout) if self.direction == Direction::Download && self.at_eof() => {
                self.end_and_open(timeout)
            }
            _ => self.end(),
        };
        match ended {
            Ok(r) if matches!(r.code, 226 | 250) => Ok(()),
            Ok(r) => Err(unexpected(r)),
            Err(e) => {
                log::debug!("ending a transfer: {e}");
                Err(FtpError::ConnectionError(io::Error::new(
                    match e.kind {
                        RemoteErrorKind::Timeout => io::ErrorKind::TimedOut,
                        _ => io::ErrorKind::ConnectionAborted,
                    },
                    e.message,
                )))
            }
        }
    }

    fn socket(&self) -> &TcpStream {
        self.data
            .as_ref()
            .expect("a transfer has its socket until it ends")
    }

    fn take_tickets(&mut self) {}

    fn tls_version(&mut self) -> Option<suppaftp::rustls::ProtocolVersion> {
        None
    }
}

impl Drop for QuickTransfer {
    fn drop(&mut self) {
        if self.data.is_some() {
            // Cancelled: the server answers 426 (or 226 if it had sent everything).
            if self.end().is_err() {
                lock(&self.control).set_broken();
            }
        }
    }
}
