//! FTPS: the TLS modes, certificate verification and the rustls client configurations.
//!
//! ftpfs speaks TLS with rustls (through suppaftp's `rustls-ring` feature). A [`TlsContext`]
//! holds two client configurations that differ only in the highest protocol version: one
//! allowing TLS 1.3, one capped at TLS 1.2. Servers that require data connections to resume
//! the control connection's TLS session (vsftpd's default `require_ssl_reuse=YES`, proftpd
//! mod_tls's default) reject a TLS 1.3 data connection that makes a full handshake, and a
//! TLS 1.3 resumption uses up a one-time ticket. vsftpd sends a new ticket on each data
//! connection, which an upload (that never reads) would lose: [`take_tickets`] collects it
//! before the connection closes, and `CountingStore` tells whether one is left. proftpd
//! sends none there, so the pool starts with TLS 1.3 and switches to 1.2 for the rest of the
//! mount when a data connection is refused that way (`--tls-version` pins either).
//!
//! Certificates are verified against the system roots (rustls-native-certs) plus `cafile`,
//! including the host name. `no_verify` turns verification off (with a loud warning at mount
//! time); nothing ever falls back to plaintext.
//!
//! rustls reads the socket about 4 KiB at a time; [`FtpsStream`] (ftpfs's own suppaftp TLS
//! stream) puts a [`BufferedSocket`] under it, so that a download costs one `recv` per
//! 256 KiB instead of one per 4 KiB (measured: 3.0 s of system time per GiB without it).

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use suppaftp::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use suppaftp::rustls::client::{
    ClientSessionMemoryCache, ClientSessionStore, Resumption, Tls12ClientSessionValue,
    Tls13ClientSessionValue,
};
use suppaftp::rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use suppaftp::rustls::pki_types::pem::PemObject;
use suppaftp::rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use suppaftp::rustls::{
    self, ClientConfig, DigitallySignedStruct, NamedGroup, RootCertStore, SignatureScheme,
};
use suppaftp::{FtpError, FtpResult, TlsConnector, TlsStream};

/// How the control connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain FTP: passwords and data cross the network in clear text.
    None,
    /// Explicit FTPS: connect in plain text, then AUTH TLS, PBSZ 0, PROT P.
    Explicit,
    /// Implicit FTPS: TLS from the first byte (port 990 by convention).
    Implicit,
}

/// Which TLS versions to offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsVersions {
    /// TLS 1.3 (or 1.2 if the server has no 1.3), switching to 1.2 for servers that refuse
    /// TLS 1.3 data connections.
    Auto,
    /// TLS 1.2 only.
    Tls12,
    /// TLS 1.3 only, never falling back.
    Tls13,
}

/// The user's TLS settings, from the configuration.
#[derive(Debug, Clone)]
pub struct TlsSettings {
    pub mode: TlsMode,
    pub cafile: Option<PathBuf>,
    pub no_verify: bool,
    pub versions: TlsVersions,
}

/// Ready-made client configurations for one server.
pub struct TlsContext {
    pub mode: TlsMode,
    pub versions: TlsVersions,
    /// The name the certificate must carry (the URL's host).
    pub domain: String,
    modern: Arc<ClientConfig>,
    tls12: Arc<ClientConfig>,
}

impl std::fmt::Debug for TlsContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsContext")
            .field("mode", &self.mode)
            .field("versions", &self.versions)
            .field("domain", &self.domain)
            .finish_non_exhaustive()
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The system roots plus `cafile`. Fails if `cafile` cannot be read or holds no certificate,
/// or if there is no root at all.
fn roots(cafile: Option<&PathBuf>) -> Result<RootCertStore, String> {
    let mut store = RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for cert in native.certs {
        let _ = store.add(cert);
    }
    if let Some(path) = cafile {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
            .map_err(|e| format!("cafile {}: {e}", path.display()))?
            .collect::<Result<_, _>>()
            .map_err(|e| format!("cafile {}: {e}", path.display()))?;
        if certs.is_empty() {
            return Err(format!("cafile {}: no certificate found", path.display()));
        }
        for cert in certs {
            store
                .add(cert)
                .map_err(|e| format!("cafile {}: {e}", path.display()))?;
        }
    }
    if store.is_empty() {
        return Err(
            "no trusted root certificates (install ca-certificates, or use -o cafile=PATH)".into(),
        );
    }
    Ok(store)
}

fn build(
    settings: &TlsSettings,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Result<Arc<ClientConfig>, String> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(versions)
        .map_err(|e| format!("TLS set-up: {e}"))?;
    let mut config = if settings.no_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerify(provider())))
            .with_no_client_auth()
    } else {
        builder
            .with_root_certificates(roots(settings.cafile.as_ref())?)
            .with_no_client_auth()
    };
    config.resumption = Resumption::store(Arc::new(CountingStore::default()));
    Ok(Arc::new(config))
}

