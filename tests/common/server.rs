//! Real FTP servers for the integration tests: vsftpd, proftpd and pure-ftpd, each started on
//! 127.0.0.1 with an ephemeral control port, a private passive port range and a private root
//! directory in a tempdir, and stopped (the whole process tree) when the [`Server`] is dropped.
//!
//! Configuration comes from the templates in `contrib/servers/` (shared with contrib/demo.sh),
//! with `@NAME@` placeholders filled in here. Servers run as root (they chroot), so the tests
//! must run as root; files that the server must read or write belong to the user `ftp`
//! (see [`Server::populate`] and [`chown_tree`]).
//!
//! Invariants: `start` returns only once the server answered `220` on its port *and* the
//! listening socket belongs to the spawned process; a failure to start panics with the server's
//! log; a missing binary panics naming it and pointing at contrib/deps.sh. Nothing is skipped.

use std::fmt;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpStream};
use std::os::unix::fs::{chown, lchown, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::process::{
    self, ephemeral_port, listener_owned_by, port_is_free, read_lossy, signal_tree, terminate_tree,
    wait_until, PortBlock,
};
use super::tls::{self, TlsFiles};

/// How long a server may take from spawn to its first `220`.
const START_TIMEOUT: Duration = Duration::from_secs(15);
/// Grace period between SIGTERM and SIGKILL when stopping a server.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// Attempts with a fresh control port when another process took ours in the meantime.
const PORT_ATTEMPTS: usize = 5;

/// The FTP server implementations the tests run against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ServerKind {
    /// vsftpd 3.0.3: anonymous login, LIST only (no MLSD), writable `/pub`.
    Vsftpd,
    /// proftpd 1.3.8: virtual user, MLSD, chrooted home.
    Proftpd,
    /// pure-ftpd 1.0.50: PureDB virtual user, MLSD, chrooted home.
    PureFtpd,
}

impl ServerKind {
    pub const ALL: [ServerKind; 3] = [
        ServerKind::Vsftpd,
        ServerKind::Proftpd,
        ServerKind::PureFtpd,
    ];

    /// Short lowercase name, as used in test names (`vsftpd`, `proftpd`, `pure_ftpd`).
    pub fn name(self) -> &'static str {
        match self {
            ServerKind::Vsftpd => "vsftpd",
            ServerKind::Proftpd => "proftpd",
            ServerKind::PureFtpd => "pure_ftpd",
        }
    }

    /// Whether the server answers MLSD (vsftpd does not: clients must parse LIST).
    pub fn has_mlsd(self) -> bool {
        !matches!(self, ServerKind::Vsftpd)
    }

    /// The daemon's executable.
    pub fn binary(self) -> PathBuf {
        match self {
            ServerKind::Vsftpd => servers_dir().join("vsftpd/usr/sbin/vsftpd"),
            ServerKind::Proftpd => PathBuf::from("/usr/sbin/proftpd"),
            ServerKind::PureFtpd => servers_dir().join("pure-ftpd/usr/sbin/pure-ftpd"),
        }
    }
}

impl fmt::Display for ServerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where contrib/deps.sh unpacks vsftpd and pure-ftpd (`FTPFS_TEST_SERVERS` overrides it).
pub fn servers_dir() -> PathBuf {
    std::env::var_os("FTPFS_TEST_SERVERS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/opt/ftpfs-test-servers"))
}

fn pure_pw() -> PathBuf {
    servers_dir().join("pure-ftpd/usr/bin/pure-pw")
}

