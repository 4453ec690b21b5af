//! Pipelined commands: many command lines written before their replies arrive, on a plain
//! control connection.
//!
//! At internet distance every reply costs a round trip, so a directory's 5,000 MDTMs sent
//! one at a time cost 5,000 round trips; written ahead of their replies they cost a handful
//! (docs/wan-latency figures: vsftpd 3.3, proftpd 6.1, pure-ftpd 1.8 round trips at 40 ms).
//! suppaftp sends one command and waits for its reply, and keeps its reply reader private,
//! so this file speaks to the control socket directly, between suppaftp's own exchanges:
//!
//! - [`Pipe`] holds a duplicate of the control socket (same connection, same deadlines) and
//!   its own reader. It is used only while suppaftp is idle, i.e. after a complete reply,
//!   when suppaftp's reader holds no unread bytes; after each batch it checks that its own
//!   reader holds none either (anything left means the exchange lost step, and the caller
//!   drops the session). So the two readers never share a byte.
//! - Plain FTP only: over FTPS the control connection is TLS, which only suppaftp can speak.
//! - A batch is sent in windows of at most [`WINDOW_LINES`] lines and [`WINDOW_BYTES`] bytes
//!   awaiting replies, so neither side can block writing while the other is not reading.
//! - Lines are checked (no CR, LF or NUL), sent byte for byte as suppaftp's are (a 0xFF in a
//!   name goes as that byte: vsftpd and pure-ftpd do not undo RFC 959's doubling), counted in the
//!   `ftp_commands` stat and traced exactly as suppaftp's own lines are (`ftp.rs`).
//! - Whether a server keeps pipelined commands apart is learned once per mount
//!   ([`Pipelining`]): some (old Windows servers, some NAT routers) act on the first command
//!   of a packet and drop the rest. [`Pipe::probe`] writes two NOOPs at once; a second reply
//!   that does not come within [`PROBE_WAIT`] turns pipelining off for the mount.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use super::{RemoteError, RemoteErrorKind};

/// Most lines awaiting their replies. A reply to MDTM or SIZE is under 64 bytes, so a full
/// window of replies (64 KiB at most) always fits the socket's receive buffer: the server is
/// never stopped by replies we have not read yet, so it keeps reading our commands.
pub const WINDOW_LINES: usize = 1024;
/// Most command bytes awaiting their replies: well under any socket buffer, so a write of a
/// window never blocks for long even if the server reads nothing meanwhile.
pub const WINDOW_BYTES: usize = 32 * 1024;
/// Longest reply accepted (all lines of a multi-line reply together).
const MAX_REPLY: usize = 64 * 1024;
/// Longest directory listing accepted in one reply (`STAT dir`): as long as one over a data
/// connection may be.
pub const MAX_LISTING_REPLY: usize = 128 * 1024 * 1024;
/// How long the probe waits for the second of its two NOOP replies, at least: a server that
/// dropped it never sends it. Scaled up for slow links (see [`Pipe::probe`]).
pub const PROBE_WAIT: Duration = Duration::from_secs(1);

/// Whether a way of talking to the server is used, shared by every session of a mount:
/// pipelining ([`Pipelining`]), listings over the control connection (`STAT dir`). Unknown
/// until tried, then known to work or refused for the rest of the mount.
#[derive(Debug)]
pub struct Capability {
    state: AtomicU8,
    /// What it is, for the log line that turns it off.
    what: &'static str,
}

/// Whether commands are pipelined.
pub type Pipelining = Capability;

const UNKNOWN: u8 = 0;
const WORKS: u8 = 1;
const REFUSED: u8 = 2;
const OFF: u8 = 3;

impl Capability {
    /// Pipelining; `enabled`: the user did not turn it off (`-o no_pipelining`).
    pub fn new(enabled: bool) -> Capability {
        Capability::named("sending FTP commands one at a time", enabled)
    }

