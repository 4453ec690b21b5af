//! A scripted FTP server for hostile-input tests (std::net, one thread per connection):
//! every byte it sends is chosen by the test, through a [`Script`] of canned replies and
//! hooks, so malformed greetings, replies, listings, PASV/EPSV answers and transfers can be
//! played to the real ftpfs binary. Used by tests/e2e_hostile.rs.

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::os::fd::FromRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// What the server sends for a file called `a.txt` in the fresh directories.
pub const A_TXT: &[u8] = b"hello";

/// One command as the server received it.
#[derive(Debug, Clone)]
pub struct Cmd {
    /// Upper-cased verb.
    pub verb: String,
    /// The argument, lossily decoded.
    pub arg: String,
    /// The directory of the last successful CWD.
    pub cwd: String,
}

/// What the server does with a command (or instead of a greeting).
#[derive(Clone)]
pub enum Action {
    /// Sends these bytes on the control connection.
    Reply(Vec<u8>),
    /// A data transfer: `150`, the bytes on the pending passive connection, then `end`.
    Transfer { data: Vec<u8>, end: End },
    /// Sends `prefix`, then `line` again and again up to `total` bytes, then waits for the
    /// client to hang up.
    Endless {
        prefix: Vec<u8>,
        line: Vec<u8>,
        total: usize,
    },
    /// Opens a passive listener (on 127.0.0.1) and announces it in a 227 reply with this
    /// host, e.g. "127,0,0,2".
    PassiveAs(&'static str),
    /// Opens passive listeners on this address and on 127.0.0.1 at the same port, announces
    /// this address in a 227 reply, and serves the data connection on whichever the client
    /// reaches (the server's log says which).
    PassiveOn(Ipv4Addr),
    /// Active mode: `150`, then a connection to the client's PORT address from 127.0.0.2 (not
    /// the control connection's peer) that sends `rogue`, then, once the client has closed
    /// that, the real data connection from 127.0.0.1 with `data`, then `226`. The server's log
    /// says what became of each.
    RogueFirst { rogue: Vec<u8>, data: Vec<u8> },
    /// Says nothing and waits for the client to hang up.
    Silence,
    /// Closes the control connection.
    Close,
}

/// How a transfer ends.
#[derive(Clone)]
pub enum End {
    /// Closes the data connection, then sends this reply.
    Reply(Vec<u8>),
    /// Closes the data connection, then the control connection without a reply.
    Close,
    /// Keeps the data connection open without sending more; once the client gives up and
    /// closes it, answers 426.
    Stall,
}

pub fn reply(text: &str) -> Option<Action> {
    Some(Action::Reply(format!("{text}\r\n").into_bytes()))
}

pub type Hook = dyn Fn(&Cmd) -> Option<Action> + Send + Sync;

/// What a server says and serves.
pub struct Script {
    pub greeting: Action,
    /// The FEAT lines (without the leading space); none: a one-line `211 no-features`.
    pub feat: Vec<&'static str>,
    /// Raw listing bytes by directory path ("/", "/dir").
    pub listings: HashMap<String, Vec<u8>>,
    /// File contents by path.
    pub files: HashMap<String, Vec<u8>>,
    /// Asked first for every command; `None` falls back to the normal behaviour.
    pub hook: Box<Hook>,
    /// Acts on the first command of each packet and drops the rest, as some old servers
    /// and NAT routers do with pipelined commands (the log says `dropped: ...`).
    pub one_per_packet: bool,
    /// Never answers a command line longer than this many bytes (CRLF included), and reads
    /// on, as proftpd does with lines over its `CommandBufferSize` (the log says
    /// `ignored: ...`).
    pub max_line: Option<usize>,
}

/// Directories `/fresh-0` ... that each hold `a.txt`: listing one the mount has not listed
/// before proves that it still talks to the server (the directory cache cannot answer).
pub const FRESH_DIRS: usize = 12;

impl Script {
    /// A well-behaved MLSD server whose root holds `root` (MLSD lines) plus the fresh
    /// directories.
    pub fn mlsd(root: &[&str]) -> Script {
        let mut listings = HashMap::new();
        let mut files = HashMap::new();
        let mut root_listing: Vec<u8> = Vec::new();
        for line in root {
            root_listing.extend_from_slice(line.as_bytes());
            root_listing.extend_from_slice(b"\r\n");
        }
        for i in 0..FRESH_DIRS {
            root_listing.extend_from_slice(
                format!("type=dir;modify=20240101120000; fresh-{i}\r\n").as_bytes(),
            );
            listings.insert(
                format!("/fresh-{i}"),
                format!(
                    "type=file;size={};modify=20240101120000; a.txt\r\n",
                    A_TXT.len()
                )
                .into_bytes(),
            );
            files.insert(format!("/fresh-{i}/a.txt"), A_TXT.to_vec());
        }
        listings.insert("/".to_string(), root_listing);
        Script {
            greeting: Action::Reply(b"220 hostile test server\r\n".to_vec()),
            feat: vec![
                "MLST type*;size*;modify*;",
                "SIZE",
                "MDTM",
                "EPSV",
                "REST STREAM",
            ],
            listings,
            files,
            hook: Box::new(|_| None),
            one_per_packet: false,
            max_line: None,
        }
    }