/// How to start a server. `ServerOptions::default()` is what most tests want.
#[derive(Clone, Debug)]
pub struct ServerOptions {
    /// Extra configuration appended at the end: config lines for vsftpd (`max_per_ip=2`) and
    /// proftpd (`TimeoutIdle 5`); command-line arguments for pure-ftpd (`-c 2`, split on
    /// whitespace).
    pub extra: Vec<String>,
    /// Offer explicit FTPS (AUTH TLS, optional for clients) with a throwaway CA; see
    /// [`Server::ca_pem_path`].
    pub tls: bool,
    /// proftpd only: add `AllowOverwrite on` and `AllowStoreRestart on` (default true). With
    /// false, proftpd keeps its defaults: it refuses to overwrite files and refuses APPE/REST+STOR.
    pub proftpd_allow_overwrite: bool,
    /// With `tls`: implicit FTPS (TLS from the first byte) instead of AUTH TLS. vsftpd and
    /// proftpd only; pure-ftpd has no implicit mode.
    pub implicit_tls: bool,
    /// Login for proftpd and pure-ftpd (default `test`). vsftpd is always `anonymous`.
    pub user: String,
    /// Password for proftpd and pure-ftpd (default `test`); percent-encoded in [`Server::url`].
    pub password: String,
    /// With `tls`: the names in the server's certificate, as an OpenSSL `subjectAltName`
    /// (default [`tls::DEFAULT_CERT_NAMES`]).
    pub cert_names: String,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            extra: Vec::new(),
            tls: false,
            proftpd_allow_overwrite: true,
            implicit_tls: false,
            user: "test".into(),
            password: "test".into(),
            cert_names: tls::DEFAULT_CERT_NAMES.into(),
        }
    }
}

impl ServerOptions {
    /// These options with proftpd's own default of refusing to overwrite files (STOR over
    /// a file, RNTO over a file, APPE); the other servers ignore it.
    pub fn without_overwrite(self) -> Self {
        ServerOptions {
            proftpd_allow_overwrite: false,
            ..self
        }
    }

    /// Default options plus TLS.
    pub fn tls() -> Self {
        ServerOptions {
            tls: true,
            ..Default::default()
        }
    }

    /// Default options plus implicit FTPS.
    pub fn implicit_tls() -> Self {
        ServerOptions {
            tls: true,
            implicit_tls: true,
            ..Default::default()
        }
    }

    /// proftpd with `CommandBufferSize bytes`: it ignores longer command lines without a
    /// word (no reply, the connection stays open). The templates leave proftpd at its own
    /// default, which in 1.3.8 answers lines of up to 4,102 bytes (CRLF included); 512 is a
    /// common setting, under which it answers lines of up to 511. proftpd only.
    pub fn proftpd_command_buffer(bytes: usize) -> Self {
        ServerOptions::extra(&[&format!("CommandBufferSize {bytes}")])
    }

    /// Default options plus these extra config lines (or pure-ftpd arguments).
    pub fn extra(lines: &[&str]) -> Self {
        ServerOptions {
            extra: lines.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }
}

/// A running FTP server. Dropping it stops the server and all its session processes.
pub struct Server {
    kind: ServerKind,
    opts: ServerOptions,
    /// Everything lives in here: `root/` (the FTP root), config, logs, pid files, `tls/`.
    state: TempDir,
    root: PathBuf,
    dir: PathBuf,
    /// The URL path of `dir`, with leading and trailing slash.
    remote_dir: String,
    port: u16,
    pasv: PortBlock,
    tls: Option<TlsFiles>,
    child: Option<Child>,
    /// The pid of the last process spawned (kept after it was reaped, for `pid()`).
    last_pid: u32,
}

impl Server {
    /// Starts a server of `kind`. Panics (with the log) if it does not come up.
    pub fn start(kind: ServerKind, opts: ServerOptions) -> Server {
        super::require_environment(&[kind]);
        let state = tempfile::Builder::new()
            .prefix(&format!("ftpfs-test-{}.", kind.name()))
            .tempdir()
            .expect("create server tempdir");
        // The server drops privileges; make the state directory traversable.
        set_mode(state.path(), 0o755);
        let root = state.path().join("root");
        fs::create_dir(&root).expect("create root");
        let (dir, remote_dir) = match kind {
            ServerKind::Vsftpd => (root.join("pub"), "/pub/".to_string()),
            _ => (root.clone(), "/".to_string()),
        };
        let tls = opts
            .tls
            .then(|| tls::generate(&state.path().join("tls"), &opts.cert_names));
        let mut server = Server {
            kind,
            opts,
            state,
            root,
            dir,
            remote_dir,
            port: 0,
            pasv: PortBlock::acquire(),
            tls,
            child: None,
            last_pid: 0,
        };
        server.prepare_files();
        let mut failures = Vec::new();
        for _ in 0..PORT_ATTEMPTS {
            server.port = ephemeral_port();
            server.write_config();
            match server.launch() {
                Ok(()) => return server,
                Err(Launch::PortTaken(why)) => failures.push(why),
                Err(Launch::Failed(why)) => panic!("{why}"),
            }
        }
        panic!(
            "{} did not start after {PORT_ATTEMPTS} attempts with different ports:\n{}",
            kind,
            failures.join("\n")
        );
    }

