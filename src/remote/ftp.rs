//! suppaftp with its TLS type erased: one [`Client`] trait over plain and rustls control
//! connections, and [`Transfer`] over their data streams.
//!
//! suppaftp's client is generic over the TLS stream (`FtpStream` and
//! `ImplFtpStream<FtpsStream>` are different types), and so are its transfer streams.
//! Everything above this file works with `Box<dyn Client>` and [`Transfer`], so plain FTP
//! and FTPS share one code path.
//! [`open`] establishes a control connection in the requested TLS mode, with deadlines on
//! every socket, and never continues in plain text when TLS was asked for.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::time::Duration;

use chrono::NaiveDateTime;
use suppaftp::{
    ActivePeerCheck, Encoding, FtpError, FtpResult, ImplFtpStream, Mode, Status, TlsStream,
    TransferStream,
};

use super::session::{DataMode, SessionConfig};
use super::tls::{explain, FtpsStream, TlsMode, TlsSocket};
use super::{RemoteError, RemoteErrorKind};

/// The control-connection commands ftpfs uses, whatever the TLS type.
pub trait Client: Send {
    fn login(&mut self, user: &str, password: &str) -> FtpResult<()>;
    fn binary(&mut self) -> FtpResult<()>;
    fn feat(&mut self) -> FtpResult<std::collections::HashMap<String, Option<String>>>;
    fn opts(&mut self, option: &str, value: &str) -> FtpResult<()>;
    fn cwd(&mut self, path: &str) -> FtpResult<()>;
    fn mkdir(&mut self, path: &str) -> FtpResult<()>;
    fn rmdir(&mut self, path: &str) -> FtpResult<()>;
    fn rm(&mut self, path: &str) -> FtpResult<()>;
    fn rename(&mut self, from: &str, to: &str) -> FtpResult<()>;
    fn command(&mut self, line: &str, expect: &[Status]) -> FtpResult<()>;
    fn site(&mut self, line: &str) -> FtpResult<()>;
    fn size(&mut self, path: &str) -> FtpResult<usize>;
    fn mdtm(&mut self, path: &str) -> FtpResult<NaiveDateTime>;
    fn noop(&mut self) -> FtpResult<()>;
    fn quit(&mut self) -> FtpResult<()>;
    fn set_mode(&mut self, mode: Mode);
    /// A data command such as `MLSD` or `LIST -a`.
    fn data_command(&mut self, line: &str, expect: &[Status]) -> FtpResult<Box<dyn DataTransfer>>;
    /// RETR, preceded by REST when `offset` is not zero.
    fn retr(&mut self, path: &str, offset: usize) -> FtpResult<Box<dyn DataTransfer>>;
    fn stor(&mut self, path: &str) -> FtpResult<Box<dyn DataTransfer>>;
    /// A duplicate of the control socket, for pipelined commands (`pipeline.rs`); only
    /// meaningful on a plain (not TLS) control connection.
    fn control_socket(&self) -> io::Result<TcpStream>;
    /// The server's greeting.
    fn welcome(&self) -> Option<String>;
}

/// A suppaftp transfer stream with its TLS type erased.
pub trait DataTransfer: Read + Write + Send {
    fn finish_boxed(self: Box<Self>) -> Result<(), FtpError>;
    fn socket(&self) -> &TcpStream;
    /// TLS: takes in the session tickets the server has sent since the handshake, without
    /// waiting for more (see [`Transfer::finish`]).
    fn take_tickets(&mut self);
    /// TLS: the protocol version the handshake settled on (`None` for plain FTP, or before
    /// the handshake finished).
    fn tls_version(&mut self) -> Option<suppaftp::rustls::ProtocolVersion>;
}