    pub fn greeting(mut self, greeting: Action) -> Script {
        self.greeting = greeting;
        self
    }

    pub fn hook(mut self, hook: impl Fn(&Cmd) -> Option<Action> + Send + Sync + 'static) -> Script {
        self.hook = Box::new(hook);
        self
    }

    pub fn listing(mut self, dir: &str, bytes: Vec<u8>) -> Script {
        self.listings.insert(dir.to_string(), bytes);
        self
    }

    pub fn file(mut self, path: &str, bytes: Vec<u8>) -> Script {
        self.files.insert(path.to_string(), bytes);
        self
    }
}

/// The server: a listener thread and one thread per connection, until dropped.
pub struct HostileServer {
    pub port: u16,
    pub stop: Arc<AtomicBool>,
    /// Every command received, in order ("VERB arg"), for failure messages.
    pub log: Arc<Mutex<Vec<String>>>,
}

impl HostileServer {
    pub fn start(script: Script) -> HostileServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let log = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(script);
        {
            let stop = Arc::clone(&stop);
            let log = Arc::clone(&log);
            thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((sock, _)) => {
                            let script = Arc::clone(&script);
                            let log = Arc::clone(&log);
                            let stop = Arc::clone(&stop);
                            thread::spawn(move || {
                                // Errors only mean the client went away.
                                let _ = serve(sock, &script, &log, &stop);
                            });
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                            thread::sleep(Duration::from_millis(10));
                        }
                        Err(_) => thread::sleep(Duration::from_millis(10)),
                    }
                }
            });
        }
        HostileServer { port, stop, log }
    }

    pub fn url(&self) -> String {
        format!("ftp://127.0.0.1:{}/", self.port)
    }

    pub fn commands(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }
}

impl Drop for HostileServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Per-connection state.
pub struct Conn {
    pub ctrl: BufReader<TcpStream>,
    pub cwd: String,
    pub rest: usize,
    /// Passive listeners waiting for the next data connection.
    pub pending: Vec<TcpListener>,
    /// Active mode: where the client listens for the next data connection (PORT).
    pub port_target: Option<SocketAddr>,
    /// What happened to data connections since the last command, for the server's log.
    pub events: Vec<String>,
}