    pub fn kind(&self) -> ServerKind {
        self.kind
    }

    pub fn options(&self) -> &ServerOptions {
        &self.opts
    }

    /// PID of the server's main process (the one spawned last; see `restart`).
    pub fn pid(&self) -> u32 {
        self.last_pid
    }

    /// The control port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The passive data port range (inclusive).
    pub fn pasv_range(&self) -> (u16, u16) {
        (self.pasv.first, self.pasv.last)
    }

    /// Login name (`anonymous` for vsftpd).
    pub fn user(&self) -> &str {
        match self.kind {
            ServerKind::Vsftpd => "anonymous",
            _ => &self.opts.user,
        }
    }

    /// Password (vsftpd accepts any password for `anonymous`).
    pub fn password(&self) -> &str {
        match self.kind {
            ServerKind::Vsftpd => "anonymous",
            _ => &self.opts.password,
        }
    }

    /// `ftp://user:pass@127.0.0.1:PORT/dir/`: a writable directory whose contents are [`dir`].
    ///
    /// [`dir`]: Server::dir
    pub fn url(&self) -> String {
        format!("{}{}", self.base_url(), self.remote_dir)
    }

    /// [`url`](Server::url) plus a path relative to it, percent-encoded (spaces, UTF-8, `#`, ...).
    pub fn url_for(&self, rel: &str) -> String {
        format!("{}{}", self.url(), encode_path(rel.trim_start_matches('/')))
    }

    /// `ftp://user:pass@127.0.0.1:PORT` without a path (the server's login directory is `/`).
    pub fn base_url(&self) -> String {
        format!(
            "ftp://{}:{}@127.0.0.1:{}",
            encode_userinfo(self.user()),
            encode_userinfo(self.password()),
            self.port
        )
    }

    /// The URL without credentials: `ftp://127.0.0.1:PORT/dir/`.
    pub fn url_without_credentials(&self) -> String {
        format!("ftp://127.0.0.1:{}{}", self.port, self.remote_dir)
    }

    /// The path of [`url`](Server::url)'s directory on the server (`/pub/` or `/`).
    pub fn remote_dir(&self) -> &str {
        &self.remote_dir
    }

    /// The local directory behind [`url`](Server::url). Files made here appear on the server;
    /// give them to the server's user with [`populate`](Server::populate) or [`chown_tree`].
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The server's FTP root (chroot). For vsftpd it is root-owned and read-only; `dir()` is
    /// its writable `pub` subdirectory. For the others it is the same as `dir()`.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The directory holding config, logs and TLS files.
    pub fn state_dir(&self) -> &Path {
        self.state.path()
    }

    /// The CA certificate that signed the server's certificate. Panics unless started with TLS.
    pub fn ca_pem_path(&self) -> &Path {
        &self
            .tls
            .as_ref()
            .unwrap_or_else(|| panic!("{} was started without ServerOptions::tls", self.kind))
            .ca_pem
    }

    /// Runs `f(dir())` to create files, then gives everything in `dir()` to the server's user
    /// (`ftp`, modes 0644/0755) so the server can read, overwrite and delete it.
    pub fn populate<R>(&self, f: impl FnOnce(&Path) -> R) -> R {
        let r = f(&self.dir);
        chown_tree(&self.dir);
        r
    }

    /// Gives everything below `dir()` to the server's user (see [`chown_tree`]).
    pub fn chown_tree(&self) {
        chown_tree(&self.dir);
    }

    /// True if the main server process is alive (and not a zombie).
    pub fn is_running(&self) -> bool {
        self.child.is_some() && process::pid_alive(self.last_pid)
    }

    /// SIGSTOP the server and every session process: connections stall, nothing is answered.
    pub fn stop(&self) {
        if self.child.is_some() {
            signal_tree(self.last_pid, libc::SIGSTOP);
        }
    }

    /// SIGCONT everything stopped by [`stop`](Server::stop).
    pub fn cont(&self) {
        if self.child.is_some() {
            signal_tree(self.last_pid, libc::SIGCONT);
        }
    }