impl<T: TlsStream + Send> DataTransfer for TransferStream<T>
where
    T::InnerStream: 'static,
{
    fn finish_boxed(self: Box<Self>) -> Result<(), FtpError> {
        (*self).finish()
    }

    fn socket(&self) -> &TcpStream {
        self.get_ref().get_ref()
    }

    fn take_tickets(&mut self) {
        let suppaftp::DataStream::Ssl(tls) = self.get_mut() else {
            return;
        };
        let inner: &mut dyn std::any::Any = tls.mut_ref();
        if let Some(tls) = inner.downcast_mut::<TlsSocket>() {
            super::tls::take_tickets(tls);
        }
    }

    fn tls_version(&mut self) -> Option<suppaftp::rustls::ProtocolVersion> {
        let suppaftp::DataStream::Ssl(tls) = self.get_mut() else {
            return None;
        };
        let inner: &mut dyn std::any::Any = tls.mut_ref();
        inner.downcast_mut::<TlsSocket>()?.conn.protocol_version()
    }
}

/// The control channel's encoding: [`ByteEncoding`], and the one place that sees every
/// command line sent. suppaftp's `perform` encodes each command exactly once, including the
/// ones it sends on its own (USER and PASS, EPSV/PASV/PORT/EPRT before a transfer, REST,
/// RNFR and RNTO, AUTH/PBSZ/PROT), so counting here makes the `ftp_commands` stat match what
/// the server receives, one `-o trace_ftp` line (target `ftpfs::ftp`) per command. The
/// password never reaches the trace: a `PASS` line is shown as `PASS ****`.
#[derive(Debug)]
struct CountingEncoding;

impl Encoding for CountingEncoding {
    fn decode(&self, bytes: &[u8]) -> String {
        ByteEncoding.decode(bytes)
    }

    fn encode(&self, text: &str) -> io::Result<Vec<u8>> {
        let line = ByteEncoding.encode(text)?;
        note_command(&line);
        Ok(line)
    }
}

/// Counts one command line sent (the `ftp_commands` stat) and traces it (`-o trace_ftp`).
pub(crate) fn note_command(line: &[u8]) {
    crate::stats::add(&crate::stats::COMMANDS, 1);
    log::debug!(target: "ftpfs::ftp", "> {}", traced(line));
}

/// A command line as `-o trace_ftp` shows it: without its CRLF, lossily as UTF-8, and with
/// the argument of `PASS` masked.
fn traced(line: &[u8]) -> String {
    let line = line.strip_suffix(b"\r\n").unwrap_or(line);
    if line.len() >= 4
        && line[..4].eq_ignore_ascii_case(b"PASS")
        && line.get(4).is_none_or(|&b| b == b' ')
    {
        return "PASS ****".to_string();
    }
    String::from_utf8_lossy(line).into_owned()
}

fn boxed<T: TlsStream + Send + 'static>(s: TransferStream<T>) -> Box<dyn DataTransfer> {
    Box::new(s)
}