/// TLS 1.3 tickets the session store holds (this process mounts one server).
static TICKETS: AtomicUsize = AtomicUsize::new(0);

/// rustls keeps at most this many TLS 1.3 tickets per server, dropping the oldest.
const TICKETS_KEPT: usize = 8;

/// Whether a TLS 1.3 ticket is at hand for the next data connection.
pub fn ticket_held() -> bool {
    TICKETS.load(Ordering::Relaxed) > 0
}

/// Data connections in a row that waited in vain for a ticket. After [`MISSES_TO_GIVE_UP`],
/// this server is taken to send none there (proftpd): later uploads do not wait, and the
/// TLS 1.2 fallback takes over if the server requires session reuse.
static MISSES: AtomicUsize = AtomicUsize::new(0);
const MISSES_TO_GIVE_UP: usize = 3;

/// How long an upload that used the last ticket waits for the server's new one.
const TICKET_WAIT: Duration = Duration::from_millis(200);

/// Takes in the TLS 1.3 session tickets a data connection's server has sent since the
/// handshake (an upload never reads, so nothing else would). Servers that require data
/// connections to resume the control session (vsftpd) send one after each resumed handshake;
/// without it, the next data connection would find no ticket and be refused. Waits, bounded,
/// only when no ticket is left.
pub fn take_tickets(tls: &mut TlsSocket) {
    // An empty upload may not have finished its handshake yet.
    if io::Write::flush(tls).is_err() {
        return;
    }
    let drain = |tls: &mut TlsSocket| {
        while let Ok(n) = tls.conn.read_tls(&mut tls.sock) {
            if n == 0 || tls.conn.process_new_packets().is_err() {
                break;
            }
        }
    };
    let timeout = tls.sock.tcp().read_timeout().ok().flatten();
    if tls.sock.tcp().set_nonblocking(true).is_err() {
        return;
    }
    drain(tls);
    let _ = tls.sock.tcp().set_nonblocking(false);
    if !ticket_held() && MISSES.load(Ordering::Relaxed) < MISSES_TO_GIVE_UP {
        let _ = tls.sock.tcp().set_read_timeout(Some(TICKET_WAIT));
        match tls.conn.read_tls(&mut tls.sock) {
            Ok(n) if n > 0 => {
                MISSES.store(0, Ordering::Relaxed);
                let _ = tls.conn.process_new_packets();
                if tls.sock.tcp().set_nonblocking(true).is_ok() {
                    drain(tls);
                    let _ = tls.sock.tcp().set_nonblocking(false);
                }
            }
            _ => {
                log::debug!("no TLS session ticket came on a data connection");
                MISSES.fetch_add(1, Ordering::Relaxed);
            }
        }
        let _ = tls.sock.tcp().set_read_timeout(timeout);
    }
}

/// Bytes read from the socket per `recv` under a TLS stream.
const SOCKET_BUFFER: usize = 256 * 1024;

/// The socket under a TLS stream, read through a `SOCKET_BUFFER` buffer. A read returns
/// what the buffer holds, or what one `recv` brings; it never waits for more than that.
pub struct BufferedSocket(io::BufReader<TcpStream>);

impl BufferedSocket {
    pub fn tcp(&self) -> &TcpStream {
        self.0.get_ref()
    }
}

impl Read for BufferedSocket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for BufferedSocket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.get_mut().write(buf)
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        self.0.get_mut().write_vectored(bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.get_mut().flush()
    }
}

/// A TLS connection over a [`BufferedSocket`].
pub type TlsSocket = rustls::StreamOwned<rustls::ClientConnection, BufferedSocket>;

/// suppaftp's TLS stream for ftpfs: as suppaftp's own rustls stream (close_notify on drop
/// unless handed back as plain TCP), over a [`BufferedSocket`].
pub struct FtpsStream {
    stream: TlsSocket,
    shutdown: bool,
}

impl std::fmt::Debug for FtpsStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FtpsStream")
    }
}

impl TlsStream for FtpsStream {
    type InnerStream = TlsSocket;

    fn tcp_stream(mut self) -> FtpResult<TcpStream> {
        if !self.stream.sock.0.buffer().is_empty() {
            log::warn!("TLS bytes left unread when the connection went back to plain text");
        }
        let tcp = self
            .get_ref()
            .try_clone()
            .map_err(FtpError::ConnectionError)?;
        self.shutdown = false;
        Ok(tcp)
    }

    fn get_ref(&self) -> &TcpStream {
        self.stream.sock.tcp()
    }

    fn mut_ref(&mut self) -> &mut TlsSocket {
        &mut self.stream
    }
}