    /// SIGKILL the server and all its sessions (open connections are reset), and reap it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            signal_tree(child.id(), libc::SIGKILL);
            let _ = child.wait();
        }
    }

    /// Kills the server (if running) and starts it again on the same port with the same root,
    /// config and passive range. Waits until it answers again.
    pub fn restart(&mut self) {
        self.kill();
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            match self.launch() {
                Ok(()) => return,
                // The old socket may linger for a moment; retry on the same port.
                Err(Launch::PortTaken(_)) if Instant::now() < deadline => {
                    wait_until(Duration::from_millis(200), || port_is_free(self.port));
                }
                Err(Launch::PortTaken(why)) | Err(Launch::Failed(why)) => {
                    panic!(
                        "restart of {} on port {} failed: {why}",
                        self.kind, self.port
                    )
                }
            }
        }
    }

    /// Everything the server logged so far (stdout/stderr, protocol log, transfer log, TLS log).
    pub fn log_contents(&self) -> String {
        let names: &[&str] = match self.kind {
            ServerKind::Vsftpd => &["stdout.log", "vsftpd.log"],
            ServerKind::Proftpd => &["stdout.log", "proftpd.log", "xfer.log", "tls.log"],
            ServerKind::PureFtpd => &["stdout.log", "transfer.log"],
        };
        let mut out = String::new();
        for name in names {
            let text = read_lossy(&self.state.path().join(name));
            if !text.is_empty() {
                out.push_str(&format!("----- {} {name} -----\n{text}", self.kind));
                if !text.ends_with('\n') {
                    out.push('\n');
                }
            }
        }
        out
    }

    // ----- internals ------------------------------------------------------------------------

    /// Directories, ownership and credential files that do not depend on the port.
    fn prepare_files(&self) {
        let state = self.state.path();
        let (uid, gid) = ftp_ids();
        match self.kind {
            ServerKind::Vsftpd => {
                // anon_root must not be writable by the anonymous user; pub is its playground.
                set_mode(&self.root, 0o755);
                fs::create_dir(&self.dir).expect("create pub");
                chown(&self.dir, Some(uid), Some(gid)).expect("chown pub");
                let empty = state.join("empty");
                fs::create_dir(&empty).expect("create empty");
                set_mode(&empty, 0o555);
            }
            ServerKind::Proftpd => {
                chown(&self.root, Some(uid), Some(gid)).expect("chown root");
                set_mode(&self.root, 0o755);
                let line = format!(
                    "{}:{}:{uid}:{gid}::{}:/bin/false\n",
                    self.opts.user,
                    tls::crypt_sha512(&self.opts.password),
                    self.root.display()
                );
                write_private(&state.join("ftpd.passwd"), &line);
                write_private(&state.join("ftpd.group"), &format!("ftpgroup:x:{gid}:\n"));
            }
            ServerKind::PureFtpd => {
                chown(&self.root, Some(uid), Some(gid)).expect("chown root");
                set_mode(&self.root, 0o755);
                // pure-pw's own format; "/./" marks the chroot point. Writing it directly avoids
                // pure-pw useradd's 3 s argon2id hash.
                let line = format!(
                    "{}:{}:{uid}:{gid}::{}/./::::::::::::\n",
                    self.opts.user,
                    tls::crypt_sha512(&self.opts.password),
                    self.root.display()
                );
                let passwd = state.join("pureftpd.passwd");
                write_private(&passwd, &line);
                process::run_checked(
                    Command::new(pure_pw())
                        .arg("mkdb")
                        .arg(state.join("pureftpd.pdb"))
                        .arg("-f")
                        .arg(&passwd)
                        .stdin(Stdio::null()),
                );
            }
        }
    }

    fn placeholders(&self) -> Vec<(&'static str, String)> {
        let mut v = vec![
            ("@PORT@", self.port.to_string()),
            ("@PASV_MIN@", self.pasv.first.to_string()),
            ("@PASV_MAX@", self.pasv.last.to_string()),
            ("@ROOT@", self.root.display().to_string()),
            ("@STATE@", self.state.path().display().to_string()),
            ("@FTP_USER@", "ftp".to_string()),
        ];
        if let Some(t) = &self.tls {
            v.push(("@TLS_CERT@", t.cert_pem.display().to_string()));
            v.push(("@TLS_KEY@", t.key_pem.display().to_string()));
        }
        v
    }

    fn config_path(&self) -> PathBuf {
        self.state.path().join(match self.kind {
            ServerKind::Vsftpd => "vsftpd.conf",
            ServerKind::Proftpd => "proftpd.conf",
            ServerKind::PureFtpd => "pure-ftpd.args",
        })
    }

    /// Renders the templates for the current port into the state directory.
    fn write_config(&self) {
        let mut parts: Vec<&str> = Vec::new();
        match self.kind {
            ServerKind::Vsftpd => {
                parts.push(include_str!("../../contrib/servers/vsftpd.conf"));
                if self.tls.is_some() {
                    parts.push(include_str!("../../contrib/servers/vsftpd-tls.conf"));
                    if self.opts.implicit_tls {
                        parts.push("implicit_ssl=YES\n");
                    }
                }
            }
            ServerKind::Proftpd => {
                parts.push(include_str!("../../contrib/servers/proftpd.conf"));
                if self.opts.proftpd_allow_overwrite {
                    parts.push(include_str!("../../contrib/servers/proftpd-overwrite.conf"));
                }
                if self.tls.is_some() {
                    parts.push(include_str!("../../contrib/servers/proftpd-tls.conf"));
                    if self.opts.implicit_tls {
                        parts.push("TLSOptions UseImplicitSSL\n");
                    }
                }
            }
            ServerKind::PureFtpd => {
                parts.push(include_str!("../../contrib/servers/pure-ftpd.args"));
                if self.tls.is_some() {
                    assert!(!self.opts.implicit_tls, "pure-ftpd has no implicit FTPS");
                    parts.push(include_str!("../../contrib/servers/pure-ftpd-tls.args"));
                }
            }
        }
        let mut text = parts.concat();
        if !self.opts.extra.is_empty() {
            text.push_str("# ServerOptions.extra\n");
            for line in &self.opts.extra {
                text.push_str(line);
                text.push('\n');
            }
        }
        for (key, value) in self.placeholders() {
            text = text.replace(key, &value);
        }
        assert!(
            !text.contains("@TLS_"),
            "TLS placeholder left in config:\n{text}"
        );
        let path = self.config_path();
        // vsftpd refuses a config file not owned by root; we are root, and it is 0600.
        write_private(&path, &text);
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(self.kind.binary());
        match self.kind {
            ServerKind::Vsftpd => {
                cmd.arg(self.config_path());
            }
            ServerKind::Proftpd => {
                cmd.arg("-n").arg("-c").arg(self.config_path());
            }
            ServerKind::PureFtpd => {
                let args = fs::read_to_string(self.config_path()).expect("read pure-ftpd.args");
                for line in args.lines().map(str::trim) {
                    if !line.starts_with('#') {
                        cmd.args(line.split_whitespace());
                    }
                }
            }
        }
        cmd
    }

    /// Spawns the server on `self.port` and waits until it answers 220 on that port.
    fn launch(&mut self) -> Result<(), Launch> {
        let log_path = self.state.path().join("stdout.log");
        let mut log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .expect("open server stdout.log");
        writeln!(
            log,
            "===== harness: starting {} on port {} =====",
            self.kind, self.port
        )
        .ok();
        let mut cmd = self.command();
        cmd.current_dir(self.state.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup log"))
            .stderr(log);
        let child = cmd.spawn().unwrap_or_else(|e| {
            panic!(
                "cannot spawn {} ({}): {e}; run contrib/deps.sh",
                self.kind,
                self.kind.binary().display()
            )
        });
        self.last_pid = child.id();
        self.child = Some(child);

        let deadline = Instant::now() + START_TIMEOUT;
        let port = self.port;
        loop {
            let exited = self.child.as_mut().unwrap().try_wait().expect("try_wait");
            if let Some(status) = exited {
                self.child = None;
                let log = self.log_contents();
                let why = format!(
                    "{} exited with {status} before answering on port {port}; log:\n{log}",
                    self.kind
                );
                let bind_error = ["in use", "bind", "Cannot assign"]
                    .iter()
                    .any(|s| log.contains(s));
                return Err(if bind_error || !port_is_free(port) {
                    Launch::PortTaken(why)
                } else {
                    Launch::Failed(why)
                });
            }
            // Implicit FTPS speaks TLS first: being the one listening is all we can check.
            if self.opts.implicit_tls && listener_owned_by(self.last_pid, port) {
                return Ok(());
            }
            if let Some(banner) = read_banner(port).filter(|_| !self.opts.implicit_tls) {
                if listener_owned_by(self.last_pid, port) {
                    return Ok(());
                }
                // Someone else answered on "our" port: start over with a different one.
                self.kill();
                return Err(Launch::PortTaken(format!(
                    "port {port} answered {banner:?} but is not {}'s socket",
                    self.kind
                )));
            }
            if Instant::now() >= deadline {
                self.kill();
                return Err(Launch::Failed(format!(
                    "{} did not answer 220 on 127.0.0.1:{port} within {START_TIMEOUT:?}; log:\n{}",
                    self.kind,
                    self.log_contents()
                )));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "===== {} on port {} (state dir {}) log =====\n{}",
                self.kind,
                self.port,
                self.state.path().display(),
                process::tail(&self.log_contents(), 200)
            );
        }
        if let Some(mut child) = self.child.take() {
            terminate_tree(&mut child, STOP_GRACE);
        }
    }
}