impl Conn {
    pub fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.ctrl.get_mut().write_all(bytes)
    }

    /// Reads and discards until the client hangs up (or the socket's read deadline).
    pub fn wait_for_hangup(&mut self) {
        let mut buf = [0u8; 4096];
        while matches!(self.ctrl.read(&mut buf), Ok(n) if n > 0) {}
    }

    /// The data connection: accepted on a listener the client reached after EPSV/PASV, or
    /// made to the client's PORT address (from 127.0.0.1).
    pub fn accept_data(&mut self) -> Option<TcpStream> {
        if let Some(target) = self.port_target.take() {
            let s = connect_from(Ipv4Addr::LOCALHOST, target).ok()?;
            return data_socket(s);
        }
        let listeners = std::mem::take(&mut self.pending);
        if listeners.is_empty() {
            return None;
        }
        for l in &listeners {
            l.set_nonblocking(true).ok()?;
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            for l in &listeners {
                match l.accept() {
                    Ok((s, _)) => {
                        let at = s.local_addr().ok()?;
                        self.events.push(format!("data connection to {at}"));
                        return data_socket(s);
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(_) => return None,
                }
            }
            thread::sleep(Duration::from_millis(5));
        }
        None
    }

    /// [`Action::RogueFirst`].
    pub fn rogue_first(&mut self, rogue: &[u8], data: &[u8]) -> io::Result<()> {
        self.send(b"150 Here it comes.\r\n")?;
        let Some(target) = self.port_target.take() else {
            return self.send(b"425 No PORT given.\r\n");
        };
        let rogue_addr = Ipv4Addr::new(127, 0, 0, 2);
        match connect_from(rogue_addr, target) {
            Ok(mut s) => {
                let from = s.local_addr()?;
                assert_eq!(from.ip(), rogue_addr, "the rogue connection's source");
                self.events.push(format!("rogue connection from {from}"));
                // A complete listing, as if it were the real data connection.
                let _ = s.write_all(rogue);
                let _ = s.shutdown(std::net::Shutdown::Write);
                s.set_read_timeout(Some(Duration::from_secs(5)))?;
                let mut buf = [0u8; 256];
                while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
            }
            Err(e) => self.events.push(format!("rogue connection failed: {e}")),
        }
        match connect_from(Ipv4Addr::LOCALHOST, target).and_then(|mut s| {
            s.write_all(data)?;
            Ok(s)
        }) {
            Ok(s) => {
                self.events.push("real data connection served".into());
                drop(s);
            }
            Err(e) => self
                .events
                .push(format!("real data connection failed: {e}")),
        }
        self.send(b"226 Done.\r\n")
    }

    /// Performs `action`. `Ok(false)` ends the connection.
    pub fn act(&mut self, action: Action) -> io::Result<bool> {
        match action {
            Action::Reply(bytes) => self.send(&bytes)?,
            Action::Transfer { data, end } => {
                self.send(b"150 Here it comes.\r\n")?;
                let Some(mut sock) = self.accept_data() else {
                    self.send(b"425 No data connection.\r\n")?;
                    return Ok(true);
                };
                // The client may close early (it read all it wanted): not our problem.
                let _ = sock.write_all(&data);
                match end {
                    End::Reply(bytes) => {
                        drop(sock);
                        self.send(&bytes)?;
                    }
                    End::Close => {
                        drop(sock);
                        return Ok(false);
                    }
                    End::Stall => {
                        let mut buf = [0u8; 1024];
                        while matches!(sock.read(&mut buf), Ok(n) if n > 0) {}
                        drop(sock);
                        self.send(b"426 Transfer aborted.\r\n")?;
                    }
                }
            }
            Action::Endless {
                prefix,
                line,
                total,
            } => {
                self.send(&prefix)?;
                let mut sent = prefix.len();
                while sent < total {
                    self.send(&line)?;
                    sent += line.len();
                }
                self.wait_for_hangup();
                return Ok(false);
            }
            Action::PassiveAs(host) => {
                let port = self.open_passive()?;
                let text = format!(
                    "227 Entering Passive Mode ({host},{},{}).\r\n",
                    port >> 8,
                    port & 0xff
                );
                self.send(text.as_bytes())?;
            }
            Action::PassiveOn(ip) => {
                let port = self.open_passive_on(ip)?;
                let [a, b, c, d] = ip.octets();
                let text = format!(
                    "227 Entering Passive Mode ({a},{b},{c},{d},{},{}).\r\n",
                    port >> 8,
                    port & 0xff
                );
                self.send(text.as_bytes())?;
            }
            Action::RogueFirst { rogue, data } => self.rogue_first(&rogue, &data)?,
            Action::Silence => {
                self.wait_for_hangup();
                return Ok(false);
            }
            Action::Close => return Ok(false),
        }
        Ok(true)
    }

    pub fn open_passive(&mut self) -> io::Result<u16> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        self.pending = vec![listener];
        Ok(port)
    }

    /// Listeners on `ip` and on 127.0.0.1 at one port, so that a client going to either
    /// address finds this server.
    pub fn open_passive_on(&mut self, ip: Ipv4Addr) -> io::Result<u16> {
        let mut last = None;
        for _ in 0..20 {
            let there = TcpListener::bind((ip, 0))?;
            let port = there.local_addr()?.port();
            match TcpListener::bind((Ipv4Addr::LOCALHOST, port)) {
                Ok(here) => {
                    self.pending = vec![there, here];
                    return Ok(port);
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap())
    }

    /// The normal answer to `cmd`.
    pub fn default_action(&mut self, cmd: &Cmd, script: &Script) -> io::Result<Action> {
        let path = if cmd.arg.starts_with('/') {
            cmd.arg.clone()
        } else if cmd.cwd == "/" {
            format!("/{}", cmd.arg)
        } else {
            format!("{}/{}", cmd.cwd, cmd.arg)
        };
        let text = |s: &str| Action::Reply(format!("{s}\r\n").into_bytes());
        Ok(match cmd.verb.as_str() {
            "USER" => text("331 Password please."),
            "PASS" => text("230 Logged in."),
            "TYPE" => text("200 Binary it is."),
            "OPTS" => text("200 OK."),
            // RFC 2389: a server without features may answer in one line.
            "FEAT" if script.feat.is_empty() => text("211 no-features"),
            "FEAT" => {
                let mut r = String::from("211-Features:\r\n");
                for f in &script.feat {
                    r.push_str(&format!(" {f}\r\n"));
                }
                r.push_str("211 End\r\n");
                Action::Reply(r.into_bytes())
            }
            "PWD" => text(&format!("257 \"{}\"", self.cwd)),
            "CDUP" => {
                let parent = match self.cwd.rfind('/') {
                    Some(0) | None => "/".to_string(),
                    Some(i) => self.cwd[..i].to_string(),
                };
                self.cwd = parent;
                text("250 OK.")
            }
            "CWD" => {
                if script.listings.contains_key(&path) {
                    self.cwd = path;
                    text("250 OK.")
                } else {
                    text("550 No such directory.")
                }
            }
            "EPSV" => {
                let port = self.open_passive()?;
                text(&format!("229 Entering Extended Passive Mode (|||{port}|)"))
            }
            "PORT" => {
                let n: Vec<u16> = cmd.arg.split(',').filter_map(|x| x.parse().ok()).collect();
                if n.len() != 6 {
                    return Ok(text("501 Bad PORT."));
                }
                let ip = Ipv4Addr::new(n[0] as u8, n[1] as u8, n[2] as u8, n[3] as u8);
                self.port_target = Some(SocketAddr::from((ip, n[4] << 8 | n[5])));
                text("200 PORT command successful.")
            }
            "PASV" => {
                let port = self.open_passive()?;
                text(&format!(
                    "227 Entering Passive Mode (127,0,0,1,{},{}).",
                    port >> 8,
                    port & 0xff
                ))
            }
            "MLSD" | "LIST" => Action::Transfer {
                data: script.listings.get(&cmd.cwd).cloned().unwrap_or_default(),
                end: End::Reply(b"226 Done.\r\n".to_vec()),
            },
            "REST" => {
                self.rest = cmd.arg.parse().unwrap_or(0);
                text("350 Restarting.")
            }
            "RETR" => match script.files.get(&path) {
                Some(data) => {
                    let from = std::mem::take(&mut self.rest).min(data.len());
                    Action::Transfer {
                        data: data[from..].to_vec(),
                        end: End::Reply(b"226 Done.\r\n".to_vec()),
                    }
                }
                None => text("550 No such file."),
            },
            "SIZE" => match script.files.get(&path) {
                Some(data) => text(&format!("213 {}", data.len())),
                None => text("550 No such file."),
            },
            "MDTM" => match script.files.get(&path) {
                Some(_) => text("213 20240101120000"),
                None => text("550 No such file."),
            },
            "NOOP" => text("200 NOOP ok."),
            "QUIT" => {
                self.send(b"221 Bye.\r\n")?;
                Action::Close
            }
            _ => text("502 Not implemented."),
        })
    }
}

pub fn serve(
    sock: TcpStream,
    script: &Script,
    log: &Mutex<Vec<String>>,
    stop: &AtomicBool,
) -> io::Result<()> {
    // Deadlines so that no server thread outlives its test by long.
    sock.set_read_timeout(Some(Duration::from_secs(30)))?;
    sock.set_write_timeout(Some(Duration::from_secs(10)))?;
    let mut conn = Conn {
        ctrl: BufReader::new(sock),
        cwd: "/".to_string(),
        rest: 0,
        pending: Vec::new(),
        port_target: None,
        events: Vec::new(),
    };
    if !conn.act(script.greeting.clone())? {
        return Ok(());
    }
    while !stop.load(Ordering::Relaxed) {
        let mut line = Vec::new();
        if (&mut conn.ctrl)
            .take(64 * 1024)
            .read_until(b'\n', &mut line)?
            == 0
        {
            return Ok(());
        }
        if script.one_per_packet && !conn.ctrl.buffer().is_empty() {
            let rest = conn.ctrl.buffer().to_vec();
            conn.ctrl.consume(rest.len());
            log.lock().unwrap().push(format!(
                "dropped: {}",
                String::from_utf8_lossy(&rest).trim_end()
            ));
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\r', '\n']);
        if script.max_line.is_some_and(|max| line.len() > max) {
            log.lock().unwrap().push(format!(
                "ignored ({} bytes): {}",
                line.len(),
                text.chars().take(40).collect::<String>()
            ));
            continue;
        }
        let (verb, arg) = text.split_once(' ').unwrap_or((text, ""));
        let cmd = Cmd {
            verb: verb.to_ascii_uppercase(),
            arg: arg.to_string(),
            cwd: conn.cwd.clone(),
        };
        log.lock().unwrap().push(if cmd.verb == "PASS" {
            "PASS ***".into()
        } else {
            text.to_string()
        });
        let action = match (script.hook)(&cmd) {
            Some(action) => action,
            None => conn.default_action(&cmd, script)?,
        };
        let go_on = conn.act(action);
        log.lock().unwrap().append(&mut conn.events);
        if !go_on? {
            return Ok(());
        }
        if cmd.verb != "REST" {
            // REST applies to the next command only, whatever it was.
            conn.rest = 0;
        }
    }
    Ok(())
}

/// A data socket's deadlines (and blocking mode, which an accepted socket may inherit).
pub fn data_socket(s: TcpStream) -> Option<TcpStream> {
    s.set_nonblocking(false).ok()?;
    s.set_write_timeout(Some(Duration::from_secs(10))).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(20))).ok()?;
    Some(s)
}