    /// `what` says what the mount does once it is refused.
    pub fn named(what: &'static str, enabled: bool) -> Capability {
        Capability {
            state: AtomicU8::new(if enabled { UNKNOWN } else { OFF }),
            what,
        }
    }

    /// Known to work.
    pub fn works(&self) -> bool {
        self.state.load(Ordering::Relaxed) == WORKS
    }

    /// Not tried yet (and not turned off).
    pub fn unknown(&self) -> bool {
        self.state.load(Ordering::Relaxed) == UNKNOWN
    }

    /// Worth trying: known to work, or not tried yet.
    pub fn usable(&self) -> bool {
        self.works() || self.unknown()
    }

    pub fn set_works(&self) {
        let _ = self
            .state
            .compare_exchange(UNKNOWN, WORKS, Ordering::Relaxed, Ordering::Relaxed);
    }

    /// The server does not do it (as we need it): not tried again on this mount.
    pub fn refuse(&self, why: &str) {
        if self.state.swap(REFUSED, Ordering::Relaxed) != REFUSED {
            log::info!("{}: {why}", self.what);
        }
    }
}

/// Greetings of servers known to mishandle several commands in one packet (the list lftp
/// ships for its `ftp:auto-sync-mode`).
pub fn greeting_refuses(greeting: &str) -> bool {
    ["icrosoft FTP Service", "MadGoat", "MikroTik"]
        .iter()
        .any(|s| greeting.contains(s))
}

/// One reply: its code and every line of it (CRLFs included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u32,
    pub text: Vec<u8>,
}

impl Reply {
    /// The text after the code on the last line, without its line end.
    pub fn last_line(&self) -> &[u8] {
        let text = self.text.strip_suffix(b"\n").unwrap_or(&self.text);
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        let start = text.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        text.get(start + 4..).unwrap_or_default()
    }

    /// This reply as a failure, classified like suppaftp's (see `reply.rs`).
    pub fn error(&self) -> RemoteError {
        let text = String::from_utf8_lossy(self.last_line()).trim().to_string();
        RemoteError::from_reply(self.code, text)
    }
}

/// How a reply is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A command's reply, at most 64 KiB.
    Short,
    /// A directory listing sent over the control connection (`STAT dir`), up to
    /// [`MAX_LISTING_REPLY`] bytes. A line ends the reply only if the line before it ended
    /// with CRLF: a file name holding a bare LF followed by `213 ` cannot end it early.
    Listing,
}

/// The control connection, spoken to directly. See the module doc for when it may be used.
pub struct Pipe {
    writer: TcpStream,
    reader: BufReader<TcpStream>,
    /// An exchange on it failed half way: the connection's state is unknown.
    broken: bool,
    /// A passive data connection opened ahead for the next transfer (`session/preopen.rs`).
    /// Kept here because a transfer under way, which holds only this pipe, opens it.
    held: Option<Ahead>,
}

/// A data connection opened ahead: connected, or still connecting in the background (the
/// TCP handshake costs a round trip that nobody need wait for).
pub enum Ahead {
    Ready(TcpStream),
    /// The connecting thread sends its result here.
    Connecting(std::sync::mpsc::Receiver<io::Result<TcpStream>>),
}

impl Pipe {
    /// Wraps a duplicate of the control socket.
    pub fn new(socket: TcpStream) -> io::Result<Pipe> {
        let reader = BufReader::with_capacity(64 * 1024, socket.try_clone()?);
        Ok(Pipe {
            writer: socket,
            reader,
            broken: false,
            held: None,
        })
    }

    /// Keeps `data`, a data connection opened ahead, for the next transfer.
    pub fn hold(&mut self, data: Ahead) {
        self.held = Some(data);
    }

    /// The data connection opened ahead, if any (taken: the caller uses or drops it).
    pub fn take_held(&mut self) -> Option<Ahead> {
        self.held.take()
    }