enum Launch {
    /// The port was taken by someone else; try another one.
    PortTaken(String),
    /// The server itself failed.
    Failed(String),
}

/// Connects to 127.0.0.1:`port` and reads a complete `220` greeting (multi-line ones too).
/// Returns the last greeting line, or None if nothing (complete) answers yet.
fn read_banner(port: u16) -> Option<String> {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    stream
        .set_write_timeout(Some(Duration::from_secs(2)))
        .ok()?;
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    for _ in 0..50 {
        line.clear();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if line.starts_with("220 ") {
            let _ = (&stream).write_all(b"QUIT\r\n");
            let _ = stream.shutdown(Shutdown::Both);
            return Some(line.trim_end().to_string());
        }
        if !line.starts_with("220-") && !line.starts_with(' ') {
            return None; // e.g. "421 Too many connections" or "500 OOPS"
        }
    }
    None
}

/// uid and gid of the user `ftp`, which owns everything the servers may write.
pub fn ftp_ids() -> (u32, u32) {
    static IDS: OnceLock<(u32, u32)> = OnceLock::new();
    *IDS.get_or_init(|| {
        let out = Command::new("getent").args(["passwd", "ftp"]).output();
        let line = match out {
            Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).into_owned(),
            _ => panic!("user `ftp` does not exist: run contrib/deps.sh (as root)"),
        };
        let f: Vec<&str> = line.trim().split(':').collect();
        let home = Path::new(f.get(5).copied().unwrap_or(""));
        assert!(
            home.is_dir(),
            "the home directory of user `ftp` ({}) does not exist (vsftpd needs it): run contrib/deps.sh",
            home.display()
        );
        (f[2].parse().expect("ftp uid"), f[3].parse().expect("ftp gid"))
    })
}

