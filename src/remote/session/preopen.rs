//! Pre-opened passive data connections: a session that pipelines keeps one data connection
//! opened ahead (EPSV sent, 229 read, TCP connected), so that its next quick transfer
//! (`quick.rs`) writes only `[REST n] RETR f`, `STOR f` or `MLSD`/`LIST` and costs about one
//! round trip instead of three.
//!
//! When the EPSV goes out, so that it costs no round trip of its own:
//! - after a download or listing, right behind the data connection's end (EOF): the servers
//!   have left their transfer loop by then and queue it behind the 226 (WAN measurements,
//!   "next command sent right after data EOF of a RETR": in order on vsftpd, proftpd and
//!   pure-ftpd), so 226 and 229 arrive together;
//! - after an upload, with the MDTM that learns the stored file's time, once the 226 has come
//!   (a command sent before it is lost on pure-ftpd) ([`Session::after_store`]);
//! - after a cancelled download, in place of the NOOP that checks the session
//!   ([`Session::preopen_or_noop`]), which runs in the background.
//!
//! The TCP connect runs on a short-lived thread, so its handshake (a round trip on a real
//! link) delays nobody; a transfer that comes before it is done waits for it, at most the
//! connect deadline, and one that failed leaves the transfer to send its own EPSV.
//!
//! Staleness. The servers keep such a connection until the transfer command (60 s measured),
//! but a server may still drop it: its control idle timer closes the session, or it resets
//! the connection. A connection opened ahead is therefore looked at, without a round trip,
//! before it is used ([`take_usable`]): one that shows EOF, a reset or bytes is dropped and
//! the transfer goes the ordinary way (EPSV in the same write). A session whose control
//! connection shows a reply or EOF while idle (a `421 Timeout`) is dropped by the pool before
//! anyone uses it ([`Session::still_open`]). A download whose transfer command is refused with
//! 425/426 on such a connection is started again at once with a fresh EPSV (`quick.rs`); a
//! download cut later is resumed by the read stream, as any broken download. Each connection
//! serves one transfer command, whatever its reply (proftpd drops it on a 550).
//!
//! Never here: a second EPSV while one is held (it would reset the first), or anything sent
//! between a transfer command and its completion reply.

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::time::{Duration, SystemTime};

use super::super::pipeline::{Ahead, Pipe, Reply};
use super::super::route::line_len;
use super::batch::parse_mdtm;
use super::quick::epsv_port;
use super::Session;
use crate::remote::{RemoteError, RemotePath};
use crate::stats;

/// What a socket that should be silent shows, looked at without waiting.
#[derive(Debug, PartialEq, Eq)]
enum Quiet {
    /// Nothing to read: still open, as far as can be seen.
    Silent,
    /// EOF or an error (reset): the other end closed it.
    Closed,
    /// Bytes wait to be read.
    Spoke,
}