/// A TCP connection to `to` from the address `from` (std cannot bind before connecting).
pub fn connect_from(from: Ipv4Addr, to: SocketAddr) -> io::Result<TcpStream> {
    let SocketAddr::V4(to) = to else {
        return Err(io::Error::other("IPv4 only"));
    };
    let sockaddr = |a: SocketAddrV4| libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: a.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(*a.ip()).to_be(),
        },
        sin_zero: [0; 8],
    };
    let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: socket(2) with constant arguments; the descriptor is checked before use.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh socket that nothing else owns; the TcpStream closes it.
    let stream = unsafe { TcpStream::from_raw_fd(fd) };
    let local = sockaddr(SocketAddrV4::new(from, 0));
    let remote = sockaddr(to);
    // SAFETY: both addresses are valid sockaddr_in values of `len` bytes, alive for the calls.
    unsafe {
        if libc::bind(fd, (&local as *const libc::sockaddr_in).cast(), len) != 0 {
            return Err(io::Error::last_os_error());
        }
        if libc::connect(fd, (&remote as *const libc::sockaddr_in).cast(), len) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(stream)
}

/// MLSD lines for a plain file and a directory.
pub fn mlsd_file(name: &str, size: usize) -> String {
    format!("type=file;size={size};modify=20240101120000; {name}")
}

pub fn mlsd_dir(name: &str) -> String {
    format!("type=dir;modify=20240101120000; {name}")
}