impl Drop for FtpsStream {
    fn drop(&mut self) {
        if self.shutdown {
            if let Err(e) = self.stream.flush() {
                log::debug!("flushing a TLS stream: {e}");
            }
            self.stream.conn.send_close_notify();
            if let Err(e) = self.stream.conn.write_tls(&mut self.stream.sock) {
                log::debug!("ending a TLS stream: {e}");
            }
        }
    }
}

/// rustls's in-memory session store, counting the TLS 1.3 tickets it holds: a data
/// connection that finds none cannot resume, which servers requiring session reuse refuse.
#[derive(Debug)]
struct CountingStore(ClientSessionMemoryCache);

impl Default for CountingStore {
    fn default() -> Self {
        CountingStore(ClientSessionMemoryCache::new(256))
    }
}

impl ClientSessionStore for CountingStore {
    fn set_kx_hint(&self, server_name: ServerName<'static>, group: NamedGroup) {
        self.0.set_kx_hint(server_name, group)
    }
    fn kx_hint(&self, server_name: &ServerName<'_>) -> Option<NamedGroup> {
        self.0.kx_hint(server_name)
    }
    fn set_tls12_session(&self, server_name: ServerName<'static>, value: Tls12ClientSessionValue) {
        self.0.set_tls12_session(server_name, value)
    }
    fn tls12_session(&self, server_name: &ServerName<'_>) -> Option<Tls12ClientSessionValue> {
        self.0.tls12_session(server_name)
    }
    fn remove_tls12_session(&self, server_name: &ServerName<'static>) {
        self.0.remove_tls12_session(server_name)
    }
    fn insert_tls13_ticket(
        &self,
        server_name: ServerName<'static>,
        value: Tls13ClientSessionValue,
    ) {
        let _ = TICKETS.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
            Some((n + 1).min(TICKETS_KEPT))
        });
        self.0.insert_tls13_ticket(server_name, value)
    }
    fn take_tls13_ticket(
        &self,
        server_name: &ServerName<'static>,
    ) -> Option<Tls13ClientSessionValue> {
        let ticket = self.0.take_tls13_ticket(server_name);
        if ticket.is_some() {
            let _ = TICKETS.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                Some(n.saturating_sub(1))
            });
        }
        ticket
    }
}

impl TlsContext {
    /// Builds the configurations for `host`. Errors are one line for the user.
    pub fn new(settings: &TlsSettings, host: &str) -> Result<TlsContext, String> {
        ServerName::try_from(host.to_string())
            .map_err(|e| format!("'{host}' cannot be checked against a certificate: {e}"))?;
        let modern = match settings.versions {
            TlsVersions::Tls13 => build(settings, &[&rustls::version::TLS13])?,
            _ => build(
                settings,
                &[&rustls::version::TLS13, &rustls::version::TLS12],
            )?,
        };
        let tls12 = build(settings, &[&rustls::version::TLS12])?;
        Ok(TlsContext {
            mode: settings.mode,
            versions: settings.versions,
            domain: host.to_string(),
            modern,
            tls12,
        })
    }

    /// A connector for a new session; `tls12_only` once the server refused TLS 1.3 data
    /// connections (or when the user asked for 1.2).
    pub fn connector(&self, tls12_only: bool, timeout: Duration) -> TimedConnector {
        let use12 = match self.versions {
            TlsVersions::Tls12 => true,
            TlsVersions::Tls13 => false,
            TlsVersions::Auto => tls12_only,
        };
        let config = if use12 { &self.tls12 } else { &self.modern };
        TimedConnector {
            config: Arc::clone(config),
            timeout,
            control: Mutex::new(None),
        }
    }
}

/// Wraps suppaftp's rustls connector so every socket gets read and write deadlines before
/// its handshake.
///
/// For implicit FTPS it also carries the control connection: suppaftp's implicit constructor
/// takes an address, not a stream, and connects without a deadline. [`with_control`] hands
/// the connector the socket ftpfs connected (with its deadline), and the first handshake runs
/// on that socket instead of the one suppaftp made (see `remote::ftp::open`).
///
/// [`with_control`]: TimedConnector::with_control
pub struct TimedConnector {
    config: Arc<ClientConfig>,
    timeout: Duration,
    /// The control connection to secure in place of the next stream suppaftp passes in.
    control: Mutex<Option<TcpStream>>,
}

impl TimedConnector {
    /// The next [`connect`](TlsConnector::connect) secures `control` and drops the stream it
    /// was given.
    pub fn with_control(self, control: TcpStream) -> TimedConnector {
        *self.control.lock().unwrap_or_else(|p| p.into_inner()) = Some(control);
        self
    }
}

impl std::fmt::Debug for TimedConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TimedConnector")
    }
}

impl TlsConnector for TimedConnector {
    type Stream = FtpsStream;