fn look(sock: &TcpStream) -> Quiet {
    let mut byte = 0u8;
    // SAFETY: a one-byte buffer we own, on a socket we own; MSG_PEEK leaves the byte queued
    // and MSG_DONTWAIT makes the call return at once.
    let n = unsafe {
        libc::recv(
            sock.as_raw_fd(),
            (&mut byte as *mut u8).cast(),
            1,
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    match n {
        0 => Quiet::Closed,
        n if n > 0 => Quiet::Spoke,
        _ => match io::Error::last_os_error().kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Quiet::Silent,
            _ => Quiet::Closed,
        },
    }
}

/// The data connection held on `pipe`, if it still looks usable; one that does not is
/// dropped and counted stale. One still connecting is waited for, at most `wait` (a
/// connect that fails leaves nothing: the transfer opens its own).
pub(super) fn take_usable(pipe: &mut Pipe, wait: Duration) -> Option<TcpStream> {
    let data = match pipe.take_held()? {
        Ahead::Ready(data) => data,
        Ahead::Connecting(result) => match result.recv_timeout(wait) {
            Ok(Ok(data)) => data,
            Ok(Err(e)) => {
                log::debug!("no data connection opened ahead: connecting: {e}");
                return None;
            }
            Err(_) => return None,
        },
    };
    usable(data)
}

/// `data` if it still looks usable; otherwise it is dropped and counted stale.
fn usable(data: TcpStream) -> Option<TcpStream> {
    match look(&data) {
        Quiet::Silent => Some(data),
        state => {
            log::debug!("a data connection opened ahead was {state:?} before use; opening anew");
            stats::add(&stats::PREOPENED_STALE, 1);
            None
        }
    }
}

/// Connects, in the background, to the port a 229 reply names on the control connection's
/// peer, and keeps the connection on `pipe`. A reply that is not a usable 229 leaves nothing
/// held (the next transfer sends its own EPSV): never an error.
pub(super) fn connect_ahead(pipe: &mut Pipe, reply: &Reply, timeout: Duration) {
    let Some(port) = (reply.code == 229).then(|| epsv_port(reply)).flatten() else {
        log::debug!("no data connection opened ahead: EPSV got {}", reply.code);
        return;
    };
    let addr = match pipe.peer() {
        Ok(p) => SocketAddr::new(p.ip(), port),
        Err(e) => {
            log::debug!("no data connection opened ahead: {e}");
            return;
        }
    };
    let connect = move || {
        let data = TcpStream::connect_timeout(&addr, timeout);
        if data.is_ok() {
            stats::add(&stats::PREOPENED, 1);
        }
        data
    };
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let spawned = std::thread::Builder::new()
        .name("ftpfs-preopen".into())
        .spawn(move || {
            let _ = tx.send(connect());
        });
    match spawned {
        Ok(_) => pipe.hold(Ahead::Connecting(rx)),
        Err(e) => {
            log::debug!("connecting ahead in the background: {e}; connecting now");
            if let Ok(data) = connect() {
                pipe.hold(Ahead::Ready(data));
            }
        }
    }
}

impl Session {
    /// Whether this session opens data connections ahead.
    pub(super) fn preopens(&self) -> bool {
        self.preopen && self.quick()
    }

    /// Before an idle session is handed out: whether it still looks open, seen without a
    /// round trip. A control connection that has something to say while idle is closing (a
    /// `421 Timeout`, or EOF): `false`, and the pool opens a new session instead. A data
    /// connection opened ahead that the server closed is dropped (the session stays).
    pub fn still_open(&mut self) -> bool {
        let Some(pipe) = self.pipe.as_ref() else {
            return true;
        };
        let mut pipe = pipe.lock().unwrap_or_else(|p| p.into_inner());
        let (control, buffered) = pipe.control();
        let control = if buffered {
            Quiet::Spoke
        } else {
            look(control)
        };
        if control != Quiet::Silent {
            log::debug!("an idle session's control connection was {control:?}: replacing it");
            if pipe.take_held().is_some() {
                stats::add(&stats::PREOPENED_STALE, 1);
            }
            return false;
        }
        let data = match pipe.take_held() {
            Some(Ahead::Ready(data)) => data,
            Some(Ahead::Connecting(result)) => match result.try_recv() {
                Ok(Ok(data)) => data,
                // Still connecting: looked at when it is used.
                Err(std::sync::mpsc::TryRecvError::Empty) => {
                    pipe.hold(Ahead::Connecting(result));
                    return true;
                }
                Ok(Err(_)) | Err(std::sync::mpsc::TryRecvError::Disconnected) => return true,
            },
            None => return true,
        };
        if let Some(data) = usable(data) {
            pipe.hold(Ahead::Ready(data));
        }
        true
    }

    /// Checks that the session is alive and in step: by opening a data connection ahead
    /// (EPSV, one round trip, like a NOOP) where the session does that and holds none, else
    /// with NOOP.
    pub fn preopen_or_noop(&mut self) -> Result<(), RemoteError> {
        if !self.preopens() {
            return self.noop();
        }
        let timeout = self.connect_timeout;
        let mut pipe = self.pipe_lock();
        if pipe.holds() || pipe.is_broken() {
            drop(pipe);
            return self.noop();
        }
        let reply = pipe.batch(&["EPSV".to_string()]);
        let reply = match reply {
            Ok(mut r) => r.remove(0),
            Err(e) => {
                pipe.set_broken();
                return Err(e);
            }
        };
        connect_ahead(&mut pipe, &reply, timeout);
        Ok(())
    }

    /// After an upload to `path` completed (its 226 read): the stored file's time (MDTM) and
    /// a data connection opened ahead (EPSV), asked together in one round trip where the
    /// session pipelines. `Ok(None)`: the time was not asked (the caller asks MDTM itself if
    /// it wants it). An error means the session is out of step; the upload itself stands.
    pub fn after_store(&mut self, path: &RemotePath) -> Result<Option<SystemTime>, RemoteError> {
        if !self.pipelines() {
            return Ok(None);
        }
        let mut lines = Vec::new();
        let mdtm = match self.features.mdtm {
            true => Some(format!("MDTM {}", self.wire(path)?))
                .filter(|l| line_len(l) <= self.routes.budget()),
            false => None,
        };
        lines.extend(mdtm.iter().cloned());
        let ahead = self.preopens() && !self.pipe_lock().holds();
        if ahead {
            lines.push("EPSV".to_string());
        }
        if lines.is_empty() {
            return Ok(None);
        }
        let timeout = self.connect_timeout;
        let mut pipe = self.pipe_lock();
        let replies = match pipe.batch(&lines) {
            Ok(r) => r,
            Err(e) => {
                pipe.set_broken();
                return Err(e);
            }
        };
        if ahead {
            connect_ahead(&mut pipe, &replies[replies.len() - 1], timeout);
        }
        Ok(mdtm.and_then(|_| match replies[0].code {
            213 => parse_mdtm(replies[0].last_line()),
            _ => None,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::TcpListener;

    fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let ours = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (theirs, _) = listener.accept().unwrap();
        (ours, theirs)
    }

    /// Polls `look` until it says `want` (a peer's bytes or FIN take a moment on loopback).
    fn becomes(sock: &TcpStream, want: Quiet) -> bool {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while std::time::Instant::now() < deadline {
            if look(sock) == want {
                return true;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        false
    }

    #[test]
    fn a_connection_is_seen_silent_spoken_to_or_closed_without_waiting() {
        let (ours, mut theirs) = pair();
        assert_eq!(look(&ours), Quiet::Silent);
        theirs.write_all(b"421 Timeout.\r\n").unwrap();
        assert!(becomes(&ours, Quiet::Spoke));
        // Looking does not consume: the reply is still there.
        assert_eq!(look(&ours), Quiet::Spoke);

        let (ours, theirs) = pair();
        drop(theirs);
        assert!(becomes(&ours, Quiet::Closed));

        // A reset (the server's second EPSV resets the first connection) reads as closed.
        let (ours, theirs) = pair();
        let linger = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        // SAFETY: a valid socket and a linger struct of the size given.
        let r = unsafe {
            libc::setsockopt(
                theirs.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                (&linger as *const libc::linger).cast(),
                std::mem::size_of::<libc::linger>() as libc::socklen_t,
            )
        };
        assert_eq!(r, 0);
        drop(theirs);
        assert!(becomes(&ours, Quiet::Closed));
    }
}