impl<T: TlsStream + Send + 'static> Client for ImplFtpStream<T> {
    fn login(&mut self, user: &str, password: &str) -> FtpResult<()> {
        ImplFtpStream::login(self, user, password)
    }
    fn binary(&mut self) -> FtpResult<()> {
        self.transfer_type(suppaftp::types::FileType::Binary)
    }
    fn feat(&mut self) -> FtpResult<std::collections::HashMap<String, Option<String>>> {
        // suppaftp's own feat() reads on after a one-line "211 no-features" reply (which RFC
        // 2389 allows), until the reply deadline. Expecting a code FEAT never gets makes it
        // read the reply like any other, multi-line or not; the 211 comes back as the error.
        match self.custom_command("FEAT", &[Status::CommandOk]) {
            Err(FtpError::UnexpectedResponse(reply)) if reply.status == Status::System => {
                Ok(parse_feat(&reply.body))
            }
            Err(e) => Err(e),
            Ok(reply) => Err(FtpError::UnexpectedResponse(reply)),
        }
    }
    fn opts(&mut self, option: &str, value: &str) -> FtpResult<()> {
        ImplFtpStream::opts(self, option, Some(value))
    }
    fn cwd(&mut self, path: &str) -> FtpResult<()> {
        ImplFtpStream::cwd(self, path)
    }
    fn mkdir(&mut self, path: &str) -> FtpResult<()> {
        ImplFtpStream::mkdir(self, path)
    }
    fn rmdir(&mut self, path: &str) -> FtpResult<()> {
        ImplFtpStream::rmdir(self, path)
    }
    fn rm(&mut self, path: &str) -> FtpResult<()> {
        ImplFtpStream::rm(self, path)
    }
    fn rename(&mut self, from: &str, to: &str) -> FtpResult<()> {
        ImplFtpStream::rename(self, from, to)
    }
    fn command(&mut self, line: &str, expect: &[Status]) -> FtpResult<()> {
        self.custom_command(line, expect).map(|_| ())
    }
    fn site(&mut self, line: &str) -> FtpResult<()> {
        ImplFtpStream::site(self, line).map(|_| ())
    }
    fn size(&mut self, path: &str) -> FtpResult<usize> {
        ImplFtpStream::size(self, path)
    }
    fn mdtm(&mut self, path: &str) -> FtpResult<NaiveDateTime> {
        ImplFtpStream::mdtm(self, path)
    }
    fn noop(&mut self) -> FtpResult<()> {
        ImplFtpStream::noop(self)
    }
    fn quit(&mut self) -> FtpResult<()> {
        ImplFtpStream::quit(self)
    }
    fn set_mode(&mut self, mode: Mode) {
        ImplFtpStream::set_mode(self, mode)
    }
    fn data_command(&mut self, line: &str, expect: &[Status]) -> FtpResult<Box<dyn DataTransfer>> {
        self.custom_data_command(line, expect)
            .map(|(_, s)| boxed(s))
    }
    fn retr(&mut self, path: &str, offset: usize) -> FtpResult<Box<dyn DataTransfer>> {
        if offset > 0 {
            self.resume_transfer(offset)?;
        }
        self.retr_as_stream(path).map(boxed)
    }
    fn stor(&mut self, path: &str) -> FtpResult<Box<dyn DataTransfer>> {
        self.put_with_stream(path).map(boxed)
    }
    fn control_socket(&self) -> io::Result<TcpStream> {
        self.get_ref().try_clone()
    }
    fn welcome(&self) -> Option<String> {
        self.get_welcome_msg().map(str::to_string)
    }
}

/// An open data transfer: a RETR (read it) or a STOR (write it). Dropping it closes the data
/// connection and reads the completion reply, so the session can be reused.
pub struct Transfer {
    stream: Box<dyn DataTransfer>,
    /// Runs over TLS 1.3 (a 425 at the end then means the server wanted session reuse).
    tls13: bool,
}

impl Transfer {
    /// Wraps a data stream, giving its socket the data deadline (an accepted active-mode
    /// socket has none yet).
    pub fn new(
        stream: Box<dyn DataTransfer>,
        data_timeout: Duration,
        tls13: bool,
    ) -> Result<Transfer, RemoteError> {
        let sock = stream.socket();
        let io_err = |e: io::Error| RemoteError::from_io(&e);
        sock.set_read_timeout(Some(data_timeout)).map_err(io_err)?;
        sock.set_write_timeout(Some(data_timeout)).map_err(io_err)?;
        Ok(Transfer { stream, tls13 })
    }

    /// Ends the transfer after the last byte and checks the server's completion reply.
    pub fn finish(self) -> Result<(), RemoteError> {
        let tls13 = self.tls13;
        let mut stream = self.stream;
        if tls13 {
            // A TLS 1.3 resumption uses a ticket up, and servers that require data connections
            // to resume (vsftpd, proftpd) only send new ones on the connections they resume.
            // An upload never reads, so take them in now, or the next data connection would
            // find none left.
            stream.take_tickets();
        }
        let version = stream.tls_version();
        stream.finish_boxed().map_err(|e| {
            let mut err = RemoteError::from_ftp(e);
            if tls13 && err.code == Some(425) {
                err.kind = super::RemoteErrorKind::TlsReuse;
            }
            err
        })?;
        use suppaftp::rustls::ProtocolVersion;
        match version {
            Some(ProtocolVersion::TLSv1_3) => crate::stats::add(&crate::stats::TLS13_TRANSFERS, 1),
            Some(ProtocolVersion::TLSv1_2) => crate::stats::add(&crate::stats::TLS12_TRANSFERS, 1),
            _ => {}
        }
        Ok(())
    }