    /// Whether a data connection opened ahead is held.
    pub fn holds(&self) -> bool {
        self.held.is_some()
    }

    /// The control socket, to look at without reading (`session/preopen.rs`), and whether
    /// bytes the server sent are already buffered here unread.
    pub fn control(&self) -> (&TcpStream, bool) {
        (&self.writer, !self.reader.buffer().is_empty())
    }

    /// Writes every line at once, without waiting for any reply (the caller reads one reply
    /// per line with [`Pipe::reply`]). Keep such a batch small: it is not windowed.
    pub fn send(&mut self, lines: &[String]) -> Result<(), RemoteError> {
        let mut out = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            encode(line, &mut out)?;
            if i > 0 {
                crate::stats::add(&crate::stats::PIPELINED, 1);
            }
        }
        self.writer.write_all(&out).map_err(|e| {
            self.broken = true;
            RemoteError::from_io(&e)
        })
    }

    /// Reads the next reply. A failure leaves the connection [`Pipe::is_broken`].
    pub fn reply(&mut self) -> Result<Reply, RemoteError> {
        let r = self.read_reply(Shape::Short);
        if r.is_err() {
            self.broken = true;
        }
        r
    }

    /// Marks the connection as out of step (a reply will never be read).
    pub fn set_broken(&mut self) {
        self.broken = true;
    }

    /// Whether an exchange failed half way, so the session must be dropped.
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    /// The address of the server's end of the control connection.
    pub fn peer(&self) -> io::Result<std::net::SocketAddr> {
        self.writer.peer_addr()
    }

    /// Sends every line, pipelined in windows, and returns one reply per line, in order.
    /// An error means the connection can no longer be trusted (the caller drops it).
    pub fn batch(&mut self, lines: &[String]) -> Result<Vec<Reply>, RemoteError> {
        self.batch_shaped(lines, Shape::Short)
    }

    /// [`Pipe::batch`], with replies of the given shape.
    pub fn batch_shaped(
        &mut self,
        lines: &[String],
        shape: Shape,
    ) -> Result<Vec<Reply>, RemoteError> {
        let mut replies = Vec::with_capacity(lines.len());
        let mut sent = 0;
        // Bytes of each line still awaiting its reply, oldest first.
        let mut waiting = std::collections::VecDeque::new();
        let mut waiting_bytes = 0;
        while replies.len() < lines.len() {
            // Refill once half a window is free, so one write carries many lines.
            if waiting.len() <= WINDOW_LINES / 2 && waiting_bytes <= WINDOW_BYTES / 2 {
                let mut out = Vec::new();
                while sent < lines.len()
                    && waiting.len() < WINDOW_LINES
                    && (waiting.is_empty() || waiting_bytes + lines[sent].len() <= WINDOW_BYTES)
                {
                    let before = out.len();
                    encode(&lines[sent], &mut out)?;
                    if !waiting.is_empty() {
                        crate::stats::add(&crate::stats::PIPELINED, 1);
                    }
                    let n = out.len() - before;
                    waiting.push_back(n);
                    waiting_bytes += n;
                    sent += 1;
                }
                if !out.is_empty() {
                    self.writer
                        .write_all(&out)
                        .map_err(|e| RemoteError::from_io(&e))?;
                }
            }
            replies.push(self.read_reply(shape)?);
            waiting_bytes -= waiting.pop_front().unwrap_or(0);
        }
        self.check_drained()?;
        Ok(replies)
    }

    /// Writes two NOOPs in one packet and reads both replies, waiting for the second at most
    /// [`PROBE_WAIT`] or four times as long as the first took. `Ok(false)`: the second never
    /// came (the server dropped it), so this connection is out of step and must be closed.
    pub fn probe(&mut self, reply_timeout: Duration) -> Result<bool, RemoteError> {
        let started = Instant::now();
        let mut out = Vec::new();
        encode("NOOP", &mut out)?;
        encode("NOOP", &mut out)?;
        self.writer
            .write_all(&out)
            .map_err(|e| RemoteError::from_io(&e))?;
        let first = self.read_reply(Shape::Short)?;
        if first.code / 100 != 2 {
            return Err(first.error());
        }
        let wait = (started.elapsed() * 4).max(PROBE_WAIT).min(reply_timeout);
        // The duplicate shares the socket, and so its receive deadline.
        let io_err = |e: io::Error| RemoteError::from_io(&e);
        self.writer.set_read_timeout(Some(wait)).map_err(io_err)?;
        let second = self.read_reply(Shape::Short);
        self.writer
            .set_read_timeout(Some(reply_timeout))
            .map_err(io_err)?;
        match second {
            Ok(r) if r.code / 100 == 2 => {
                self.check_drained()?;
                Ok(true)
            }
            Ok(r) => Err(r.error()),
            Err(e) if e.kind == RemoteErrorKind::Timeout => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// After a batch no byte may be left unread: suppaftp reads the next reply, and a byte
    /// here would belong to it.
    pub fn check_drained(&self) -> Result<(), RemoteError> {
        if self.reader.buffer().is_empty() {
            Ok(())
        } else {
            Err(RemoteError::new(
                RemoteErrorKind::Protocol,
                "the server sent more replies than commands",
            ))
        }
    }

    /// Reads one reply: a line `ddd text`, or `ddd-` lines up to one starting `ddd `.
    fn read_reply(&mut self, shape: Shape) -> Result<Reply, RemoteError> {
        let max = match shape {
            Shape::Short => MAX_REPLY,
            Shape::Listing => MAX_LISTING_REPLY,
        };
        let mut text = Vec::new();
        let mut line = Vec::new();
        // Whether the line before ended with CRLF (or there was none).
        let mut after_crlf = true;
        let code = loop {
            line.clear();
            let room = (max + 1 - text.len().min(max)) as u64;
            let n = (&mut self.reader)
                .take(room)
                .read_until(b'\n', &mut line)
                .map_err(|e| RemoteError::from_io(&e))?;
            if n == 0 {
                return Err(RemoteError::new(
                    RemoteErrorKind::Connection,
                    "connection closed before the response",
                ));
            }
            text.extend_from_slice(&line);
            if text.len() > max {
                return Err(RemoteError::new(
                    RemoteErrorKind::Protocol,
                    "reply too long",
                ));
            }
            let may_end = after_crlf || shape == Shape::Short;
            after_crlf = line.ends_with(b"\r\n");
            if let Some(code) = terminal_code(&line).filter(|_| may_end) {
                // The first line of a multi-line reply names the code the last one repeats;
                // a reply that is one line ends here.
                break code;
            }
            // The first line needs a code; like suppaftp, a code followed by anything but a
            // space opens a multi-line reply.
            if text.len() == line.len()
                && !line
                    .get(..3)
                    .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
            {
                return Err(RemoteError::new(
                    RemoteErrorKind::Protocol,
                    "malformed reply from server",
                ));
            }
        };
        Ok(Reply { code, text })
    }
}

/// The code of a line `ddd-...` or `ddd ...`.
fn reply_code(line: &[u8]) -> Option<u32> {
    let digits = line.get(..3)?;
    if !digits.iter().all(u8::is_ascii_digit) || !matches!(line.get(3), Some(b' ' | b'-')) {
        return None;
    }
    Some(digits.iter().fold(0, |n, d| n * 10 + u32::from(d - b'0')))
}

/// The code of a line that ends a reply (`ddd text`, or just `ddd`).
fn terminal_code(line: &[u8]) -> Option<u32> {
    let trimmed = line.strip_suffix(b"\n").unwrap_or(line);
    let trimmed = trimmed.strip_suffix(b"\r").unwrap_or(trimmed);
    match line.get(3) {
        Some(b' ') => reply_code(line),
        _ if trimmed.len() == 3 => reply_code(&[trimmed, b" "].concat()),
        _ => None,
    }
}

/// Appends `line` as sent on the wire: each char is one byte (the byte-transparent encoding
/// paths are built with), CRLF added; Telnet IAC (0xFF) is not doubled, as suppaftp does not
/// double it either. Counted and traced like every
/// line suppaftp sends.
fn encode(line: &str, out: &mut Vec<u8>) -> Result<(), RemoteError> {
    let mut bytes = Vec::with_capacity(line.len() + 2);
    for c in line.chars() {
        let b = u8::try_from(u32::from(c)).map_err(|_| {
            RemoteError::new(RemoteErrorKind::BadName, "character outside one byte")
        })?;
        if matches!(b, b'\r' | b'\n' | 0) {
            return Err(RemoteError::new(
                RemoteErrorKind::BadName,
                "CR, LF or NUL in a command",
            ));
        }
        bytes.push(b);
    }
    bytes.extend_from_slice(b"\r\n");
    super::ftp::note_command(&bytes);
    out.extend_from_slice(&bytes);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// A server that answers each line it reads with `answer(line)`, several per read.
    fn server(answer: fn(&[u8]) -> Vec<u8>) -> (TcpStream, std::thread::JoinHandle<usize>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let handle = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            let mut lines = 0;
            loop {
                let n = s.read(&mut chunk).unwrap_or(0);
                if n == 0 {
                    return lines;
                }
                buf.extend_from_slice(&chunk[..n]);
                while let Some(i) = buf.iter().position(|&b| b == b'\n') {
                    let line: Vec<u8> = buf.drain(..=i).collect();
                    lines += 1;
                    s.write_all(&answer(&line)).unwrap();
                }
            }
        });
        let client = TcpStream::connect(addr).unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        (client, handle)
    }

    fn mdtm_answer(line: &[u8]) -> Vec<u8> {
        let name = &line[5..line.len() - 2];
        if name.ends_with(b"7") {
            b"550 No such file.\r\n".to_vec()
        } else if name == b"multi" {
            b"213-first\r\n213-second\r\n213 20260102030405\r\n".to_vec()
        } else {
            format!("213 2026010203{:04}\r\n", name.len()).into_bytes()
        }
    }

    /// vsftpd's STAT of a directory holding a file whose name has a bare LF then `213 `.
    fn stat_answer(_line: &[u8]) -> Vec<u8> {
        b"213-Status follows:\r\n-rw-r--r--    1 0  0  0 Dec 07 20:34 nl\n213 End of status\r\n\
          drwxr-xr-x    2 0  0  4096 Dec 07 20:34 .\r\n213 End of status\r\n"
            .to_vec()
    }

    #[test]
    fn a_listing_reply_is_not_ended_by_a_name() {
        let (sock, server) = server(stat_answer);
        let mut pipe = Pipe::new(sock).unwrap();
        let lines = vec!["STAT /a".to_string(), "STAT /b".to_string()];
        let replies = pipe.batch_shaped(&lines, Shape::Listing).unwrap();
        assert_eq!(replies.len(), 2);
        for r in &replies {
            assert_eq!(r.code, 213);
            assert_eq!(r.text, stat_answer(b""));
        }
        // Read as a short reply, the name would end it (what Shape::Listing prevents).
        let short = pipe.batch(&lines[..1]);
        assert!(
            short.map_or(true, |r| r[0].text != stat_answer(b"")),
            "a short reply ends at the name"
        );
        drop(pipe);
        server.join().unwrap();
    }

    #[test]
    fn a_batch_larger_than_a_window_gets_every_reply_in_order() {
        let (sock, server) = server(mdtm_answer);
        let mut pipe = Pipe::new(sock).unwrap();
        let names: Vec<String> = (0..5000)
            .map(|i| format!("f{}", "x".repeat(i % 40)))
            .collect();
        let mut lines: Vec<String> = names.iter().map(|n| format!("MDTM {n}")).collect();
        lines[3] = "MDTM f7".into();
        lines[10] = "MDTM multi".into();
        let replies = pipe.batch(&lines).unwrap();
        assert_eq!(replies.len(), lines.len());
        for (i, (line, reply)) in lines.iter().zip(&replies).enumerate() {
            let expected = mdtm_answer(format!("{line}\r\n").as_bytes());
            assert_eq!(reply.text, expected, "reply {i}");
        }
        assert_eq!(replies[3].code, 550);
        assert_eq!(replies[3].error().kind, RemoteErrorKind::NotFound);
        assert_eq!(replies[10].code, 213);
        assert_eq!(replies[10].last_line(), b"20260102030405");
        drop(pipe);
        assert_eq!(server.join().unwrap(), 5000);
    }

    #[test]
    fn lines_that_could_smuggle_a_command_are_refused_before_anything_is_sent() {
        let mut out = Vec::new();
        for bad in ["MDTM a\r\nDELE b", "MDTM a\nb", "MDTM a\0"] {
            assert_eq!(
                encode(bad, &mut out).unwrap_err().kind,
                RemoteErrorKind::BadName
            );
        }
        assert!(out.is_empty());
        encode("MDTM \u{ff}x", &mut out).unwrap();
        assert_eq!(out, b"MDTM \xffx\r\n");
    }

    #[test]
    fn reply_lines() {
        assert_eq!(reply_code(b"213 x\r\n"), Some(213));
        assert_eq!(reply_code(b"213-x\r\n"), Some(213));
        assert_eq!(reply_code(b"21x x\r\n"), None);
        assert_eq!(terminal_code(b"213-x\r\n"), None);
        assert_eq!(terminal_code(b"226\r\n"), Some(226));
        assert_eq!(terminal_code(b" 213 x\r\n"), None);
    }

    #[test]
    fn an_extra_reply_is_noticed() {
        let (sock, _server) = server(|_| b"200 ok\r\n200 surprise\r\n".to_vec());
        let mut pipe = Pipe::new(sock).unwrap();
        // The surprise may still be in flight after the first reply; ask until it shows.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match pipe.batch(&["NOOP".into()]) {
                Err(e) => {
                    assert_eq!(e.kind, RemoteErrorKind::Protocol);
                    break;
                }
                Ok(_) => assert!(Instant::now() < deadline, "extra reply never noticed"),
            }
        }
    }

    #[test]
    fn the_probe_tells_a_server_that_drops_the_rest_of_a_packet() {
        // Answers the first line of every read and drops the rest.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut chunk = [0u8; 4096];
            while s.read(&mut chunk).unwrap_or(0) > 0 {
                let _ = s.write_all(b"200 NOOP ok\r\n");
            }
        });
        let sock = TcpStream::connect(addr).unwrap();
        let mut pipe = Pipe::new(sock).unwrap();
        let started = Instant::now();
        assert!(!pipe.probe(Duration::from_secs(30)).unwrap());
        assert!(started.elapsed() < Duration::from_secs(10));

        let (sock, _server) = server(|_| b"200 NOOP ok\r\n".to_vec());
        let mut pipe = Pipe::new(sock).unwrap();
        assert!(pipe.probe(Duration::from_secs(30)).unwrap());
    }

    #[test]
    fn pipelining_state() {
        let p = Pipelining::new(true);
        assert!(p.unknown() && !p.works());
        p.set_works();
        assert!(p.works());
        p.refuse("test");
        assert!(!p.works() && !p.unknown());
        p.set_works();
        assert!(!p.works(), "a refusal stays");
        assert!(!Pipelining::new(false).unknown());
        assert!(greeting_refuses("220 Microsoft FTP Service"));
        assert!(!greeting_refuses("220 (vsFTPd 3.0.3)"));
    }
}