/// Gives `path` and everything below it to the servers' user `ftp`: directories 0755, files
/// 0644 (0755 if any execute bit was set), symlinks only re-owned.
pub fn chown_tree(path: &Path) {
    let (uid, gid) = ftp_ids();
    let meta = fs::symlink_metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    if meta.file_type().is_symlink() {
        lchown(path, Some(uid), Some(gid))
            .unwrap_or_else(|e| panic!("lchown {}: {e}", path.display()));
        return;
    }
    chown(path, Some(uid), Some(gid)).unwrap_or_else(|e| panic!("chown {}: {e}", path.display()));
    if meta.is_dir() {
        set_mode(path, 0o755);
        for entry in fs::read_dir(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())) {
            chown_tree(&entry.expect("read_dir entry").path());
        }
    } else {
        let mode = if meta.permissions().mode() & 0o111 != 0 {
            0o755
        } else {
            0o644
        };
        set_mode(path, mode);
    }
}

fn set_mode(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {mode:o} {}: {e}", path.display()));
}

/// Writes a root-owned 0600 file.
fn write_private(path: &Path, text: &str) {
    fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    set_mode(path, 0o600);
}

/// Percent-encodes a URL path: keeps `/` and unreserved characters, encodes the rest bytewise.
pub fn encode_path(path: &str) -> String {
    encode(path, b"/")
}

/// Percent-encodes a user name or password for the userinfo part of a URL.
pub fn encode_userinfo(s: &str) -> String {
    encode(s, b"")
}

fn encode(s: &str, keep: &[u8]) -> String {
    let mut out = String::new();
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) || keep.contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