    pub fn is_tls13(&self) -> bool {
        self.tls13
    }
}

impl Read for Transfer {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.stream.read(buf)
    }
}

impl Write for Transfer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.stream.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}

/// The features a FEAT reply lists (RFC 2389): one per line between `211-...` and `211 ...`,
/// each line starting with a space, `NAME[ params]`. A one-line `211 ...` lists none. Lines
/// that do not fit are skipped (logged), never an error.
fn parse_feat(body: &[u8]) -> std::collections::HashMap<String, Option<String>> {
    let text = String::from_utf8_lossy(body);
    let mut lines = text.lines();
    lines.next(); // the opening 211 line
    let mut features = std::collections::HashMap::new();
    for line in lines {
        let Some(feature) = line.strip_prefix(' ') else {
            if !line.starts_with("211") {
                log::debug!("FEAT: skipped a line that is not a feature: {line:?}");
            }
            continue;
        };
        let mut words = feature.trim().splitn(2, ' ');
        if let Some(name) = words.next().filter(|n| !n.is_empty()) {
            let params = words.next().map(str::trim).filter(|p| !p.is_empty());
            features.insert(name.to_string(), params.map(str::to_string));
        }
    }
    features
}

/// Byte-transparent encoding: each byte is the char of the same value. Paths are converted
/// with `RemotePath::wire`, so every byte of a name reaches the server unchanged.
#[derive(Debug)]
pub struct ByteEncoding;

impl Encoding for ByteEncoding {
    fn decode(&self, bytes: &[u8]) -> String {
        bytes.iter().map(|&b| char::from(b)).collect()
    }

    fn encode(&self, text: &str) -> io::Result<Vec<u8>> {
        text.chars()
            .map(|c| {
                u8::try_from(u32::from(c)).map_err(|_| {
                    io::Error::new(io::ErrorKind::InvalidInput, "character outside one byte")
                })
            })
            .collect()
    }
}

/// Resolves `host` and connects to the first address that answers within `timeout`.
fn connect_tcp(host: &str, port: u16, timeout: Duration) -> Result<TcpStream, RemoteError> {
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| {
            RemoteError::new(
                RemoteErrorKind::Connection,
                format!("cannot resolve {host}: {e}"),
            )
        })?
        .collect();
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(s) => return Ok(s),
            Err(e) => last = Some(e),
        }
    }
    let err = last.unwrap_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address"));
    let mut remote = RemoteError::from_io(&err);
    let why = match err.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => "timed out".to_string(),
        _ => err.to_string(),
    };
    remote.message = format!("cannot connect to {}: {why}", host_port(host, port));
    Err(remote)
}

fn tls_error(e: FtpError) -> RemoteError {
    match e {
        FtpError::SecureError(msg) => RemoteError::new(RemoteErrorKind::Tls, explain(&msg)),
        FtpError::ConnectionError(io) if io.kind() == io::ErrorKind::InvalidData => {
            RemoteError::new(RemoteErrorKind::Tls, explain(&io.to_string()))
        }
        e => RemoteError::from_ftp(e),
    }
}