    fn connect(&self, domain: &str, stream: TcpStream) -> FtpResult<Self::Stream> {
        let control = self
            .control
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        let stream = control.unwrap_or(stream);
        let set = |s: &TcpStream| -> io::Result<()> {
            s.set_read_timeout(Some(self.timeout))?;
            s.set_write_timeout(Some(self.timeout))
        };
        set(&stream).map_err(FtpError::ConnectionError)?;
        let name = ServerName::try_from(domain.to_string())
            .map_err(|e| FtpError::SecureError(e.to_string()))?;
        let conn = rustls::ClientConnection::new(Arc::clone(&self.config), name)
            .map_err(|e| FtpError::SecureError(e.to_string()))?;
        let sock = BufferedSocket(io::BufReader::with_capacity(SOCKET_BUFFER, stream));
        Ok(FtpsStream {
            stream: rustls::StreamOwned::new(conn, sock),
            shutdown: true,
        })
    }
}

/// Turns rustls's certificate complaints into one line a user can act on. rustls names the
/// problem either by its variant (`UnknownIssuer`) or, for the variants with context, in words
/// (`certificate not valid for name "127.0.0.1"; ...`): both spellings are recognised.
pub fn explain(message: &str) -> String {
    const HINTS: &[(&[&str], &str)] = &[
        (
            &["UnknownIssuer"],
            "the server's certificate is signed by an unknown authority (add it with -o cafile=PATH)",
        ),
        (
            &["NotValidForName", "not valid for name"],
            "the server's certificate is not valid for this host name",
        ),
        (
            &["Expired", "certificate expired"],
            "the server's certificate has expired",
        ),
        (
            &["NotValidYet", "certificate not valid yet"],
            "the server's certificate is not valid yet",
        ),
        (
            &["BadSignature", "BadEncoding"],
            "the server's certificate is malformed",
        ),
    ];
    match HINTS
        .iter()
        .find(|(needles, _)| needles.iter().any(|n| message.contains(n)))
    {
        Some((_, hint)) => format!("TLS failed: {hint} ({message})"),
        None => format!("TLS failed: {message}"),
    }
}

/// Accepts any certificate (`-o no_verify`); signatures are still checked so the handshake
/// itself stays sound.
#[derive(Debug)]
struct NoVerify(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The buffer under TLS never waits for more than the peer has sent (a control reply is
    /// a few bytes, and the server waits for our next command), and it hands over what one
    /// `recv` brought in pieces as small as rustls asks for.
    #[test]
    fn buffered_socket_returns_what_has_arrived() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut sock = BufferedSocket(io::BufReader::with_capacity(SOCKET_BUFFER, client));
        server.write_all(b"220 ready\r\n").unwrap();
        let mut buf = [0u8; 4096];
        let started = std::time::Instant::now();
        assert_eq!(sock.read(&mut buf).unwrap(), 11);
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "waited for more"
        );
        assert_eq!(&buf[..11], b"220 ready\r\n");
        sock.write_all(b"NOOP\r\n").unwrap();
        let mut line = [0u8; 6];
        server.read_exact(&mut line).unwrap();
        assert_eq!(&line, b"NOOP\r\n");
        let data: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
        server.write_all(&data).unwrap();
        drop(server);
        let mut got = Vec::new();
        loop {
            let n = sock.read(&mut buf[..4096]).unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, data);
    }

    #[test]
    fn certificate_errors_are_explained() {
        let m = explain("invalid peer certificate: UnknownIssuer");
        assert!(
            m.contains("unknown authority") && m.contains("cafile"),
            "{m}"
        );
        assert!(explain("invalid peer certificate: NotValidForName").contains("host name"));
        // rustls's Display of the variants that carry context.
        let m = explain(
            "invalid peer certificate: certificate not valid for name \"127.0.0.1\"; \
             certificate is only valid for DnsName(\"localhost\")",
        );
        assert!(m.contains("not valid for this host name"), "{m}");
        let m = explain("invalid peer certificate: certificate expired: verification time 2");
        assert!(m.contains("has expired"), "{m}");
        let m = explain("invalid peer certificate: certificate not valid yet: verification");
        assert!(m.contains("not valid yet ("), "{m}");
        assert!(explain("handshake failure").starts_with("TLS failed: handshake failure"));
    }

    #[test]
    fn a_cafile_without_certificates_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("empty.pem");
        std::fs::write(&path, b"not a certificate\n").unwrap();
        let settings = TlsSettings {
            mode: TlsMode::Explicit,
            cafile: Some(path),
            no_verify: false,
            versions: TlsVersions::Auto,
        };
        let err = TlsContext::new(&settings, "localhost").unwrap_err();
        assert!(err.contains("no certificate"), "{err}");
    }
}