/// Applies the settings every session needs (data-socket deadlines, mode, encoding) to a
/// freshly connected client.
fn configure<T: TlsStream + Send + 'static>(
    ftp: ImplFtpStream<T>,
    cfg: &SessionConfig,
) -> ImplFtpStream<T> {
    let connect_timeout = cfg.connect_timeout;
    let data_timeout = cfg.data_timeout;
    let mut ftp = ftp.passive_stream_builder(move |addr: SocketAddr| {
        let s = TcpStream::connect_timeout(&addr, connect_timeout)
            .map_err(FtpError::ConnectionError)?;
        s.set_read_timeout(Some(data_timeout))
            .map_err(FtpError::ConnectionError)?;
        s.set_write_timeout(Some(data_timeout))
            .map_err(FtpError::ConnectionError)?;
        Ok(s)
    });
    if cfg.data_mode == DataMode::Active {
        ftp = ftp.active_mode(cfg.connect_timeout);
    }
    // Active mode: a connection to our PORT listener from anyone but the control connection's
    // peer is closed unread (suppaftp's default, stated here so it cannot change under us).
    ftp.set_active_peer_check(ActivePeerCheck::ControlPeer);
    ftp.set_encoding(CountingEncoding);
    // PASV: connect to the control connection's peer, not the address in the reply, unless
    // the user asked for it (`-o use_pasv_address`). EPSV replies carry only a port.
    ftp.set_passive_nat_workaround(!cfg.use_pasv_address);
    ftp
}

/// Opens a control connection to the server in the configured TLS mode (not logged in yet).
/// `tls12_only` caps TLS at 1.2.
pub fn open(cfg: &SessionConfig, tls12_only: bool) -> Result<Box<dyn Client>, RemoteError> {
    let tcp = connect_tcp(&cfg.host, cfg.port, cfg.connect_timeout)?;
    let io_err = |e: io::Error| RemoteError::from_io(&e);
    tcp.set_read_timeout(Some(cfg.reply_timeout))
        .map_err(io_err)?;
    tcp.set_write_timeout(Some(cfg.reply_timeout))
        .map_err(io_err)?;
    tcp.set_nodelay(true).map_err(io_err)?;
    let Some(tls) = cfg.tls.as_ref().filter(|t| t.mode != TlsMode::None) else {
        let ftp = suppaftp::FtpStream::connect_with_stream(tcp).map_err(RemoteError::from_ftp)?;
        return Ok(Box::new(configure(ftp, cfg)));
    };
    let connector = tls.connector(tls12_only, cfg.reply_timeout);
    match tls.mode {
        TlsMode::Implicit => {
            // suppaftp's implicit constructor takes an address and connects to it without a
            // deadline. Give it a loopback listener of ours instead, where its connect
            // completes at once, and the connector secures the connection made above (with
            // the connect deadline) in place of that one.
            let rendezvous = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
                .or_else(|_| TcpListener::bind((Ipv6Addr::LOCALHOST, 0)))
                .map_err(io_err)?;
            let local = rendezvous.local_addr().map_err(io_err)?;
            let connector = connector.with_control(tcp);
            let ftp =
                ImplFtpStream::<FtpsStream>::connect_secure_implicit(local, connector, &tls.domain)
                    .map_err(tls_error)?;
            drop(rendezvous);
            let mut ftp = configure(ftp, cfg);
            // suppaftp sends these only after AUTH TLS; data connections must be protected too.
            for line in ["PBSZ 0", "PROT P"] {
                Client::command(&mut ftp, line, &[Status::CommandOk])
                    .map_err(RemoteError::from_ftp)?;
            }
            Ok(Box::new(ftp))
        }
        _ => {
            let plain = ImplFtpStream::<FtpsStream>::connect_with_stream(tcp)
                .map_err(RemoteError::from_ftp)?;
            let ftp = configure(plain, cfg).into_secure(connector, &tls.domain).map_err(|e| match e {
                FtpError::UnexpectedResponse(r) => RemoteError::new(
                    RemoteErrorKind::Tls,
                    format!(
                        "the server refused AUTH TLS ({} {}); not continuing in plain text (use ftp:// to connect unencrypted)",
                        r.status.code(),
                        String::from_utf8_lossy(&r.body).trim()
                    ),
                ),
                e => tls_error(e),
            })?;
            Ok(Box::new(ftp))
        }
    }
}

/// `host:port` as a URL writes it: an IPv6 literal in brackets (`[::1]:21`).
pub fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feat_replies_of_every_shape() {
        let listed = parse_feat(
            b"211-Features:\r\n MLST type*;size*;modify*;\r\n SIZE\r\n REST STREAM\r\n UTF8 \r\nnot a feature\r\n211 End\r\n",
        );
        assert_eq!(listed.len(), 4, "{listed:?}");
        assert_eq!(listed["MLST"].as_deref(), Some("type*;size*;modify*;"));
        assert_eq!(listed["REST"].as_deref(), Some("STREAM"));
        assert_eq!(listed["SIZE"], None);
        assert_eq!(listed["UTF8"], None);
        assert!(parse_feat(b"211 no-features\r\n").is_empty());
        assert!(parse_feat(b"").is_empty());
    }
    use crate::remote::tls::{TlsContext, TlsSettings, TlsVersions};
    use std::os::fd::AsRawFd;
    use std::sync::{mpsc, Arc};
    use std::time::Instant;

    /// Implicit FTPS connects to the server once, with the connect deadline, and then has the
    /// reply deadline for the handshake. The server here never accepts, and its accept queue
    /// (backlog 0) is full once ftpfs's connection is in it: a second connection attempt,
    /// which suppaftp's implicit constructor makes by itself and without a deadline, would
    /// wait for minutes while the kernel resends its SYN.
    #[test]
    fn implicit_tls_connects_once_within_its_deadlines() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        // SAFETY: listen(2) on a socket this test owns; a second call changes the backlog.
        assert_eq!(unsafe { libc::listen(listener.as_raw_fd(), 0) }, 0);
        let settings = TlsSettings {
            mode: TlsMode::Implicit,
            cafile: None,
            no_verify: true,
            versions: TlsVersions::Auto,
        };
        let cfg = SessionConfig {
            host: "127.0.0.1".into(),
            port: listener.local_addr().unwrap().port(),
            user: "anonymous".into(),
            password: String::new(),
            data_mode: DataMode::ExtendedPassive,
            use_pasv_address: false,
            connect_timeout: Duration::from_secs(2),
            reply_timeout: Duration::from_secs(1),
            data_timeout: Duration::from_secs(1),
            tls: Some(Arc::new(TlsContext::new(&settings, "127.0.0.1").unwrap())),
            codec: None,
            pipelining: Arc::new(crate::remote::pipeline::Pipelining::new(true)),
            stat_listing: Arc::new(crate::remote::pipeline::Capability::named("test", false)),
            preopen: true,
            routes: Arc::default(),
        };
        let started = Instant::now();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(open(&cfg, false).err().map(|e| e.message));
        });
        let outcome = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("implicit FTPS connect ignored its deadlines");
        assert!(
            outcome.is_some(),
            "connected to a server that never answers"
        );
        // connect (at once) + the handshake's reply deadline, with slack for a busy machine.
        assert!(
            started.elapsed() < Duration::from_secs(6),
            "took {:?}",
            started.elapsed()
        );
        drop(listener);
    }

    #[test]
    fn byte_encoding_round_trips_every_byte() {
        let all: Vec<u8> = (0u8..=255).collect();
        let text = ByteEncoding.decode(&all);
        assert_eq!(ByteEncoding.encode(&text).unwrap(), all);
        assert!(ByteEncoding.encode("实").is_err());
    }

    #[test]
    fn trace_masks_the_password_only() {
        assert_eq!(traced(b"PASS s3cret\r\n"), "PASS ****");
        assert_eq!(traced(b"pass s3cret\r\n"), "PASS ****");
        assert_eq!(traced(b"PASS\r\n"), "PASS ****");
        assert_eq!(traced(b"USER test\r\n"), "USER test");
        assert_eq!(traced(b"PASV\r\n"), "PASV");
        assert_eq!(traced("RETR /实验.doc\r\n".as_bytes()), "RETR /实验.doc");
    }
}
